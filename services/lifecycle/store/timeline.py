"""A product's timeline (GET /v1/products/{code}/timeline): every record of every kind, dated, with who.

Each record collection says once how its documents read on the timeline (`Source`); `SOURCES` lists them all.
A record has `product_code` and `at` (when it really happened, which a centre entering its history sets in the
past); `entry` turns one into {at, kind, kind_label, by, summary, id, detail}."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.kit.app import Runtime


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


async def timeline(rt: Runtime, code: str, *, limit: int = 2000) -> list[dict[str, Any]]:
    """Every record of the product, oldest first (ties in the order of SOURCES)."""
    entries: list[dict[str, Any]] = []
    for order, source in enumerate(SOURCES):
        docs = await rt.store[source.collection].find({"product_code": code}).sort(source.at_field, 1).to_list(limit)
        entries += [{**entry(source, d), "_order": order} for d in docs]
    entries.sort(key=lambda e: (e["at"], e["_order"]))
    return [{k: v for k, v in e.items() if k != "_order"} for e in entries][:limit]
