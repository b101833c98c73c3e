"""ticketing's answer to a replay request for `ticket` (services/kit/replay.py): one `ticket.snapshot` per stored
ticket, its current state as every ticket event carries it, sent to the asking consumer's queue alone."""

from __future__ import annotations

from typing import Any

from contracts.events import Envelope, TicketSnapshot
from services.kit.replay import ReplaySource
from services.kit.store import OUTBOX
from services.ticketing.domain.ticket import Actor
from services.ticketing.store import listing
from services.ticketing.store.collections import FIRST_ANSWER, FIRST_ANSWER_Z

SNAPSHOT = "ticket.snapshot"
# What a snapshot does not need of a stored ticket: its texts and lists that no ticket event carries, and the
# events it still owes (the most of a big ticket's document; the history stays, for who made the last change).
PROJECTION = {field: 0 for field in ("notes", "attachments", "related_requesters", FIRST_ANSWER, FIRST_ANSWER_Z,
                                     "customer", "description", listing.SEARCH_TEXT, OUTBOX)}


def snapshot(doc: dict[str, Any], request_id: str) -> Envelope:
    """The snapshot of a stored ticket: `sequence` its version, `time` its last change, `actor` who made it."""
    from services.ticketing.store.collections import from_document  # collections imports this module's siblings

    ticket = from_document({"customer": {"name": "", "group_name": ""}, "description": "", **doc})
    last = ticket.history[-1] if ticket.history else None
    actor = Actor(sub=last.actor, name=last.actor_name) if last else None
    payload = TicketSnapshot(**ticket.state(actor), request_id=request_id, title=ticket.title,
                             breached_deadlines=sorted({b.deadline for b in ticket.sla_breaches}),
                             close_reason=ticket.close_reason, merged_into=ticket.merged_into)
    envelope = Envelope.wrap(payload, type=SNAPSHOT, source="ticketing", subject=ticket.id, sequence=ticket.version,
                             correlationid=request_id)
    return envelope.model_copy(update={"time": ticket.updated_at})


def source(tickets: str) -> ReplaySource:
    return ReplaySource("ticket", tickets, snapshot, PROJECTION)
