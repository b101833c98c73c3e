"""One-time backfills: tickets stored before a field existed are brought up to date once, not looked for forever.

Where a field is text on every ticket written today (the list's keys, the scheduled jobs' check keys), `{f: None}`
finds exactly the tickets that lack it, from its index, on both stores; but asked every minute it is a query every
minute for as long as the service runs, long after the last old ticket is gone. Other old shapes cannot be found by
an index range that is empty once they are gone: `update_reminded_at` is None on most tickets written today, and
nx-27017 answers `{f: {$exists: false}}` for a field stored as null as well (kit/store.py), so "lacks the field" is
not a query both stores answer the same; such a backfill walks a bounded set of candidates instead (open tickets,
in sort key order). Either way, once runs have found none left for `settle` (an hour by default,
OPS_BACKFILL_SETTLE_SECONDS), the backfill is recorded here as done (collection `backfills`, `_id` its name), so that
later starts, on any replica, skip it with one read. Not at the first pass that finds none: during a rolling deploy
the replicas of the version before still write tickets in the old shape after it, and the passes of the next hour
(each an index lookup that finds nothing, or a short walk) reach them. A backfill runs inside a
scheduled job (one replica at a time) and in `max_batches` per pass, so a large store finishes it over a few
passes, each well within the job's lease. Idempotent throughout: a ticket written meanwhile through the API has the
field from that write, and a backfill run twice writes nothing new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pymongo.errors
import structlog

from services.kit.store import Store, change_stamp, stamp_time

log = structlog.get_logger()

BACKFILLS = "backfills"


class OneTime:
    """`step()` (True once it found nothing left to do) until it is done, then never again; `await` it from the
    job it belongs to, before that job's own pass. Done once a pass has found nothing left `settle` or longer after
    the first pass that found nothing (`clean_since` of its record, the same for every replica)."""

    def __init__(self, store: Store, name: str, step: Callable[[], Awaitable[bool]],
                 settle: timedelta = timedelta(0)):
        self.store, self.name, self.step, self.settle = store, name, step, settle
        self.done = False

    async def __call__(self) -> None:
        if self.done:
            return
        record = await self.store[BACKFILLS].find_one({"_id": self.name})
        if record is not None and (record.get("done_at") or not record.get("clean_since")):
            self.done = True  # done (a record without `clean_since` is from before backfills settled: done too)
            return
        try:
            complete = await self.step()
        except Exception as error:  # noqa: BLE001 - the store failed: the job's own pass still runs, this again next
            log.warning("backfill.failed", backfill=self.name, error=repr(error)[:300])
            return
        if not complete:
            return  # more left: the next pass goes on
        now = datetime.now(UTC)
        if record is None:
            try:
                await self.store[BACKFILLS].insert_one({"_id": self.name, "clean_since": change_stamp(now),
                                                        **({"done_at": change_stamp(now)} if not self.settle else {})})
            except pymongo.errors.DuplicateKeyError:
                return  # another replica found it clean first: its moment counts, read at the next pass
            if self.settle:
                log.info("backfill.clean", backfill=self.name, settle_seconds=self.settle.total_seconds())
                return
        elif now - stamp_time(record["clean_since"]) < self.settle:
            return  # an older replica may still write the old shape: look again at the next pass
        else:
            await self.store[BACKFILLS].update_one({"_id": self.name}, {"$set": {"done_at": change_stamp(now)}})
        self.done = True
        log.info("backfill.done", backfill=self.name)
