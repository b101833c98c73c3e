import asyncio
import time
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import FastAPI

from services.kit import replay
from services.kit.app import Runtime, ServiceSpec, create_app
from services.kit.catalog import SYNC_REQUESTED, keep_asking, stop_asking
from services.kit.scheduler import PeriodicJob
from services.kit.store import ensure_text_index
from services.ticketing.api import attachments, flows, reminders
from services.ticketing.api import webhooks as webhook_api
from services.ticketing.api.routes import router
from services.ticketing.api.calendar import router as calendar_router
from services.ticketing.events import handlers, improvements, merges, sla_config as sla_config_events
from services.ticketing.events import webhooks as webhook_delivery
from services.ticketing.settings import Settings
from services.ticketing.store import backfills, listing, scheduled, sla_recalc, snapshots
from services.ticketing.store import webhooks as webhook_store
from services.ticketing.store.sla_config import CHANGED as SLA_CONFIG_CHANGED, SLA_CONFIG, sla_of
from services.ticketing.store.collections import (
    CATALOG,
    INDEXES,
    SEARCH_INDEX,
    TICKETS,
    catalog_of,
    duplicates_of,
    prepare as prepare_collections,
)

log = structlog.get_logger()

PUBLISHES = ("ticket.opened", "ticket.assigned", "ticket.escalated", "ticket.progress_noted", "ticket.resolved",
             "ticket.reopened", "ticket.closed", SYNC_REQUESTED, "ticket.attachment_added",
             "ticket.pending", "ticket.requester_replied", "ticket.answered", "ticket.merged", SLA_CONFIG_CHANGED,
             "ticket.sla_breached", "ticket.update_due")
# a replay's answer, to the asking consumer's queue alone (kit/replay.py, store/snapshots.py)
SENDS = (snapshots.SNAPSHOT, replay.COMPLETED)


async def learn_catalog(rt: Runtime) -> None:
    """Load the catalog cache and ask lifecycle to announce the catalog, in the background until the answer to
    this process's own ask came (kit/catalog.py): the service is up meanwhile and refuses tickets of products it
    does not know. Asked even with a copy at hand: on a fresh broker the copy can be a part of the catalog."""
    cache = catalog_of(rt)
    await cache.load()

    async def held() -> bool:
        # the cache learns from this process's own queue, the stored copy from the worker's consumer
        return cache.holds_any() or await rt.store[CATALOG].find_one({}, {"_id": 1}) is not None

    # 4 asks (2 + 4 + 8 s apart) before a copy without an answer is taken as whole: an answer reaches every
    # process through its own cache queue, so only a lifecycle that is away that long leaves it to the copy
    await keep_asking(rt, held, trust_held_after=4)


async def on_stop(rt: Runtime) -> None:
    stop_asking(rt)
    await rt.extras["ticket_numbers"].stop()


async def on_start(rt: Runtime) -> None:
    await ensure_text_index(rt.store[TICKETS], SEARCH_INDEX)
    await sla_of(rt).load()
    await learn_catalog(rt)
    if duplicates_of(rt).in_memory and rt.settings.role in ("all", "api"):
        # in the background: until it is loaded, the intake asks the store as it always did
        rt.extras["duplicates_loading"] = asyncio.create_task(load_duplicate_index(rt))


async def load_duplicate_index(rt: Runtime) -> None:
    started = time.monotonic()
    try:
        count = await duplicates_of(rt).load(datetime.now(UTC))
    except Exception as error:  # noqa: BLE001 - the intake keeps asking the store; a restart loads again
        log.warning("duplicates.index_not_loaded", error=str(error)[:500])
    else:
        log.info("duplicates.index_loaded", tickets=count, seconds=round(time.monotonic() - started, 2))


def prepare(rt: Runtime) -> None:
    prepare_collections(rt)
    # a consumer rebuilding a read model asks for every ticket's current state (kit/replay.py)
    rt.extras["replays"] = replay.ReplaySender(rt, [snapshots.source(TICKETS)], page=rt.settings.replay_page,
                                               pass_seconds=rt.settings.replay_pass_seconds)


def jobs(rt: Runtime) -> list[PeriodicJob]:
    # open tickets follow a changed calendar or policy (store/sla_recalc.py)
    return [PeriodicJob("sla-recalculate", rt.settings.sla_recalculate_seconds, recalculation(rt)),
            webhook_job(rt), *scheduled_jobs(rt), rt.extras["replays"].job(),
            # merges whose process died between their writes: finished or given up (events/merges.py)
            PeriodicJob("merge-recovery", rt.settings.merge_recovery_seconds, lambda: merges.recover(rt))]


