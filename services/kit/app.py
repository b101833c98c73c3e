"""The service factory: every service is the same FastAPI + FastStream + MongoDB shape, assembled here.

Start-up order: store (indexes) → broker topology → consumers → outbox relay → scheduled jobs → the service's own
start hook. Shutdown: stop the jobs, stop consuming (FastStream waits for in-flight messages), drain the outbox,
close the store.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pymongo import IndexModel

from contracts.events import EVENT_TYPES, Envelope, EventData
from services.kit import metrics, problems
from services.kit.broker import EventBus
from services.kit.consumer import Subscription, register
from services.kit.logging import bind_correlation_id, configure_logging, current_correlation_id
from services.kit.outbox import OutboxRelay
from services.kit.scheduler import PeriodicJob, Scheduler
from services.kit.settings import ServiceSettings
from services.kit.store import Store

log = structlog.get_logger()


@dataclass
class Runtime:
    """What a request handler or an event handler of a service reaches: its settings, store and bus."""

    settings: ServiceSettings
    store: Store
    bus: EventBus
    relay: OutboxRelay
    extras: dict = field(default_factory=dict)

    def event(self, payload: EventData, *, type: str, subject: str, sequence: int) -> Envelope:
        """An envelope from this service, carrying the current correlation id."""
        return Envelope.wrap(payload, type=type, source=self.settings.service_name, subject=subject,
                             sequence=sequence, correlationid=current_correlation_id())


async def runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hop per request
    return request.app.state.runtime


class RequestContext:
    """Per request: a fresh log context with the correlation id (from X-Correlation-ID or new), the same id on
    the response, and the request counted and timed per route.

    A plain ASGI middleware, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs every request
    in an extra task and streams the response through a memory channel, which cost about a fifth of the
    intake's CPU."""

    def __init__(self, app, service: str):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(service=self.service)
        given = next((v for k, v in scope["headers"] if k == b"x-correlation-id"), None)
        cid = bind_correlation_id(given.decode("latin-1") if given else None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-correlation-id", cid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_REQUESTS.labels(self.service, scope["method"], path, status).inc()
            metrics.HTTP_LATENCY.labels(self.service, scope["method"], path).observe(time.perf_counter() - started)


@dataclass
class ServiceSpec:
    settings: ServiceSettings
    title: str
    description: str
    routers: Sequence[APIRouter] = ()
    indexes: Mapping[str, Sequence[IndexModel]] = field(default_factory=dict)
    outbox_collections: Sequence[str] = ()
    stamped_collections: Sequence[str] = ()  # every write carries kit.store.CHANGED (what changed since: one query)
    publishes: Sequence[str] = ()  # event types published on `ops.events` to every subscriber of the type
    # event types sent to one asking consumer's queue by name (`EventBus.send_to_queue`, routing key `to.<queue>`),
    # such as a replay's snapshots (kit/replay.py): in the AsyncAPI document beside `publishes`
    sends: Sequence[str] = ()
    subscriptions: Callable[[Runtime], Sequence[Subscription]] = lambda rt: ()
    jobs: Callable[[Runtime], Sequence[PeriodicJob]] = lambda rt: ()  # scheduled work, one replica at a time
    # Objects of the service that requests and handlers share (e.g. a cache), put in `rt.extras` before anything runs.
    prepare: Callable[[Runtime], None] | None = None
    on_start: Callable[[Runtime], Awaitable[None]] | None = None
    on_stop: Callable[[Runtime], Awaitable[None]] | None = None  # first thing at shutdown (ends what on_start began)


def create_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    configure_logging(settings.service_name, settings.log_format, settings.log_level)
    store = Store(settings, outbox_collections=spec.outbox_collections, indexes=spec.indexes,
                  stamped=spec.stamped_collections)
    bus = EventBus(settings)
    rt = Runtime(settings, store, bus, OutboxRelay(store, bus))
    if spec.prepare:
        spec.prepare(rt)
    consumes = settings.role in ("all", "worker")
    serves_api = settings.role in ("all", "api")
    scheduler = Scheduler(store, spec.jobs(rt) if consumes else ())
    for subscription in spec.subscriptions(rt):
        if consumes or subscription.per_process:
            register(bus, subscription)
    for event_type in spec.publishes:  # documents the events in AsyncAPI; publishing goes through the outbox
        bus.broker.publisher(exchange=bus.exchange, routing_key=event_type, title=event_type, schema=EVENT_TYPES[event_type])
    for event_type in spec.sends:
        bus.broker.publisher(exchange=bus.exchange, routing_key=EventBus.address("{queue}"), title=event_type,
                             description=f"{event_type}: sent to the asking consumer's own queue alone (routing key "
                                         "to.<that queue>), never to the subscribers of the type",
                             schema=EVENT_TYPES[event_type])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await store.start()
        await bus.broker.connect()
        await bus.declare_topology()
        await bus.broker.start()
        rt.relay.start()
        scheduler.start()
        if spec.on_start:
            await spec.on_start(rt)
        log.info("service.started", port=settings.port, role=settings.role, namespace=settings.namespace or None)
        try:
            yield
        finally:
            if spec.on_stop:
                await spec.on_stop(rt)
            await scheduler.stop()          # a running job finishes; its lease goes to another replica
            for subscriber in bus.broker.subscribers:
                await subscriber.stop()  # stop consuming; in-flight messages finish first
            await rt.relay.stop()        # drain the outbox while the connection is still open
            await bus.broker.stop()
            await store.close()
            log.info("service.stopped")

    app = FastAPI(title=spec.title, description=spec.description, version="0.1.0", lifespan=lifespan,
                  root_path=settings.root_path)
    app.state.runtime = rt
    app.state.spec = spec  # what the service declared: its published event types are checked against its AsyncAPI
    problems.install(app)

    app.add_middleware(RequestContext, service=settings.service_name)

    @app.get("/healthz", tags=["operations"], summary="Alive")
    async def healthz():
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["operations"], summary="Store and broker reachable")
    async def readyz():
        checks = {"store": await store.ping(), "broker": await bus.ping()}
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus_metrics(names: list[str] | None = Query(
            None, alias="name[]",
            description="Only these samples (as prometheus_client's own handlers take `name[]`), e.g. "
                        "`ops_events_consumed_total`: all of them is ~60 KB and tens of ms to render")):
        registry = REGISTRY.restricted_registry(names) if names else REGISTRY
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI description of the events")
    async def asyncapi():
        return AsyncAPI(bus.broker, title=f"{spec.title} events", version="0.1.0").to_specification().to_jsonable()

    if serves_api:
        for router in spec.routers:
            app.include_router(router)
    return app


def serve(app_path: str, settings_type: type[ServiceSettings]) -> None:
    """`python -m services.<name> [--role all|api|worker]`: run one service with uvicorn on its port.

    SIGTERM (Kubernetes, docker stop) shuts down gracefully: uvicorn stops accepting connections and gives open
    requests `shutdown_grace_seconds`, then the lifespan stops consuming, lets in-flight messages finish and
    drains the outbox before the process exits.
    """
    import argparse
    import os

    import uvicorn

    parser = argparse.ArgumentParser(prog=f"python -m {app_path.split(':')[0].rsplit('.', 1)[0]}")
    parser.add_argument("--role", choices=["all", "api", "worker"],
                        help="all: API and consumers (default, or OPS_ROLE); api: HTTP API only; worker: consumers only")
    args = parser.parse_args()
    if args.role:
        os.environ["OPS_ROLE"] = args.role  # the app factory reads its settings from the environment
    settings = settings_type()
    uvicorn.run(app_path, factory=True, host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=settings.shutdown_grace_seconds,
                timeout_keep_alive=settings.keep_alive_seconds)
