"""Helpers for integration tests: run a service in-process (its real lifespan, real broker and store), mint
tokens, publish events onto the session's exchange, and wait for an asynchronous effect."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aio_pika
import httpx
import pytest
from fastapi.routing import APIRoute
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from contracts.events import EXCHANGE, Envelope
from services.kit.auth import mint_token
from services.kit.broker import routed_headers

T = TypeVar("T")


def settings_for(settings_cls, infra, service: str, **overrides):
    """The service's settings pointed at the session's store, broker and namespace."""
    return settings_cls(mongo_url=infra.mongo_url, amqp_url=infra.amqp_url, namespace=infra.namespace,
                        mongo_db=infra.db_name(service), auth_secret=infra.auth_secret, **overrides)


@asynccontextmanager
async def running(app):
    """Run a FastAPI app's lifespan and give an httpx client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def token(infra, *roles: str, sub: str | None = None, **claims) -> dict[str, str]:
    """Authorization header for a principal with these roles (and city/products/vendor claims)."""
    return {"Authorization": "Bearer " + mint_token(infra.auth_secret, sub=sub or f"{roles[0]}-test",
                                                    roles=roles, **claims)}


def metric_sum(name: str, **labels: str) -> float:
    """The sum of this process's samples of metric `name` whose labels have the given values."""
    return sum(sample.value for family in REGISTRY.collect() for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


async def publish(infra, *envelopes: Envelope | dict[str, Any] | bytes, routing_key: str | None = None) -> None:
    """Publish onto the session's `ops.events` exchange as a producing service would (persistent, with the headers
    kit/broker.routed_headers gives it), all on one channel, so that several envelopes arrive as a burst."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(f"{infra.namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        for envelope in envelopes:
            headers = {}
            if isinstance(envelope, Envelope):
                key, body, headers = envelope.type, envelope.model_dump_json().encode(), routed_headers(envelope.data)
            elif isinstance(envelope, dict):
                key, body = routing_key or envelope["type"], json.dumps(envelope, ensure_ascii=False).encode()
                headers = routed_headers(envelope.get("data"))
            else:
                key, body = routing_key, envelope
            await exchange.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                                    headers=headers), routing_key=key)


@asynccontextmanager
async def captured(infra, routing_key: str):
    """A throwaway queue bound to the session's exchange, to see the events services publish. Yields an async
    function that returns every envelope (as a dict) received since the block began."""
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{infra.namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=routing_key)
        received: list[dict] = []

        async def received_so_far() -> list[dict]:
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                received.append(json.loads(message.body))
            return received

        yield received_so_far


@asynccontextmanager
async def database(infra, service: str):
    """The session's database of `service`, read directly: what a test checks a service stored."""
    client = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    try:
        yield client[infra.db_name(service)]
    finally:
        await client.close()


async def dead_letters(infra, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Drain `<namespace>.<queue>.dlq` and return its messages."""
    connection = await aio_pika.connect(infra.amqp_url)
    out = []
    async with connection:
        channel = await connection.channel()
        q = await channel.declare_queue(f"{infra.namespace}.{queue}.dlq", passive=True)
        while (message := await q.get(no_ack=True, fail=False)) is not None:
            out.append(message)
    return out


async def collect_dead_letters(infra, queue: str, until: Callable[[list], bool], *, timeout: float = 10.0,
                               what: str = "dead letters") -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Drain `<queue>.dlq` repeatedly, keeping everything drained, until `until(collected)` holds."""
    collected: list = []

    async def probe():
        collected.extend(await dead_letters(infra, queue))
        return until(collected)

    await eventually(probe, timeout=timeout, what=what)
    return collected


async def eventually(probe: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.1,
                     what: str = "condition") -> T:
    """Poll `probe` until it returns a truthy value (returned) or `timeout` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} did not hold within {timeout}s; last value: {last!r}")


async def catalog_learns(infra, client, product: str, probe: dict[str, Any], headers: dict[str, str]) -> None:
    """Announce `product` as lifecycle does and wait until ticketing's catalog files tickets for it (`probe`)."""
    from contracts.events import ProductRegistered

    await publish(infra, Envelope.wrap(
        ProductRegistered(code=product, name="移动办公", stage="delivered", vendor="vendor-a"),
        type="lifecycle.product.registered", source="lifecycle", subject=product, sequence=1, correlationid="test"))

    async def catalog_knows_product():
        return (await client.post("/v1/tickets", json=probe, headers=headers)).status_code == 201

    await eventually(catalog_knows_product, what="the catalog learnt the product from lifecycle's event")


def served_routes(routes, prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every HTTP route, through included routers (FastAPI ≥ 0.16x keeps an included router as
    one entry of app.routes, holding the original router and the include's prefix). The role tests compare
    them with their tables."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, APIRoute):
            found |= {(method, prefix + route.path) for method in route.methods if method != "HEAD"}
        elif (included := getattr(route, "original_router", None)) is not None:
            context = getattr(route, "include_context", None)
            found |= served_routes(included.routes, prefix + getattr(context, "prefix", ""))
    return found


def v1_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every /v1 route of an app, from its routing and from its OpenAPI (either alone could
    miss one a FastAPI upgrade hides)."""
    documented = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
                  for method in operations}
    return {(method, path) for method, path in served_routes(app.routes) | documented if path.startswith("/v1/")}


def role_cases(routes, scopes: dict[str, tuple[dict, dict] | None], allowed_out_of_scope):
    """The parameters of a role matrix: each route (with `name` and `allowed`) × each role, once for a role without
    a scope (`scopes[role]` None), in and out of scope for the others; `allowed_out_of_scope(route, role)` says
    whether a role may even outside its scope."""
    for route in routes:
        for role, claims in scopes.items():
            if claims is None:
                yield pytest.param(route, role, {}, role in route.allowed, id=f"{route.name}-{role}")
            else:
                inside, outside = claims
                yield pytest.param(route, role, inside, role in route.allowed, id=f"{route.name}-{role}-in")
                yield pytest.param(route, role, outside, allowed_out_of_scope(route, role),
                                   id=f"{route.name}-{role}-out")
