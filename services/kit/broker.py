"""FastStream/RabbitMQ wiring with the topology of SPEC §4: topic exchange `ops.events`, one durable quorum queue
per consumer with dead-letter exchange `ops.dlx` and a `<queue>.dlq`, persistent messages, publisher confirms."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiormq
import structlog
from aiormq.abc import DeliveredMessage
from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas import Channel, QueueType
from pydantic import ValidationError

from contracts.events import DEAD_LETTER_EXCHANGE, EXCHANGE, Envelope
from services.kit.settings import ServiceSettings

log = structlog.get_logger()
CONTENT_TYPE = "application/cloudevents+json"
ADDRESSED = "to."  # routing keys of messages sent to one queue by name: `to.<queue>`
# Fields of an event's payload that its message also carries as headers, so that the broker can keep from a
# queue the events its consumer would drop unread (Skip).
ROUTED_FIELDS = ("kind",)


def routed_headers(data: Any) -> dict[str, str]:
    """The message headers of an event whose payload is `data` (ROUTED_FIELDS that it has, as text)."""
    if not isinstance(data, dict):
        return {}
    return {field: value for field in ROUTED_FIELDS if isinstance(value := data.get(field), str)}


@dataclass(frozen=True)
class Skip:
    """Events of `event_type` whose header `header` (one of ROUTED_FIELDS) is one of `values` are kept from a queue
    by the broker: they never cost its consumer a delivery, a parse and an acknowledgement. Everything else of the
    type reaches the queue, a message without the header (published before the header existed) included.

    The topology (EventBus.declare_topology): the event type is routed from `ops.events` into a headers exchange
    `<queue>.<event type>` instead of the queue; a message matching a skipped value goes on to `<queue>.skipped`,
    an exchange bound to nothing, where it ends; any other message matches no binding and goes to the headers
    exchange's alternate exchange `<queue>.kept`, which is bound to the queue. The names start with the queue's,
    within what its service may configure (deploy/k8s/base/infra/rabbitmq-users.yaml)."""

    event_type: str
    header: str
    values: tuple[str, ...]

    def __post_init__(self):
        if self.header not in ROUTED_FIELDS:
            raise ValueError(f"{self.header!r} is not carried as a header; one of {ROUTED_FIELDS}")


class Unroutable(Exception):
    """The broker returned a message sent to a queue by name: no such queue."""


class EventBus:
    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.broker = RabbitBroker(
            settings.amqp_url,
            app_id=settings.service_name,
            # Publisher confirms: `publish` returns once the broker has taken responsibility for the message.
            default_channel=Channel(prefetch_count=settings.prefetch, publisher_confirms=True),
            graceful_timeout=15.0,
            logger=None,
            # No FastDepends: every subscriber takes the raw message (kit/consumer.py's decoder) and injects
            # nothing, and the per-message dependency solving was ~6 % of a consumer's CPU (py-spy, intake load).
            apply_types=False,
        )
        self.exchange = RabbitExchange(settings.name(EXCHANGE), type=ExchangeType.TOPIC, durable=True)
        self.dead_letter_exchange = RabbitExchange(settings.name(DEAD_LETTER_EXCHANGE), type=ExchangeType.DIRECT,
                                                   durable=True)
        self.bindings: dict[str, tuple[RabbitQueue, list[str]]] = {}
        self.skips: dict[str, tuple[Skip, ...]] = {}  # by queue name: what the broker keeps from it (Skip)
        self.retired: dict[str, tuple[list[str], Callable[[Envelope], Awaitable[None]]]] = {}
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    def queue(self, base_name: str, routing_keys: list[str], skips: tuple[Skip, ...] = ()) -> RabbitQueue:
        """A consumer's durable queue, bound to `routing_keys` at `declare_topology`; an event type with a Skip is
        routed to it through the Skip's exchanges instead."""
        name = self.settings.name(base_name)
        skipped = {skip.event_type for skip in skips}
        # FastStream binds a subscriber's queue to its `routing_key` when the subscriber starts: never a skipped type
        routing_keys = [key for key in routing_keys if key not in skipped]
        queue = RabbitQueue(
            name, QueueType.QUORUM, durable=True, routing_key=routing_keys[0] if routing_keys else "",
            arguments={
                "x-dead-letter-exchange": self.dead_letter_exchange.name,
                "x-dead-letter-routing-key": name,
                # A backstop for a consumer that dies on a message before it can dead-letter it itself.
                "x-delivery-limit": self.settings.max_attempts + 2,
            },
        )
        self.bindings[name] = (queue, routing_keys)
        if skips:
            self.skips[name] = skips
        return queue

    def process_queue(self, base_name: str, routing_keys: list[str]) -> RabbitQueue:
        """A queue of this process alone (exclusive, gone with its connection), for events every process must see,
        such as those that keep an in-memory cache fresh (kit/cache.py). No dead-letter queue: what a process
        fails to apply it learns again from its next reload."""
        name = f"{self.settings.name(base_name)}.{self.process_id}"
        queue = RabbitQueue(name, QueueType.CLASSIC, durable=False, exclusive=True, auto_delete=True,
                            routing_key=routing_keys[0])
        self.bindings[name] = (queue, routing_keys)
        return queue

    async def declare_topology(self) -> None:
        """Declare exchanges, queues, dead-letter queues and every binding before consumers start."""
        exchange = await self.broker.declare_exchange(self.exchange)
        dlx = await self.broker.declare_exchange(self.dead_letter_exchange)
        for name, (queue, keys) in self.bindings.items():
            if not queue.exclusive:
                dlq = await self.broker.declare_queue(RabbitQueue(f"{name}.dlq", QueueType.QUORUM, durable=True))
                await dlq.bind(dlx, routing_key=name)
            declared = await self.broker.declare_queue(queue)
            for key in keys:
                await declared.bind(exchange, routing_key=key)
            if name in self.skips:
                await self._declare_skips(name, self.skips[name], declared, exchange)
        for name, (keys, handler) in self.retired.items():  # after the queues that took their work are bound
            await self._drain_and_delete(name, keys, handler)

    async def _declare_skips(self, name: str, skips: tuple[Skip, ...], queue, exchange) -> None:
        """The exchanges of Skip, bound before the queue's direct binding to the event type (that of a version
        without the Skip) is taken away, so that none published meanwhile is missed (and none arrives twice: the
        broker puts a message into a queue once, however many bindings lead there)."""
        kept = await self.broker.declare_exchange(
            RabbitExchange(f"{name}.kept", type=ExchangeType.FANOUT, durable=True))
        skipped = await self.broker.declare_exchange(
            RabbitExchange(f"{name}.skipped", type=ExchangeType.FANOUT, durable=True))
        await queue.bind(kept)
        for skip in skips:
            sorter = await self.broker.declare_exchange(RabbitExchange(
                f"{name}.{skip.event_type}", type=ExchangeType.HEADERS, durable=True,
                arguments={"alternate-exchange": kept.name}))
            for value in skip.values:
                await skipped.bind(sorter, arguments={"x-match": "all", skip.header: value})
            await sorter.bind(exchange, routing_key=skip.event_type)
            await queue.unbind(exchange, routing_key=skip.event_type)

    def retire(self, base_name: str, routing_keys: list[str], handler: Callable[[Envelope], Awaitable[None]]) -> None:
        """Have `declare_topology` take a queue of an earlier version out of service (Subscription.replaces)."""
        self.retired[self.settings.name(base_name)] = (routing_keys, handler)

    async def _drain_and_delete(self, name: str, keys: list[str], handler) -> None:
        """Unbind a retired queue, apply what it still holds, oldest first, then delete it; a message that fails
        stays, and so does the queue, unbound, until the next start. The queue that took its work is bound
        before this runs, so an event published meanwhile reaches that one, and an event that reached both is
        applied twice, which handlers allow (idempotent, order-tolerant). An earlier version still running
        elsewhere (a rolling update) consumes beside this and may declare the queue again when it reconnects:
        the next start retires it again."""
        connection = self.broker._connection  # a channel of its own: a missing queue closes the channel that asks
        async with connection.channel() as channel:
            try:
                await channel.get_queue(name, ensure=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                return  # never existed here, or retired already
        async with connection.channel() as channel:
            queue = await channel.get_queue(name, ensure=False)
            exchange = await channel.get_exchange(self.exchange.name, ensure=False)
            for key in keys:
                await queue.unbind(exchange, routing_key=key)
            applied = 0
            while (message := await queue.get(no_ack=False, fail=False, timeout=5)) is not None:
                try:
                    envelope = Envelope.model_validate_json(message.body)
                    await handler(envelope)
                except ValidationError as error:
                    await self.dead_letter(name, message.body, dict(message.headers or {}), error, 1)
                except Exception as error:  # noqa: BLE001 - kept for the next start, the rest of the service runs
                    await message.nack(requeue=True)
                    log.warning("queue.retire_stopped", queue=name, applied=applied, error=str(error)[:500])
                    return
                await message.ack()
                applied += 1
            # empty, and unbound before it was read, so nothing can reach it now; quorum queues refuse if_empty
            await queue.delete(if_unused=False, if_empty=False)
            log.info("queue.retired", queue=name, applied=applied)

    async def publish(self, envelope: dict[str, Any]) -> None:
        """Publish one stored envelope and wait for the broker's confirm: an outbox entry with its body as text
        (kit/store.py `outbox_entry`), or a whole envelope, JSON-ready."""
        body = envelope.get("body")
        await self.broker.publish(
            body.encode() if isinstance(body, str) else json.dumps(envelope, ensure_ascii=False).encode(),
            exchange=self.exchange,
            routing_key=envelope["type"],
            persist=True,
            mandatory=False,  # no queue bound yet is fine for pub/sub; durable queues exist before producers run
            message_id=envelope["id"],
            correlation_id=envelope.get("correlationid"),
            content_type=CONTENT_TYPE,
            message_type=envelope["type"],
            headers=envelope.get("headers") if isinstance(body, str) else routed_headers(envelope.get("data")),
        )

    @staticmethod
    def address(queue_name: str) -> str:
        """The routing key that reaches the queue `queue_name` alone: the only key it is bound to when its
        subscription is `direct` (kit/consumer.py), a key no event type has."""
        return f"{ADDRESSED}{queue_name}"

    async def send_to_queue(self, queue_name: str, envelope: dict[str, Any]) -> None:
        """Send one envelope to the named queue alone and wait for the confirm: what answers one consumer (a
        replay, kit/replay.py) without reaching every subscriber of the event type. On `ops.events` with the
        queue's address as routing key rather than through the default exchange, so that a service needs no
        permission beyond the shared exchanges (deploy/k8s/base/infra/rabbitmq-users.yaml), and the default
        exchange, which writes into any queue, stays closed to it. Mandatory: with no queue bound to the address the
        broker returns the message, and this raises `Unroutable`."""
        confirmation = await self.broker.publish(
            json.dumps(envelope, ensure_ascii=False).encode(),
            exchange=self.exchange,
            routing_key=self.address(queue_name),
            persist=True,
            mandatory=True,
            message_id=envelope["id"],
            correlation_id=envelope.get("correlationid"),
            content_type=CONTENT_TYPE,
            message_type=envelope["type"],
        )
        if isinstance(confirmation, DeliveredMessage):  # returned (the channel does not raise on returns)
            raise Unroutable(f"no queue {queue_name!r}")

    async def dead_letter(self, queue_name: str, body: bytes, headers: dict[str, Any], error: BaseException,
                          attempts: int) -> None:
        await self.broker.publish(
            body,
            exchange=self.dead_letter_exchange,
            routing_key=queue_name,
            persist=True,
            mandatory=False,
            content_type=CONTENT_TYPE,
            headers={**{k: v for k, v in headers.items() if not k.startswith("x-death")},
                     "x-error": f"{type(error).__name__}: {error}"[:2000],
                     "x-error-type": type(error).__name__,
                     "x-attempts": attempts,
                     "x-queue": queue_name},
        )

    async def queue_depth(self, base_name: str, timeout: float = 2.0) -> int | None:
        """Messages waiting (ready, not yet delivered) in one of this service's queues, or None when the broker
        cannot say: how far a consumer is behind, for an answer that reports its freshness."""
        binding = self.bindings.get(self.settings.name(base_name))
        if binding is None:
            return None
        try:
            declared = await self.broker.declare_queue(binding[0])
            # a fresh count: re-declaring is idempotent; bounded, so that a broker away stalls no caller
            return (await asyncio.wait_for(declared.declare(), timeout)).message_count
        except Exception:  # noqa: BLE001 - freshness is reported as unknown, never fails the caller
            return None

    async def ping(self) -> bool:
        try:
            return await self.broker.ping(timeout=2.0)
        except Exception:  # noqa: BLE001 - readiness answers yes or no
            return False
