"""ticketing's MongoDB collections: tickets (the aggregate, with its outbox), the product catalog learnt from
lifecycle's events, and the daily counters behind readable ticket ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from contracts.vocabulary import KIND_ID_PREFIX, Kind
from services.kit.store import Store, public
from services.ticketing.domain.ticket import Ticket

TICKETS, CATALOG, COUNTERS = "tickets", "catalog", "counters"
SHANGHAI = ZoneInfo("Asia/Shanghai")

INDEXES = {
    TICKETS: [
        IndexModel("idempotency_key", unique=True),
        IndexModel([("opened_at", DESCENDING)]),  # nx-27017 cannot index `_id` inside a compound index
        IndexModel([("status", ASCENDING), ("opened_at", DESCENDING)]),
        IndexModel("product_code"),
        IndexModel("city"),
        IndexModel("escalated_to"),
        IndexModel("filed_by"),
    ],
    CATALOG: [],
}


async def next_ticket_id(store: Store, kind: Kind, now: datetime) -> str:
    """Readable id such as TS-20261125-00042: kind prefix, the Shanghai date, a daily counter."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"{KIND_ID_PREFIX[kind]}-{day}"
    counter = await store[COUNTERS].find_one_and_update({"_id": prefix}, {"$inc": {"n": 1}}, upsert=True,
                                                        return_document=ReturnDocument.AFTER)
    return f"{prefix}-{counter['n']:05d}"


def to_document(ticket: Ticket, extra: dict[str, Any]) -> dict[str, Any]:
    doc = ticket.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    return {**doc, **extra}


def from_document(doc: dict[str, Any]) -> Ticket:
    data = public(doc)
    data["id"] = data.pop("_id")
    return Ticket.model_validate(data)
