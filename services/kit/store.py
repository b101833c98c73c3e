"""MongoDB wiring and the transactional outbox, built on single-document atomicity.

Each aggregate document carries the events its last changes owe to the broker in `_outbox`; the state change
and its events are one document write, so they are stored atomically without a multi-document transaction.
The relay (kit/outbox.py) publishes them with publisher confirms and then removes them from the document.

Why not a separate outbox collection in a transaction: the local store nx-27017 has no isolation between
sessions (an aborted transaction also rolls back other clients' concurrent writes, and uncommitted writes are
visible), and a real MongoDB would need a replica set for it. One-document writes behave the same on both.

Other nx-27017 differences worked around here, and only here:
- `$push`/`$addToSet` store sub-documents as JSON strings, and `$set` turns datetimes into strings, so
  documents are written whole (insert/replace guarded by a revision), and `$set`/`$inc` only take plain scalars.
  `$pull` of sub-documents matched by a field behaves the same on both (the relay removes published events so),
  though `$set` of False reads back as 0 on nx-27017: query the pending flag only as `True`.
- `find_one_and_update(upsert=True)` whose filter misses an existing `_id` answers None where MongoDB raises
  DuplicateKeyError; callers treat both as "not matched".
- `find_one_and_update` with a field beside a top-level `$or` (`{_id: x, $or: [...]}`) can match and change a
  document the field excludes; `find` does not. Spell the conjunction out as `$and` (kit/lease.py does).
- A compound index that contains `_id` makes every write to its collection fail ("JSON path error near
  '_id'"): index the sort field alone; the `_id` tie-break of kit/pagination.py needs no index of its own.
- `{f: {"$exists": False}}` matches a field stored as null too (nx-27017 tests `json_extract(...) IS NULL`),
  where MongoDB matches only a missing one; `{f: None}` is "missing or null" on both. So documents stored
  before a field existed are found as `{f: None}` beside a condition that today's documents with a null there
  fail (ticketing's open tickets without `sla_open_revision`), or walked once (ticketing/store/backfills.py).

Bulk writes behave the same on both, and cost nx-27017 far less than the same writes one by one (each command
is a thread hop, a BSON decoding and a commit): ten documents in one `insert_many` cost it 0.49 ms each against
1.11 for `insert_one`, a hundred guarded updates in one `bulk_write` 0.7 ms each against 2.6. So concurrent
inserts and changes go as group commits (`InsertBatch`, `ChangeBatch`) and the relay clears a batch in one
write. An unordered `insert_many` names each duplicate key by its index on both; a bulk's matched count is only
a total, so which replaces landed is read back by the write id they carried (`_wid`).

Query shapes on nx-27017 (what runs as one SQL statement served by an index, what falls back to a scan):
- A flat filter of equalities and ranges runs in SQL with its sort and limit. Any `$and` (even of one clause),
  a `$or` (top level or beside fields) and a range over datetimes are evaluated in Python over the collection
  (0.6–6.5 s on 100,000 documents): build filters with `flat_and` below; keep instants that are filtered or
  paged on as fixed-width text.
- A query value that merely starts like a date (`2026-11-25…`, `11/25/2026…`) also sends the query down that
  datetime path, and a `$lt` on such strings matched nothing there: write sortable instant texts without the
  dashes (`20261125T090000.000000Z`, as services/ticketing/store/listing.py does).
- A bare equality `{f: v}` becomes "f = v, or f is an array containing v", which no index serves (a walk of
  the sort index, reading every document's JSON) — unless some index's name ends with `_f`, and then it is the
  plain comparison alone, so equality on an array element matches nothing (MongoDB matches it). `{f: {"$eq":
  v}}` is always the plain, index-served comparison: use `eq` below for scalar fields. Membership in an array
  field is `{f: {"$in": [v]}}` on both stores (on nx-27017 a json_each test of every document it walks).
- `_id` in a filter beside `$text` fails ("no such column: tickets._id"): look such a document up by another
  unique indexed field (ticketing's sort key, api/routes.breach_filters).
- `$text` beside a `$or` matched nothing (the Python path does not evaluate `$text`): ask each alternative of
  the `$or` on its own and merge the answers (kit/pagination.keyed_page does).
- A text index is not listed by `list_indexes`/`index_information`, and creating it again once the collection
  holds documents fails with "constraint failed" (the FTS5 table is refilled from the collection over its own
  rows), which would stop every restart: create it with `ensure_text_index` below, not in `Store.indexes`.
- Every document a query returns costs nx-27017 ~0.45 ms of its one core (JSON decoding of the whole stored
  document, projection in Python, conversion to BSON), whatever the plan: a page of 50 tickets is ~24 ms, so one
  nx-27017 serves about 40 such pages a second. Projections cut the conversion, not the decoding.
  The conversion goes value by value, so a large sub-document that no query looks inside (analytics' counter
  cells) costs 4-5 times less stored as one JSON string (analytics/store/counters.py `to_text`).
- `count_documents` reads the whole match set in Python (11 s on 100,000 documents): none on hot paths.
- nx-27017 answers one command at a time: a bulk write of thousands of documents (or a find returning them)
  holds every other client for all of it. A background job that writes much writes in chunks, so that a request
  waits for one chunk (analytics' counters job: store/counters.py `CHUNK`).
- A text index is an FTS5 table kept by triggers (about a fifth off the insert rate). `$text` ANDs the words of
  `$search`, each quoted by nx-27017, where MongoDB ORs bare words and ANDs quoted phrases: quote every word
  (kit/text.phrase_search). Every match is scored (bm25) and read for the filters and the sort, so a query's cost
  grows with its match count, not the page size: narrow common words (ticketing's week words, store/search.py).
  Beside `$text`, an equality that an index serves makes SQLite drive from that index and probe FTS5 per row:
  write such filters with `membership` below.
- `$text` has no OR on nx-27017: it quotes every bare word of `$search` (and drops FTS5's own OR), so "any of
  these words" is one query per word there, where MongoDB ORs bare words in one. Index a word that means what
  the OR would have found instead (ticketing's duplicate key: domain/duplicates.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pymongo.errors
import structlog
from pymongo import AsyncMongoClient, IndexModel, InsertOne, ReplaceOne, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.events import Envelope
from services.kit import metrics
from services.kit.broker import routed_headers
from services.kit.settings import ServiceSettings

OUTBOX = "_outbox"
OUTBOX_PENDING = "_outbox_pending"
REVISION = "_rev"          # bumped by every write, the relay's included: the optimistic-concurrency guard
WRITE_REVISION = "_wrev"   # bumped by the service's own writes only: tells a relay write from a real conflict
WRITE_ID = "_wid"          # unique per batched write: tells which writes of a bulk landed (ChangeBatch)
# When the service last wrote the document, as fixed-width UTC text (a string range: see "Query shapes" above), in
# the collections a service asks to have stamped (`Store(stamped=...)`): what lets a replica that keeps a copy in
# memory (knowledge's search index) ask the store "what changed since" with one indexed range query, whoever
# wrote it (a request, an event handler, another replica). The relay's own writes do not stamp: they change no
# content.
CHANGED = "_changed"
BOOKKEEPING = (OUTBOX, OUTBOX_PENDING, REVISION, WRITE_REVISION, WRITE_ID, CHANGED)

log = structlog.get_logger()


def change_stamp(at: datetime | None = None) -> str:
    """A `CHANGED` value: ISO 8601's basic format, so that ordering the texts orders the instants (no dashes:
    nx-27017 takes a value that starts like 2026-11-25 for a date, see above)."""
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def stamp_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


class ConcurrencyConflict(Exception):
    """The document changed since it was read; the caller re-reads and decides again."""


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or awaits it. Handlers of one process that change
    the same document take turns instead of failing each other's optimistic writes (a hot document, such as
    a candidate many closes grow at once, would otherwise exhaust their retries)."""

    def __init__(self) -> None:
        self._locks: dict[Any, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Any):
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _write_concern(settings: ServiceSettings) -> dict:
    options: dict = {}
    if settings.mongo_write_concern:
        w = settings.mongo_write_concern
        options["w"] = int(w) if w.isdigit() else w
    if settings.mongo_journal is not None:
        options["journal"] = settings.mongo_journal
    return options


