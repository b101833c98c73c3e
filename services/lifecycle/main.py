from fastapi import FastAPI

from services.kit.app import ServiceSpec, create_app
from services.lifecycle.api import development, maintenance, procurement, stages, views
from services.lifecycle.api.routes import router
from services.lifecycle.domain.catalog import REGISTERED
from services.lifecycle.events import catalog, handlers
from services.lifecycle.events import maintenance as maintenance_events
from services.lifecycle.settings import Settings
from services.lifecycle.store import development as development_store
from services.lifecycle.store import maintenance as maintenance_store
from services.lifecycle.store import procurement as procurement_store
from services.lifecycle.store.collections import INDEXES, PLATFORMS, PRODUCTS


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="lifecycle — 产品生命周期",
        description="The catalog of platforms and products (平台和产品), their lifecycle stage, and each "
                    "product's optimisation backlog grown from closed tickets (产品优化).",
        routers=[router, stages.router, views.router, procurement.router, development.router, maintenance.router],
        indexes={**INDEXES, **procurement_store.INDEXES, **development_store.INDEXES, **maintenance_store.INDEXES},
        outbox_collections=[PLATFORMS, PRODUCTS],
        publishes=[REGISTERED, stages.STAGE_CHANGED],
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *maintenance_events.subscriptions(rt)],
        on_start=catalog.on_start,
    ))
