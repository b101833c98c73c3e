"""ticketing's MongoDB collections: tickets (the aggregate, with its outbox), the product catalog learnt from
lifecycle's events, and the daily counters behind readable ticket ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, DESCENDING, IndexModel

from contracts.vocabulary import KIND_ID_PREFIX, Kind
from services.kit.app import Runtime
from services.kit.cache import DocumentCache
from services.kit.ids import Sequences
from services.kit.store import public
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


TICKET_NUMBER_BLOCK = 50  # numbers a process reserves at once: one counter write per 50 tickets of a kind a day


def prepare(rt: Runtime) -> None:
    """What ticketing's requests and handlers share: the catalog cache and the ticket number blocks."""
    rt.extras["catalog"] = DocumentCache(rt.store, CATALOG)
    rt.extras["ticket_numbers"] = Sequences(rt.store, block=TICKET_NUMBER_BLOCK, collection=COUNTERS)


def catalog_of(rt: Runtime) -> DocumentCache:
    return rt.extras["catalog"]


async def next_ticket_id(rt: Runtime, kind: Kind, now: datetime) -> str:
    """Readable id such as TS-20261125-00042: kind prefix, the Shanghai date, a daily counter. Unique; numbers
    a process reserved and did not use (kit/ids.py) are skipped."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"{KIND_ID_PREFIX[kind]}-{day}"
    return f"{prefix}-{await rt.extras['ticket_numbers'].next(prefix):05d}"


def to_document(ticket: Ticket, extra: dict[str, Any]) -> dict[str, Any]:
    doc = ticket.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    return {**doc, **extra}


def from_document(doc: dict[str, Any]) -> Ticket:
    data = public(doc)
    data["id"] = data.pop("_id")
    return Ticket.model_validate(data)
