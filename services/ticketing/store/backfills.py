"""One-time backfills: tickets stored before a field existed are brought up to date once, not looked for forever.

Where a field is text on every ticket written today (the list's keys, the scheduled jobs' check keys), `{f: None}`
finds exactly the tickets that lack it, from its index, on both stores; but asked every minute it is a query every
minute for as long as the service runs, long after the last old ticket is gone. Other old shapes cannot be found by
an index range that is empty once they are gone: `update_reminded_at` is None on most tickets written today, and
nx-27017 answers `{f: {$exists: false}}` for a field stored as null as well (kit/store.py), so "lacks the field" is
not a query both stores answer the same; such a backfill walks a bounded set of candidates instead (open tickets,
in sort key order). Either way, once a run has found none left, the backfill is recorded here as done (collection
`backfills`, `_id` its name), so that later starts, on any replica, skip it with one read. A backfill runs inside a
scheduled job (one replica at a time) and in `max_batches` per pass, so a large store finishes it over a few
passes, each well within the job's lease. Idempotent throughout: a ticket written meanwhile through the API has the
field from that write, and a backfill run twice writes nothing new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pymongo.errors
import structlog

from services.kit.store import Store, change_stamp

log = structlog.get_logger()

BACKFILLS = "backfills"


class OneTime:
    """`step()` (True once it found nothing left to do) until it is done, then never again; `await` it from the
    job it belongs to, before that job's own pass."""

    def __init__(self, store: Store, name: str, step: Callable[[], Awaitable[bool]]):
        self.store, self.name, self.step = store, name, step
        self.done = False

    async def __call__(self) -> None:
        if self.done:
            return
        if await self.store[BACKFILLS].find_one({"_id": self.name}, {"_id": 1}) is not None:
            self.done = True
            return
        try:
            complete = await self.step()
        except Exception as error:  # noqa: BLE001 - the store failed: the job's own pass still runs, this again next
            log.warning("backfill.failed", backfill=self.name, error=repr(error)[:300])
            return
        if not complete:
            return  # more left: the next pass goes on
        try:
            await self.store[BACKFILLS].insert_one({"_id": self.name, "done_at": change_stamp()})
        except pymongo.errors.DuplicateKeyError:
            pass  # another replica recorded it first
        self.done = True
        log.info("backfill.done", backfill=self.name)
