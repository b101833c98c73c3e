from fastapi import FastAPI

from services.analytics import jobs
from services.analytics.api import anomalies, imports, rebuilds, reports
from services.analytics.api.routes import router
from services.analytics.events import handlers, kcs, rebuild
from services.analytics.settings import Settings
from services.analytics.store import anomalies as anomaly_store
from services.analytics.store import subscriptions
from services.analytics.store.collections import INDEXES, REBUILDS
from services.analytics.store.reports import INDEXES as REPORT_INDEXES
from services.kit.app import ServiceSpec, create_app


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="analytics 数据分析",
        description="Read models built from ticket events and the operations metrics over them (SPEC §5).",
        routers=[router, imports.router, anomalies.router, reports.router, rebuilds.router],
        indexes={**INDEXES, **subscriptions.INDEXES, **anomaly_store.INDEXES, **REPORT_INDEXES},
        outbox_collections=[anomaly_store.ANOMALIES, REBUILDS],  # REBUILDS: a rebuild's replay.requested
        publishes=[anomaly_store.EVENT_TYPE, "replay.requested"],
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *kcs.subscriptions(rt), *rebuild.subscriptions(rt)],
        jobs=jobs.jobs,
    ))
