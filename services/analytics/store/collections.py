"""Collections of the analytics database and the queries over them."""

from __future__ import annotations

from datetime import datetime

from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from services.analytics.store import counters

TICKETS = "tickets"  # the per-ticket read model, `_id` = ticket id (domain/tickets.py)
PRODUCTS = "products"  # the catalog's product names, from lifecycle's events (kit/catalog.py)
REBUILDS = "rebuilds"  # the rebuilds asked of ticketing, with their progress (events/rebuild.py)

INDEXES = {
    TICKETS: [
        IndexModel([("event_time", DESCENDING)]),
        IndexModel([("opened_at", 1)]),
        IndexModel([("product_code", 1), ("opened_at", 1)]),
        IndexModel([("city", 1), ("opened_at", 1)]),
        # what the counters job has still to count, in day order (store/counters.py)
        IndexModel([("_dirty", 1), ("_day", 1)], sparse=True),
    ],
    **counters.INDEXES,
}

# What the metrics read of a ticket: the rest of the document stays in the store.
SUMMARY_FIELDS = ("ticket_id", "status", "received_at", "opened_at", "first_response_at", "resolved_at", "closed_at",
                  "responded_timely", "timely", "satisfied", "reopen_count", "tier_reached", "close_reason")


async def newest_event_time(tickets: AsyncCollection) -> datetime | None:
    """When the newest event applied to the read model happened (the `as_of` of every figure)."""
    newest = await tickets.find({"event_time": {"$ne": None}}, {"event_time": 1}).sort("event_time", DESCENDING) \
        .limit(1).to_list()
    return newest[0]["event_time"] if newest else None