class CommandCounter(monitoring.CommandListener):
    """Counts the commands this process sends to its store (`ops_store_commands_total`) and how long each took
    to answer (`ops_store_command_seconds`)."""

    def __init__(self, service: str):
        self.service = service
        self._metrics: dict[tuple[str, str], tuple[Any, Any]] = {}  # (command, collection) → (counter, timer)
        self._in_flight: dict[int, Any] = {}  # request id → the timer of its command

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        key = (event.command_name, target if isinstance(target, str) else "")
        pair = self._metrics.get(key)
        if pair is None:
            pair = self._metrics[key] = (metrics.STORE_COMMANDS.labels(self.service, *key),
                                         metrics.STORE_COMMAND_SECONDS.labels(self.service, *key))
        pair[0].inc()
        self._in_flight[event.request_id] = pair[1]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._time(event.request_id, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._time(event.request_id, event.duration_micros)

    def _time(self, request_id: int, micros: int) -> None:
        timer = self._in_flight.pop(request_id, None)
        if timer is not None:
            timer.observe(micros / 1e6)


class Store:
    def __init__(self, settings: ServiceSettings, *, outbox_collections: Sequence[str] = (),
                 indexes: Mapping[str, Sequence[IndexModel]] | None = None, stamped: Sequence[str] = ()):
        self.settings = settings
        self.client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000,
                                                         appname=settings.service_name,
                                                         event_listeners=[CommandCounter(settings.service_name)],
                                                         **_write_concern(settings))
        self.db: AsyncDatabase = self.client[settings.database]
        self.outbox_collections = tuple(outbox_collections)
        self.stamped = frozenset(stamped)
        self.indexes = dict(indexes or {})
        self.outbox_signal = asyncio.Event()
        # set unless this process's relay found a whole batch waiting in its last pass (OutboxRelay.relay_once)
        self.outbox_caught_up = asyncio.Event()
        self.outbox_caught_up.set()
        self._batches: dict[tuple[type, str], Batcher] = {}

    def __getitem__(self, name: str) -> AsyncCollection:
        return self.db[name]

    async def start(self) -> None:
        for name in self.outbox_collections:
            self.indexes.setdefault(name, [])
            self.indexes[name] = [*self.indexes[name], IndexModel(OUTBOX_PENDING)]
        for name in self.stamped:
            self.indexes[name] = [*self.indexes.get(name, []), IndexModel(CHANGED)]
        for name, models in self.indexes.items():
            if models:
                await self.db[name].create_indexes(list(models))
        log.info("store.ready", database=self.settings.database)

    async def ping(self) -> bool:
        try:
            await self.client.admin.command("ping")
            return True
        except Exception:  # noqa: BLE001 - readiness answers yes or no
            return False

    async def close(self) -> None:
        for batch in self._batches.values():
            await batch.stop()
        await self.client.close()

    # --- writes that carry events ---------------------------------------------------------------------

    async def insert(self, collection: str, doc: dict[str, Any], events: Iterable[Envelope] = ()) -> dict[str, Any]:
        """Insert a new document with its events (with the other inserts waiting, kit `InsertBatch`).
        DuplicateKeyError propagates (idempotent creation relies on it).

        New documents are where outside load comes in (the intake): while the relay of this process is a
        whole batch behind, the insert first waits for it, up to `outbox_backpressure_seconds`, so that
        requests slow down rather than the events fall behind."""
        outbox = [outbox_entry(e) for e in events]
        if outbox and not self.outbox_caught_up.is_set() and self.settings.outbox_backpressure_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox_caught_up.wait(), self.settings.outbox_backpressure_seconds)
        new = {**doc, REVISION: 1, WRITE_REVISION: 1, OUTBOX: outbox, OUTBOX_PENDING: bool(outbox),
               **self._stamp(collection)}
        await self._batch(InsertBatch, collection).submit(new)
        self._signal(outbox)
        return new

    async def replace(self, collection: str, doc: dict[str, Any], events: Iterable[Envelope] = ()) -> dict[str, Any]:
        """Write `doc` (as read, then changed) back with its new events, unless another writer changed it since.

        A concurrent relay write (it only removes published events) is merged and retried; any other change
        raises ConcurrencyConflict.
        """
        new_events = [outbox_entry(e) for e in events]
        coll = self.db[collection]
        current_rev, current_outbox = doc.get(REVISION, 0), list(doc.get(OUTBOX, []))
        for _ in range(10):
            outbox = current_outbox + new_events
            new = {**doc, REVISION: current_rev + 1, WRITE_REVISION: doc.get(WRITE_REVISION, 0) + 1,
                   OUTBOX: outbox, OUTBOX_PENDING: bool(outbox), **self._stamp(collection)}
            result = await coll.replace_one({"_id": doc["_id"], REVISION: current_rev}, new)
            if result.matched_count:
                self._signal(new_events)
                return new
            fresh = await coll.find_one({"_id": doc["_id"]})
            if fresh is None or fresh.get(WRITE_REVISION, 0) != doc.get(WRITE_REVISION, 0):
                raise ConcurrencyConflict(f"{collection}/{doc['_id']} changed since it was read")
            current_rev, current_outbox = fresh.get(REVISION, 0), list(fresh.get(OUTBOX, []))
        raise ConcurrencyConflict(f"{collection}/{doc['_id']} kept changing")

    async def change(self, collection: str, doc_id: Any, decide: Decide, *, attempts: int = 5) -> dict[str, Any] | None:
        """Read one document (None if absent), let `decide` return its new state and the events it owes (or None:
        nothing to do), and write both at once. When another writer got there first, read and decide again.

        This is how event handlers stay idempotent and order-tolerant: `decide` is a pure function of what is
        stored and what arrived. Concurrent changes of one collection are applied in batches (`ChangeBatch`):
        one read and one bulk write for all the documents they touch, the changes of one document in the order
        they came. Between replicas the revision guard decides and the loser reads and decides again after a
        short random pause; after `attempts` losses the caller gets ConcurrencyConflict (a consumer retries)."""
        return await self._batch(ChangeBatch, collection).submit(doc_id, decide, attempts)

    def _batch(self, kind: type[B], collection: str) -> B:
        batch = self._batches.get((kind, collection))
        if batch is None:
            batch = self._batches[(kind, collection)] = kind(self, collection)
        return batch

    def _stamp(self, collection: str) -> dict[str, str]:
        return {CHANGED: change_stamp()} if collection in self.stamped else {}

    def _signal(self, outbox: list) -> None:
        if outbox:
            self.outbox_signal.set()


