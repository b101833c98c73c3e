"""Merging a duplicate into another ticket (`POST /v1/tickets/{id}/merge {into}`): two documents, no transaction.

The store has no multi-document transaction (nx-27017 has none worth the name, see services/kit/store.py), and
the target must be checked when it is written, not only when it was read: a target closed (or merged away
itself) between the check and the write must refuse the merge, with nothing half-written. So a merge is a
reservation, a guarded commit on the target, and the close of the source, with a journal for a crash between:

0. journal: one document per merge under way in `merge_intents` (`_id` the source), written first. A second merge
   of the same source meanwhile is refused (409 `merge-in-progress`);
1. reserve the source (`Ticket.reserve_merge`, through routes.act_on: role, scope, If-Match, status, and the
   checks against the target as read): the source is marked `merging` and takes no other action (409) until
   step 3, so its notes and requester cannot change under the merge; it cannot be merged into either;
2. commit on the target (`Ticket.take_in`, through Store.change, guarded by the target's revision): the target is
   checked again as it is now: still being worked on (new, in_progress, pending, escalated), not reserved for a
   merge of its own, same product and kind. Refused: 409 naming `into`, the source's reservation is released
   and nothing else was written. Accepted: the target takes the source's notes and requester (`merged_from`
   records it). This write is the merge's commit point;
3. close the source (`Ticket.finish_merge`: status closed, close_reason `merged`, its `ticket.merged` and
   `ticket.closed` events in the same write), then drop the journal entry.

A process that dies between 0 and 3 leaves a journal entry; the `merge-recovery` job (`recover`, one replica at
a time) takes entries older than STALE_AFTER_SECONDS and decides by the commit point: the target lists the
source in `merged_from` → step 3 is done for it (roll forward); it does not → the reservation is released (roll
back). A commit is refused once the reservation is older than COMMIT_WINDOW_SECONDS (well under the recovery's
age), so a stalled request cannot commit a merge the recovery gave up. No ticket is lost: the source is either
open (as it was) or closed into a target that holds its notes and requester.

The `ticket.merged` consumer (`complete`) is the older protocol's second half, kept for events published before
this one: it absorbs the source into its target when the target does not have it yet (a no-op for the merges
written as above, whose target took the source in before the event existed).

Tests interleave for real through `rt.extras["merge_hooks"]`: {step: async callable(source_id, into)}, awaited
after the reservation (`reserved`) and after the commit (`committed`), and never set outside tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pymongo.errors
import structlog
from fastapi import Response
from pymongo import IndexModel

from contracts.events import Envelope
from services.kit.app import Runtime
from services.kit.auth import Principal
from services.kit.consumer import PoisonMessage, Subscription
from services.kit.problems import Problem, invalid
from services.kit.store import ConcurrencyConflict, eq
from services.ticketing.domain import scope
from services.ticketing.domain.ticket import Actor, IllegalTransition, MergeTargetRefused, RuleViolation, Ticket
from services.ticketing.store.collections import TICKETS, duplicates_of, from_document, to_document

log = structlog.get_logger()
QUEUE = "ticketing.merges"
MERGE_INTENTS = "merge_intents"
INDEXES = {MERGE_INTENTS: [IndexModel("at")]}  # `at`: epoch seconds (a float range, served by the index)
COMMIT_WINDOW_SECONDS = 20.0   # a reservation older than this is not committed any more
STALE_AFTER_SECONDS = 60.0     # the recovery takes over a journal entry this old


def utcnow() -> datetime:
    return datetime.now(UTC)


async def _hook(rt: Runtime, step: str, source_id: str, into: str) -> None:
    hook = rt.extras.get("merge_hooks", {}).get(step)
    if hook is not None:
        await hook(source_id, into)


# --- the merge --------------------------------------------------------------------------------------------------

async def merge(rt: Runtime, principal: Principal, source_id: str, into: str, if_match: str | None,
                response: Response):
    """Steps 0–3 of the module's docstring; the source as closed (TicketOut)."""
    from services.ticketing.api.routes import act_on, out, require

    require(principal, "merge")
    if into == source_id:
        raise invalid("into", "a ticket cannot be merged into itself")
    target_doc = await rt.store[TICKETS].find_one({"_id": into})
    if target_doc is None:
        raise invalid("into", f"no ticket {into}")
    target = from_document(target_doc)
    if not scope.may_act(principal, "merge", target):
        raise Problem(403, "out-of-scope", "Outside your scope", f"Ticket {into} is outside your scope.")

    # 0. the journal
    journal = rt.store[MERGE_INTENTS]
    entry = {"_id": source_id, "into": into, "at": utcnow().timestamp(), "by": principal.sub,
             "by_name": principal.name}
    try:
        await journal.insert_one(entry)
    except pymongo.errors.DuplicateKeyError:
        raise Problem(409, "merge-in-progress", "Merge in progress",
                      f"Ticket {source_id} is being merged already; try again in a moment.") from None

    # 1. reserve the source
    try:
        source = await act_on(rt, principal, source_id, "merge", if_match,
                              lambda t, a, now: (t.reserve_merge(target, a, now), ())[1])
    except Problem:
        await journal.delete_one({"_id": source_id, "at": eq(entry["at"])})  # refused: nothing was written
        raise
    await _hook(rt, "reserved", source_id, into)

    # 2. commit on the target, checked as it is now
    actor = Actor(sub=principal.sub, name=principal.name)
    reserved_at = source.merging.at

    def commit(doc: dict[str, Any] | None):
        if doc is None:
            raise invalid("into", f"no ticket {into}")
        now = utcnow()
        ticket = from_document(doc)
        if not scope.may_act(principal, "merge", ticket):
            raise Problem(403, "out-of-scope", "Outside your scope", f"Ticket {into} is outside your scope.")
        if (now - reserved_at).total_seconds() > COMMIT_WINDOW_SECONDS:
            raise Problem(409, "merge-expired", "Merge took too long",
                          f"The merge of {source_id} into {into} was not written in time; try again.", into=into)
        try:
            if not ticket.take_in(source, actor, now):
                return None
        except MergeTargetRefused as error:
            raise target_refused(error, ticket) from error
        except RuleViolation as error:
            raise invalid(error.field, error.message) from error
        return {**doc, **to_document(ticket, late_flags(ticket))}, []

    try:
        await rt.store.change(TICKETS, into, commit)
    except (Problem, ConcurrencyConflict) as error:  # decided against (or kept losing): the target is unchanged
        await give_up(rt, source_id, into)
        await journal.delete_one({"_id": source_id, "at": eq(entry["at"])})
        if isinstance(error, ConcurrencyConflict):
            raise Problem(409, "busy", "Ticket busy", f"Ticket {into} kept changing; try again.", into=into) from None
        raise
    await _hook(rt, "committed", source_id, into)

    # 3. close the source
    closed = await finish(rt, source_id, into, actor)
    await journal.delete_one({"_id": source_id, "at": eq(entry["at"])})
    return out(closed, principal, response)


