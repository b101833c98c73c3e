"""The replay sender (kit/replay.py) against the real store and broker: every aggregate once, to the asker's queue
alone, then replay.completed with the count; a sender that dies between a page's confirms and its cursor resumes
from the cursor after a restart, re-sending that one page only; a queue that does not exist abandons the request;
the asker counts each aggregate once."""

from __future__ import annotations

import json
import uuid

import aio_pika
import pytest

from contracts.events import EXCHANGE, Envelope, ReplayRequested
from services.kit.app import Runtime
from services.kit.broker import EventBus
from services.kit.replay import ABANDONED, DONE, INDEXES, REPLAYS, ReplayRequests, ReplaySender, ReplaySource
from services.kit.settings import ServiceSettings
from services.kit.store import Store
from tests.support import captured

PAGE = 50


def snapshot(doc: dict, request_id: str) -> Envelope:
    return Envelope(type="thing.snapshot", source="test", subject=doc["_id"], sequence=doc["n"],
                    correlationid=request_id, data={"thing_id": doc["_id"], "n": doc["n"]})


@pytest.fixture
async def rt(infra):
    service = "replay" + uuid.uuid4().hex[:6]
    settings = ServiceSettings(service_name=service, mongo_url=infra.mongo_url, mongo_db=infra.db_name(service),
                               amqp_url=infra.amqp_url, namespace=infra.namespace)
    store, bus = Store(settings, indexes=INDEXES), EventBus(settings)
    await store.start()
    await bus.broker.connect()
    await bus.declare_topology()  # the exchanges
    await store["things"].insert_many([{"_id": f"thing-{i:04d}", "n": i} for i in range(230)])
    yield Runtime(settings, store, bus, relay=None)
    await bus.broker.stop()
    await store.close()


