"""A product's timeline (GET /v1/products/{code}/timeline): every record of every kind, dated, with who.

Each record collection says once how its documents read on the timeline (`Source`); `SOURCES` lists them all.
A record has `product_code` and `at` (when it really happened, which a centre entering its history sets in the
past); `entry` turns one into {at, kind, kind_label, by, summary, id, detail}."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from dataclasses import dataclass
from typing import Any

from services.kit.app import Runtime
from services.kit.pagination import decode_cursor, encode_cursor
from services.kit.problems import Problem
from services.kit.store import eq


@dataclass(frozen=True)
class Source:
    collection: str
    kind: str                                   # e.g. "document"
    kind_label: str                             # e.g. "文档"
    summary: Callable[[dict[str, Any]], str]    # one line in Chinese, e.g. "调研报告 v2《…》 已审核"
    by_field: str = "by"
    at_field: str = "at"
    detail: Callable[[dict[str, Any]], dict[str, Any]] | None = None


SOURCES: list[Source] = []


def register(*sources: Source) -> None:
    """Add record kinds to the timeline (each record module calls it once, at import)."""
    for source in sources:
        if all(s.kind != source.kind for s in SOURCES):
            SOURCES.append(source)


def entry(source: Source, doc: dict[str, Any]) -> dict[str, Any]:
    return {"at": doc[source.at_field], "kind": source.kind, "kind_label": source.kind_label,
            "by": doc.get(source.by_field), "summary": source.summary(doc), "id": str(doc["_id"]),
            "detail": source.detail(doc) if source.detail else {}}


def _key(e: dict[str, Any]) -> tuple:
    return (e["at"], e["_order"], e["id"])


async def timeline(rt: Runtime, code: str, head: list[dict[str, Any]], *, limit: int,
                   cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the product's records, oldest first: `head` (entries the caller holds, e.g. the transitions
    kept in the product's own document) merged with every registered source. Ties at one instant go in the order
    of SOURCES, then by id. The cursor is (the instant of the next entry, how many entries at that instant were
    already sent): each source is read from that instant on, only as far as this page can reach."""
    values = decode_cursor(cursor) if cursor else [None, 0]
    if len(values) != 2 or (cursor and not isinstance(values[0], datetime)) or not isinstance(values[1], int) \
            or values[1] < 0:
        raise Problem(400, "bad-cursor", "Invalid cursor", "Pass back the next_cursor of the previous page.")
    since, skip = values
    wanted = skip + limit + 1
    entries = [{**e, "_order": -1} for e in head if since is None or e["at"] >= since]
    for order, source in enumerate(SOURCES):
        query: dict[str, Any] = {"product_code": eq(code)}  # served by the index on nx-27017
        if since is not None:
            query[source.at_field] = {"$gte": since}
        docs = await rt.store[source.collection].find(query).sort([(source.at_field, 1), ("_id", 1)]).to_list(wanted)
        entries += [{**entry(source, d), "_order": order} for d in docs]
    entries.sort(key=_key)
    entries = entries[skip:]
    page, more = entries[:limit], len(entries) > limit
    next_cursor = None
    if more:
        at = entries[limit]["at"]
        same = sum(1 for e in page if e["at"] == at) + (skip if since == at else 0)
        next_cursor = encode_cursor([at, same])
    return [{k: v for k, v in e.items() if k != "_order"} for e in page], next_cursor
