"""The outbox relay: publishes the events stored in documents' `_outbox` (see kit/store.py) and then removes them.

One replica at a time relays (a lease in the service's own store), so replicas do not publish the same event
twice in the normal case; when a replica dies its lease expires and another takes over. An event may still be
published twice (a crash between the confirm and the removal): delivery is at least once and consumers are
idempotent.
"""

from __future__ import annotations

import asyncio

import structlog
from pymongo import UpdateOne

from services.kit import metrics
from services.kit.broker import EventBus
from services.kit.lease import Lease
from services.kit.logging import bind_correlation_id
from services.kit.store import OUTBOX, OUTBOX_PENDING, REVISION, WRITE_REVISION, Store

log = structlog.get_logger()
BATCH = 100


class OutboxRelay:
    def __init__(self, store: Store, bus: EventBus):
        self.store = store
        self.bus = bus
        self.lease = Lease(store, "outbox-relay", store.settings.outbox_lease_seconds)
        self.poll_seconds = store.settings.outbox_poll_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.store.outbox_collections:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop, after one last pass so that nothing written before shutdown waits for the next start."""
        if self._task is None:
            return
        self._stopping.set()
        self.store.outbox_signal.set()
        await self._task
        await self.lease.release()

    async def _run(self) -> None:
        while True:
            stopping = self._stopping.is_set()
            try:
                published = await self.relay_once() if await self.lease.keep() else 0
            except Exception:  # noqa: BLE001 - a broker or store outage must not end the relay
                log.exception("outbox.relay_failed")
                published = 0
                await asyncio.sleep(min(self.poll_seconds, 1.0))
            if stopping:
                return
            if published == 0:
                self.store.outbox_signal.clear()
                try:
                    await asyncio.wait_for(self.store.outbox_signal.wait(),
                                           self.poll_seconds if self.lease.held else self.lease.seconds / 3)
                except TimeoutError:
                    pass

    async def relay_once(self) -> int:
        """Publish the pending events of up to BATCH documents per collection; returns how many were published.

        Two store commands per batch, whatever its size: one read of the pending outboxes and one bulk write
        that removes what was published. Documents are published concurrently (many publisher confirms in
        flight on the one channel); the events of one document stay in order. The lease is renewed before
        each batch, so a pass never outlives it."""
        count = 0
        for name in self.store.outbox_collections:
            docs = await self.store[name].find({OUTBOX_PENDING: True}, {OUTBOX: 1, WRITE_REVISION: 1}) \
                .limit(BATCH).to_list()
            if not docs:
                continue
            if not await self.lease.keep():
                return count
            results = await asyncio.gather(*(self._publish_document(doc) for doc in docs))
            writes: list[UpdateOne] = []
            failure: BaseException | None = None
            for doc, (published, error) in zip(docs, results, strict=True):
                failure = failure or error
                writes += self._removal(doc, published, everything=error is None)
                count += len(published)
            if writes:
                await self.store[name].bulk_write(writes, ordered=True)
            if failure is not None:  # those documents keep their unpublished events for the next pass
                raise failure
        return count

    async def _publish_document(self, doc: dict) -> tuple[list[str], BaseException | None]:
        """The ids of the events published, in order, and the error that stopped the rest (None: all went out)."""
        published: list[str] = []
        for envelope in doc.get(OUTBOX, []):
            bind_correlation_id(envelope.get("correlationid"))
            try:
                await self.bus.publish(envelope)
            except Exception as error:  # noqa: BLE001 - reported by relay_once once the rest is removed
                return published, error
            published.append(envelope["id"])
            metrics.EVENTS_PUBLISHED.labels(self.store.settings.service_name, envelope["type"]).inc()
        return published, None

    @staticmethod
    def _removal(doc: dict, published: list[str], *, everything: bool) -> list[UpdateOne]:
        """The writes that remove `published` from a document's outbox and lower its pending flag once empty.

        The usual case is one write: no writer touched the document since it was read (its write revision is
        unchanged), so its outbox holds exactly what was published, and it is emptied at once. Otherwise the
        published events are pulled out by id, atomically and unconditionally (a revision-guarded rewrite could
        lose to a hot document's writers again and again and publish its events twice), and the flag goes down
        only if nothing new arrived. Every removal bumps the revision, so that a writer who read the document
        before it re-reads instead of writing the published events back (kit/store.py)."""
        key, seen = doc["_id"], doc.get(WRITE_REVISION, 0)
        raced = {"_id": key, WRITE_REVISION: {"$ne": seen}} if everything else {"_id": key}
        writes = []
        if everything:
            writes.append(UpdateOne({"_id": key, WRITE_REVISION: seen},
                                    {"$set": {OUTBOX: [], OUTBOX_PENDING: False}, "$inc": {REVISION: 1}}))
        if published:
            writes.append(UpdateOne(raced, {"$pull": {OUTBOX: {"id": {"$in": published}}}, "$inc": {REVISION: 1}}))
        writes.append(UpdateOne({**raced, OUTBOX: {"$size": 0}, OUTBOX_PENDING: True},
                                {"$set": {OUTBOX_PENDING: False}}))
        return writes
