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
- `$text` beside a `$or` matched nothing (the Python path does not evaluate `$text`): ask each alternative of
  the `$or` on its own and merge the answers (kit/pagination.keyed_page does).
- A text index is not listed by `list_indexes`/`index_information`, and creating it again once the collection
  holds documents fails with "constraint failed" (the FTS5 table is refilled from the collection over its own
  rows), which would stop every restart: create it with `ensure_text_index` below, not in `Store.indexes`.
- Every document a query returns costs nx-27017 ~0.45 ms of its one core (JSON decoding of the whole stored
  document, projection in Python, conversion to BSON), whatever the plan: a page of 50 tickets is ~24 ms, so one
  nx-27017 serves about 40 such pages a second. Projections cut the conversion, not the decoding.
- `count_documents` reads the whole match set in Python (11 s on 100,000 documents): none on hot paths.
- A text index is an FTS5 table kept by triggers (about a fifth off the insert rate). `$text` ANDs the words of
  `$search`, each quoted by nx-27017, where MongoDB ORs bare words and ANDs quoted phrases: quote every word
  (kit/text.phrase_search). Every match is scored (bm25) and read for the filters and the sort, so a query's cost
  grows with its match count, not the page size: narrow common words (ticketing's week words, store/search.py).
  Beside `$text`, an equality that an index serves makes SQLite drive from that index and probe FTS5 per row:
  write such filters with `membership` below.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pymongo.errors

import structlog
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.events import Envelope
from services.kit.settings import ServiceSettings

OUTBOX = "_outbox"
OUTBOX_PENDING = "_outbox_pending"
REVISION = "_rev"          # bumped by every write, the relay's included: the optimistic-concurrency guard
WRITE_REVISION = "_wrev"   # bumped by the service's own writes only: tells a relay write from a real conflict

log = structlog.get_logger()


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


class Store:
    def __init__(self, settings: ServiceSettings, *, outbox_collections: Sequence[str] = (),
                 indexes: Mapping[str, Sequence[IndexModel]] | None = None):
        self.settings = settings
        self.client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000,
                                                         appname=settings.service_name, **_write_concern(settings))
        self.db: AsyncDatabase = self.client[settings.database]
        self.outbox_collections = tuple(outbox_collections)
        self.indexes = dict(indexes or {})
        self.outbox_signal = asyncio.Event()
        self._document_locks = KeyedLocks()

    def __getitem__(self, name: str) -> AsyncCollection:
        return self.db[name]

    async def start(self) -> None:
        for name in self.outbox_collections:
            self.indexes.setdefault(name, [])
            self.indexes[name] = [*self.indexes[name], IndexModel(OUTBOX_PENDING)]
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
        await self.client.close()

    # --- writes that carry events ---------------------------------------------------------------------

    async def insert(self, collection: str, doc: dict[str, Any], events: Iterable[Envelope] = ()) -> dict[str, Any]:
        """Insert a new document with its events. DuplicateKeyError propagates (idempotent creation relies on it)."""
        outbox = [e.model_dump(mode="json") for e in events]
        new = {**doc, REVISION: 1, WRITE_REVISION: 1, OUTBOX: outbox, OUTBOX_PENDING: bool(outbox)}
        await self.db[collection].insert_one(new)
        self._signal(outbox)
        return new

    async def replace(self, collection: str, doc: dict[str, Any], events: Iterable[Envelope] = ()) -> dict[str, Any]:
        """Write `doc` (as read, then changed) back with its new events, unless another writer changed it since.

        A concurrent relay write (it only removes published events) is merged and retried; any other change
        raises ConcurrencyConflict.
        """
        new_events = [e.model_dump(mode="json") for e in events]
        coll = self.db[collection]
        current_rev, current_outbox = doc.get(REVISION, 0), list(doc.get(OUTBOX, []))
        for _ in range(10):
            outbox = current_outbox + new_events
            new = {**doc, REVISION: current_rev + 1, WRITE_REVISION: doc.get(WRITE_REVISION, 0) + 1,
                   OUTBOX: outbox, OUTBOX_PENDING: bool(outbox)}
            result = await coll.replace_one({"_id": doc["_id"], REVISION: current_rev}, new)
            if result.matched_count:
                self._signal(new_events)
                return new
            fresh = await coll.find_one({"_id": doc["_id"]})
            if fresh is None or fresh.get(WRITE_REVISION, 0) != doc.get(WRITE_REVISION, 0):
                raise ConcurrencyConflict(f"{collection}/{doc['_id']} changed since it was read")
            current_rev, current_outbox = fresh.get(REVISION, 0), list(fresh.get(OUTBOX, []))
        raise ConcurrencyConflict(f"{collection}/{doc['_id']} kept changing")

    async def change(self, collection: str, doc_id: Any,
                     decide: Callable[[dict[str, Any] | None], tuple[dict[str, Any], list[Envelope]] | None],
                     *, attempts: int = 5) -> dict[str, Any] | None:
        """Read one document (None if absent), let `decide` return its new state and the events it owes (or None:
        nothing to do), and write both at once. When another writer got there first, read and decide again.

        This is how event handlers stay idempotent and order-tolerant: `decide` is a pure function of what is
        stored and what arrived. Within a process, changes of one document take turns; between replicas the
        revision guard decides and the loser tries again after a short random pause."""
        coll = self.db[collection]
        async with self._document_locks.hold((collection, doc_id)):
            for attempt in range(attempts):
                current = await coll.find_one({"_id": doc_id})
                decision = decide(current)
                if decision is None:
                    return None
                doc, events = decision
                try:
                    if current is None:
                        return await self.insert(collection, doc, events)
                    return await self.replace(collection, doc, events)
                except (pymongo.errors.DuplicateKeyError, ConcurrencyConflict):
                    await asyncio.sleep(random.uniform(0, 0.01 * 2 ** attempt))
        raise ConcurrencyConflict(f"{collection}/{doc_id} kept changing")  # the consumer retries the message

    def _signal(self, outbox: list) -> None:
        if outbox:
            self.outbox_signal.set()


def public(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The document without the store's bookkeeping fields."""
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k not in (OUTBOX, OUTBOX_PENDING, REVISION, WRITE_REVISION)}


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
