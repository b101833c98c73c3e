"""`ticket.closed` → the product's optimisation backlog (one backlog item document per normalised title)."""

from __future__ import annotations

from contracts.events import Envelope, TicketClosed
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.lifecycle.domain import backlog
from services.lifecycle.events.catalog import republish_catalog
from services.lifecycle.store.collections import BACKLOG

TICKETS_QUEUE = "lifecycle.tickets"


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_closed(envelope: Envelope) -> None:
        await record_closed_ticket(rt, envelope)

    async def on_catalog_sync_requested(envelope: Envelope) -> None:
        await republish_catalog(rt)

    return [Subscription(TICKETS_QUEUE, ("ticket.closed",), on_ticket_closed),
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
