"""Replays: a read model rebuilt from scratch by the service that owns the aggregates (issue 10, point 6).

The asker (e.g. analytics on an empty database) stores a request document whose outbox carries
`replay.requested` {request_id, aggregate, consumer}: `consumer` is the full name of a queue of the asker's that is
bound to its own address only, `to.<queue>` (`Subscription(direct=True)`). The owner (ticketing for `ticket`)
answers with one snapshot per aggregate, its current state (`ticket.snapshot`, `sequence` = its version), published
on `ops.events` with that address as routing key (`EventBus.send_to_queue`), so that queue alone gets them and no
subscriber of `ticket.*` sees them, then a `replay.completed` {count}. The asker applies snapshots through the same code as the live events: they are order
tolerant by `sequence`, so a snapshot older than a live event that overtook it changes nothing, and a snapshot of
an up-to-date document is a no-op.

Why the rebuilt model ends equal to the live one: the asker's live queue exists before it asks (it is declared at
start), so every change after the owner reads a page is also in that live queue; every aggregate then ends at the
newest of (its snapshot, the live events after it), which is its newest state.

The sender (`ReplaySender`) keeps each request as a document in its own store (`_replays`) with a cursor: pages of
`page` documents in `_id` order (memory stays two pages, however many aggregates: the next page is read while the
broker confirms the current one), each page's snapshots published concurrently and confirmed before the cursor
moves on. It runs as a scheduled job (kit/scheduler.py,
one replica at a time by its lease) in passes of at most `pass_seconds`, so a pass ends well within the lease and a
stopping process hands over within one pass; a restart (or another replica taking over) resumes from the cursor,
re-sending at most the page that was in flight, which the asker applies idempotently.

The asker's bookkeeping (`ReplayRequests`) records each aggregate whose snapshot it applied, once, and marks the
request completed when `replay.completed` has come and as many distinct aggregates as it announced were applied:
a page re-sent after a restart of the sender counts once, so completion is never marked early.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pymongo.errors
import structlog
from pymongo import IndexModel

from contracts.events import Envelope, ReplayCompleted, ReplayRequested
from services.kit.broker import Unroutable
from services.kit.consumer import Subscription
from services.kit.scheduler import PeriodicJob
from services.kit.store import REVISION, WRITE_REVISION, change_stamp, eq

if TYPE_CHECKING:
    from services.kit.app import Runtime

log = structlog.get_logger()

REQUESTED, COMPLETED = "replay.requested", "replay.completed"
OWN_WRITE = {REVISION: 1, WRITE_REVISION: 1}  # a write of the service's own, as kit/store.py counts them

# --- the owner's side ----------------------------------------------------------------------------------------

REPLAYS = "_replays"  # the requests a service answers, one document each, with its cursor
INDEXES = {REPLAYS: [IndexModel("state")]}
OPEN, DONE, ABANDONED = "open", "done", "abandoned"


@dataclass(frozen=True)
class ReplaySource:
    """An aggregate a service re-sends on request: its documents in `collection` (read in `_id` order), and how
    one stored document becomes the snapshot envelope for a request id."""

    aggregate: str
    collection: str
    snapshot: Callable[[dict[str, Any], str], Envelope]
    projection: Mapping[str, Any] | None = None  # what `snapshot` reads of a document (None: all of it)


class ReplaySender:
    def __init__(self, rt: "Runtime", sources: Sequence[ReplaySource], *, page: int = 300,
                 pass_seconds: float = 20.0, every_seconds: float = 1.0):
        self.rt = rt
        self.sources = {source.aggregate: source for source in sources}
        self.page, self.pass_seconds, self.every_seconds = page, pass_seconds, every_seconds

    @property
    def requests(self):
        return self.rt.store[REPLAYS]

    def subscription(self) -> Subscription:
        return Subscription(f"{self.rt.settings.service_name}.replays", (REQUESTED,), self.on_request)

    def job(self) -> PeriodicJob:
        # the lease outlasts a pass: no page starts after `pass_seconds`, and a page takes well under 30 s
        return PeriodicJob("replays", self.every_seconds, self.run_pass, lease_seconds=self.pass_seconds + 30)

    async def on_request(self, envelope: Envelope) -> None:
        request = envelope.payload(ReplayRequested)
        if request.aggregate not in self.sources:
            return  # another service's aggregate
        try:
            await self.requests.insert_one({
                "_id": request.request_id, "aggregate": request.aggregate, "consumer": request.consumer,
                "requested_by": request.requested_by, "requested": change_stamp(), "state": OPEN,
                "cursor": None, "pages": 0, "sent": 0, "skipped": 0})
        except pymongo.errors.DuplicateKeyError:
            return  # a redelivered request: already under way or done
        log.info("replay.requested", request_id=request.request_id, aggregate=request.aggregate,
                 consumer=request.consumer)

    async def run_pass(self) -> None:
        """Send pages of the open requests, oldest first, until they are done or `pass_seconds` have passed."""
        deadline = time.monotonic() + self.pass_seconds
        requests = sorted(await self.requests.find({"state": eq(OPEN)}).to_list(), key=lambda r: r["requested"])
        for index, request in enumerate(requests):
            if index and time.monotonic() >= deadline:
                return  # a pass sends a page at least
            try:
                if not await self.stream(request, deadline):
                    return
            except Unroutable as error:  # the broker returned a snapshot: the asker's queue is gone
                log.warning("replay.abandoned", request_id=request["_id"], consumer=request["consumer"],
                            error=str(error)[:300])
                await self._move(request, {"state": ABANDONED, "finished": change_stamp(),
                                           "error": f"the queue {request['consumer']!r} does not exist"})

    async def stream(self, request: dict[str, Any], deadline: float) -> bool:
        """Send `request`'s pages from its cursor until the last (then `replay.completed`: True) or the deadline
        (False). The next page is read while the broker confirms the current one, two pages in memory at most;
        the cursor moves past a page only once all of it is confirmed."""
        source = self.sources.get(request["aggregate"])
        if source is None:  # a request this version of the service no longer answers
            await self._move(request, {"state": ABANDONED, "finished": change_stamp(), "error": "unknown aggregate"})
            return True
        docs = await self._read(source, request["cursor"])
        while True:
            more = len(docs) == self.page
            following = asyncio.create_task(self._read(source, docs[-1]["_id"])) \
                if more and time.monotonic() < deadline else None
            try:
                await self._send(request, source, docs)
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            if not more:
                await self._complete(request)
                return True
            if following is None:
                return False
            docs = await following

    async def _read(self, source: ReplaySource, after: Any) -> list[dict[str, Any]]:
        query = {} if after is None else {"_id": {"$gt": after}}
        return await self.rt.store[source.collection].find(query, source.projection).sort("_id", 1) \
            .limit(self.page).to_list()

    async def _send(self, request: dict[str, Any], source: ReplaySource, docs: list[dict[str, Any]]) -> None:
        """One page's snapshots, published concurrently, all confirmed; then the cursor moves past the page."""
        if not docs:
            return
        envelopes, skipped = [], 0
        for doc in docs:
            try:
                envelopes.append(source.snapshot(doc, request["_id"]).model_dump(mode="json"))
            except Exception as error:  # noqa: BLE001 - one unreadable document must not stop the replay
                skipped += 1
                log.warning("replay.snapshot_failed", request_id=request["_id"], id=str(doc.get("_id")),
                            error=str(error)[:300])
        await asyncio.gather(*(self.rt.bus.send_to_queue(request["consumer"], e) for e in envelopes))
        await self._move(request, {"cursor": docs[-1]["_id"], "sent": request["sent"] + len(envelopes),
                                   "skipped": request["skipped"] + skipped})

    async def _complete(self, request: dict[str, Any]) -> None:
        completed = Envelope.wrap(ReplayCompleted(request_id=request["_id"], aggregate=request["aggregate"],
                                                  count=request["sent"]),
                                  type=COMPLETED, source=self.rt.settings.service_name, subject=request["_id"],
                                  sequence=request["pages"], correlationid=request["_id"])
        await self.rt.bus.send_to_queue(request["consumer"], completed.model_dump(mode="json"))
        await self._move(request, {"state": DONE, "finished": change_stamp()})
        log.info("replay.completed", request_id=request["_id"], sent=request["sent"], skipped=request["skipped"])

    async def _move(self, request: dict[str, Any], changes: dict[str, Any]) -> None:
        """Record progress, guarded by the page count: a stalled former holder of the lease that wakes up finds
        the request moved on and stops instead of writing an older cursor back."""
        changes = {**changes, "pages": request["pages"] + 1}
        result = await self.requests.update_one({"_id": request["_id"], "pages": eq(request["pages"])},
                                                {"$set": changes})
        if not result.matched_count:
            raise RuntimeError(f"replay {request['_id']} was moved on by another sender")
        request.update(changes)


