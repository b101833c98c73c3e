"""Open tickets follow a change of the calendar or of the policies applied to them: a scheduled job (one replica
at a time, kit/scheduler.py) recomputes the deadlines of every open ticket computed under an older revision of
the SLA configuration, and writes each with a history entry `sla_recalculated` (old and new deadlines) where
they moved.

Finding them is one indexed range: every ticket document carries `sla_open_revision`, the configuration
revision its deadlines were computed under while it is open (new, in progress, pending, escalated), and None
once resolved or closed (a reopen recomputes it). The stored configuration, not the process's copy, is the
measure, so a replica whose copy lags cannot declare tickets up to date. The writes go through Store.change in
one batch (one read, one bulk write per `BATCH`), guarded by the revision like every ticket write, so an action
racing the job wins or loses cleanly and the loser decides again on the fresh ticket. Nothing is published: the
deadlines ride on the ticket's next event (and the breach checks read the ticket).
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
    from services.ticketing.store.collections import from_document, to_document  # collections imports listing

    config: SlaConfig = await load_config()
    moved = 0
    skipped: set[str] = set()
    for _ in range(max_batches):
        query: dict[str, Any] = {SLA_OPEN_REVISION: {"$lt": config.revision}}
        if skipped:
            query["_id"] = {"$nin": sorted(skipped)}
        ids = [d["_id"] for d in await store[tickets].find(query, {"_id": 1}).limit(BATCH).to_list()]
        if not ids:
            break
        changed: set[str] = set()

        def decide(doc: dict[str, Any] | None):
            if doc is None:
                return None
            ticket = from_document(doc)
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
            break
    if moved:
        log.info("sla.recalculated", tickets=moved, revision=config.revision)
    return moved
