"""Cursor pagination (SPEC §5): `?limit=` (≤ 200) and `?cursor=`, answered as `{"items": [...], "next_cursor": ...}`.

The cursor is the sort key of the last item sent, so pages stay stable while new documents arrive.

Two forms. `page` sorts on any fields and continues with a `$or` over them: simple, but on nx-27017 that `$or`
(and a datetime in it) is a Python scan, so pages after the first get slow on a big collection. `keyed_page`
sorts on one unique string field (e.g. ticketing's `<opened_at as fixed-width text>|<id>`) and continues with
`key < cursor`, which stays a flat string range: one indexed SQL statement on nx-27017, an index range on
MongoDB, for every page."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import Query
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection

from services.kit.problems import Problem
from services.kit.store import flat_and

MAX_LIMIT = 200
# A console's page. Every document a page returns costs the embedded store about 0.45 ms to read back (see
# kit/store.py), so the default is what a screen shows, and a client that wants more asks for it.
DEFAULT_LIMIT = 20


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT), cursor: str | None = Query(None)) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def _encode(values: list[Any]) -> str:
    tagged = [{"d": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(tagged, ensure_ascii=False).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return [datetime.fromisoformat(v["d"]) if isinstance(v, dict) else v for v in raw]
    except (ValueError, TypeError, KeyError) as error:
        raise Problem(400, "bad-cursor", "Invalid cursor", "Pass back the next_cursor of the previous page.") from error


# For a listing that merges several sources and so cannot use `page`: its cursor is opaque all the same.
encode_cursor, decode_cursor = _encode, _decode


async def page(collection: AsyncCollection, query: dict[str, Any], params: PageParams,
               sort: list[tuple[str, int]]) -> tuple[list[dict], str | None]:
    """One page of `collection` matching `query`, ordered by `sort` (its last key must be unique, e.g. `_id`)."""
    if params.cursor:
        values = _decode(params.cursor)
        if len(values) != len(sort):
            raise Problem(400, "bad-cursor", "Invalid cursor", "The cursor belongs to another listing.")
        after: list[dict] = []
        for i, (field, direction) in enumerate(sort):
            clause = {f: values[j] for j, (f, _) in enumerate(sort[:i])}
            clause[field] = {"$gt" if direction > 0 else "$lt": values[i]}
            after.append(clause)
        query = {"$and": [query, {"$or": after}]} if query else {"$or": after}
    docs = await collection.find(query).sort(sort).limit(params.limit + 1).to_list()
    more = len(docs) > params.limit
    docs = docs[: params.limit]
    next_cursor = _encode([_get(docs[-1], f) for f, _ in sort]) if more and docs else None
    return docs, next_cursor


def _get(doc: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


# --- pages over one unique string key, newest (greatest) first ---------------------------------------------

Narrowings = Callable[[str | None], Iterable[Mapping[str, Any]]]


def _encode_key(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": key}, ensure_ascii=False).encode()).decode().rstrip("=")


# For a listing that pages over keyed documents but ends a page by its own rule (ticketing's reminders).
key_cursor = _encode_key


def _decode_key(cursor: str) -> str:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as error:
        raise Problem(400, "bad-cursor", "Invalid cursor", "Pass back the next_cursor of the previous page.") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("k"), str):
        raise Problem(400, "bad-cursor", "Invalid cursor", "The cursor belongs to another listing.")
    return raw["k"]


async def keyed_page(collection: AsyncCollection, queries: Sequence[Mapping[str, Any]], params: PageParams,
                     key: str, *, projection: Mapping[str, Any] | None = None,
                     narrowings: Narrowings | None = None) -> tuple[list[dict], str | None]:
    """One page of the documents of `collection` that match any of `queries`, by `key` descending (`key`
    unique and a string on every document listed).

    Each query is asked on its own and the answers merged, rather than one `$or`: nx-27017 runs a `$or` as a
    Python scan, in which `$text` matches nothing (kit/store.py). The newest `limit + 1` of the union are among
    the newest `limit + 1` of each query, so nothing is missed.

    Without `narrowings`, a query is asked once, with `key < cursor`. With them, `narrowings(cursor_key)` gives
    filters that split what lies below the cursor into disjoint slices in descending key order, each carrying
    its own key bounds; they are asked in turn until the page is full. That is how a query whose matches are
    too many to sort at once (a common word of a text search) reads the newest slice first."""
    after = _decode_key(params.cursor) if params.cursor else None
    wanted = params.limit + 1
    found: dict[Any, dict] = {}
    for query in queries:
        # a document without the key (stored before the key existed, until its backfill) is left out of every page
        slices = narrowings(after) if narrowings else [{key: {"$lt": after} if after is not None else {"$gt": ""}}]
        docs: list[dict] = []
        for narrowing in slices:
            docs += await collection.find(flat_and(query, narrowing), projection).sort(key, -1) \
                .limit(wanted - len(docs)).to_list()
            if len(docs) >= wanted:
                break
        found.update((doc["_id"], doc) for doc in docs)
    docs = sorted(found.values(), key=lambda doc: doc[key], reverse=True)[:wanted]
    more = len(docs) > params.limit
    docs = docs[: params.limit]
    return docs, (_encode_key(docs[-1][key]) if more and docs else None)
