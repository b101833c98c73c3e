"""A queue of an earlier version, taken over by a subscription (Subscription.replaces), against the real broker:
at start it is unbound, what it still holds goes through the new handler, and it is deleted; a message that
fails stays, with the queue unbound, until a later start; a queue that never existed is no error."""

from __future__ import annotations

import json
import uuid

import aio_pika
import aiormq
import pytest

from contracts.events import EXCHANGE, Envelope
from services.kit.broker import EventBus
from services.kit.consumer import Subscription, register
from services.kit.settings import ServiceSettings

KEYS = ("thing.opened", "thing.closed")


def envelope(n: int, type_: str = "thing.opened") -> bytes:
    return Envelope(type=type_, source="test", subject=f"thing-{n}", sequence=n, correlationid=f"c{n}",
                    data={"n": n}).model_dump_json().encode()


@pytest.fixture
async def channel(infra):
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        yield await connection.channel()


async def old_queue(infra, channel, service: str, messages: list[bytes]) -> str:
    """The queue as the earlier version declared it, bound to KEYS, holding `messages`."""
    name = f"{infra.namespace}.{service}.old"
    exchange = await channel.declare_exchange(f"{infra.namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC,
                                              durable=True)
    queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    for key in KEYS:
        await queue.bind(exchange, routing_key=key)
    for body in messages:
        await exchange.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                               routing_key="thing.opened")
    return name


async def started(infra, service: str, handler) -> EventBus:
    settings = ServiceSettings(service_name=service, amqp_url=infra.amqp_url, namespace=infra.namespace)
    bus = EventBus(settings)
    register(bus, Subscription(f"{service}.new", KEYS, handler, replaces=((f"{service}.old", KEYS),)))
    await bus.broker.connect()
    await bus.declare_topology()
    return bus


async def exists(channel_factory, name: str) -> bool:
    channel = await channel_factory()
    try:
        await channel.get_queue(name, ensure=True)
        return True
    except aiormq.exceptions.ChannelNotFoundEntity:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()


async def test_what_the_old_queue_holds_is_applied_and_the_queue_deleted(infra, channel):
    service = "retire" + uuid.uuid4().hex[:6]
    name = await old_queue(infra, channel, service, [envelope(n) for n in range(5)])
    seen: list[int] = []

    async def handler(env: Envelope) -> None:
        seen.append(env.data["n"])

    bus = await started(infra, service, handler)
    try:
        assert seen == [0, 1, 2, 3, 4]  # all of it, oldest first, before the consumers start
        connection = await aio_pika.connect(infra.amqp_url)
        async with connection:
            assert not await exists(connection.channel, name)
            # an event published now reaches the new queue (bound before the old one was retired)
            exchange = await channel.get_exchange(f"{infra.namespace}.{EXCHANGE}")
            await exchange.publish(aio_pika.Message(envelope(9)), routing_key="thing.closed")
            new = await (await connection.channel()).get_queue(f"{infra.namespace}.{service}.new")
            message = await new.get(timeout=5)
            assert json.loads(message.body)["data"] == {"n": 9}
    finally:
        await bus.broker.stop()


async def test_a_message_that_fails_stays_with_its_queue_unbound_until_a_later_start(infra, channel):
    service = "retire" + uuid.uuid4().hex[:6]
    name = await old_queue(infra, channel, service, [envelope(n) for n in range(3)])
    seen: list[int] = []
    failing = {1}

    async def handler(env: Envelope) -> None:
        if env.data["n"] in failing:
            raise RuntimeError("store away")
        seen.append(env.data["n"])

    bus = await started(infra, service, handler)
    await bus.broker.stop()
    assert seen == [0]
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        held = await (await connection.channel()).get_queue(name, ensure=True)
        assert held.declaration_result.message_count == 2  # the failed one and the one after it
        # unbound: a new event does not reach it any more
        exchange = await channel.get_exchange(f"{infra.namespace}.{EXCHANGE}")
        await exchange.publish(aio_pika.Message(envelope(7)), routing_key="thing.opened")
        again = await (await connection.channel()).get_queue(name, ensure=True)
        assert again.declaration_result.message_count == 2

        failing.clear()
        bus = await started(infra, service, handler)
        await bus.broker.stop()
        assert sorted(seen) == [0, 1, 2]  # a quorum queue puts a returned message last: handlers are order-tolerant
        assert not await exists(connection.channel, name)


async def test_a_queue_that_never_existed_is_no_error(infra):
    service = "retire" + uuid.uuid4().hex[:6]

    async def handler(env: Envelope) -> None:
        raise AssertionError("nothing to apply")

    bus = await started(infra, service, handler)
    await bus.broker.stop()
