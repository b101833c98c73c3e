"""Leases in a service's own store: work that must run on one replica at a time (the outbox relay, scheduled
jobs) holds a named lease that expires unless its holder renews it, so a replica that dies without a word hands
the work over after at most one lease period.

A lease is a document `{_id: name, owner, expires}` in `_leases`. Taking it is one conditional upsert: it
matches when the lease is ours or has expired. `expires` is epoch seconds as a float, which compares the same on
MongoDB and nx-27017 (nx-27017 turns `$set` datetimes into strings, kit/store.py).
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import pymongo.errors
from pymongo import ReturnDocument

from services.kit.store import Store

LEASES = "_leases"


def process_owner() -> str:
    """Who holds a lease: host, process id and a random part (a restarted process is a new owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(self, store: Store, name: str, seconds: float, owner: str | None = None):
        self.store = store
        self.name = name
        self.seconds = seconds
        self.owner = owner or process_owner()
        self.held = False
        self._renewed_at = 0.0  # monotonic time of the last successful acquire

    async def acquire(self) -> bool:
        """Take the lease, or renew it if it is ours; False while another owner's lease is still running."""
        now = time.time()
        try:
            doc = await self.store[LEASES].find_one_and_update(
                # `$and` spelled out: nx-27017's findAndModify reads `{_id, $or}` as `_id and owner, or expired`
                # and took another lease's expired document (kit/store.py lists its differences).
                {"$and": [{"_id": self.name}, {"$or": [{"owner": self.owner}, {"expires": {"$lt": now}}]}]},
                {"$set": {"owner": self.owner, "expires": now + self.seconds}},
                upsert=True, return_document=ReturnDocument.AFTER)
        except pymongo.errors.DuplicateKeyError:  # MongoDB: someone else's lease exists and has not expired
            doc = None
        self.held = doc is not None and doc.get("owner") == self.owner  # nx-27017 answers None instead
        if self.held:
            self._renewed_at = time.monotonic()
        return self.held

    async def keep(self) -> bool:
        """During long work: renew once a third of the lease has passed, so that it never expires under a holder
        that is still working (another replica would start the same work). False when the lease is lost."""
        if self.held and time.monotonic() - self._renewed_at < self.seconds / 3:
            return True
        return await self.acquire()

    async def release(self) -> None:
        """Let the next replica take over at once instead of after the expiry."""
        if self.held:
            await self.store[LEASES].update_one({"_id": self.name, "owner": self.owner}, {"$set": {"expires": 0.0}})
            self.held = False
