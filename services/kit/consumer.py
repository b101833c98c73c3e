"""Consumers: one durable quorum queue per subscription, manual acknowledgement, retries, dead-lettering.

A handler receives the parsed envelope and must be idempotent and order-tolerant (SPEC §4): it applies a change
only if it has not seen the event (natural keys such as a ticket id already listed) and only if the event's
`sequence` is newer than what it holds. Each handler changes at most one document, so its change and the events
it owes are one atomic write (kit/store.py).

Failures: an envelope or payload that does not validate is poison and goes straight to `<queue>.dlq`; any other
error is retried with back-off up to `max_attempts`, then dead-lettered with the error in its headers. Either
way the message is acknowledged and the consumer goes on with the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from faststream.middlewares import AckPolicy
from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from contracts.events import Envelope
from services.kit import metrics
from services.kit.broker import EventBus, Skip
from services.kit.logging import bind_correlation_id

log = structlog.get_logger()

Handler = Callable[[Envelope], Awaitable[None]]


class PoisonMessage(Exception):
    """Raised by a handler for a message that no retry can fix."""


@dataclass(frozen=True)
class Subscription:
    queue: str                  # base name, e.g. "analytics.tickets"
    event_types: tuple[str, ...]
    handler: Handler
    # Every process gets every event, on a queue of its own, whatever its role: what keeps an in-memory cache
    # fresh (kit/cache.py). A failure is logged and the event dropped; the cache's reload makes up for it.
    per_process: bool = False
    # The queue is bound to its own address alone (`to.<queue>`): it takes only what is sent to it by name
    # (EventBus.send_to_queue), such as the snapshots of a replay this service asked for (kit/replay.py).
    # `event_types` then only document it.
    direct: bool = False
    # Queues of earlier versions whose work this subscription took over, each with the routing keys it was
    # bound to: at start they are unbound, what they still hold goes through `handler`, and then they are
    # deleted (EventBus.retire). Their dead-letter queues stay for whoever reads them.
    replaces: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Events of `event_types` the handler would drop unread, kept from the queue by the broker (kit/broker.Skip).
    skips: tuple[Skip, ...] = ()


async def the_message(message: RabbitMessage) -> RabbitMessage:
    """A decoder that hands the handler the message itself (it parses the envelope and acknowledges): asked for
    as a second parameter, `message: RabbitMessage` is a Context that FastStream resolves in a worker thread,
    a thread hop per message."""
    return message


def register(bus: EventBus, subscription: Subscription) -> None:
    if subscription.per_process:
        return _register_per_process(bus, subscription)
    settings = bus.settings
    keys = [bus.address(settings.name(subscription.queue))] if subscription.direct else list(subscription.event_types)
    queue = bus.queue(subscription.queue, keys, () if subscription.direct else subscription.skips)
    for old_queue, old_keys in subscription.replaces:
        bus.retire(old_queue, list(old_keys), subscription.handler)

    @bus.broker.subscriber(queue, bus.exchange, ack_policy=AckPolicy.MANUAL, decoder=the_message,
                           title=subscription.queue, description=", ".join(subscription.event_types))
    async def on_message(message: Any) -> None:
        attempt = int((message.raw_message.headers or {}).get("x-delivery-count", 0) or 0) + 1
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(service=settings.service_name, queue=queue.name)
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError as error:
            await _dead_letter(message, error, attempt, "unknown")
            return
        bind_correlation_id(envelope.correlationid)
        structlog.contextvars.bind_contextvars(event_id=envelope.id, event_type=envelope.type)
        try:
            await subscription.handler(envelope)
        except (ValidationError, PoisonMessage) as error:
            await _dead_letter(message, error, attempt, envelope.type)
        except Exception as error:  # noqa: BLE001 - every failure is retried, then dead-lettered
            if attempt >= settings.max_attempts:
                await _dead_letter(message, error, attempt, envelope.type)
                return
            log.warning("event.retry", attempt=attempt, error=str(error))
            await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 5.0))
            await message.nack(requeue=True)
            metrics.EVENTS_CONSUMED.labels(settings.service_name, queue.name, envelope.type, "retried").inc()
        else:
            await message.ack()
            metrics.EVENTS_CONSUMED.labels(settings.service_name, queue.name, envelope.type, "ok").inc()

    async def _dead_letter(message, error: BaseException, attempt: int, event_type: str) -> None:
        log.error("event.dead_lettered", error=str(error)[:500], attempt=attempt)
        await bus.dead_letter(queue.name, message.body, dict(message.raw_message.headers or {}), error, attempt)
        await message.ack()
        metrics.EVENTS_CONSUMED.labels(settings.service_name, queue.name, event_type, "dead_lettered").inc()


def _register_per_process(bus: EventBus, subscription: Subscription) -> None:
    settings = bus.settings
    queue = bus.process_queue(subscription.queue, list(subscription.event_types))

    @bus.broker.subscriber(queue, bus.exchange, ack_policy=AckPolicy.ACK_FIRST, decoder=the_message,
                           title=subscription.queue,
                           description=", ".join(subscription.event_types) + " (a queue per process)")
    async def on_message(message: Any) -> None:
        try:
            envelope = Envelope.model_validate_json(message.body)
            bind_correlation_id(envelope.correlationid)
            await subscription.handler(envelope)
        except Exception as error:  # noqa: BLE001 - a cache update that fails must not stop the others
            log.warning("event.not_applied", queue=subscription.queue, error=str(error)[:500])
            metrics.EVENTS_CONSUMED.labels(settings.service_name, subscription.queue, "unknown", "failed").inc()
        else:
            metrics.EVENTS_CONSUMED.labels(settings.service_name, subscription.queue, envelope.type, "ok").inc()
