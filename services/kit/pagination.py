"""Cursor pagination (SPEC §5): `?limit=` (≤ 200) and `?cursor=`, answered as `{"items": [...], "next_cursor": ...}`.

The cursor is the sort key of the last item sent, so pages stay stable while new documents arrive."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from fastapi import Query
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection

from services.kit.problems import Problem

MAX_LIMIT = 200


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(limit: int = Query(50, ge=1, le=MAX_LIMIT), cursor: str | None = Query(None)) -> PageParams:
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
