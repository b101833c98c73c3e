"""`ticket.closed` → the product's optimisation backlog (one backlog item document per normalised title)."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from contracts.events import Envelope, TicketClosed
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.kit.store import ConcurrencyConflict
from services.lifecycle.domain import backlog
from services.lifecycle.store.collections import BACKLOG

TICKETS_QUEUE = "lifecycle.tickets"
ATTEMPTS = 5


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_closed(envelope: Envelope) -> None:
        await record_closed_ticket(rt, envelope)

    return [Subscription(TICKETS_QUEUE, ("ticket.closed",), on_ticket_closed)]


async def record_closed_ticket(rt: Runtime, envelope: Envelope) -> None:
    """Count the ticket in its backlog item, once. The product may be missing from the catalog (it can lag
    behind ticketing): the item is recorded all the same."""
    ticket = envelope.payload(TicketClosed)
    if not backlog.qualifies(ticket):
        return
    seen_at = ticket.closed_at or envelope.time
    item_id = backlog.item_id(ticket.product_code, backlog.grouping_key(ticket))
    for _ in range(ATTEMPTS):
        current = await rt.store[BACKLOG].find_one({"_id": item_id})
        changed = backlog.add_ticket(current, ticket, seen_at=seen_at)
        if changed is None:
            return
        try:
            if current is None:
                await rt.store.insert(BACKLOG, changed)
            else:
                await rt.store.replace(BACKLOG, changed)
            return
        except (DuplicateKeyError, ConcurrencyConflict):
            continue  # another consumer wrote the item meanwhile: read it again
    raise ConcurrencyConflict(f"backlog item {item_id} kept changing")
