"""How far a scheduled job has got: one document `{_id: key, through, updated_at}` in the job's collection, where
`through` is a sortable text (a day as YYYYMMDD, a month as YYYY-MM). It only moves forward: a replica that stalled
past its lease and finishes an older run after its successor leaves the newer mark alone (kit/scheduler.py runs
a job on one replica at a time, not exactly once)."""

from __future__ import annotations

from datetime import datetime

from services.kit.store import Store, eq


async def through(store: Store, collection: str, key: str) -> str | None:
    """The mark, None before the job's first complete run."""
    doc = await store[collection].find_one({"_id": eq(key)})
    return doc.get("through") or None if doc else None


async def advance(store: Store, collection: str, key: str, to: str, now: datetime) -> None:
    """Move the mark to `to`, never back."""
    def decide(current):
        if current is not None and current.get("through", "") >= to:
            return None
        return {"_id": key, "through": to, "updated_at": now}, []

    await store.change(collection, key, decide)