def target_refused(error: MergeTargetRefused, target: Ticket) -> Problem:
    return Problem(409, "illegal-transition", "Not allowed in this status", str(error), into=error.into,
                   target_status=target.status.value,
                   errors=[{"field": "into", "message": str(error), "type": "merge_target"}])


def late_flags(ticket: Ticket) -> dict[str, bool]:
    return {"responded_late": ticket.responded_timely is False, "resolved_late": ticket.timely is False}


async def finish(rt: Runtime, source_id: str, into: str, actor: Actor) -> Ticket:
    """Step 3: the source closed into `into` with its events (as routes.act writes an action); idempotent."""
    from services.ticketing.api.routes import decided

    finished: list[Ticket] = []

    def decide(doc: dict[str, Any] | None):
        if doc is None:
            raise PoisonMessage(f"ticket {source_id} does not exist")
        ticket = from_document(doc)
        finished[:] = [ticket]
        return decided(rt, doc, ticket, lambda t, a, now: t.finish_merge(into, a, now), actor)

    await rt.store.change(TICKETS, source_id, decide)
    ticket = finished[0]
    duplicates_of(rt).status_changed(ticket.id, ticket.status.value, ticket.version, ticket.opened_at)
    return ticket


async def give_up(rt: Runtime, source_id: str, into: str) -> bool:
    """The source's reservation for `into` released (the target refused, or the merge never got that far)."""
    released: list[bool] = []

    def decide(doc: dict[str, Any] | None):
        if doc is None:
            return None
        ticket = from_document(doc)
        if not ticket.release_merge(into):
            return None
        released.append(True)
        return {**doc, **to_document(ticket, late_flags(ticket))}, []

    await rt.store.change(TICKETS, source_id, decide)
    return bool(released)


