from fastapi import FastAPI

from contracts.events import CatalogSyncRequested
from services.kit.app import Runtime, ServiceSpec, create_app
from services.kit.scheduler import PeriodicJob
from services.kit.store import ensure_text_index
from services.ticketing.api import flows
from services.ticketing.api.routes import router
from services.ticketing.events import handlers, merges
from services.ticketing.settings import Settings
from services.ticketing.store import listing
from services.ticketing.store.collections import CATALOG, INDEXES, SEARCH_INDEX, TICKETS, catalog_of, prepare

PUBLISHES = ("ticket.opened", "ticket.assigned", "ticket.escalated", "ticket.progress_noted", "ticket.resolved",
             "ticket.reopened", "ticket.closed", "catalog.sync_requested",
             "ticket.pending", "ticket.requester_replied", "ticket.answered", "ticket.merged")


async def learn_catalog(rt: Runtime) -> None:
    """Load the catalog cache; with no catalog yet, ask lifecycle to announce it: on a fresh broker lifecycle may
    have announced it before our queue existed. Published directly (no state goes with it); the next start asks
    again."""
    await catalog_of(rt).load()
    if await rt.store[CATALOG].find_one({}, {"_id": 1}) is None:
        request = rt.event(CatalogSyncRequested(requested_by=rt.settings.service_name),
                           type="catalog.sync_requested", subject="catalog", sequence=0)
        await rt.bus.publish(request.model_dump(mode="json"))


async def on_start(rt: Runtime) -> None:
    await ensure_text_index(rt.store[TICKETS], SEARCH_INDEX)
    await learn_catalog(rt)


def jobs(rt: Runtime) -> list[PeriodicJob]:
    # tickets stored before the list's derived fields existed get them shortly after start (then it finds none)
    return [PeriodicJob("ticket-list-backfill", 60.0, lambda: listing.backfill(rt.store, TICKETS))]


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="ticketing 工单",
        description="Consultations 咨询, complaints 投诉, suggestions 建议 and faults 故障, handled in tiers "
                    "(front line → product manager → vendor) until the requester is satisfied.",
        routers=[router, flows.router],
        indexes=INDEXES,
        outbox_collections=[TICKETS],
        publishes=PUBLISHES,
        # a merge's second half is finished from ticketing's own ticket.merged (events/merges.py)
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *merges.subscriptions(rt)],
        prepare=prepare,
        jobs=jobs,
        on_start=on_start,
    ))
