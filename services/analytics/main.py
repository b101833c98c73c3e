from fastapi import FastAPI

from services.analytics import jobs
from services.analytics.api import reports
from services.analytics.api.routes import router
from services.analytics.events import handlers, kcs
from services.analytics.settings import Settings
from services.analytics.store.collections import INDEXES
from services.analytics.store.reports import INDEXES as REPORT_INDEXES
from services.kit.app import ServiceSpec, create_app


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="analytics 数据分析",
        description="Read models built from ticket events and the operations metrics over them (SPEC §5).",
        routers=[router, reports.router],
        indexes={**INDEXES, **REPORT_INDEXES},
        outbox_collections=[],  # analytics publishes no events yet
        publishes=[],
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *kcs.subscriptions(rt)],
        jobs=jobs.jobs,
    ))