# --- the asker's side ----------------------------------------------------------------------------------------


class ReplayRequests:
    """The asker's requests, one document each in `collection` (an outbox collection of the asker, which carries
    `replay.requested`), with `expected` (the count announced by `replay.completed`) and `completed_at`; and one
    marker per aggregate applied in `<collection>_received` (`_id` "<request id>/<aggregate id>") until it is
    completed, so that a snapshot delivered twice counts once. `queue` is the base name of the asker's direct
    queue.

    Markers rather than a counter on the request: a counter cannot tell a re-sent snapshot from a new one, and
    every snapshot would rewrite the one request document, concurrently with the others of the prefetch."""

    def __init__(self, rt: "Runtime", collection: str, queue: str):
        self.rt, self.collection, self.queue = rt, collection, queue
        self.markers = f"{collection}_received"

    async def request(self, aggregate: str, *, requested_by: str | None, note: str | None = None) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        consumer = self.rt.settings.name(self.queue)
        event = self.rt.event(ReplayRequested(request_id=request_id, aggregate=aggregate, consumer=consumer,
                                              requested_by=requested_by),
                              type=REQUESTED, subject=request_id, sequence=1)
        doc = {"_id": request_id, "aggregate": aggregate, "consumer": consumer, "requested_by": requested_by,
               "note": note, "requested_at": datetime.now(UTC), "received": 0, "expected": None,
               "completed_at": None}
        return await self.rt.store.insert(self.collection, doc, [event])

    async def get(self, request_id: str) -> dict[str, Any] | None:
        """The request with `received`, the distinct aggregates applied so far."""
        doc = await self.rt.store[self.collection].find_one({"_id": request_id})
        if doc is None:
            return None
        if doc.get("completed_at") is not None:
            return doc  # its count moved onto it
        # a request recorded before the markers existed kept its count on the document
        return {**doc, "received": max(doc.get("received") or 0, await self._received(request_id))}

    async def received(self, request_id: str, aggregate_id: str) -> None:
        """The snapshot of `aggregate_id` for the request was applied."""
        try:
            await self.rt.store[self.markers].insert_one({"_id": f"{request_id}/{aggregate_id}"})
        except pymongo.errors.DuplicateKeyError:
            return  # applied before (a page re-sent, a redelivery): counted then
        doc = await self.rt.store[self.collection].find_one({"_id": request_id}, {"expected": 1, "completed_at": 1})
        if doc is not None and doc.get("expected") is not None and doc.get("completed_at") is None:
            await self._complete_if_all_in(request_id, doc["expected"])  # a snapshot overtaken by the count

    async def completed(self, request_id: str, count: int) -> None:
        """The owner sent its last snapshot: `count` in all."""
        result = await self.rt.store[self.collection].update_one(
            {"_id": request_id, "expected": None}, {"$set": {"expected": count}, "$inc": OWN_WRITE})
        if result.modified_count:
            await self._complete_if_all_in(request_id, count)

    async def _complete_if_all_in(self, request_id: str, expected: int) -> None:
        """Completed once every announced aggregate is in: the count moves onto the request and the markers go
        (a late redelivery after that leaves a marker nobody counts)."""
        received = await self._received(request_id)
        if received < expected:
            return
        result = await self.rt.store[self.collection].update_one(
            {"_id": request_id, "completed_at": None},
            {"$set": {"completed_at": datetime.now(UTC), "received": received}, "$inc": OWN_WRITE})
        if result.modified_count:
            await self.rt.store[self.markers].delete_many(self._markers_of(request_id))

    async def _received(self, request_id: str) -> int:
        return await self.rt.store[self.markers].count_documents(self._markers_of(request_id))

    @staticmethod
    def _markers_of(request_id: str) -> dict[str, Any]:
        # "/" then "0" in code point order: exactly the markers of this request, an `_id` index range
        return {"_id": {"$gt": f"{request_id}/", "$lt": f"{request_id}0"}}
