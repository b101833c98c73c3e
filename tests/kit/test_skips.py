"""Events a consumer would drop unread, kept from its queue by the broker (kit/broker.Skip), against the real
broker: an opening of a skipped kind never reaches the queue; every other one does, whether it was published
from an outbox entry, as a whole envelope, or from an entry stored before entries kept their headers; other
event types of the kind are not touched; and a queue that an earlier version bound to the event type directly
gets each event once, not twice."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from contracts.events import DEAD_LETTER_EXCHANGE, EXCHANGE, Envelope
from services.kit.broker import EventBus, Skip
from services.kit.consumer import Subscription, register
from services.kit.settings import ServiceSettings
from services.kit.store import outbox_entry
from tests.support import eventually

KEYS = ("thing.opened", "thing.closed")
SKIPS = (Skip("thing.opened", "kind", ("consultation",)),)


def event(subject: str, kind: str, type_: str = "thing.opened") -> Envelope:
    return Envelope(type=type_, source="test", subject=subject, sequence=1, correlationid=f"c-{subject}",
                    data={"kind": kind, "title": subject})


async def started(infra, service: str, received: list[str]) -> EventBus:
    """The service's bus with its consumer running (FastStream binds a subscriber's queue when it starts too)."""
    settings = ServiceSettings(service_name=service, amqp_url=infra.amqp_url, namespace=infra.namespace)
    bus = EventBus(settings)

    async def handler(envelope: Envelope) -> None:
        received.append(envelope.subject)

    register(bus, Subscription(f"{service}.things", KEYS, handler, skips=SKIPS))
    await bus.broker.connect()
    await bus.declare_topology()
    await bus.broker.start()
    return bus


async def consumed(received: list[str], count: int) -> list[str]:
    """What the consumer got once it has `count` events, and a moment longer for any that should not come."""
    async def enough():
        return len(received) >= count

    await eventually(enough, what=f"{count} events consumed")
    await asyncio.sleep(0.5)
    return sorted(received)


def test_a_skip_names_a_field_that_messages_carry_as_a_header():
    with pytest.raises(ValueError, match="not carried as a header"):
        Skip("thing.opened", "city", ("济南",))


async def test_the_broker_keeps_the_skipped_kind_from_the_queue_and_lets_everything_else_through(infra):
    service = "skips" + uuid.uuid4().hex[:6]
    received: list[str] = []
    bus = await started(infra, service, received)
    try:
        old_entry = outbox_entry(event("old-entry", "consultation"))
        del old_entry["headers"]  # an entry stored before entries kept the message's headers
        for envelope in (outbox_entry(event("consultation-entry", "consultation")),
                         outbox_entry(event("fault-entry", "fault")),
                         event("consultation-whole", "consultation").model_dump(mode="json"),
                         event("suggestion-whole", "suggestion").model_dump(mode="json"),
                         old_entry,
                         outbox_entry(event("consultation-closed", "consultation", "thing.closed"))):
            await bus.publish(envelope)
        assert await consumed(received, 4) == ["consultation-closed", "fault-entry", "old-entry", "suggestion-whole"]
    finally:
        await bus.broker.stop()


async def test_a_queue_bound_to_the_type_by_an_earlier_version_gets_each_event_once(infra):
    service = "skips" + uuid.uuid4().hex[:6]
    name = f"{infra.namespace}.{service}.things"
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{infra.namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(name, durable=True, arguments={
            "x-queue-type": "quorum", "x-dead-letter-exchange": f"{infra.namespace}.{DEAD_LETTER_EXCHANGE}",
            "x-dead-letter-routing-key": name, "x-delivery-limit": ServiceSettings().max_attempts + 2})
        for key in KEYS:
            await queue.bind(exchange, routing_key=key)
    received: list[str] = []
    bus = await started(infra, service, received)
    try:
        await bus.publish(outbox_entry(event("consultation", "consultation")))
        await bus.publish(outbox_entry(event("fault", "fault")))
        assert await consumed(received, 1) == ["fault"]
    finally:
        await bus.broker.stop()