def outbox_entry(envelope: Envelope) -> dict[str, Any]:
    """An event as its document keeps it until the relay has published it: what the relay and the bookkeeping
    read (id, type, correlation id, sequence) beside the message body as the JSON text it is sent as. One string
    rather than the envelope's fifty-odd fields: nx-27017 converts every field of a document it stores or returns,
    and the relay then sends the text as it is instead of serializing the event again. Entries stored as the whole
    envelope before (no `body`) are still published (kit/broker.py `EventBus.publish`), and so are those stored
    before they kept the message's `headers` (kit/broker.py `routed_headers`), without them."""
    entry = {"id": envelope.id, "type": envelope.type, "correlationid": envelope.correlationid,
             "sequence": envelope.sequence, "body": envelope.model_dump_json()}
    if headers := routed_headers(envelope.data):
        entry["headers"] = headers
    return entry


def public(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The document without the store's bookkeeping fields."""
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k not in BOOKKEEPING}


B = TypeVar("B", bound="Batcher")
Decide = Callable[[dict[str, Any] | None], tuple[dict[str, Any], list[Envelope]] | None]


@dataclass
class _Change:
    doc_id: Any
    decide: Decide
    attempts_left: int
    done: asyncio.Future
    # The submitter's context: its decision runs in it, so the events it owes carry the submitter's
    # correlation id and its log lines the submitter's context, not the batch's.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    result: dict[str, Any] | None = None


