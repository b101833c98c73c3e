from fastapi import FastAPI

from services.analytics.api import rebuilds
from services.analytics.api.routes import router
from services.analytics.events import handlers, rebuild
from services.analytics.settings import Settings
from services.analytics.store.collections import INDEXES, REBUILDS
from services.kit.app import ServiceSpec, create_app


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="analytics 数据分析",
        description="Read models built from ticket events and the operations metrics over them (SPEC §5).",
        routers=[router, rebuilds.router],
        indexes=INDEXES,
        outbox_collections=[REBUILDS],  # a rebuild's replay.requested
        publishes=["replay.requested"],
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *rebuild.subscriptions(rt)],
    ))
