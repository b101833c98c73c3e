from fastapi import FastAPI

from services.analytics.api import anomalies, imports
from services.analytics.api.routes import router
from services.analytics.events import handlers
from services.analytics.settings import Settings
from services.analytics.store import anomalies as anomaly_store
from services.analytics.store import subscriptions
from services.analytics.store.collections import INDEXES, TICKETS
from services.analytics.store.counters import CountersJob
from services.kit.app import ServiceSpec, create_app
from services.kit.scheduler import PeriodicJob


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="analytics 数据分析",
        description="Read models built from ticket events and the operations metrics over them (SPEC §5).",
        routers=[router, imports.router, anomalies.router],
        indexes={**INDEXES, **subscriptions.INDEXES, **anomaly_store.INDEXES},
        outbox_collections=[anomaly_store.ANOMALIES],
        publishes=[anomaly_store.EVENT_TYPE],
        subscriptions=lambda rt: handlers.subscriptions(rt),
        jobs=lambda rt: [PeriodicJob("counters", rt.settings.counters_every_seconds,
                                     CountersJob(rt.store, TICKETS,
                                                 queue_depth=lambda: rt.bus.queue_depth(handlers.TICKETS_QUEUE)).run),
                         anomaly_store.job(rt)],
    ))