class Batcher:
    """Group commit: requests for one collection that wait while a batch is written go together in the next
    one. One batch at a time per collection, so a batch never reads what another is writing; a lone request
    is written at once, with no wait added."""

    MAX = 200  # requests per batch: bounds a batch's read and write

    def __init__(self, store: Store, collection: str):
        self.store, self.collection = store, collection
        self._waiting: list = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _enqueue(self, request) -> None:
        self._waiting.append(request)
        self._wake.set()
        if self._task is None or self._task.done():
            # A context of its own: the batch serves every submitter, it must not carry the first one's.
            self._task = asyncio.create_task(self._run(), name=f"{type(self).__name__}:{self.collection}",
                                             context=contextvars.Context())

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch, self._waiting = self._waiting[:self.MAX], self._waiting[self.MAX:]
                try:
                    await self._apply(batch)
                except Exception as error:  # noqa: BLE001 - the store failed: each caller decides what to do
                    for request in batch:
                        if not request.done.done():
                            request.done.set_exception(error)

    async def _apply(self, batch: list) -> None:
        raise NotImplementedError


@dataclass
class _Insert:
    doc: dict[str, Any]
    done: asyncio.Future


class InsertBatch(Batcher):
    """`Store.insert` as group commit: the inserts that wait go as one unordered `insert_many`. On nx-27017 a
    batch of ten costs its server less than half the CPU per document of ten `insert_one`, and the client a
    fifth. A duplicate key fails only the insert that caused it, with DuplicateKeyError as `insert_one` would."""

    async def submit(self, doc: dict[str, Any]) -> None:
        request = _Insert(doc, asyncio.get_running_loop().create_future())
        self._enqueue(request)
        await request.done

    async def _apply(self, batch: list[_Insert]) -> None:
        failed: dict[int, BaseException] = {}
        try:
            await self.store[self.collection].insert_many([r.doc for r in batch], ordered=False)
        except pymongo.errors.BulkWriteError as error:
            for e in error.details.get("writeErrors", ()):
                failed[e["index"]] = (pymongo.errors.DuplicateKeyError(e.get("errmsg", "duplicate key"), 11000, e)
                                      if e.get("code") == 11000 else pymongo.errors.WriteError(e.get("errmsg"),
                                                                                                e.get("code"), e))
        for index, request in enumerate(batch):
            if index in failed:
                request.done.set_exception(failed[index])
            else:
                request.done.set_result(None)


