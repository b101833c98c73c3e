from fastapi import FastAPI

from services.kit.app import ServiceSpec, create_app
from services.lifecycle.api import backlog, development, maintenance, procurement, stages, trials, views
from services.lifecycle.api.routes import router
from services.lifecycle.domain.catalog import REGISTERED
from services.lifecycle.events import catalog, handlers
from services.lifecycle.events import trials as trial_events
from services.lifecycle.settings import Settings
from services.lifecycle.store import development as development_store
from services.lifecycle.store import maintenance as maintenance_store
from services.lifecycle.store import procurement as procurement_store
from services.lifecycle.store import trials as trial_store
from services.lifecycle.store.collections import BACKLOG, INDEXES, PLATFORMS, PRODUCTS


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="lifecycle — 产品生命周期",
        description="The catalog of platforms and products (平台和产品) and their lifecycle from demand to delivery "
                    "(需求提出 → 交付) with every gate: documents, decisions, procurement, development and testing, "
                    "trials, the optimisation backlog grown from tickets (产品优化) and daily maintenance (日常维护).",
        routers=[router, stages.router, views.router, procurement.router, development.router, trials.router,
                 backlog.router, maintenance.router],
        indexes={**INDEXES, **procurement_store.INDEXES, **development_store.INDEXES, **trial_store.INDEXES,
                 **maintenance_store.INDEXES},
        outbox_collections=[PLATFORMS, PRODUCTS, BACKLOG],
        publishes=[REGISTERED, stages.STAGE_CHANGED, backlog.SHIPPED],
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *trial_events.subscriptions(rt)],
        on_start=catalog.on_start,
    ))
