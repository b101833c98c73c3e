"""ticketing's scheduled work (issue 8 point 4): SLA breaches, update reminders, auto-close. Each is a
PeriodicJob (kit/scheduler.py, one replica at a time under a lease) whose pass takes `now` as an argument, so a
test drives it with the clock it wants.

Finding the tickets: each rule of domain/schedule.py says from when on it has something to do for a ticket, and
that instant is stored on the ticket document as fixed-width text (listing.instant_text, NEVER when nothing), in
a field of its own with an index of its own, derived on every write of the ticket (collections.to_document):

- `sla_breach_check`: the earliest deadline in play not raised yet; due when `< now`;
- `update_remind_check`: the `update_by` not reminded of yet (open, not paused); due when in `(now, now+lead]`;
- `auto_close_check`: the latest resolution of a resolved ticket; due when `<=` the cutoff of
  domain/schedule.auto_close_cutoff (resolved `auto_close_days` business days before now). NEVER while the
  ticket is reserved for a merge (events/merges.py: the reservation and its release are ticket writes, so the
  key follows them): the job does not find it then, and finds it again once the reservation is released.

Each is one string range on one field, which both stores serve from the index (a datetime range would be a scan
on nx-27017, kit/store.py). A ticket whose moment passed while no job ran (the service down) is found by the
next run; a ticket written again meanwhile has its key written again with it.

Nothing twice: what was raised or reminded is kept on the ticket (`sla_breaches`, `update_reminders`) and
written together with its events through Store.change (the transactional outbox), guarded by the ticket's
revision. Two replicas (or a run overlapping its successor past a lost lease) that decide the same breach race
on that guard: one write lands, the other reads the ticket again, finds the breach recorded and decides nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from services.kit.store import ConcurrencyConflict, Store, eq
from services.ticketing.domain import schedule
from services.ticketing.domain.ticket import Actor, Ticket

if TYPE_CHECKING:
    from services.kit.app import Runtime
    from services.ticketing.domain.calendar import BusinessCalendar

log = structlog.get_logger()

BREACH_CHECK, REMIND_CHECK, AUTO_CLOSE_CHECK = "sla_breach_check", "update_remind_check", "auto_close_check"
CHECK_FIELDS = (BREACH_CHECK, REMIND_CHECK, AUTO_CLOSE_CHECK)
SLA_MONITOR = Actor(sub="system:sla", name="SLA 监控")
REMINDER = Actor(sub="system:reminder", name="通报提醒")
AUTO_CLOSE = Actor(sub="system:auto-close", name="自动结单")
BATCH = 200


def check_fields(ticket: Ticket) -> dict[str, str]:
    """The stored instants the jobs look tickets up by (listing.derived_fields writes them with every ticket)."""
    from services.ticketing.store.listing import NEVER, instant_text

    def text(moment: datetime | None) -> str:
        return NEVER if moment is None else instant_text(moment)

    return {BREACH_CHECK: text(schedule.breach_check_at(ticket)),
            REMIND_CHECK: text(schedule.reminder_check_at(ticket)),
            AUTO_CLOSE_CHECK: text(schedule.auto_close_from(ticket))}


Decision = Callable[[Ticket], list[tuple[str, Any]] | None]  # the ticket changed in place → (type, event) list


async def apply_to_due(rt: "Runtime", tickets: str, query: dict[str, Any], decide: Decision, *, what: str,
                       max_batches: int = 25) -> int:
    """Run `decide` on every ticket `query` finds, `BATCH` at a time, each written with its events through
    Store.change (concurrent changes share one read and one bulk write); returns how many tickets changed.
    A ticket that changes nothing (its key was stale) is written with fresh keys; one that fails is logged and
    left for the next run; none is looked at twice in a pass."""
    from services.ticketing.store.collections import from_document, to_document  # collections imports listing

    changed = 0
    seen: list[str] = []
    for _ in range(max_batches):
        page = {**query, **({"_id": {"$nin": seen}} if seen else {})}
        ids = [d["_id"] for d in await rt.store[tickets].find(page, {"_id": 1}).limit(BATCH).to_list()]
        if not ids:
            break
        seen += ids
        did: set[str] = set()

        def decision(doc: dict[str, Any] | None):
            if doc is None:
                return None
            ticket = from_document(doc)
            events = decide(ticket)
            fresh = {**doc, **to_document(ticket, {})}
            if not events:
                stale = any(doc.get(f) != fresh[f] for f in CHECK_FIELDS)
                return (fresh, []) if stale else None
            did.add(ticket.id)
            return fresh, [rt.event(e, type=t, subject=ticket.id, sequence=ticket.version) for t, e in events]

        results = await asyncio.gather(*(rt.store.change(tickets, i, decision) for i in ids), return_exceptions=True)
        for ticket_id, result in zip(ids, results):
            if isinstance(result, ConcurrencyConflict):
                did.discard(ticket_id)  # the next run sees it again
            elif isinstance(result, Exception):
                did.discard(ticket_id)
                log.warning(f"{what}.failed", ticket_id=ticket_id, error=repr(result))
        changed += len(did)
        if len(ids) < BATCH:
            break
    if changed:
        log.info(what, tickets=changed)
    return changed


async def raise_breaches(rt: "Runtime", tickets: str, now: datetime) -> int:
    """`ticket.sla_breached` for every deadline passed unmet and not raised yet."""
    from services.ticketing.store.listing import instant_text

    def decide(ticket: Ticket):
        due = schedule.breaches_due(ticket, now)
        return [("ticket.sla_breached", e) for e in ticket.record_breaches(due, SLA_MONITOR, now)] if due else None

    return await apply_to_due(rt, tickets, {BREACH_CHECK: {"$lt": instant_text(now)}}, decide, what="sla.breaches")


async def remind_updates(rt: "Runtime", tickets: str, now: datetime, lead: timedelta) -> int:
    """`ticket.update_due` for every open complaint whose progress report is due within `lead`."""
    from services.ticketing.store.listing import instant_text

    def decide(ticket: Ticket):
        if not schedule.reminder_due(ticket, now, lead):
            return None
        return [("ticket.update_due", ticket.remind_update(REMINDER, now))]

    query = {REMIND_CHECK: {"$gte": instant_text(now), "$lte": instant_text(now + lead)}}
    return await apply_to_due(rt, tickets, query, decide, what="sla.update_reminders")


async def auto_close(rt: "Runtime", tickets: str, now: datetime, calendar: "BusinessCalendar", days: float) -> int:
    """`ticket.closed` (`no_feedback`) for every ticket resolved `days` business days ago without feedback."""
    from services.ticketing.store.listing import instant_text

    def decide(ticket: Ticket):
        if not schedule.auto_close_due(ticket, now, calendar, days):
            return None
        return [("ticket.closed", ticket.auto_close(AUTO_CLOSE, now))]

    cutoff = schedule.auto_close_cutoff(now, calendar, days)
    return await apply_to_due(rt, tickets, {AUTO_CLOSE_CHECK: {"$lte": instant_text(cutoff)}}, decide,
                              what="tickets.auto_closed")


CHECKS_BACKFILL = f"check_fields:{BREACH_CHECK}"  # its one-time record (store/backfills.py)


async def backfill_checks(store: Store, tickets: str, *, max_batches: int = 25) -> bool:
    """Tickets stored before these keys existed are never due: no range finds a missing key. `{sla_breach_check:
    None}` finds them on both stores (the key is text on every ticket written today), and they need the same
    rewrite as the list's old tickets, so the list's backfill does it, asked for this key. True once a pass found
    none left (store/backfills.py records it done then; a larger store goes on at the next pass)."""
    from services.ticketing.store.listing import backfill_pass

    return await backfill_pass(store, tickets, keys=(BREACH_CHECK,), batch=BATCH, max_batches=max_batches)


async def backfill_reminded_at(store: Store, tickets: str, walk: dict[str, Any] | None = None, *,
                               max_batches: int = 25) -> bool:
    """Open tickets whose assignee was reminded before the ticket kept `update_reminded_at` showed no
    `update_due` in GET /v1/reminders until their next reminder (domain/reminders.py needs the time): it is
    read from their history (`reminded_at_from_history`) and written. The candidates are the open tickets with
    no reminder still to come (`update_remind_check` NEVER, as "reminded of this update_by" stores it) and no
    `update_reminded_at`, walked newest first by sort key (a flat filter with its sort: one SQL statement on
    nx-27017); only those whose `update_by` is among their reminders are read whole. True when the walk reached
    the end (store/backfills.py then records it done: the candidates stay candidates, so it is not repeated).
    `walk` keeps where a pass stopped for the next (`max_batches` pages a pass), and whether a ticket that kept
    changing needs another walk."""
    from services.ticketing.domain.reminders import OPEN_STATUSES, reminded_at_from_history
    from services.ticketing.store.collections import from_document, to_document
    from services.ticketing.store.listing import NEVER, SORT_KEY

    query = {"status": {"$in": [s.value for s in OPEN_STATUSES]}, REMIND_CHECK: eq(NEVER),
             "update_reminded_at": None}
    walk = {} if walk is None else walk
    written = 0
    for _ in range(max_batches):
        after = walk.get("after")
        page = {**query, **({SORT_KEY: {"$lt": after}} if after else {})}
        docs = await store[tickets].find(page, {"update_by": 1, "update_reminders": 1, SORT_KEY: 1}) \
            .sort(SORT_KEY, -1).limit(BATCH).to_list()
        if docs:
            walk["after"] = docs[-1][SORT_KEY]
        reminded = [d["_id"] for d in docs if d.get("update_by") is not None
                    and d["update_by"] in (d.get("update_reminders") or [])]

        def decide(doc: dict[str, Any] | None):
            if doc is None:
                return None
            ticket = from_document(doc)
            at = reminded_at_from_history(ticket) if ticket.update_reminded_at is None else None
            if at is None:
                return None
            ticket.update_reminded_at = at
            return {**doc, **to_document(ticket, {})}, []

        results = await asyncio.gather(*(store.change(tickets, i, decide) for i in reminded), return_exceptions=True)
        for ticket_id, result in zip(reminded, results):
            if isinstance(result, ConcurrencyConflict):
                walk["again"] = True  # kept changing: another walk (a write today does not fill the field in)
            elif isinstance(result, Exception):
                log.warning("scheduled.backfill_reminded_at.failed", ticket_id=ticket_id, error=repr(result)[:300])
            elif result is not None:
                written += 1
        if len(docs) < BATCH:  # the end of the walk
            if written:
                log.info("scheduled.backfill_reminded_at", tickets=written)
            if walk.pop("again", False):
                walk.pop("after", None)
                return False
            return True
    if written:
        log.info("scheduled.backfill_reminded_at", tickets=written)
    return False  # max_batches ran out: the next pass goes on from `walk`
