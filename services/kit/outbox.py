"""The outbox relay: publishes the events stored in documents' `_outbox` (see kit/store.py) and then removes them.

One replica at a time relays (a lease in the service's own store), so replicas do not publish the same event
twice in the normal case; when a replica dies its lease expires and another takes over. An event may still be
published twice (a crash between the confirm and the removal): delivery is at least once and consumers are
idempotent.
"""

from __future__ import annotations

import asyncio

import structlog

from services.kit import metrics
from services.kit.broker import EventBus
from services.kit.lease import Lease
from services.kit.logging import bind_correlation_id
from services.kit.store import OUTBOX, OUTBOX_PENDING, REVISION, Store

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

        Documents are relayed concurrently (many publisher confirms in flight on the one channel instead of one
        round trip each); the events of one document stay in order. The lease is renewed before each batch, so a
        pass never outlives it."""
        count = 0
        for name in self.store.outbox_collections:
            docs = await self.store[name].find({OUTBOX_PENDING: True}).limit(BATCH).to_list()
            if not docs:
                continue
            if not await self.lease.keep():
                return count
            results = await asyncio.gather(*(self._relay_document(name, doc) for doc in docs), return_exceptions=True)
            count += sum(r for r in results if isinstance(r, int))
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:  # those documents keep their events for the next pass; the loop logs and backs off
                raise failures[0]
        return count

    async def _relay_document(self, collection: str, doc: dict) -> int:
        published: list[str] = []
        for envelope in doc.get(OUTBOX, []):
            bind_correlation_id(envelope.get("correlationid"))
            await self.bus.publish(envelope)
            published.append(envelope["id"])
            metrics.EVENTS_PUBLISHED.labels(self.store.settings.service_name, envelope["type"]).inc()
        if not published:
            await self._clear_flag(collection, doc["_id"])
            return 0
        # Remove exactly what was published, atomically and unconditionally: a revision-guarded rewrite could
        # lose to a hot document's writers again and again, leave the events in place and publish them twice.
        # The revision bump makes a writer that read the document before this removal re-read it (kit/store.py)
        # instead of writing the published events back.
        await self.store[collection].update_one(
            {"_id": doc["_id"]}, {"$pull": {OUTBOX: {"id": {"$in": published}}}, "$inc": {REVISION: 1}})
        await self._clear_flag(collection, doc["_id"])
        return len(published)

    async def _clear_flag(self, collection: str, doc_id) -> None:
        """Lower the pending flag once the outbox is empty; a writer adding events meanwhile keeps it up."""
        await self.store[collection].update_one({"_id": doc_id, OUTBOX: {"$size": 0}, OUTBOX_PENDING: True},
                                                {"$set": {OUTBOX_PENDING: False}})
