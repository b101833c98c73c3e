from fastapi import FastAPI

from services.kit.app import ServiceSpec, create_app
from services.ticketing.api.routes import router
from services.ticketing.events import handlers
from services.ticketing.settings import Settings
from services.ticketing.store.collections import INDEXES, TICKETS

PUBLISHES = ("ticket.opened", "ticket.assigned", "ticket.escalated", "ticket.progress_noted", "ticket.resolved",
             "ticket.reopened", "ticket.closed")


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="ticketing 工单",
        description="Consultations 咨询, complaints 投诉, suggestions 建议 and faults 故障, handled in tiers "
                    "(front line → product manager → vendor) until the requester is satisfied.",
        routers=[router],
        indexes=INDEXES,
        outbox_collections=[TICKETS],
        publishes=PUBLISHES,
        subscriptions=handlers.subscriptions,
    ))