@pytest.fixture
async def queue(infra):
    """The asker's queue: bound to its own address alone, it gets only what is sent to it by name."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{infra.namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        declared = await channel.declare_queue(f"{infra.namespace}.replay-asker.{uuid.uuid4().hex[:6]}",
                                               exclusive=True)
        await declared.bind(exchange, routing_key=EventBus.address(declared.name))

        async def drained() -> list[dict]:
            out = []
            while (message := await declared.get(no_ack=True, fail=False)) is not None:
                out.append(json.loads(message.body))
            return out

        yield declared.name, drained


def sender(rt, **options) -> ReplaySender:
    return ReplaySender(rt, [ReplaySource("thing", "things", snapshot)], page=PAGE, **options)


async def ask(rt, consumer: str, aggregate: str = "thing") -> str:
    request_id = str(uuid.uuid4())
    envelope = Envelope.wrap(ReplayRequested(request_id=request_id, aggregate=aggregate, consumer=consumer),
                             type="replay.requested", source="asker", subject=request_id, sequence=1,
                             correlationid=request_id)
    await sender(rt).on_request(envelope)
    await sender(rt).on_request(envelope)  # redelivered: still one request
    return request_id


async def test_every_aggregate_once_then_the_count(rt, queue, infra):
    name, drained = queue
    request_id = await ask(rt, name)
    async with captured(infra, "thing.*") as subscriber, captured(infra, "replay.*") as another:
        await sender(rt).run_pass()
        messages = await drained()
        assert await subscriber() == [] and await another() == []  # the asker's queue alone got them
    snapshots, last = messages[:-1], messages[-1]
    assert [m["subject"] for m in snapshots] == [f"thing-{i:04d}" for i in range(230)]
    assert all(m["correlationid"] == request_id for m in messages)
    assert last["type"] == "replay.completed" and last["data"] == {"request_id": request_id, "aggregate": "thing",
                                                                   "count": 230}
    stored = await rt.store[REPLAYS].find_one({"_id": request_id})
    assert stored["state"] == DONE and stored["sent"] == 230 and stored["cursor"] == "thing-0229"
    await sender(rt).run_pass()  # done: nothing more is sent
    assert await drained() == []


class Killed(Exception):
    pass


class DiesBeforeThirdCursor(ReplaySender):
    """A process that dies after the third page is confirmed, before its cursor is stored."""

    moves = 0

    async def _move(self, request, changes):
        self.moves += 1
        if self.moves == 3:
            raise Killed()
        await super()._move(request, changes)


async def test_a_sender_restarted_mid_stream_resumes_from_its_cursor(rt, queue):
    name, drained = queue
    request_id = await ask(rt, name)
    crashing = DiesBeforeThirdCursor(rt, [ReplaySource("thing", "things", snapshot)], page=PAGE)
    with pytest.raises(Killed):
        await crashing.run_pass()
    stored = await rt.store[REPLAYS].find_one({"_id": request_id})
    assert stored["cursor"] == f"thing-{2 * PAGE - 1:04d}" and stored["sent"] == 2 * PAGE

    await sender(rt).run_pass()  # the restarted process
    messages = await drained()
    subjects = [m["subject"] for m in messages if m["type"] == "thing.snapshot"]
    assert set(subjects) == {f"thing-{i:04d}" for i in range(230)}
    twice = sorted({s for s in subjects if subjects.count(s) > 1})
    assert twice == [f"thing-{i:04d}" for i in range(2 * PAGE, 3 * PAGE)]  # the page in flight, only
    assert messages[-1]["type"] == "replay.completed" and messages[-1]["data"]["count"] == 230


async def test_a_pass_ends_at_its_deadline_and_the_next_goes_on(rt, queue):
    name, drained = queue
    request_id = await ask(rt, name)
    await sender(rt, pass_seconds=1e-9).run_pass()
    first = await drained()
    await sender(rt).run_pass()
    rest = await drained()
    assert len(first) <= PAGE and first
    assert [m["subject"] for m in first + rest][:-1] == [f"thing-{i:04d}" for i in range(230)]
    assert (await rt.store[REPLAYS].find_one({"_id": request_id}))["state"] == DONE


async def test_a_queue_that_does_not_exist_abandons_the_request(rt, infra):
    request_id = await ask(rt, f"{infra.namespace}.nobody-{uuid.uuid4().hex[:6]}")
    await sender(rt).run_pass()
    stored = await rt.store[REPLAYS].find_one({"_id": request_id})
    assert stored["state"] == ABANDONED and "does not exist" in stored["error"]


async def test_a_request_for_another_aggregate_is_not_this_senders(rt, queue):
    name, _ = queue
    request_id = await ask(rt, name, aggregate="article")
    assert await rt.store[REPLAYS].find_one({"_id": request_id}) is None


async def test_the_asker_counts_each_aggregate_once_and_completes_only_when_all_are_in(rt):
    """A page re-sent after a restart of the sender arrives twice: counted once, completion is not marked early,
    and a snapshot that comes after the announced count still completes the request."""
    asker = ReplayRequests(rt, "rebuilds", "rebuild")
    request_id = (await asker.request("thing", requested_by="admin"))["_id"]
    for thing in ("thing-0001", "thing-0002", "thing-0001", "thing-0002"):  # the page, then the page again
        await asker.received(request_id, thing)
    assert (await asker.get(request_id))["received"] == 2

    await asker.completed(request_id, 3)  # the third snapshot is still on its way
    await asker.completed(request_id, 3)  # redelivered
    progress = await asker.get(request_id)
    assert progress["expected"] == 3 and progress["received"] == 2 and progress["completed_at"] is None

    await asker.received(request_id, "thing-0002")  # a redelivery is not the missing one
    assert (await asker.get(request_id))["completed_at"] is None
    await asker.received(request_id, "thing-0003")
    done = await asker.get(request_id)
    assert done["received"] == 3 and done["completed_at"] is not None
    assert await rt.store[asker.markers].count_documents({}) == 0  # the count moved onto the request

    other = (await asker.request("thing", requested_by="admin"))["_id"]  # markers are per request
    await asker.received(other, "thing-0001")
    assert (await asker.get(other))["received"] == 1 and (await asker.get(request_id))["received"] == 3