def settle(rt: Runtime) -> timedelta:
    return timedelta(seconds=rt.settings.backfill_settle_seconds)


def recalculation(rt: Runtime):
    """The recalculation job's pass: first, until done once, the open tickets stored before they carried
    `sla_open_revision` (which no range finds), then those behind the configuration."""
    unmarked = backfills.OneTime(rt.store, "sla_open_revision",
                                 lambda: sla_recalc.recalculate_unmarked(rt.store, TICKETS, sla_of(rt).load),
                                 settle(rt))

    async def recalculate() -> None:
        await unmarked()
        await sla_recalc.recalculate_open(rt.store, TICKETS, sla_of(rt).load)

    return recalculate


def scheduled_jobs(rt: Runtime) -> list[PeriodicJob]:
    """Breaches, update reminders and auto-close (store/scheduled.py), each pass at the time it starts."""
    s = rt.settings
    lead = timedelta(seconds=s.update_reminder_lead_seconds)
    # tickets stored before the list's keys or the check keys existed, until done once (store/backfills.py). The
    # breach job carries the list's as well: `breached=true` of the list is the stored flag plus this job's check
    # key, and a job of its own would take a lease every minute for as long as the service runs
    list_fields = backfills.OneTime(rt.store, listing.LIST_BACKFILL,
                                    lambda: listing.backfill_pass(rt.store, TICKETS), settle(rt))
    check_fields = backfills.OneTime(rt.store, scheduled.CHECKS_BACKFILL,
                                     lambda: scheduled.backfill_checks(rt.store, TICKETS), settle(rt))

    async def breaches() -> None:
        await list_fields()
        await check_fields()
        await scheduled.raise_breaches(rt, TICKETS, datetime.now(UTC))

    async def closing() -> None:
        calendar = (await sla_of(rt).load()).calendar
        await scheduled.auto_close(rt, TICKETS, datetime.now(UTC), calendar, s.auto_close_days)

    # tickets reminded before they kept when (GET /v1/reminders shows their update_due from then on), once
    walk: dict = {}
    reminded_at = backfills.OneTime(rt.store, "update_reminded_at",
                                    lambda: scheduled.backfill_reminded_at(rt.store, TICKETS, walk), settle(rt))

    async def reminders() -> None:
        await reminded_at()
        await scheduled.remind_updates(rt, TICKETS, datetime.now(UTC), lead)

    return [PeriodicJob("sla-breaches", s.sla_breach_scan_seconds, breaches),
            PeriodicJob("update-reminders", s.sla_breach_scan_seconds, reminders),
            PeriodicJob("auto-close", s.auto_close_scan_seconds, closing)]


def webhook_job(rt: Runtime) -> PeriodicJob:
    """Channel callbacks go out from one replica at a time; the lease outlasts a pass (no attempt starts after
    `webhook_pass_seconds`, none lasts over `webhook_timeout_seconds`)."""
    s = rt.settings
    return PeriodicJob("webhook-delivery", s.webhook_poll_seconds, lambda: webhook_delivery.deliver_due(rt),
                       lease_seconds=max(3 * s.webhook_poll_seconds,
                                         s.webhook_pass_seconds + s.webhook_timeout_seconds + 30))


def create(settings: Settings | None = None) -> FastAPI:
    return create_app(ServiceSpec(
        settings=settings or Settings(),
        title="ticketing 工单",
        description="Consultations 咨询, complaints 投诉, suggestions 建议 and faults 故障, handled in tiers "
                    "(front line → product manager → vendor) until the requester is satisfied.",
        routers=[router, flows.router, attachments.router, webhook_api.router, calendar_router, reminders.router],
        indexes={**INDEXES, **webhook_store.INDEXES, **replay.INDEXES, **merges.INDEXES},
        outbox_collections=[TICKETS, SLA_CONFIG],
        publishes=PUBLISHES,
        sends=SENDS,
        # merges published by the older protocol get their target's half from ticket.merged (events/merges.py)
        subscriptions=lambda rt: [*handlers.subscriptions(rt), *merges.subscriptions(rt),
                                  *sla_config_events.subscriptions(rt), rt.extras["replays"].subscription(),
                                  # lifecycle's shipped optimisations told to the tickets' channels
                                  improvements.subscription(rt)],
        prepare=prepare,
        jobs=jobs,
        on_start=on_start,
        on_stop=on_stop,
    ))
