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
# Documents emptied by one write. nx-27017 answers one command at a time and rewrites each document of an update
# in turn (~1 ms apiece at intake load): an emptying of a whole batch held every insert of the service for as
# long (77 ms a command at intake load, bench/intake.py's "store answers"), one of a chunk holds them for a part.
CLEAR_CHUNK = 25


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
            if not self.lease.held:  # another replica relays: nothing here to wait for
                self.store.outbox_caught_up.set()
            if stopping:
                self.store.outbox_caught_up.set()
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

        A few store commands per batch in the usual case: one read of the pending outboxes and a write per
        CLEAR_CHUNK documents that removes what was published (`_remove`). Documents are published concurrently (many
        publisher confirms in flight on the one channel); the events of one document stay in order. The lease
        is renewed before each batch, so a pass never outlives it.

        A pass that finds a whole batch waiting in some collection is behind: until a pass finds less, new
        documents wait for the relay (Store.insert, `store.outbox_caught_up`). A pass that fails lets them go:
        an outage must not hold up every insert."""
        count, behind = 0, False
        try:
            for name in self.store.outbox_collections:
                published, full = await self._relay_collection(name)
                count += published
                behind = behind or full
        finally:
            if behind and self.store.settings.outbox_backpressure_seconds > 0:
                self.store.outbox_caught_up.clear()
            else:
                self.store.outbox_caught_up.set()
        return count

    async def _relay_collection(self, name: str) -> tuple[int, bool]:
        """(events published, whether a whole batch was waiting)."""
        docs = await self.store[name].find({OUTBOX_PENDING: True}, {OUTBOX: 1, WRITE_REVISION: 1}) \
            .limit(BATCH).to_list()
        if not docs or not await self.lease.keep():
            return 0, False
        count = 0
        results = await asyncio.gather(*(self._publish_document(doc) for doc in docs))
        whole: dict[int, list[dict]] = {}  # write revision → documents whose every event went out
        writes: list[UpdateOne] = []
        failure: BaseException | None = None
        for doc, (published, error) in zip(docs, results, strict=True):
            count += len(published)
            if error is None:
                whole.setdefault(doc.get(WRITE_REVISION, 0), []).append(doc)
            else:  # those documents keep their unpublished events for the next pass
                failure = failure or error
                writes += self._pull(doc["_id"], published, {})
        await self._remove(name, whole, writes)
        if failure is not None:
            raise failure
        return count, len(docs) == BATCH

    async def _remove(self, collection: str, whole: dict[int, list[dict]], writes: list) -> None:
        """Remove what was published, with every event removal bumping the revision, so that a writer who read a
        document before it re-reads instead of writing the published events back (kit/store.py).

        Usually one write per CLEAR_CHUNK documents: those no writer touched since they were read (their write
        revision unchanged) hold exactly what was published, and are emptied together. Documents a writer
        changed meanwhile (the emptying missed them) get their published events pulled out by id, atomically
        and unconditionally (a revision-guarded rewrite could lose to a hot document's writers again and again
        and publish its events twice), and their flag lowered only if nothing new arrived."""
        expected = sum(len(group) for group in whole.values())
        matched = 0
        for revision, group in whole.items():
            for start in range(0, len(group), CLEAR_CHUNK):
                ids = [d["_id"] for d in group[start:start + CLEAR_CHUNK]]
                matched += (await self.store[collection].update_many(
                    {"_id": {"$in": ids}, WRITE_REVISION: revision},
                    {"$set": {OUTBOX: [], OUTBOX_PENDING: False}, "$inc": {REVISION: 1}})).matched_count
        if matched < expected:
            writes = [w for revision, group in whole.items() for d in group
                      for w in self._pull(d["_id"], [e["id"] for e in d.get(OUTBOX, [])],
                                          {WRITE_REVISION: {"$ne": revision}})] + writes
        if writes:
            await self.store[collection].bulk_write(writes, ordered=True)

    @staticmethod
    def _pull(doc_id, published: list[str], guard: dict) -> list[UpdateOne]:
        writes = []
        if published:
            writes.append(UpdateOne({"_id": doc_id, **guard},
                                    {"$pull": {OUTBOX: {"id": {"$in": published}}}, "$inc": {REVISION: 1}}))
        writes.append(UpdateOne({"_id": doc_id, **guard, OUTBOX: {"$size": 0}, OUTBOX_PENDING: True},
                                {"$set": {OUTBOX_PENDING: False}}))
        return writes

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