class ChangeBatch(Batcher):
    """Group commit for `Store.change` on one collection, so a consumer applying 32 events in flight costs two
    store commands, not 64: one read of every document the waiting changes touch, each document's changes
    decided in the order they came, one unordered bulk write. A write that loses to another writer (a replace
    whose revision moved, an insert of an `_id` that appeared) is told apart by the write id `_wid` it carries
    and goes into a later batch, which reads the document again."""

    async def submit(self, doc_id: Any, decide: Decide, attempts: int) -> dict[str, Any] | None:
        change = _Change(doc_id, decide, attempts, asyncio.get_running_loop().create_future())
        self._enqueue(change)
        return await change.done

    async def _apply(self, batch: list[_Change]) -> None:
        by_doc: dict[Any, list[_Change]] = {}
        for change in batch:
            by_doc.setdefault(change.doc_id, []).append(change)
        coll = self.store[self.collection]
        stored = {d["_id"]: d for d in await coll.find({"_id": {"$in": list(by_doc)}}).to_list()}
        writes: list[InsertOne | ReplaceOne] = []
        written: dict[Any, tuple[str, dict[str, Any], list[_Change]]] = {}  # doc id → (write id, doc, changes)
        for doc_id, changes in by_doc.items():
            current = stored.get(doc_id)
            working, new_events, applied = current, [], []
            for change in changes:
                try:
                    decision = change.context.run(change.decide, working)
                except Exception as error:  # noqa: BLE001 - this change fails alone (a poison event, say)
                    change.done.set_exception(error)
                    continue
                applied.append(change)
                if decision is not None:
                    doc, events = decision
                    new_events += [outbox_entry(e) for e in events]
                    outbox = [*(current or {}).get(OUTBOX, []), *new_events]
                    working = {**doc, OUTBOX: outbox}
                change.result = working if decision is not None else None
            if working is current:  # nothing to write: every change decided "nothing to do"
                for change in applied:
                    change.done.set_result(None)
                continue
            wid = uuid.uuid4().hex
            revision, write_revision = (current or {}).get(REVISION, 0), (current or {}).get(WRITE_REVISION, 0)
            new = {**working, REVISION: revision + 1, WRITE_REVISION: write_revision + 1, WRITE_ID: wid,
                   OUTBOX_PENDING: bool(working[OUTBOX]), **self.store._stamp(self.collection)}
            for change in applied:  # callers see what was written, bookkeeping included, as insert/replace return
                if change.result is not None:
                    change.result = {**change.result, REVISION: revision + 1, WRITE_REVISION: write_revision + 1,
                                     OUTBOX_PENDING: new[OUTBOX_PENDING]}
            writes.append(InsertOne(new) if current is None else ReplaceOne({"_id": doc_id, REVISION: revision}, new))
            written[doc_id] = (wid, new, applied)
        if not writes:
            return
        result = await self._write(writes)
        landed = set(written)
        if result.get("nInserted", 0) + result.get("nMatched", 0) < len(writes):
            check = await coll.find({"_id": {"$in": list(written)}}, {WRITE_ID: 1}).to_list()
            landed = {d["_id"] for d in check if d.get(WRITE_ID) == written[d["_id"]][0]}
        for doc_id, (_, new, applied) in written.items():
            if doc_id in landed:
                if new[OUTBOX_PENDING]:
                    self.store.outbox_signal.set()
                for change in applied:
                    change.done.set_result(change.result)
            else:
                for change in applied:
                    self._retry(change)

    async def _write(self, writes: list[InsertOne | ReplaceOne]) -> dict[str, Any]:
        """The bulk write; a duplicate key (an insert that lost to another writer) is an outcome, not an error."""
        try:
            return (await self.store[self.collection].bulk_write(writes, ordered=False)).bulk_api_result
        except pymongo.errors.BulkWriteError as error:
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", ())):
                raise
            return error.details

    def _retry(self, change: _Change) -> None:
        change.attempts_left -= 1
        change.result = None
        if change.attempts_left <= 0:
            change.done.set_exception(ConcurrencyConflict(f"{self.collection}/{change.doc_id} kept changing"))
            return
        pause = random.uniform(0, 0.01 * 2 ** max(0, 5 - change.attempts_left))  # replicas stop colliding
        asyncio.get_running_loop().call_later(pause, self._enqueue, change)


