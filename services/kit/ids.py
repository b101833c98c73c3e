"""Readable numbers from counters in a service's own store, handed out from blocks.

A counter is a document `{_id: key, <field>: last number reserved}`. A process reserves `block` numbers with one
`$inc` and hands them out from memory, so a request that needs a number usually costs no round trip. Numbers
are unique across replicas and increase within a process; replicas interleave, and what a process reserved but
did not use (it restarted, or a replayed request took a number it then did not keep) is skipped for good.
"""

from __future__ import annotations

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
        self._locks = KeyedLocks()

    async def next(self, key: str) -> int:
        number, end = self._next.get(key, (0, 0))
        if number >= end:
            async with self._locks.hold(key):  # one reservation in flight per key; the others wait for it
                number, end = self._next.get(key, (0, 0))
                if number >= end:
                    top = await self._reserve(key)
                    number, end = top - self.block + 1, top + 1
        self._next[key] = (number + 1, end)
        return number

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
