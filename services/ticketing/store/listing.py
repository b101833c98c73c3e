"""What the ticket list reads besides the ticket itself: derived fields stored on every ticket document, so that
every filter of GET /v1/tickets is an equality or a string range that both document stores answer from an index.

- `sort_key`: `<opened_at as fixed-width UTC text>|<id>`, unique, so newest first is one descending string
  order and a cursor page is `sort_key < cursor` (nx-27017 plans datetime ranges and `$or` as Python scans);
- `breach_key`: the moment the ticket is past a deadline unless something happens, as the same fixed-width text,
  or NEVER: `breached=true` is `breach_key < now`, `breached=false` is `breach_key >= now`;
- `search_text`: the words of title, description and customer group (services/kit/text.py), each also marked with
  the week the ticket was opened in, for the text index (see store/search.py for why the week).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pydantic
import structlog

from contracts.vocabulary import TicketStatus
from services.kit import text
from services.kit.store import ConcurrencyConflict
from services.ticketing.domain.ticket import Ticket

if TYPE_CHECKING:
    from services.kit.store import Store

log = structlog.get_logger()

SORT_KEY, BREACH_KEY, SEARCH_TEXT = "sort_key", "breach_key", "search_text"
NEVER = "never"  # sorts after every timestamp text ("n" > "9")
DERIVED_FIELDS = (SORT_KEY, BREACH_KEY, SEARCH_TEXT)


def instant_text(moment: datetime) -> str:
    """Fixed-width UTC text, ISO 8601's basic format (20261125T090000.000000Z): ordering the texts orders the
    instants. Not the extended format with dashes: nx-27017 takes a query value that starts like 2026-11-25 for a
    date and sends the query down a slow path that compares it wrongly (see services/kit/store.py)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def week_of(moment: datetime) -> datetime:
    """The search period of an instant: its UTC week, from Monday 00:00 (UTC like the sort key, so a week is one
    range of sort keys)."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def period_name(week: datetime) -> str:
    return week.strftime("%Y%m%d")


def sort_key(ticket: Ticket) -> str:
    return f"{instant_text(ticket.opened_at)}|{ticket.id}"


def breach_moment(ticket: Ticket) -> datetime | None:
    """The instant after which `ticket.breached(now)` holds while the ticket stays as it is; None if never.

    `Ticket.breached(now)` is `(first_response_at or now) > respond_by or (resolved_at if resolved/closed else
    now) > resolve_by`. A response at or before respond_by takes that deadline out for good, a later one keeps it
    (now ≥ first_response_at > respond_by); likewise for the resolution while the ticket stays resolved or closed.
    So for every now at or after the ticket's last change, breached(now) ⟺ now > the earliest deadline still in
    play."""
    deadlines = []
    if ticket.first_response_at is None or ticket.first_response_at > ticket.respond_by:
        deadlines.append(ticket.respond_by)
    resolved = ticket.status in (TicketStatus.resolved, TicketStatus.closed)
    ended = ticket.resolved_at or ticket.closed_at  # a merged duplicate closes without a resolution
    if not resolved or ended is None or ended > ticket.resolve_by:
        deadlines.append(ticket.resolve_by)
    return min(deadlines) if deadlines else None


def breach_key(ticket: Ticket) -> str:
    moment = breach_moment(ticket)
    return NEVER if moment is None else instant_text(moment)


def search_text(ticket: Ticket) -> str:
    words = text.index_words(ticket.title, ticket.description, ticket.customer.group_name)
    week = period_name(week_of(ticket.opened_at))
    return " ".join([*words, *(text.in_period(word, week) for word in words)])


def derived_fields(ticket: Ticket) -> dict[str, Any]:
    return {SORT_KEY: sort_key(ticket), BREACH_KEY: breach_key(ticket), SEARCH_TEXT: search_text(ticket)}


async def backfill(store: "Store", collection: str, *, batch: int = 200, max_batches: int = 25) -> int:
    """Add the derived fields to tickets stored before they existed, `batch` documents at a time and at most
    `max_batches` per call (the scheduler calls again), so it finishes well within its job's lease. Idempotent:
    the documents it looks for are those without a sort key (`{sort_key: None}`, which the sort key's index
    answers on both stores); a ticket changed meanwhile through the API got its fields from that write, and the
    conflict only means there is nothing left to do for it. Returns how many it updated."""
    from services.ticketing.store.collections import from_document  # collections imports this module

    updated, unreadable = 0, set()
    for _ in range(max_batches):
        missing = {SORT_KEY: None, **({"_id": {"$nin": sorted(unreadable)}} if unreadable else {})}
        docs = await store[collection].find(missing).limit(batch).to_list()
        if not docs:
            break
        for doc in docs:
            try:
                ticket = from_document(doc)
            except pydantic.ValidationError:
                log.warning("listing.backfill.unreadable", ticket_id=doc["_id"])
                unreadable.add(doc["_id"])
                continue
            try:
                await store.replace(collection, {**doc, **derived_fields(ticket)})
                updated += 1
            except ConcurrencyConflict:
                pass
    if updated:
        log.info("listing.backfill", updated=updated)
    return updated
