"""The counters (domain/counters.py) in the store, and the job that keeps them in step with the read model.

The ticket consumer only marks the read-model document it writes as `_dirty` (in the same one-document write,
so no event is lost between the two). The `counters` job, on one replica at a time, then folds dirty tickets
into the counters in batches:

1. read up to `BATCH` dirty tickets, each with what it contributed when last counted (`_counted`, kept in the
   ticket's own document: one read and one write per ticket, not two of each);
2. journal the batch: the change of every bucket it touches and each ticket's new contribution, numbered;
3. apply the journal: each touched bucket document is read, changed and written back whole with the batch
   number, and a bucket that already carries that number is left alone;
4. write each ticket's new contribution to its `_counted`, clearing `_dirty` where the ticket did not change
   meanwhile (it stays dirty otherwise and the next batch counts the rest), mark the batch done. These writes
   bump the document's revision, so a consumer that read the ticket before them writes nothing over them: its
   guarded write fails and it decides again on the document as it now is (kit/store.py `ChangeBatch`).

A crash anywhere leaves the journal, which the next run (this replica or another) applies again from step 3:
the batch numbers make that idempotent, so no ticket is counted twice or lost. One job writes the buckets, so
whole-document writes need no guard; they also keep nx-27017 away from `$inc` on nested paths (kit/store.py).
Per batch the job issues about ten store commands whatever its size: the per-event cost of the consumer is the
read model's alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from pymongo import IndexModel, ReplaceOne, UpdateOne

from services.analytics.domain import counters as c
from services.kit.store import REVISION, WRITE_REVISION, Store, eq

log = structlog.get_logger()

# bucket documents: _id = bucket id (domain/counters.py `bucket_id`), a field per cuboid they hold (`cells_field`:
# {cell key: measures} as JSON text), b = the last batch applied to them
COUNTERS = "counters"
COUNTER_BATCHES = "counter_batches"  # the journal of the batch being applied, and the `meta` document
META = "meta"
DIRTY = "_dirty"
COUNTED = "_counted"  # in the ticket's document: its contribution as last counted, JSON text
# The day a ticket opened on (its first contribution), beside `_dirty`: the job counts dirty tickets in day
# order, so that a batch of a backfill or a rebuild (tickets of every month at once) touches the buckets of a
# few days, not of the whole year; live, every dirty ticket is of the last days anyway.
DAY = "_day"
# Tickets per batch. A batch rewrites every bucket document it touches whole, and a batch of a backfill touches
# the month and week documents of nearly every part however few tickets it holds, so the cost of a ticket grows
# with the size of those documents, that is with the tickets a month (the job's slowing from 2.6 s per 1,000
# tickets at 100,000 a year to 4.9 s at 1,000,000; its dirty-ticket query is served by its index whatever the
# collection's size). The larger the batch, the fewer times a month is rewritten: at 1,000,000 tickets a year,
# 389 cells rewritten a ticket in batches of 1,000, 90 in batches of 5,000 (bench/cuboids.py). Live, a batch is
# the second's changes.
BATCH = 5000
# Store commands carry at most this many documents, so that a query waits for one of them, not for a batch:
# nx-27017 answers one command at a time.
CHUNK = 200

# What a ticket's contribution reads of its read-model document.
CONTRIBUTION_FIELDS = (*c.DIMENSIONS, "opened_at", "received_at", "first_response_at", "resolved_at", "closed_at",
                       "responded_timely", "timely", "satisfied", "reopen_count", "tier_reached", "event_time",
                       "close_reason", WRITE_REVISION, COUNTED)

INDEXES = {
    COUNTERS: [IndexModel([("fam", 1), ("g", 1), ("t", 1)])],
}


def mark_dirty(ticket: dict[str, Any]) -> None:
    """Mark a read-model document, about to be written, as changed since it was last counted."""
    ticket[DIRTY] = True
    day = c.local_day(ticket.get("received_at") or ticket.get("opened_at"))
    ticket[DAY] = c.day_text(day) if day else ""


# Cells, contributions and journalled changes are stored as JSON text, not as sub-documents: nx-27017 spends its
# time per document converting stored JSON to BSON value by value (kit/store.py), and a bucket of 1,920 cells read
# 4-5 times faster as one string (13 such buckets: 620 ms as sub-documents, 134 ms as text). Nothing queries inside
# them, so nothing is lost on MongoDB either.
def to_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def from_text(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def encode(contribution: Mapping[c.Cell, c.Measures]) -> list:
    return [[day, list(keys), measures] for (day, keys), measures in contribution.items()]


def decode(stored: Iterable | str | None) -> dict[c.Cell, c.Measures]:
    return {(day, tuple(keys)): measures for day, keys, measures in (from_text(stored) or ())}


class CountersJob:
    """Folds dirty tickets into the counters (module docstring). `run` is the PeriodicJob body."""

    def __init__(self, store: Store, tickets: str, batch: int = BATCH,
                 queue_depth: Callable[[], Awaitable[int | None]] | None = None):
        self.store = store
        self.tickets = tickets
        self.batch = batch
        self.queue_depth = queue_depth  # events still waiting for the read model's consumer, reported as lag
        self._rule_checked = False

    async def run(self) -> int:
        """Apply any unfinished batch, then count until no ticket is dirty; the number of tickets counted."""
        await self.recover()
        await self.upgrade()
        total = 0
        while True:
            counted = await self.count_batch()
            total += counted
            if counted < self.batch:
                return total

    async def upgrade(self) -> None:
        """Bring a store counted under an older rule or cuboid set up to date, once per job.

        - Another set of cuboids (`meta.layout`, domain/counters.py `LAYOUT_VERSION`): every cuboid of the new set
          is derived from the all-dimensions cuboid's day buckets (`derive`), which every set since
          `SOURCE_SINCE_LAYOUT` keeps in the same form; no ticket is counted again. From an older set the old
          buckets are of no use, so every ticket is counted again from nothing: its last-counted contribution
          forgotten, marked dirty, the old buckets removed. The figures are partial until the job has caught up
          (`lag.pending_tickets` says so). A store with nothing counted yet has nothing to redo.
        - An older contribution rule (`meta.rule`, `RULE`): the tickets it counted differently are marked dirty,
          so the next batches count `new − counted` like any later event.
        Marking and removing are idempotent, so a crash before `meta` records the new state only does them again."""
        if self._rule_checked:
            return
        meta = await self.meta()
        counted_before = "first_day" in meta or meta.get("last_batch", 0) > 0
        if c.SOURCE_SINCE_LAYOUT <= meta.get("layout", 1) < c.LAYOUT_VERSION and counted_before:
            await self.derive(meta)
        elif meta.get("layout", 1) < c.LAYOUT_VERSION and counted_before:
            marked = await self.store[self.tickets].update_many(
                {}, {"$set": {DIRTY: True}, "$unset": {COUNTED: ""}, "$inc": {REVISION: 1}})
            await self.store[COUNTERS].delete_many({})
            log.info("counters.layout_upgraded", layout=c.LAYOUT_VERSION, recounted=marked.modified_count)
        elif meta.get("rule", 1) < 2 and counted_before:  # rule 1 counted a merged duplicate as opened and closed
            marked = await self.store[self.tickets].update_many(
                {"close_reason": eq(c.MERGED)}, {"$set": {DIRTY: True}, "$inc": {REVISION: 1}})
            log.info("counters.rule_upgraded", rule=c.RULE, recounted=marked.modified_count)
        if meta.get("rule", 1) < c.RULE or meta.get("layout", 1) < c.LAYOUT_VERSION:
            meta.update(rule=c.RULE, layout=c.LAYOUT_VERSION)
            await self.store[COUNTER_BATCHES].replace_one({"_id": META}, meta, upsert=True)
        self._rule_checked = True

    async def derive(self, meta: Mapping[str, Any]) -> None:
        """Every cuboid but the source built again from the source cuboid's day buckets, a month of them at a time
        (`roll_up` of their cells, merged into what earlier months wrote: a week spans two months), each written
        with the last batch's number, as if counted by it. The source's buckets and the tickets' `_counted` stay
        as they are. Whatever an interrupted derivation wrote is removed first, so a crash only starts it over."""
        started, counters = time.perf_counter(), self.store[COUNTERS]
        source = c.FAMILY[c.SOURCE_CUBOID]
        # by id, a chunk at a time: each command short (kit/store.py CHUNK), and `fam` read alone, not the cells
        old = [d["_id"] for d in await counters.find({"fam": {"$nin": [source]}}, {"_id": 1}).to_list()]
        for start in range(0, len(old), CHUNK):
            await counters.delete_many({"_id": {"$in": old[start:start + CHUNK]}})
        cuboids, field, written = c.derived_cuboids(), c.cells_field(c.SOURCE_CUBOID), 0
        first, last = meta.get("first_day"), meta.get("last_day")
        month = c.parse_day(first).replace(day=1) if first else None
        while month is not None and month <= c.parse_day(last):
            following = (month + timedelta(days=32)).replace(day=1)
            days = [c.day_text(month + timedelta(days=n)) for n in range((following - month).days)]
            delta: dict[c.Cell, c.Measures] = {}
            for doc in await counters.find({"fam": eq(source), "g": eq("d"), "t": {"$in": days}},
                                           {"t": 1, field: 1}).to_list():
                for key, measures in (from_text(doc.get(field)) or {}).items():
                    c.add_measures(delta.setdefault((doc["t"], tuple(key.split(c.SEPARATOR))), {}), measures)
            written += await self.merge_buckets(c.roll_up(delta, cuboids), meta.get("last_batch", 0), again=True)
            month = following
        log.info("counters.layout_derived", layout=c.LAYOUT_VERSION, buckets=written, removed=len(old),
                 seconds=round(time.perf_counter() - started, 1))

    async def merge_buckets(self, buckets: Mapping[str, Mapping[str, Mapping[str, c.Measures]]], number: int, *,
                            again: bool = False) -> int:
        """Add each bucket's change to its stored document and write it whole with the batch `number`; how many
        were written. A bucket that already carries `number` was reached before a crash and is left alone, unless
        `again` (the derivation adds a month after another under one number)."""
        ids, stored = list(buckets), {}
        for start in range(0, len(ids), CHUNK):
            stored |= {d["_id"]: d for d in await self.store[COUNTERS].find({"_id": {"$in": ids[start:start + CHUNK]}})
                       .to_list()}
        writes = []
        for bucket, change in buckets.items():
            doc = stored.get(bucket) or {"_id": bucket, **c.bucket_fields(bucket), "b": 0}
            if doc["b"] >= number and not again:
                continue  # this batch reached the bucket before a crash
            for cuboid, cells in change.items():
                field = c.cells_field(cuboid)
                merged = c.merge_cells(from_text(doc.get(field)) or {}, cells)
                if merged:
                    doc[field] = to_text(merged)
                else:
                    doc.pop(field, None)
            doc["b"] = number
            writes.append(ReplaceOne({"_id": bucket}, doc, upsert=True))
        await bulk(self.store[COUNTERS], writes)
        return len(writes)

    async def meta(self) -> dict[str, Any]:
        return await self.store[COUNTER_BATCHES].find_one({"_id": META}) or {"_id": META, "last_batch": 0}

    async def recover(self) -> None:
        meta = await self.meta()
        for journal in await self.store[COUNTER_BATCHES].find({"n": {"$gt": 0}}).sort("n", 1).to_list():
            if journal["n"] > meta["last_batch"] and journal.get("layout", 1) == c.LAYOUT_VERSION:
                log.info("counters.batch_reapplied", batch=journal["n"])
                meta = await self.apply(journal, meta)
            else:  # done, or journalled for another set of cuboids: `upgrade` counts everything again
                await self.store[COUNTER_BATCHES].delete_one({"_id": journal["_id"]})

    async def count_batch(self) -> int:
        tickets = await self.store[self.tickets].find({DIRTY: eq(True)}, list(CONTRIBUTION_FIELDS)) \
            .sort(DAY, 1).limit(self.batch).to_list()
        meta = await self.meta()
        if not tickets:
            meta.update(drained_at=time.time(), pending=0,
                        queued_events=await self.queue_depth() if self.queue_depth else None)
            await self.store[COUNTER_BATCHES].replace_one({"_id": META}, meta, upsert=True)
            return 0
        delta: dict[c.Cell, c.Measures] = {}
        contributions: dict[str, list] = {}
        for ticket in tickets:
            new = c.contribution(ticket)
            for cell, measures in c.difference(new, decode(ticket.get(COUNTED))).items():
                c.add_measures(delta.setdefault(cell, {}), measures)
            contributions[ticket["_id"]] = encode(new)
        days = sorted(day for day, _ in delta)
        newest = max((t["event_time"] for t in tickets if t.get("event_time")), default=None)
        n = meta["last_batch"] + 1
        # The journal holds the batch's change per day and cell, not per bucket document: `apply` rolls it up (a
        # pure function), so the journal stays the size of the batch whatever the number of cuboids.
        journal = {"_id": f"batch:{n}", "n": n, "layout": c.LAYOUT_VERSION, "delta": to_text(encode(delta)),
                   "counted": to_text(contributions),
                   "revisions": {t["_id"]: t.get(WRITE_REVISION, 0) for t in tickets},
                   "days": [days[0], days[-1]] if days else [], "newest": newest, "size": len(tickets)}
        await self.store[COUNTER_BATCHES].insert_one(journal)
        await self.apply(journal, meta)
        return len(tickets)

    async def apply(self, journal: Mapping[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        n = journal["n"]
        await self.merge_buckets(c.roll_up(decode(journal["delta"])), n)
        counted = from_text(journal["counted"])
        if counted:
            await self.record_counted(counted, journal["revisions"])
        days = journal.get("days") or []
        if days:
            meta["first_day"] = min(meta.get("first_day") or days[0], days[0])
            meta["last_day"] = max(meta.get("last_day") or days[1], days[1])
        newest = journal.get("newest")
        if newest is not None:
            newest = newest if isinstance(newest, datetime) else datetime.fromisoformat(str(newest))
            newest = newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest
            as_of = meta.get("as_of")
            as_of = as_of.replace(tzinfo=UTC) if isinstance(as_of, datetime) and as_of.tzinfo is None else as_of
            meta["as_of"] = max(newest, as_of) if isinstance(as_of, datetime) else newest
        meta.update(last_batch=n, pending=journal.get("size", 0), counted_at=time.time())
        await self.store[COUNTER_BATCHES].replace_one({"_id": META}, meta, upsert=True)
        await self.store[COUNTER_BATCHES].delete_one({"_id": journal["_id"]})
        return meta

    async def record_counted(self, counted: Mapping[str, list], revisions: Mapping[str, int]) -> None:
        tickets = self.store[self.tickets]
        matched = await bulk(tickets, [
            UpdateOne({"_id": tid, WRITE_REVISION: eq(revisions[tid])},
                      {"$set": {COUNTED: to_text(contribution)}, "$unset": {DIRTY: ""}, "$inc": {REVISION: 1}})
            for tid, contribution in counted.items()])
        if matched == len(counted):
            return
        # Some were written since they were read (or this is a re-applied journal): which, the store cannot say
        # per write (a bulk's matched count is a total), so set this batch's `_counted` on all of them again (no
        # later batch can have run: a journal is finished before the next batch starts). Those written since stay
        # dirty and the next batch counts their newer state against it. (Not `{_counted: {$ne: text}}`: on
        # nx-27017 `$ne` does not match a missing field.)
        await bulk(tickets, [UpdateOne({"_id": tid}, {"$set": {COUNTED: to_text(contribution)}, "$inc": {REVISION: 1}})
                             for tid, contribution in counted.items()])


async def bulk(collection, writes: list) -> int:
    """`writes` as unordered bulk writes of at most `CHUNK` each; the documents matched."""
    matched = 0
    for start in range(0, len(writes), CHUNK):
        matched += (await collection.bulk_write(writes[start:start + CHUNK], ordered=False)).matched_count
    return matched


# --- reading ---------------------------------------------------------------------------------------------


async def read_buckets(store: Store, cuboid: str, tiles: Iterable[tuple[str, date]],
                       partitions: Iterable[str] | None) -> dict[tuple[str, str], list[dict[str, c.Measures]]]:
    """The cells of `cuboid` in each tile (grain, first day), of the `partitions` of a split cuboid (None: every
    part): one query for all of them (one per grain for a split cuboid read whole), which returns only the
    cuboid's field of each document."""
    wanted = {(grain, c.period_text(day, grain)) for grain, day in tiles}
    found: dict[tuple[str, str], list[dict[str, c.Measures]]] = {}
    if not wanted:
        return found
    field = c.cells_field(cuboid)
    projection = {"g": 1, "t": 1, field: 1}
    if cuboid in c.SPLIT and partitions is None:
        by_grain: dict[str, list[str]] = {}
        for grain, period in wanted:
            by_grain.setdefault(grain, []).append(period)
        docs = []
        for grain, periods in by_grain.items():
            docs += await store[COUNTERS].find({"fam": eq(c.FAMILY[cuboid]), "g": eq(grain), "t": {"$in": periods}},
                                               projection).to_list()
    else:
        parts = [None] if cuboid not in c.SPLIT else list(partitions)
        ids = [c.bucket_id(cuboid, grain, period, part) for grain, period in wanted for part in parts]
        docs = await store[COUNTERS].find({"_id": {"$in": ids}}, projection).to_list()
    for doc in docs:
        found.setdefault((doc["g"], doc["t"]), []).append(from_text(doc.get(field)) or {})
    return found


def sum_tiles(found: Mapping[tuple[str, str], list[dict[str, c.Measures]]], cuboid: str,
              tiles: Iterable[tuple[str, date]], cell_filter: c.CellFilter,
              group: str | None) -> dict[str, c.Measures]:
    """Summed measures of the tiles' admitted cells, per key of `group` (or under "" without a group)."""
    sums: dict[str, c.Measures] = {}
    for grain, day in tiles:
        for cells in found.get((grain, c.period_text(day, grain)), ()):
            for key, measures in cells.items():
                if cell_filter.admits(cuboid, key):
                    target = sums.setdefault(c.key_of(cuboid, key, group) if group else "", {})
                    c.accumulate(target, measures)
    return sums


def day_after(text: str) -> date:
    return c.parse_day(text) + timedelta(days=1)