# --- filters both stores run the same, written so that nx-27017 runs them from an index (see the docstring) ---

def eq(value: Any) -> dict[str, Any]:
    """Equality on a scalar field as `{"$eq": value}`: the same as a bare value on MongoDB, and on nx-27017 the
    plain comparison an index serves (a bare value there also tests array containment, which no index serves).
    Not for array fields: nx-27017's `$eq` does not look inside arrays."""
    return {"$eq": value}


def membership(query: Mapping[str, Any]) -> dict[str, Any]:
    """`query` with each top-level `{"$eq": v}` written `{"$in": [v]}` (intersected with a `$in` beside it: for
    scalar fields), for a query beside `$text`. Both stores
    read them the same, but nx-27017 serves the equality from an index and SQLite then walks that index and
    looks every document up in the FTS5 table (0.5 s on 100,000 documents) instead of starting from the text
    matches; `$in` is no index's business there. MongoDB starts from the text index either way."""
    def rewritten(value: Any) -> Any:
        if not (isinstance(value, Mapping) and "$eq" in value):
            return value
        rest = {op: v for op, v in value.items() if op != "$eq"}
        allowed = rest.pop("$in", None)
        equal = value["$eq"]
        return {**rest, "$in": [equal] if allowed is None or equal in allowed else []}

    return {key: value if key.startswith("$") else rewritten(value) for key, value in query.items()}


