"""ticketing's MongoDB collections: tickets (the aggregate, with its outbox), the product catalog learnt from
lifecycle's events, and the daily counters behind readable ticket ids."""

from __future__ import annotations

import base64
import zlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, DESCENDING, TEXT, IndexModel

from contracts.vocabulary import KIND_ID_PREFIX, Kind
from services.kit.app import Runtime
from services.kit.cache import DocumentCache
from services.kit.ids import Sequences
from services.kit.store import public
from services.ticketing.domain.ticket import Ticket
from services.ticketing.store import listing, scheduled
from services.ticketing.store.duplicates import DuplicateFinder
from services.ticketing.store.sla_config import SLA_CONFIG, SlaConfigCache
from services.ticketing.store.sla_recalc import SLA_OPEN_REVISION

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
        # every documented equality filter has its own, so that a page never walks past a run of newer
        # tickets that do not match (a burst of one kind, a day of one channel); one costs nx-27017 ~0.01 ms
        # per insert
        IndexModel([("kind", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        IndexModel([("channel", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        IndexModel([("assignee", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        IndexModel([("tier", ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        # a customer group's newest tickets of a product, for possible duplicates (store/duplicates.py)
        IndexModel([(listing.DUP_KEY, ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        # received_from / received_to: a string range (listing.RECEIVED_KEY says why not the datetime)
        IndexModel([(listing.RECEIVED_KEY, ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        # breached=true: the tickets already breached when written, newest first (store/listing.py)
        IndexModel([(listing.BREACH_SEEN, ASCENDING), (listing.SORT_KEY, DESCENDING)]),
        IndexModel(SLA_OPEN_REVISION),  # open tickets behind the SLA configuration (store/sla_recalc.py)
        # what the scheduled jobs look for, each one string range (store/scheduled.py)
        *(IndexModel(field) for field in scheduled.CHECK_FIELDS),
    ],
    CATALOG: [],
    SLA_CONFIG: [],
}
# The one text index of TICKETS, created at start by kit.store.ensure_text_index (not in INDEXES: nx-27017 fails
# to create it a second time). No language: the words are segmented already, nothing is stemmed or dropped.
SEARCH_INDEX = IndexModel([(listing.SEARCH_TEXT, TEXT)], default_language="none", name="search_text")


TICKET_NUMBER_BLOCK = 50  # numbers a process reserves at once: one counter write per 50 tickets of a kind a day


def prepare(rt: Runtime) -> None:
    """What ticketing's requests and handlers share: the catalog cache and the ticket number blocks."""
    rt.extras["catalog"] = DocumentCache(rt.store, CATALOG)
    rt.extras["ticket_numbers"] = Sequences(rt.store, block=TICKET_NUMBER_BLOCK, collection=COUNTERS)
    settings = rt.settings
    rt.extras["sla"] = SlaConfigCache(rt.store, (settings.work_day_start, settings.work_day_end))
    rt.extras["duplicates"] = DuplicateFinder(
        rt.store, TICKETS, threshold=settings.duplicate_min_similarity, candidates=settings.duplicate_candidates,
        limit=settings.duplicate_limit, max_tickets=settings.duplicate_index_max_tickets,
        in_memory=settings.duplicate_detection and settings.duplicate_index)


def duplicates_of(rt: Runtime) -> DuplicateFinder:
    return rt.extras["duplicates"]


def catalog_of(rt: Runtime) -> DocumentCache:
    return rt.extras["catalog"]


async def next_ticket_id(rt: Runtime, kind: Kind, now: datetime) -> str:
    """Readable id such as TS-20261125-00042: kind prefix, the Shanghai date, a daily counter. Unique; numbers
    a process reserved and did not use (kit/ids.py) are skipped."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"{KIND_ID_PREFIX[kind]}-{day}"
    return f"{prefix}-{await rt.extras['ticket_numbers'].next(prefix):05d}"


# The first answer of an intake that carried an Idempotency-Key, kept for its replays. Compressed (zlib, as base64
# text): as JSON in the document's JSON it was two fifths of a stored ticket (1.9 of 4.6 KB, its quotes escaped),
# and nx-27017 parses a document's whole JSON text for each expression index it keeps and each filter it scans
# (10.0 µs a row with the answer, 6.6 without) and decodes it whole for every read, projections included.
FIRST_ANSWER_Z = "first_answer_z"
FIRST_ANSWER = "first_answer"  # the older forms: the JSON text as sent, before that its fields


def kept_answer(answer: str) -> dict[str, str]:
    """The fields that keep `answer` (the JSON text of the 201) in a ticket's document."""
    return {FIRST_ANSWER_Z: base64.b64encode(zlib.compress(answer.encode(), 6)).decode("ascii")}


def first_answer(doc: dict[str, Any]) -> str | dict[str, Any] | None:
    """The first answer kept in `doc` in any of its forms: JSON text, or its fields as a document (the oldest)."""
    if FIRST_ANSWER_Z in doc:
        return zlib.decompress(base64.b64decode(doc[FIRST_ANSWER_Z])).decode()
    return doc.get(FIRST_ANSWER)


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
