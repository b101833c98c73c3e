"""Open tickets follow a change of the calendar or of the policies applied to them: a scheduled job (one replica
at a time, kit/scheduler.py) recomputes the deadlines of every open ticket computed under an older revision of
the SLA configuration, and writes each with a history entry `sla_recalculated` (old and new deadlines) where
they moved.

Finding them is one indexed range: every ticket document carries `sla_open_revision`, the configuration
revision its deadlines were computed under while it is open (new, in progress, pending, escalated), and None
once resolved or closed (a reopen recomputes it). Open tickets stored before the field existed lack it, and no
range finds a missing field: `recalculate_unmarked` reaches them once (store/backfills.py) and writes it. The
stored configuration, not the process's copy, is the measure, so a replica whose copy lags cannot declare
tickets up to date. The writes go through Store.change in one batch (one read, one bulk write per `BATCH`),
guarded by the revision like every ticket write, so an action racing the job wins or loses cleanly and the
loser decides again on the fresh ticket. Nothing is published: the deadlines ride on the ticket's next event
(and the breach checks read the ticket).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from contracts.vocabulary import TicketStatus
from services.kit.store import ConcurrencyConflict, Store
from services.ticketing.domain.sla import SlaConfig
from services.ticketing.domain.ticket import Actor

log = structlog.get_logger()

SLA_OPEN_REVISION = "sla_open_revision"
OPEN = (TicketStatus.new, TicketStatus.in_progress, TicketStatus.pending, TicketStatus.escalated)
SYSTEM = Actor(sub="system:sla", name="SLA 重算")
BATCH = 200


def open_revision(ticket) -> int | None:
    return ticket.sla_revision if ticket.status in OPEN else None


async def recalculate_open(store: Store, tickets: str, load_config: Callable[[], Any],
                           *, max_batches: int = 25, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> int:
    """Bring open tickets up to the stored configuration's revision; returns how many had deadlines moved."""
    config: SlaConfig = await load_config()
    moved, _ = await _bring_up(store, tickets, config, {SLA_OPEN_REVISION: {"$lt": config.revision}},
                               max_batches=max_batches, now=now)
    return moved


async def recalculate_unmarked(store: Store, tickets: str, load_config: Callable[[], Any],
                               *, max_batches: int = 25,
                               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> bool:
    """Open tickets stored before `sla_open_revision` existed: `$lt` never finds a document without the field,
    so a calendar or policy change passed them by. Found as open with the field None (`{field: None}` matches a
    missing field on both stores, and an open ticket written today always has a number there), brought up to the
    configuration like the others, and written with the field, so that the range finds them from then on. True
    when none is left (store/backfills.py runs it once)."""
    config: SlaConfig = await load_config()
    query = {SLA_OPEN_REVISION: None, "status": {"$in": [s.value for s in OPEN]}}
    _, complete = await _bring_up(store, tickets, config, query, max_batches=max_batches, now=now)
    return complete


async def _bring_up(store: Store, tickets: str, config: SlaConfig, query: dict[str, Any], *, max_batches: int,
                    now: Callable[[], datetime]) -> tuple[int, bool]:
    """Recalculate the open tickets `query` finds under `config`, BATCH at a time: how many had deadlines moved,
    and whether the query found none left (False when `max_batches` ran out first)."""
    from services.ticketing.store.collections import from_document, to_document  # collections imports listing

    moved = 0
    skipped: set[str] = set()
    complete = True  # the loop's `break` on an empty page
    for _ in range(max_batches):
        page = {**query, **({"_id": {"$nin": sorted(skipped)}} if skipped else {})}
        ids = [d["_id"] for d in await store[tickets].find(page, {"_id": 1}).limit(BATCH).to_list()]
        if not ids:
            break
        changed: set[str] = set()

        def decide(doc: dict[str, Any] | None):
            if doc is None:
                return None
            ticket = from_document(doc)
            if open_revision(ticket) is None:
                return None  # resolved or closed since it was found: its write stored None, nothing follows
            if ticket.sla_revision >= config.revision and doc.get(SLA_OPEN_REVISION) == open_revision(ticket):
                return None  # an action got there first with the same configuration
            change = ticket.recalculate_sla(config, now())
            if change is not None:
                ticket.record_sla_recalculated({**change, "reason": "calendar or policy changed"}, SYSTEM, now(),
                                               new_version=True)
                changed.add(ticket.id)
            return {**doc, **to_document(ticket, {})}, []

        results = await asyncio.gather(*(store.change(tickets, ticket_id, decide) for ticket_id in ids),
                                       return_exceptions=True)
        for ticket_id, result in zip(ids, results):
            if isinstance(result, ConcurrencyConflict):
                continue  # the next run sees it again
            if isinstance(result, Exception):
                log.warning("sla.recalculate.failed", ticket_id=ticket_id, error=repr(result))
                skipped.add(ticket_id)
        moved += len(changed)
        if len(ids) < BATCH:
            complete = True
            break
    else:
        complete = False
    if moved:
        log.info("sla.recalculated", tickets=moved, revision=config.revision)
    return moved, complete