def _operators(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(str(k).startswith("$") for k in value)


def flat_and(*clauses: Mapping[str, Any] | None) -> dict[str, Any]:
    """One filter meaning all of `clauses`, flat wherever their fields do not collide.

    nx-27017 runs a flat filter as one SQL statement from its indexes but any `$and` as a Python scan over the
    collection; MongoDB reads both forms the same. So: nested `$and`s are opened up, clauses on different
    fields are merged into one document, equal clauses collapse, and two operator documents on one field merge
    when their operators differ (`{k: {$lt: a}}` and `{k: {$gte: b}}`). Only what still collides (the same
    operator twice, two different values for one field, two `$or`s) is left in an `$and` beside the rest."""
    merged: dict[str, Any] = {}
    leftovers: list[dict[str, Any]] = []
    pending = [c for c in clauses if c]
    while pending:
        clause = pending.pop(0)
        for key, value in clause.items():
            if key == "$and":
                pending[:0] = [c for c in value if c]
            elif key not in merged:
                merged[key] = value
            elif merged[key] == value:
                continue
            elif not key.startswith("$") and _operators(merged[key]) and _operators(value) \
                    and not set(merged[key]) & set(value):
                merged[key] = {**merged[key], **value}
            else:
                leftovers.append({key: value})
    if leftovers:
        merged["$and"] = leftovers
    return merged


async def ensure_text_index(collection: AsyncCollection, model: IndexModel) -> None:
    """Create a text index unless it exists. MongoDB answers a repeated identical creation with success;
    nx-27017 answers "constraint failed" once the collection has documents, and does not list text indexes, so
    that answer counts as "exists" if a `$text` query then runs (a real failure raises from the query)."""
    try:
        await collection.create_indexes([model])
    except pymongo.errors.OperationFailure as error:
        if "constraint failed" not in str(error):
            raise
        await collection.find({"$text": {"$search": '"index-probe"'}}, {"_id": 1}).limit(1).to_list()


# --- GridFS: file contents (ticketing's attachments) ------------------------------------------------------------
#
# nx-27017 (0.8.1) intercepts the commands on `<bucket>.files` / `<bucket>.chunks` and keeps files in tables of its
# own. What behaves as on MongoDB: uploads (`upload_from_stream_with_id`), downloads read chunk by chunk
# (`readchunk`) or from an offset (`seek`, the chunk query `{files_id, n: {$gte: k}}`), `find` on the files
# collection by `_id` or metadata, `delete(id)`, the bucket's own indexes. What does not:
# - `uploadDate` reads back as an ISO string, not a datetime: keep the instant that matters elsewhere (ticketing
#   keeps it on the ticket);
# - `count_documents` (an aggregate) on a bucket collection fails ("no such column: data"), and `find` on
#   `<bucket>.chunks` answers only a `files_id` filter (`{}` lists nothing): count with `find` by `files_id`;
# - `GridIn.abort()` and `delete(id)` of a file whose files document was never written raise OperationFailure
#   ("File with id … not found") where MongoDB deletes its chunks (and `delete` raises NoFile). Until `close()`
#   PyMongo holds a file's chunks in memory (up to 32 MB, one `insert_many` at the end), so nothing reached the
#   store before then on either; `discard_file` below tolerates both answers.

def file_bucket(store: Store, name: str):
    """The GridFS bucket `name` of the service's database (collections `<name>.files` and `<name>.chunks`)."""
    from gridfs import AsyncGridFSBucket

    return AsyncGridFSBucket(store.db, bucket_name=name)


async def discard_file(bucket, file_id: Any) -> None:
    """Remove a stored or half-written file, best effort: it is not referenced by anything yet, so a failure to
    remove it only leaves an unreachable orphan (logged), never a wrong answer."""
    import gridfs.errors

    try:
        await bucket.delete(file_id)
    except gridfs.errors.NoFile:
        pass  # MongoDB: no files document (a write that failed before it); the chunks are gone
    except pymongo.errors.PyMongoError as error:
        if "not found" not in str(error):
            log.warning("gridfs.discard_failed", file_id=str(file_id), error=str(error))
