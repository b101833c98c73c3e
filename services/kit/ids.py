"""Readable numbers from counters in a service's own store, handed out from blocks.

A counter is a document `{_id: key, <field>: last number reserved}`. A process reserves `block` numbers with one
`$inc` and hands them out from memory, so a request that needs a number usually costs no round trip. Numbers
are unique across replicas and increase within a process; replicas interleave, and what a process reserved but
did not use (it restarted, or a replayed request took a number it then did not keep) is skipped for good.

The next block is reserved in the background once half of the current one is handed out, so that the request
that takes a block's last number does not wait for the store, nor do the requests queued behind it for the same
key: at intake load a reservation waited ~37 ms at nx-27017, which answers one command at a time, and held up to
every concurrent intake of that kind (bench/intake.py, "store answers").
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.kit.store import KeyedLocks, Store

COUNTERS = "counters"


class Sequences:
    def __init__(self, store: Store, *, block: int = 1, field: str = "n", collection: str = COUNTERS):
        if block < 1:
            raise ValueError("block must be at least 1")
        self.store, self.block, self.field, self.collection = store, block, field, collection
        self._next: dict[str, tuple[int, int]] = {}  # key → (next number to hand out, end of the block, exclusive)
        self._ahead: dict[str, asyncio.Task[int]] = {}  # key → the reservation of its next block, under way or done
        self._locks = KeyedLocks()

    async def next(self, key: str) -> int:
        number, end = self._next.get(key, (0, 0))
        if number >= end:
            async with self._locks.hold(key):  # one reservation in flight per key; the others wait for it
                number, end = self._next.get(key, (0, 0))
                if number >= end:
                    top = await self._reserved_ahead(key) or await self._reserve(key)
                    number, end = top - self.block + 1, top + 1
        self._next[key] = (number + 1, end)
        if end - number - 1 <= self.block // 2 and key not in self._ahead and self.block > 1:
            if len(self._ahead) >= 16:  # keys of days gone by (ticket numbers are per day) whose block was not taken
                self._ahead = {k: t for k, t in self._ahead.items() if not t.done()}
            # reserved later than the current block, so its numbers are higher: they still increase in the process
            self._ahead[key] = task = asyncio.create_task(self._reserve(key), name=f"sequences:{key}",
                                                         context=contextvars.Context())
            task.add_done_callback(_retrieved)
        return number

    async def _reserved_ahead(self, key: str) -> int | None:
        """The last number of the block reserved ahead for `key`; None if none was, or if that reservation failed
        (the store was away a moment: the caller reserves again, now)."""
        ahead = self._ahead.pop(key, None)
        if ahead is None:
            return None
        try:
            return await ahead
        except Exception:  # noqa: BLE001 - reserved again by the caller, whose failure then is the one that counts
            return None

    async def stop(self) -> None:
        """Cancel the reservations under way (their numbers, if the store took them, are skipped)."""
        for task in self._ahead.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._ahead.clear()

    async def _reserve(self, key: str) -> int:
        """The last number of a newly reserved block."""
        for _ in range(5):  # two first-ever upserts can race: the loser gets a duplicate key (or None), then retries
            try:
                doc = await self.store[self.collection].find_one_and_update(
                    {"_id": key}, {"$inc": {self.field: self.block}}, upsert=True, return_document=ReturnDocument.AFTER)
            except DuplicateKeyError:
                continue
            if doc is not None:
                return int(doc[self.field])
        raise RuntimeError(f"counter {key!r} could not be incremented")


def _retrieved(task: asyncio.Task) -> None:
    """A reservation made ahead that failed is not an error yet (the request that needs the block reserves
    again): marked retrieved, so that asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()
