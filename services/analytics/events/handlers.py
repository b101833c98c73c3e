"""Event consumers of analytics: every ticket event updates the ticket's read-model document."""

from __future__ import annotations

import structlog

from contracts.events import EVENT_TYPES, Envelope, TicketEvent
from services.analytics.domain.tickets import EXTRA_FIELDS, SLA_BREACHED, apply_event, snapshot
from services.analytics.store.collections import PRODUCTS, TICKETS
from services.analytics.store.counters import mark_dirty
from services.kit.app import Runtime
from services.kit.catalog import product_names
from services.kit.consumer import PoisonMessage, Subscription

log = structlog.get_logger()

TICKETS_QUEUE = "analytics.tickets"
MERGED_EVENT = "ticket.merged"
# Every ticket event carries the ticket's state, so the read model hears them all: a pause, a hand-back or a
# merge changes what the figures count as much as a resolution does.
# (Not the snapshots of a rebuild: they come to the asker's own queue alone, events/rebuild.py.)
TICKET_EVENTS = tuple(t for t, model in EVENT_TYPES.items()
                      if issubclass(model, TicketEvent) and t != "ticket.snapshot")


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_event(envelope: Envelope) -> None:
        await apply_ticket_event(rt, envelope)

    # product names for the labels of breakdowns and reports
    return [Subscription(TICKETS_QUEUE, TICKET_EVENTS, on_ticket_event),
            product_names(rt, queue="analytics.catalog", collection=PRODUCTS)]


async def apply_ticket_event(rt: Runtime, envelope: Envelope) -> None:
    event = envelope.payload(TicketEvent)  # a ValidationError sends the message to the DLQ
    if envelope.subject != event.ticket_id:
        raise PoisonMessage(f"subject {envelope.subject!r} is not the ticket {event.ticket_id!r} it carries")
    state = snapshot({**event.model_dump(include=set(TicketEvent.model_fields)),
                      **{k: v for k, v in envelope.data.items() if k in EXTRA_FIELDS}})
    if envelope.type == MERGED_EVENT:
        # ticket.merged and the ticket.closed of a merge carry one sequence, so whichever arrives first is the one
        # kept: the merge itself must say how the ticket was closed, or a merged duplicate would count as closed.
        state["close_reason"] = "merged"
    # The breach itself is what counts; a producer that forgot which deadline still reports one.
    deadline = str(envelope.data.get("deadline") or "unspecified") if envelope.type == SLA_BREACHED else None

    def decide(current):
        doc = apply_event(current, event_type=envelope.type, sequence=envelope.sequence, event_time=envelope.time,
                          state=state, breach_deadline=deadline)
        if doc is None:
            log.debug("ticket.event_ignored", ticket_id=event.ticket_id, sequence=envelope.sequence)
            return None
        mark_dirty(doc)  # the counters job folds the change into the counters (store/counters.py)
        return doc, []

    await rt.store.change(TICKETS, event.ticket_id, decide)
