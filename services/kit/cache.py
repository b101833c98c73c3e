"""An in-memory copy of a small collection that another service owns the truth of (ticketing's catalog of
lifecycle's products), kept fresh by events, so that a request needs no store read to consult it.

Every process holds its own copy: it loads the collection at start, applies each event from a queue of its own
(`Subscription(per_process=True)`, kit/consumer.py) with the same order-tolerant rule the stored copy follows
(`merge_if_newer`), and reloads now and then as a safety net for events a broker outage made it miss. A key it
does not hold is looked up in the store before it is called unknown (the stored copy may be a moment ahead).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from services.kit.store import Store


def merge_if_newer(current: Mapping[str, Any] | None, key: str, sequence: int,
                   changes: Mapping[str, Any]) -> dict[str, Any] | None:
    """The document after an event that carries the aggregate's `sequence`, or None when it is older than what
    is held (a newer state arrived first) and changes nothing."""
    if current is None:
        return {"_id": key, "sequence": sequence, **changes}
    if sequence < current.get("sequence", 0):
        return None
    return {**current, "sequence": sequence, **changes}


class DocumentCache:
    def __init__(self, store: Store, collection: str, *, refresh_seconds: float = 300.0):
        self.store, self.collection, self.refresh_seconds = store, collection, refresh_seconds
        self._docs: dict[str, dict[str, Any]] = {}
        self._loaded_at = float("-inf")

    async def load(self) -> None:
        """Read the whole collection; what events taught meanwhile is kept when it is newer."""
        self._loaded_at = time.monotonic()
        for doc in await self.store[self.collection].find({}).to_list():
            merged = merge_if_newer(self._docs.get(doc["_id"]), doc["_id"], doc.get("sequence", 0), doc)
            if merged is not None:
                self._docs[doc["_id"]] = merged

    def holds_any(self) -> bool:
        return bool(self._docs)

    def apply(self, key: str, sequence: int, changes: Mapping[str, Any]) -> None:
        merged = merge_if_newer(self._docs.get(key), key, sequence, changes)
        if merged is not None:
            self._docs[key] = merged

    async def get(self, key: str) -> dict[str, Any] | None:
        if time.monotonic() - self._loaded_at > self.refresh_seconds:
            await self.load()
        doc = self._docs.get(key)
        if doc is None and (stored := await self.store[self.collection].find_one({"_id": key})) is not None:
            self.apply(key, stored.get("sequence", 0), stored)
            doc = self._docs[key]
        return doc
