"""The outbox relay against the real store and broker: every event once, in order per document, two store
commands per batch, and nothing lost or doubled when a writer or the broker gets in the way mid-pass."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contracts.events import CandidateUpdated, Envelope
from services.kit.broker import EventBus
from services.kit.outbox import BATCH, OutboxRelay
from services.kit.settings import ServiceSettings
from services.kit.store import OUTBOX, OUTBOX_PENDING, REVISION, WRITE_REVISION, Store
from tests.support import captured, eventually, metric_sum


def event(doc_id: str, n: int) -> Envelope:
    return Envelope.wrap(CandidateUpdated(candidate_id=doc_id, product_code="p", type="faq", question="如何登录？",
                                          occurrences=n, ticket_ids=[f"t{n}"]),
                         type="knowledge.candidate.updated", source="test", subject=doc_id, sequence=n,
                         correlationid="test")


@pytest.fixture
async def parts(infra):
    service = "relay" + uuid.uuid4().hex[:6]
    settings = ServiceSettings(service_name=service, mongo_url=infra.mongo_url, mongo_db=infra.db_name(service),
                               amqp_url=infra.amqp_url, namespace=infra.namespace)
    store = Store(settings, outbox_collections=["docs"])
    bus = EventBus(settings)
    await store.start()
    await bus.broker.connect()
    await bus.declare_topology()
    yield store, bus
    await bus.broker.stop()
    await store.close()


def commands(service: str) -> float:
    return metric_sum("ops_store_commands_total", service=service, collection="docs")


class Interposed:
    """The real bus, with something happening just before a chosen publish."""

    def __init__(self, bus: EventBus, before):
        self.bus, self.before = bus, before

    async def publish(self, envelope: dict) -> None:
        await self.before(envelope)
        await self.bus.publish(envelope)


async def published(received, doc_ids: set[str], expected: int) -> list[dict]:
    async def enough():
        mine = [e for e in await received() if e["subject"] in doc_ids]
        return mine if len(mine) >= expected else None

    return await eventually(enough, what=f"{expected} events published")


async def test_a_batch_goes_out_in_order_with_two_store_commands(parts, infra):
    store, bus = parts
    ids = {f"d{i}-{uuid.uuid4().hex[:4]}" for i in range(20)}
    for doc_id in ids:
        await store.insert("docs", {"_id": doc_id}, [event(doc_id, 1), event(doc_id, 2)])
    relay = OutboxRelay(store, bus)
    async with captured(infra, "knowledge.candidate.updated") as received:
        before = commands(store.settings.service_name)
        assert await relay.relay_once() == 40
        # the lease (its own collection), one read and one bulk write of the outbox collection
        assert commands(store.settings.service_name) - before == 2
        events = await published(received, ids, 40)
    assert len({e["id"] for e in events}) == 40
    for doc_id in ids:
        assert [e["sequence"] for e in events if e["subject"] == doc_id] == [1, 2]
    assert await store["docs"].count_documents({OUTBOX_PENDING: True}) == 0
    assert all(d[OUTBOX] == [] for d in await store["docs"].find({"_id": {"$in": list(ids)}}).to_list())
    await relay.lease.release()


async def test_an_event_written_during_the_pass_stays_for_the_next(parts, infra):
    store, bus = parts
    doc_id = "hot-" + uuid.uuid4().hex[:6]
    await store.insert("docs", {"_id": doc_id, "n": 1}, [event(doc_id, 1)])
    written = []

    async def writer_gets_in(envelope):
        if not written:  # between the relay's read and its removal, the service writes a new event
            doc = await store["docs"].find_one({"_id": doc_id})
            await store.replace("docs", {**doc, "n": 2}, [event(doc_id, 2)])
            written.append(True)

    relay = OutboxRelay(store, Interposed(bus, writer_gets_in))
    async with captured(infra, "knowledge.candidate.updated") as received:
        assert await relay.relay_once() == 1
        doc = await store["docs"].find_one({"_id": doc_id})
        assert [e["sequence"] for e in doc[OUTBOX]] == [2] and doc[OUTBOX_PENDING] is True
        assert await relay.relay_once() == 1
        events = await published(received, {doc_id}, 2)
    assert [e["sequence"] for e in events] == [1, 2]
    assert (await store["docs"].find_one({"_id": doc_id}))[OUTBOX] == []
    await relay.lease.release()


async def test_a_failed_publish_keeps_what_did_not_go_out(parts, infra):
    store, bus = parts
    doc_id = "fail-" + uuid.uuid4().hex[:6]
    await store.insert("docs", {"_id": doc_id}, [event(doc_id, n) for n in (1, 2, 3)])

    async def broker_fails_on_the_second(envelope):
        if envelope["sequence"] == 2:
            raise ConnectionError("broker gone")

    async with captured(infra, "knowledge.candidate.updated") as received:
        failing = OutboxRelay(store, Interposed(bus, broker_fails_on_the_second))
        with pytest.raises(ConnectionError):
            await failing.relay_once()
        await failing.lease.release()
        doc = await store["docs"].find_one({"_id": doc_id})
        assert [e["sequence"] for e in doc[OUTBOX]] == [2, 3] and doc[OUTBOX_PENDING] is True
        relay = OutboxRelay(store, bus)
        assert await relay.relay_once() == 2
        events = await published(received, {doc_id}, 3)
    assert [e["sequence"] for e in events] == [1, 2, 3]
    await relay.lease.release()


async def test_a_relay_a_whole_batch_behind_holds_new_documents_until_it_catches_up(parts):
    store, bus = parts
    await asyncio.gather(*(store.insert("docs", {"_id": f"w{i:03d}"}, [event(f"w{i:03d}", 1)])
                           for i in range(BATCH + 30)))
    relay = OutboxRelay(store, bus)
    assert await relay.relay_once() == BATCH  # a whole batch was waiting: behind
    assert not store.outbox_caught_up.is_set()

    insert = asyncio.create_task(store.insert("docs", {"_id": "new"}, [event("new", 1)]))
    await asyncio.sleep(0.3)
    assert not insert.done()  # held while the relay is behind
    assert await store["docs"].find_one({"_id": "new"}) is None
    assert await relay.relay_once() == 30  # less than a batch: caught up
    assert store.outbox_caught_up.is_set()
    await asyncio.wait_for(insert, 5)
    assert await store["docs"].find_one({"_id": "new"}) is not None
    # a document without events never waits
    store.outbox_caught_up.clear()
    await asyncio.wait_for(store.insert("docs", {"_id": "quiet"}), 0.5)
    store.outbox_caught_up.set()
    await relay.lease.release()


async def test_the_wait_is_bounded_and_a_failed_pass_lets_writers_go(parts):
    store, bus = parts
    store.settings.outbox_backpressure_seconds = 0.2
    store.outbox_caught_up.clear()  # behind, and no pass comes
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(store.insert("docs", {"_id": "late"}, [event("late", 1)]), 5)
    assert asyncio.get_running_loop().time() - started >= 0.2  # it waited, then went on: the ticket is stored
    assert await store["docs"].find_one({"_id": "late"}) is not None

    async def broker_gone(envelope):
        raise ConnectionError("broker gone")

    await asyncio.gather(*(store.insert("docs", {"_id": f"f{i:03d}"}, [event(f"f{i:03d}", 1)]) for i in range(BATCH)))
    store.outbox_caught_up.clear()
    failing = OutboxRelay(store, Interposed(bus, broker_gone))
    with pytest.raises(ConnectionError):
        await failing.relay_once()
    assert store.outbox_caught_up.is_set()  # an outage does not hold up every insert
    await failing.lease.release()


async def test_events_are_kept_as_their_message_text_and_entries_of_the_older_shape_still_go_out(parts, infra):
    """An entry keeps the message body as the text sent, beside the fields the relay reads; a document stored when
    entries were whole envelopes (no body) is published all the same."""
    store, bus = parts
    new_id, old_id = "text-" + uuid.uuid4().hex[:6], "whole-" + uuid.uuid4().hex[:6]
    sent = event(new_id, 1)
    await store.insert("docs", {"_id": new_id}, [sent])
    [entry] = (await store["docs"].find_one({"_id": new_id}))[OUTBOX]
    assert Envelope.model_validate_json(entry["body"]) == sent
    assert (entry["id"], entry["type"], entry["sequence"]) == (sent.id, sent.type, 1)
    older = event(old_id, 1)
    await store["docs"].insert_one({"_id": old_id, REVISION: 1, WRITE_REVISION: 1,
                                    OUTBOX: [older.model_dump(mode="json")], OUTBOX_PENDING: True})
    relay = OutboxRelay(store, bus)
    async with captured(infra, "knowledge.candidate.updated") as received:
        assert await relay.relay_once() == 2
        events = await published(received, {new_id, old_id}, 2)
    assert {e["id"]: Envelope.model_validate(e) for e in events} == {sent.id: sent, older.id: older}
    assert await store["docs"].count_documents({OUTBOX_PENDING: True}) == 0
    await relay.lease.release()
