"""Counting an occurrence exactly once on documents that cannot list every occurrence they counted.

A hot aggregate (a candidate that 100,000 closed tickets reach, a month's figures) cannot answer "is this ticket
already counted?" from a list of every ticket: the list grows without bound, and with it the cost of every write.
Instead each occurrence has a small **record** document of its own (_id = the occurrence's key, e.g. the ticket
id) which answers that question, and the aggregates keep counters only.

Record and aggregates are separate documents, and both stores give one-document atomicity only (kit/store.py), so:

1. `claim` inserts the record (state `pending`, with the decision the caller made: which aggregates it counts on)
   or, when it exists, stops if it is `counted`, or takes over a record whose claim is free (a failed attempt
   released it) or stale (older than `stale_after`: its holder died). A claim held by a live delivery (a duplicate
   of the same event handled at the same moment) is waited for; when that delivery finishes there is nothing left.
2. The holder counts on each aggregate with `Store.change`; each aggregate keeps a short list of **markers**
   (`MARKERS`: the keys it counted whose record is not yet `counted`), so that a holder that resumes after a
   crash does not count twice (`counted` / `mark`).
3. `finish` marks the record `counted` (only by the claim's holder). From then on no delivery counts it again, so
   its markers may go: `settle` drops the markers whose records are counted, once a document carries
   `SETTLE_AT` of them. An aggregate thus holds at most about `SETTLE_AT` plus the in-flight occurrences.

The one bet, as with a lease (kit/lease.py): a holder that stalls for more than `stale_after` between its claim
and its aggregate writes is taken over, and if its late write lands after the new holder finished and the markers
were settled, it counts a second time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pymongo.errors
import structlog

from services.kit.store import Store

log = structlog.get_logger()

MARKERS = "_counted"   # on an aggregate: [[key, note], ...] of occurrences counted whose record is still pending
PENDING, COUNTED = "pending", "counted"
STALE_AFTER = 10.0     # seconds: a claim older than this is its holder's that died (takeover)
SETTLE_AT = 16         # markers on one document that make the next holder settle them


async def claim(store: Store, collection: str, record: dict[str, Any], *, token: str,
                stale_after: float = STALE_AFTER) -> dict[str, Any] | None:
    """The record, now held under `token`, or None when its occurrence is already counted."""
    fresh = {**record, "state": PENDING, "claim": token, "claimed_at": time.time()}
    try:
        await store.insert(collection, fresh)
        return fresh
    except pymongo.errors.DuplicateKeyError:
        pass
    pause = 0.02
    while True:
        existing = await store[collection].find_one({"_id": record["_id"]})
        if existing is None:  # cannot be: records are never deleted; try inserting again
            return await claim(store, collection, record, token=token, stale_after=stale_after)
        if existing["state"] == COUNTED:
            return None
        if not existing.get("claim") or time.time() - float(existing.get("claimed_at") or 0) > stale_after:
            now = time.time()
            taken = await store[collection].update_one(
                {"_id": existing["_id"], "state": PENDING, "claim": existing.get("claim", "")},
                {"$set": {"claim": token, "claimed_at": now}})
            if taken.modified_count:
                log.info("once.taken_over", collection=collection, key=existing["_id"])
                return {**existing, "claim": token, "claimed_at": now}
        await asyncio.sleep(pause)  # another delivery of the same occurrence is at work: let it finish
        pause = min(pause * 2, 0.5)


async def finish(store: Store, collection: str, key: Any, *, token: str, **fields: Any) -> bool:
    """Mark the record counted (with `fields`, plain scalars); False when the claim was taken over meanwhile."""
    done = await store[collection].update_one({"_id": key, "claim": token},
                                              {"$set": {"state": COUNTED, "claim": "", **fields}})
    return bool(done.modified_count)


async def release(store: Store, collection: str, key: Any, *, token: str) -> None:
    """Free the claim after a failed attempt, so that the retry takes over at once (best effort)."""
    try:
        await store[collection].update_one({"_id": key, "claim": token, "state": PENDING}, {"$set": {"claim": ""}})
    except pymongo.errors.PyMongoError as error:
        log.warning("once.release_failed", collection=collection, key=key, error=str(error))


def counted(doc: Mapping[str, Any] | None, key: Any) -> tuple[bool, Any]:
    """(whether `doc` has counted `key`'s occurrence and its record may still be pending, the note kept with it)."""
    for marked, note in (doc or {}).get(MARKERS, ()):
        if marked == key:
            return True, note
    return False, None


def mark(doc: dict[str, Any], key: Any, note: Any = None) -> dict[str, Any]:
    """`doc` remembering that it counted `key` (with `note`, e.g. what the occurrence was), until settled."""
    return {**doc, MARKERS: [*doc.get(MARKERS, []), [key, note]]}


def needs_settling(doc: Mapping[str, Any] | None) -> bool:
    return len((doc or {}).get(MARKERS, ())) >= SETTLE_AT


_settling: set[tuple[int, str, Any]] = set()


async def settle(store: Store, collection: str, doc_id: Any, records: str) -> None:
    """Drop the markers of `collection`/`doc_id` whose records (in `records`) are counted. No version, no event:
    the markers are bookkeeping. One settling per document at a time in a process: the closes in flight on a
    hot document all see its markers, and one settling serves them all."""
    key = (id(store), collection, doc_id)
    if key in _settling:
        return
    _settling.add(key)
    try:
        await _settle(store, collection, doc_id, records)
    finally:
        _settling.discard(key)


async def _settle(store: Store, collection: str, doc_id: Any, records: str) -> None:
    doc = await store[collection].find_one({"_id": doc_id}, {MARKERS: 1})
    keys = [key for key, _ in (doc or {}).get(MARKERS, ())]
    if not keys:
        return
    done = {r["_id"] for r in await store[records].find({"_id": {"$in": keys}, "state": COUNTED},
                                                        {"_id": 1}).to_list()}
    if not done:
        return

    def drop(current):
        if current is None:
            return None
        kept = [m for m in current.get(MARKERS, []) if m[0] not in done]
        return None if len(kept) == len(current.get(MARKERS, [])) else ({**current, MARKERS: kept}, [])

    await store.change(collection, doc_id, drop)
