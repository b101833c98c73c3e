"""Ticketing's events on one queue, `lifecycle.tickets`, each applied by the read models it concerns:

- `ticket.closed` → the product's optimisation backlog (one backlog item document per normalised title);
- `ticket.opened` / `ticket.closed` → trial feedback (events/trials.py);
- `ticket.opened` / `resolved` / `reopened` / `closed` → the fault read model (events/maintenance.py).

One queue rather than one per read model: every intake's `ticket.opened` was delivered twice and every closure
three times (six deliveries for a resolve and close), each costing lifecycle and the broker more than the handler
that dropped most of them. The handlers are independent and idempotent, so a retry after one of them failed
applies the others again harmlessly. The queues of the earlier version are drained and retired at start.

The openings of a kind that no read model here records (consultations, most of an intake) are kept from the
queue by the broker (kit/broker.Skip): at intake load lifecycle took each of them off the queue, parsed and
acknowledged it only to drop it."""

from __future__ import annotations

from contracts.events import Envelope, TicketClosed
from contracts.vocabulary import Kind
from services.kit.app import Runtime
from services.kit.broker import Skip
from services.kit.consumer import Subscription
from services.lifecycle.domain import backlog
from services.lifecycle.domain.trials import FEEDBACK_KINDS
from services.lifecycle.events.catalog import republish_catalog
from services.lifecycle.events.maintenance import FAULT_EVENTS, record_fault
from services.lifecycle.events.trials import FEEDBACK_EVENTS, record_feedback
from services.lifecycle.store.collections import BACKLOG

TICKETS_QUEUE = "lifecycle.tickets"
TICKET_EVENTS = tuple(dict.fromkeys(("ticket.closed", *FEEDBACK_EVENTS, *FAULT_EVENTS)))
# the kinds whose opening neither the fault read model nor the trial feedback records
UNRECORDED_OPENINGS = tuple(kind.value for kind in Kind if kind != Kind.fault and kind not in FEEDBACK_KINDS)
# the queues of the version before this one, with the keys they were bound to (kit/consumer.Subscription.replaces)
REPLACED_QUEUES = (("lifecycle.trial_feedback", FEEDBACK_EVENTS), ("lifecycle.faults", FAULT_EVENTS))


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_event(envelope: Envelope) -> None:
        if envelope.type == "ticket.closed":
            await record_closed_ticket(rt, envelope)
        if envelope.type in FEEDBACK_EVENTS:
            await record_feedback(rt, envelope)
        if envelope.type in FAULT_EVENTS:
            await record_fault(rt, envelope)

    async def on_catalog_sync_requested(envelope: Envelope) -> None:
        await republish_catalog(rt)

    return [Subscription(TICKETS_QUEUE, TICKET_EVENTS, on_ticket_event, replaces=REPLACED_QUEUES,
                         skips=(Skip("ticket.opened", "kind", UNRECORDED_OPENINGS),)),
            Subscription("lifecycle.catalog_sync", ("catalog.sync_requested",), on_catalog_sync_requested)]


async def record_closed_ticket(rt: Runtime, envelope: Envelope) -> None:
    """Count the ticket in its backlog item, once. The product may be missing from the catalog (it can lag
    behind ticketing): the item is recorded all the same."""
    ticket = envelope.payload(TicketClosed)
    if not backlog.qualifies(ticket):
        return
    seen_at = ticket.closed_at or envelope.time
    item_id = backlog.item_id(ticket.product_code, backlog.grouping_key(ticket))

    def decide(current):
        changed = backlog.add_ticket(current, ticket, seen_at=seen_at)
        return None if changed is None else (changed, [])

    await rt.store.change(BACKLOG, item_id, decide)
