"""ticketing's MongoDB collections: tickets (the aggregate, with its outbox), the product catalog learnt from
lifecycle's events, and the daily counters behind readable ticket ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, DESCENDING, TEXT, IndexModel, ReturnDocument

from contracts.vocabulary import KIND_ID_PREFIX, Kind
from services.kit.store import Store, public
from services.ticketing.domain.ticket import Ticket
from services.ticketing.store import listing

TICKETS, CATALOG, COUNTERS = "tickets", "catalog", "counters"
SHANGHAI = ZoneInfo("Asia/Shanghai")

INDEXES = {
    TICKETS: [
        IndexModel("idempotency_key", unique=True),
        IndexModel([(listing.SORT_KEY, DESCENDING)]),
        IndexModel([("city", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        IndexModel([("status", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        IndexModel([("product_code", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        IndexModel([("filed_by", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
    ],
    CATALOG: [],
}
# The one text index of TICKETS, created at start by kit.store.ensure_text_index (not in INDEXES: nx-27017 fails
# to create it a second time). No language: the words are segmented already, nothing is stemmed or dropped.
SEARCH_INDEX = IndexModel([(listing.SEARCH_TEXT, TEXT)], default_language="none", name="search_text")


async def next_ticket_id(store: Store, kind: Kind, now: datetime) -> str:
    """Readable id such as TS-20261125-00042: kind prefix, the Shanghai date, a daily counter."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"{KIND_ID_PREFIX[kind]}-{day}"
    counter = await store[COUNTERS].find_one_and_update({"_id": prefix}, {"$inc": {"n": 1}}, upsert=True,
                                                        return_document=ReturnDocument.AFTER)
    return f"{prefix}-{counter['n']:05d}"


def to_document(ticket: Ticket, extra: dict[str, Any]) -> dict[str, Any]:
    """The stored form of `ticket`, with the fields the list and the search read (store/listing.py) derived from
    it here, so that every write of a ticket (the intake's insert, each action's replace) keeps them right."""
    doc = ticket.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    return {**doc, **extra, **listing.derived_fields(ticket)}


def from_document(doc: dict[str, Any]) -> Ticket:
    data = public(doc)
    data["id"] = data.pop("_id")
    for field in listing.DERIVED_FIELDS:
        data.pop(field, None)
    return Ticket.model_validate(data)
