"""What the ticket list reads besides the ticket itself: derived fields stored on every ticket document, so that
every filter of GET /v1/tickets is an equality or a string range that both document stores answer from an index.

- `sort_key`: `<opened_at as fixed-width UTC text>|<id>`, unique, so newest first is one descending string
  order and a cursor page is `sort_key < cursor` (nx-27017 plans datetime ranges and `$or` as Python scans);
- `breach_key`: the moment the ticket is past a deadline unless something happens, as the same fixed-width text,
  or NEVER: `breached=true` is `breach_key < now`, `breached=false` is `breach_key >= now`;
- `breach_seen`: "y" when the ticket was already breached as it was written (a breach raised, or its breach
  moment before its last change), else "n". Breached stays breached while the ticket stays as it is, so
  `breached=true` is the index range `breach_seen = y` plus the few tickets that went past their moment since
  they were last written, which the breach job has not reached yet and which its own check field finds
  (`sla_breach_check < now`, store/scheduled.py): two small index ranges instead of a walk of the sort index
  past every ticket that is not breached (`breach_key < now` beside the sort);
- `sla_open_revision`: the SLA configuration revision an open ticket's deadlines were computed under (None once
  resolved or closed), for the recalculation after a calendar or policy change (store/sla_recalc.py);
- `sla_breach_check`, `update_remind_check`, `auto_close_check`: when the scheduled jobs have something to do for
  the ticket (store/scheduled.py);
- `search_text`: the words of title, description and customer group (services/kit/text.py), each also marked with
  the week the ticket was opened in, for the text index (see store/search.py for why the week);
- `dup_key`: the key of its product and customer group, for duplicate detection (domain/duplicates.py);
- `received_key`: `received_at` as the same fixed-width text, for `received_from`/`received_to`: the stored
  received_at is a datetime, and a datetime range is a Python scan on nx-27017.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pydantic
import structlog

from services.kit import text
from services.kit.store import ConcurrencyConflict
from services.ticketing.domain import duplicates
from services.ticketing.domain.ticket import Ticket
from services.ticketing.store import scheduled
from services.ticketing.store.sla_recalc import SLA_OPEN_REVISION, open_revision

if TYPE_CHECKING:
    from services.kit.store import Store

log = structlog.get_logger()

SORT_KEY, BREACH_KEY, SEARCH_TEXT, DUP_KEY = "sort_key", "breach_key", "search_text", "dup_key"
RECEIVED_KEY, BREACH_SEEN = "received_key", "breach_seen"
NEVER = "never"  # sorts after every timestamp text ("n" > "9")
DERIVED_FIELDS = (SORT_KEY, BREACH_KEY, BREACH_SEEN, SEARCH_TEXT, SLA_OPEN_REVISION, DUP_KEY, RECEIVED_KEY,
                  *scheduled.CHECK_FIELDS)


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

    `Ticket.breached(now)` is "now is past one of `Ticket.deadlines_in_play()`" (respond, resolve, a complaint's
    update, each taken out by a response or resolution in time, kept by a late one, frozen by an open pause).
    So for every now at or after the ticket's last change, breached(now) ⟺ now > the earliest of them."""
    return min(ticket.deadlines_in_play(), default=None)


def breach_key(ticket: Ticket) -> str:
    moment = breach_moment(ticket)
    return NEVER if moment is None else instant_text(moment)


def breach_seen(ticket: Ticket) -> str:
    """"y" if `ticket.breached(now)` holds for every now from its last change on, as it is stored: a breach was
    raised (a raised deadline stays in play), or the breach moment lies before the last change."""
    moment = breach_moment(ticket)
    return "y" if ticket.sla_breaches or (moment is not None and moment < ticket.updated_at) else "n"


def search_text(ticket: Ticket) -> str:
    words = text.index_words(ticket.title, ticket.description, ticket.customer.group_name)
    week = period_name(week_of(ticket.opened_at))
    return " ".join([*words, *(text.in_period(word, week) for word in words)])


def dup_key(ticket: Ticket) -> str:
    return duplicates.group_key(ticket.product_code,
                                duplicates.group_of(ticket.customer.group_name, ticket.customer.group_code))


def derived_fields(ticket: Ticket) -> dict[str, Any]:
    return {SORT_KEY: sort_key(ticket), BREACH_KEY: breach_key(ticket), BREACH_SEEN: breach_seen(ticket),
            SEARCH_TEXT: search_text(ticket),
            SLA_OPEN_REVISION: open_revision(ticket), DUP_KEY: dup_key(ticket),
            RECEIVED_KEY: instant_text(ticket.received_at), **scheduled.check_fields(ticket)}


# The keys whose absence marks a ticket stored before they existed. Each is text on every ticket written today,
# never null, so `{key: None}` ("missing or null") finds exactly the tickets that lack it on MongoDB and on
# nx-27017 alike, from the key's index; `{key: {$exists: false}}` would not (it matches a null too on nx-27017,
# kit/store.py). Found once and then never looked for again (store/backfills.py), so the one-time record is named
# by the keys: a key added here is a backfill not yet done, run again once on every store.
BACKFILLED = (SORT_KEY, RECEIVED_KEY, BREACH_SEEN)
LIST_BACKFILL = "list_fields:" + ",".join(BACKFILLED)


async def backfill(store: "Store", collection: str, *, keys: tuple[str, ...] = BACKFILLED, batch: int = 200,
                   max_batches: int = 25) -> int:
    """Add the derived fields to tickets stored before `keys` existed; how many it updated."""
    updated, _ = await _backfill(store, collection, keys, batch=batch, max_batches=max_batches)
    return updated


async def backfill_pass(store: "Store", collection: str, *, keys: tuple[str, ...] = BACKFILLED, batch: int = 200,
                        max_batches: int = 25) -> bool:
    """`backfill` as a one-time step (store/backfills.py): True once a pass found no ticket left that lacks one
    of `keys`, False when `max_batches` ran out first, so that a large store finishes over several passes."""
    _, complete = await _backfill(store, collection, keys, batch=batch, max_batches=max_batches)
    return complete


async def _backfill(store: "Store", collection: str, keys: tuple[str, ...], *, batch: int,
                    max_batches: int) -> tuple[int, bool]:
    """`batch` documents at a time and at most `max_batches` per call, so that a call finishes well within its job's
    lease. The keys are asked one after the other (`{key: None}`, one flat filter each, from the key's index), not
    as one `$or`, which nx-27017 evaluates in Python over the collection. Idempotent: a ticket changed meanwhile
    through the API got its fields from that write, and the conflict only means there is nothing left to do for it.
    Each ticket is written whole as today's writes store it (collections.to_document), as the checks' backfill
    always wrote it, so that the two are one rewrite. A ticket that cannot be read is logged and passed over: it
    does not keep a pass from being the last, as no later pass could read it either."""
    from services.ticketing.store.collections import from_document, to_document  # collections imports this module

    updated, unreadable, complete = 0, set(), True
    for _ in range(max_batches):
        docs = []
        for key in keys:
            missing = {key: None, **({"_id": {"$nin": sorted(unreadable)}} if unreadable else {})}
            docs = await store[collection].find(missing).limit(batch).to_list()
            if docs:
                break
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
                await store.replace(collection, {**doc, **to_document(ticket, {})})
                updated += 1
            except ConcurrencyConflict:
                pass
    else:
        complete = False  # every page of the pass found tickets: maybe more
    if updated:
        log.info("listing.backfill", keys=",".join(keys), updated=updated)
    return updated, complete
