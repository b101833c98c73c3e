from fastapi import FastAPI

from services.kit.app import ServiceSpec, create_app
from services.lifecycle.api import backlog as backlog_api
from services.lifecycle.api import trials as trial_api
from services.lifecycle.api.routes import router
from services.lifecycle.domain.catalog import REGISTERED
from services.lifecycle.events import catalog, handlers
from services.lifecycle.events import trials as trial_events
from services.lifecycle.settings import Settings
from services.lifecycle.store.collections import BACKLOG, INDEXES, PLATFORMS, PRODUCTS
from services.lifecycle.store.trials import INDEXES as TRIAL_INDEXES


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="lifecycle — 产品生命周期",
        description="The catalog of platforms and products (平台和产品), their lifecycle stage, and each "
                    "product's optimisation backlog grown from closed tickets (产品优化).",
        routers=[router, trial_api.router, backlog_api.router],
        indexes={**INDEXES, **TRIAL_INDEXES},
        outbox_collections=[PLATFORMS, PRODUCTS, BACKLOG],
        publishes=[REGISTERED, backlog_api.SHIPPED],
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *trial_events.subscriptions(rt)],
        on_start=catalog.on_start,
    ))