async def recover(rt: Runtime, now: datetime | None = None) -> int:
    """Finish or give up the merges whose process died between the journal and the source's close (older than
    STALE_AFTER_SECONDS at `now`), by the commit point: the target's `merged_from`. The number handled."""
    moment = (now or utcnow()).timestamp() - STALE_AFTER_SECONDS
    journal = rt.store[MERGE_INTENTS]
    handled = 0
    for entry in await journal.find({"at": {"$lt": moment}}).sort("at", 1).limit(100).to_list():
        source_id, into = entry["_id"], entry["into"]
        try:
            target = await rt.store[TICKETS].find_one({"_id": into}, {"merged_from": 1})
            if target is not None and source_id in (target.get("merged_from") or []):
                await finish(rt, source_id, into, Actor(sub=entry["by"], name=entry.get("by_name")))
                log.info("merge.recovered", ticket_id=source_id, into=into, outcome="finished")
            elif await give_up(rt, source_id, into):
                log.info("merge.recovered", ticket_id=source_id, into=into, outcome="released")
        except (PoisonMessage, IllegalTransition, Problem) as error:  # the source is gone or elsewhere: nothing to do
            log.warning("merge.recovery_skipped", ticket_id=source_id, into=into, error=str(error))
        except Exception as error:  # noqa: BLE001 - the store failed: the entry stays for the next run
            log.warning("merge.recovery_failed", ticket_id=source_id, into=into, error=repr(error)[:300])
            continue
        await journal.delete_one({"_id": source_id, "at": eq(entry["at"])})
        handled += 1
    return handled


# --- the older protocol's second half ---------------------------------------------------------------------------

def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_merged(envelope: Envelope) -> None:
        await complete(rt, envelope.subject)

    return [Subscription(QUEUE, ("ticket.merged",), on_ticket_merged)]


async def complete(rt: Runtime, source_id: str) -> bool:
    """Write the target's half of the merge of `source_id`; False when it was written before (always, for a
    merge written by `merge` above)."""
    source_doc = await rt.store[TICKETS].find_one({"_id": source_id})
    if source_doc is None:
        raise PoisonMessage(f"ticket {source_id} does not exist")
    source = from_document(source_doc)
    if source.merged_into is None:
        raise PoisonMessage(f"ticket {source_id} was not merged")
    merge_entry = next(h for h in reversed(source.history) if h.action == "merge")
    actor = Actor(sub=merge_entry.actor, name=merge_entry.actor_name)  # who merged, whichever process finishes it
    absorbed: list[bool] = []

    def decide(doc: dict[str, Any] | None):
        if doc is None:
            raise PoisonMessage(f"the target {source.merged_into} of {source_id} does not exist")
        target = from_document(doc)
        if not target.absorb(source, actor, datetime.now(UTC)):
            return None
        absorbed.append(True)
        return {**doc, **to_document(target, late_flags(target))}, []

    await rt.store.change(TICKETS, source.merged_into, decide)
    if absorbed:
        log.info("merge.completed", ticket_id=source_id, into=source.merged_into)
    return bool(absorbed)
