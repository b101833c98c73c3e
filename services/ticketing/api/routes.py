"""ticketing's HTTP API: thin handlers that check the caller, load the aggregate, run the domain action and store
the new state together with its event (one atomic write, see services/kit/store.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pymongo.errors
import structlog
from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import AwareDatetime

from contracts.events import TicketEvent
from contracts.vocabulary import CITIES, Channel, Kind, Role, TicketStatus
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit import preconditions, text
from services.kit.pagination import PageParams, keyed_page, page_params
from services.kit.problems import Problem, invalid
from services.kit.store import OUTBOX, ConcurrencyConflict, eq, flat_and, membership
from services.ticketing.api.models import (
    AssignIn, EscalateIn, FeedbackIn, HistoryOut, NoteIn, PossibleDuplicateOut, ResolveIn, TicketIn, TicketOpenedOut,
    TicketOut, TicketPage,
)
from services.ticketing.domain import schedule, scope
from services.ticketing.domain.ticket import (
    ALLOWED_FROM, Actor, IllegalTransition, MergeTargetRefused, RuleViolation, Ticket, event_type,
)
from services.ticketing.store import listing, scheduled, search
from services.ticketing.domain.duplicates import significant_words
from services.ticketing.store.collections import (
    FIRST_ANSWER,
    FIRST_ANSWER_Z,
    TICKETS,
    catalog_of,
    duplicates_of,
    first_answer,
    from_document,
    kept_answer,
    next_ticket_id,
    to_document,
)
from services.ticketing.store.sla_config import sla_of

log = structlog.get_logger()
router = APIRouter(prefix="/v1", tags=["tickets"])


def utcnow() -> datetime:
    return datetime.now(UTC)


def actor_of(principal: Principal) -> Actor:
    return Actor(sub=principal.sub, name=principal.name)


def require(principal: Principal, action: str) -> None:
    if not scope.may(principal, action):
        raise Problem(403, "forbidden", "Forbidden", f"Your roles do not allow '{action}' on tickets.")


def out(ticket: Ticket, principal: Principal, response: Response | None = None) -> TicketOut:
    if response is not None:
        response.headers["ETag"] = f'"{ticket.version}"'
    return TicketOut.of(ticket, utcnow(), internal_notes=not principal.has(Role.intake) or principal.has(
        *scope.SEE_ALL, Role.product_manager, Role.vendor))


# --- intake -------------------------------------------------------------------------------------------------

@router.post("/tickets", status_code=201, response_model=TicketOpenedOut, summary="File a ticket 受理建档",
             responses={409: {"description": "Idempotency-Key reused with another body"},
                        422: {"description": "Invalid body, unknown product or city"}})
async def open_ticket(body: TicketIn, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime),
                      idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200)):
    """One store command in the usual case: the catalog is a cache kept fresh by events, ticket numbers come
    from a reserved block, and a replayed Idempotency-Key is caught by the unique index, not by a read first."""
    require(principal, "open")
    if principal.has(Role.account_manager) and not principal.has(*scope.SEE_ALL, Role.intake) \
            and body.city != principal.city:
        raise Problem(403, "out-of-scope", "Outside your scope", "An account manager files tickets for their own city.")
    key = f"{principal.sub}:{idempotency_key}" if idempotency_key else None
    fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    if await catalog_of(rt).get(body.product_code) is None:
        raise invalid("product_code", f"unknown product '{body.product_code}' (see lifecycle's GET /v1/products)")

    now = utcnow()
    received_at = received_when(body, now, rt.settings.received_at_skew_seconds)
    settings = rt.settings
    finder = duplicates_of(rt)
    # segmenting costs a few hundred µs: only when duplicates are looked for
    words = significant_words(body.title, body.description, body.customer.group_name) \
        if settings.duplicate_detection else []
    duplicates = [PossibleDuplicateOut(**d).model_dump(mode="json") for d in await finder.find(
        principal, product_code=body.product_code, group_name=body.customer.group_name,
        group_code=body.customer.group_code, words=words, now=now)] if settings.duplicate_detection else []
    for _ in range(3):
        try:
            ticket, opened = Ticket.open(
                id=await next_ticket_id(rt, body.kind, now), kind=body.kind, channel=body.channel,
                product_code=body.product_code, city=body.city, title=body.title, description=body.description,
                customer=body.customer_model(), actor=actor_of(principal), now=now, industry=body.industry,
                priority=body.priority, severity=body.severity, received_at=received_at,
                sla_config=sla_of(rt).current())
        except RuleViolation as error:
            raise invalid(error.field, error.message) from error
        answer = json_text({**out(ticket, principal).model_dump(mode="json"), "possible_duplicates": duplicates})
        # The first answer is kept only for a replay, which needs a key: a ticket filed without one (from the
        # console, say) would carry it for nothing. Kept as the JSON text it was sent as, compressed, one string
        # rather than a hundred fields: nx-27017 converts every field of a document it stores or returns, which
        # made the answer cost the insert ~0.25 ms and each list page of 20 ~1.5 ms (collections.kept_answer).
        doc = to_document(ticket, {"idempotency_key": key or f"none:{ticket.id}", "request_fingerprint": fingerprint,
                                   **(kept_answer(answer) if key else {})})
        try:
            await rt.store.insert(TICKETS, doc, [rt.event(opened, type="ticket.opened", subject=ticket.id,
                                                          sequence=ticket.version)])
        except pymongo.errors.DuplicateKeyError:
            if key and (earlier := await rt.store[TICKETS].find_one({"idempotency_key": key})):
                return replay(earlier, fingerprint)
            continue  # the number was taken (a counter restored from an older backup): the next one is free
        finder.remember(ticket.id, product_code=ticket.product_code, group_name=ticket.customer.group_name,
                        group_code=ticket.customer.group_code, opened_at=ticket.opened_at,
                        status=ticket.status.value, sequence=ticket.version, words=words)
        # The answer as stored for replays, sent as it is: no second validation against the response model.
        return Response(answer, status_code=201, media_type="application/json",
                        headers={"Location": f"/v1/tickets/{ticket.id}", "ETag": f'"{ticket.version}"'})
    raise Problem(503, "ids-exhausted", "Ticket numbers taken", "Ticket numbers kept colliding; try again.")


def received_when(body: TicketIn, now: datetime, skew_seconds: float) -> datetime:
    """When the requester contacted the channel: as given (in the past: a late relay, an import), now if not
    given; a few seconds ahead is the channel's clock running fast and taken as now, more is refused."""
    received = now if body.received_at is None else body.received_at
    ahead = (received - now).total_seconds()
    if ahead > skew_seconds:
        raise invalid("received_at", f"lies {ahead:.0f} s in the future; when the requester contacted the channel "
                                     "cannot be later than now")
    # to the millisecond, as BSON keeps it: the deadlines in the first answer are then those stored
    received = min(received, now).astimezone(UTC)
    return received.replace(microsecond=received.microsecond // 1000 * 1000)


def replay(earlier: dict[str, Any], fingerprint: str) -> Response:
    if earlier.get("request_fingerprint") != fingerprint:
        raise Problem(409, "idempotency-key-reused", "Idempotency-Key reused",
                      f"This key already filed {earlier['_id']} with another body; use a new key for a new ticket.")
    first = first_answer(earlier)
    if not isinstance(first, str):  # stored as fields before it was kept as text
        first = json_text(first)
    return Response(first, status_code=201, media_type="application/json",
                    headers={"Idempotent-Replayed": "true", "Location": f"/v1/tickets/{earlier['_id']}"})


def json_text(answer: dict[str, Any]) -> str:
    """What JSONResponse would send for `answer`."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# --- reading ------------------------------------------------------------------------------------------------

async def load_visible(rt: Runtime, principal: Principal, ticket_id: str) -> tuple[dict[str, Any], Ticket]:
    doc = await rt.store[TICKETS].find_one({"_id": ticket_id})
    return doc, visible(principal, ticket_id, doc)


def visible(principal: Principal, ticket_id: str, doc: dict[str, Any] | None) -> Ticket:
    """The stored ticket, if it exists (404) and the principal may see it (403)."""
    if doc is None:
        raise Problem(404, "not-found", "Ticket not found", f"No ticket {ticket_id}.")
    ticket = from_document(doc)
    if not scope.can_see(principal, ticket):
        raise Problem(403, "out-of-scope", "Outside your scope", f"Ticket {ticket_id} is outside your scope.")
    return ticket


@router.get("/tickets/{ticket_id}", response_model=TicketOut, summary="One ticket")
async def get_ticket(ticket_id: str, response: Response, principal: Principal = Depends(authenticate),
                     rt: Runtime = Depends(runtime)):
    require(principal, "read")
    _, ticket = await load_visible(rt, principal, ticket_id)
    return out(ticket, principal, response)


@router.get("/tickets/{ticket_id}/history", response_model=HistoryOut, summary="Every action: who, when")
async def ticket_history(ticket_id: str, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require(principal, "read")
    _, ticket = await load_visible(rt, principal, ticket_id)
    return HistoryOut(ticket_id=ticket.id, items=[h.model_dump(mode="json") for h in ticket.history])


# Fields a list page never shows: the stored first answer (a copy of the whole ticket), the history and the
# search words are most of a document's bytes.
LIST_PROJECTION = {FIRST_ANSWER: 0, FIRST_ANSWER_Z: 0, "history": 0, "request_fingerprint": 0, listing.SEARCH_TEXT: 0,
                   OUTBOX: 0}
MAX_QUERY_WORDS = 12


@router.get("/tickets", response_model=TicketPage, summary="Tickets, newest first")
async def list_tickets(principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime),
                       params: PageParams = Depends(page_params), kind: Kind | None = None,
                       status: TicketStatus | None = None, product_code: str | None = Query(None, max_length=40),
                       city: str | None = Query(None), channel: Channel | None = None,
                       q: str | None = Query(None, max_length=100,
                                             description="words of title, description or customer group, all "
                                                         "required (Chinese is segmented into words)"),
                       breached: bool | None = Query(None, description="past an SLA deadline"),
                       assignee: str | None = Query(None, min_length=1, max_length=100, description="处理人"),
                       tier: int | None = Query(None, ge=1, le=3, description="1 一线 | 2 产品经理 | 3 厂家/其他部门"),
                       pending: bool | None = Query(None, description="waiting for the requester 待补充"),
                       received_from: AwareDatetime | None = Query(
                           None, description="received at or after (ISO 8601 with offset, e.g. "
                                             "2026-11-25T08:30:00+08:00) 受理时间起"),
                       received_to: AwareDatetime | None = Query(
                           None, description="received at or before (ISO 8601 with offset) 受理时间止")):
    require(principal, "read")
    if city is not None and city not in CITIES:
        raise invalid("city", f"unknown city; one of {', '.join(CITIES)}")
    words = None
    if q is not None and q.strip():
        words = text.query_words(q)
        if not words:
            raise invalid("q", "no word to search for (only punctuation or words too common to search)")
        if len(words) > MAX_QUERY_WORDS:
            raise invalid("q", f"at most {MAX_QUERY_WORDS} words")
    if pending is not None and status is not None and (status == TicketStatus.pending) != pending:
        return TicketPage(items=[], next_cursor=None)  # asks for pending and for another status at once
    filters = {field: eq(getattr(value, "value", value)) for field, value in (
        ("kind", kind), ("status", status), ("product_code", product_code), ("city", city), ("channel", channel),
        ("assignee", assignee), ("tier", tier)) if value is not None}
    if pending is not None and status is None:
        # not pending: the other statuses by name, an index range on both stores ($ne is a scan on nx-27017)
        filters["status"] = eq(TicketStatus.pending.value) if pending else {
            "$in": [s.value for s in TicketStatus if s != TicketStatus.pending]}
    now = utcnow()
    unraised: list[str] = []
    if breached:
        unraised = [doc[listing.SORT_KEY] for doc in await rt.store[TICKETS].find(
            unraised_breaches(now), {listing.SORT_KEY: 1}).limit(UNRAISED_CAP).to_list()]
        if len(unraised) == UNRAISED_CAP:
            log.warning("tickets.breached.unraised_capped", cap=UNRAISED_CAP)  # the breach job is far behind
    breaches = breach_filters(breached, now, unraised)
    received = received_filter(received_from, received_to)
    # a scope that pins a field to another value than the filter asks for (an account manager asking for another
    # city) matches nothing; left in the query it would be an $and, a scan on nx-27017
    queries = [flat_and(visible, filters, breach, received) for visible in scope.visibility_filters(principal)
               if not any("$eq" in visible.get(field, {}) and visible[field] != condition
                          for field, condition in filters.items())
               for breach in breaches]
    if words:
        queries = [membership(query) for query in queries]  # beside $text (kit.store.membership says why)
    if not queries:
        return TicketPage(items=[], next_cursor=None)
    docs, next_cursor = await keyed_page(rt.store[TICKETS], queries, params, listing.SORT_KEY,
                                         projection=LIST_PROJECTION,
                                         narrowings=search.newest_first(words, now) if words else None)
    page = TicketPage(items=[out(from_document(d), principal) for d in docs], next_cursor=next_cursor)
    # serialised here, once: returned as a model, FastAPI would validate all of it again against response_model
    return Response(page.model_dump_json(), media_type="application/json")


def received_filter(received_from: datetime | None, received_to: datetime | None) -> dict[str, Any] | None:
    """`received_from <= received_at <= received_to` as one string range over the stored `received_key`
    (store/listing.py: a datetime range is a scan on nx-27017)."""
    if received_from is not None and received_to is not None and received_from > received_to:
        raise invalid("received_from", f"{received_from.isoformat()} is after received_to "
                                       f"{received_to.isoformat()}")
    bounds = {op: listing.instant_text(moment) for op, moment in (("$gte", received_from), ("$lte", received_to))
              if moment is not None}
    return {listing.RECEIVED_KEY: bounds} if bounds else None


UNRAISED_CAP = 200  # tickets past their moment that the breach job has not reached; more means the job is down


def unraised_breaches(now: datetime) -> dict[str, Any]:
    """The tickets past their breach moment since they were last written, which the breach job has not reached
    yet: its own check field says so (store/scheduled.py), at or before the moment. Asked without a sort, so that
    the store reads the check field's index range (a handful of tickets while the job keeps up); sorted, nx-27017
    walks the sort key's index past every ticket instead (1.3 s on 100,000)."""
    moment = listing.instant_text(now)
    return {scheduled.BREACH_CHECK: {"$lt": moment}, listing.BREACH_KEY: {"$lt": moment}}


def breach_filters(breached: bool | None, now: datetime, unraised: Sequence[str] = ()) -> list[dict[str, Any] | None]:
    """`Ticket.breached(now)` (past a deadline now, or answered or resolved after one) as alternatives whose union
    it is, each an index range or a key (keyed_page asks them one by one and merges). The stored `breach_key` is
    the moment the ticket is past a deadline unless something happens (store/listing.breach_moment), and
    `breached(now)` ⟺ now > that moment: `breached=false` is `breach_key >= now`. `breached=true` is the tickets
    already breached when written (`breach_seen`, with its index), plus `unraised`, the sort keys of the
    tickets `unraised_breaches(now)` found, rather than `breach_key < now` beside the sort, which walks the sort index
    past every ticket that is not breached."""
    if breached is None:
        return [None]
    if not breached:
        return [{listing.BREACH_KEY: {"$gte": listing.instant_text(now)}}]
    # each by its sort key, unique and indexed: `_id` beside `$text` fails on nx-27017 (kit/store.py)
    return [{listing.BREACH_SEEN: eq("y")}, *({listing.SORT_KEY: eq(key)} for key in unraised)]


# --- actions ------------------------------------------------------------------------------------------------

def parse_if_match(value: str | None) -> int | None:
    return preconditions.parse_if_match(value, what="ticket")


async def act(rt: Runtime, principal: Principal, ticket_id: str, action: str, if_match: str | None,
              apply: Callable[[Ticket, Actor, datetime], TicketEvent | tuple[TicketEvent, ...]],
              response: Response) -> TicketOut:
    """Run one action on the stored ticket and write the new state with its events (one, or a tuple of them in
    order), through Store.change: the actions of concurrent requests share one read and one write. Another writer
    getting there first makes the action decide again on the fresh state, where an If-Match that no longer holds
    is a 412."""
    ticket = await act_on(rt, principal, ticket_id, action, if_match, apply)
    return out(ticket, principal, response)


async def act_on(rt: Runtime, principal: Principal, ticket_id: str, action: str, if_match: str | None,
                 apply: Callable[[Ticket, Actor, datetime], TicketEvent | tuple[TicketEvent, ...]]) -> Ticket:
    """`act` without the answer: the ticket as written."""
    require(principal, action)
    expected = parse_if_match(if_match)
    acted: list[Ticket] = []

    def decide(doc: dict[str, Any] | None):
        ticket = visible(principal, ticket_id, doc)
        if not scope.may_act(principal, action, ticket):
            raise Problem(403, "out-of-scope", "Outside your scope",
                          f"Your roles do not allow '{action}' on ticket {ticket_id} as it is now.")
        if expected is not None and ticket.version != expected:
            raise Problem(412, "version-mismatch", "Precondition failed",
                          f"The ticket is at version {ticket.version}, not {expected}; read it again.",
                          current_version=ticket.version)
        acted[:] = [ticket]
        return decided(rt, doc, ticket, apply, actor_of(principal))

    try:
        await rt.store.change(TICKETS, ticket_id, decide)
    except ConcurrencyConflict:
        raise Problem(409, "busy", "Ticket busy", "The ticket kept changing; try again.") from None
    ticket = acted[0]
    # this process's duplicate index learns at once what its own events will tell the other processes
    duplicates_of(rt).status_changed(ticket.id, ticket.status.value, ticket.version, ticket.opened_at)
    return ticket


def decided(rt: Runtime, doc: dict[str, Any], ticket: Ticket,
            apply: Callable[[Ticket, Actor, datetime], TicketEvent | tuple[TicketEvent, ...] | None],
            actor: Actor) -> tuple[dict[str, Any], list] | None:
    """The stored form of `ticket` after `apply` and the events it owes, for Store.change (None: `apply` found
    nothing to do). Breaches missed so far go first, the deadlines follow the action (`follow_sla`)."""
    now = utcnow()
    # a deadline passed before the breach job saw it is raised now, before the action moves it on (a late
    # note restarts the update clock): nothing missed, nothing twice (store/scheduled.py)
    missed = [rt.event(e, type="ticket.sla_breached", subject=ticket.id, sequence=ticket.version)
              for e in late_breaches(ticket, now)]
    try:
        events = apply(ticket, actor, now)
    except IllegalTransition as error:
        raise transition_refused(error, ticket) from error
    except RuleViolation as error:
        raise invalid(error.field, error.message) from error
    if events is None:
        return None
    events = follow_sla(ticket, events if isinstance(events, tuple) else (events,), sla_of(rt).current(),
                        actor, now)
    envelopes = [rt.event(event, type=event_type(event), subject=ticket.id, sequence=ticket.version)
                 for event in events]
    extra = {"responded_late": ticket.responded_timely is False, "resolved_late": ticket.timely is False}
    return {**doc, **to_document(ticket, extra)}, [*missed, *envelopes]


def transition_refused(error: IllegalTransition, ticket: Ticket) -> Problem:
    """409 for an action the ticket's status (or a merge under way) does not allow; one whose reason is the
    ticket a merge goes into names it (`into`, and `errors` as a 422 would)."""
    named = {"into": error.into, "errors": [{"field": "into", "message": str(error), "type": "merge_target"}]} \
        if isinstance(error, MergeTargetRefused) else {}
    return Problem(409, "illegal-transition", "Not allowed in this status", str(error),
                   ticket_status=ticket.status.value,
                   allowed_actions=sorted(a for a, s in ALLOWED_FROM.items() if ticket.status in s), **named)


def late_breaches(ticket: Ticket, now: datetime) -> list[TicketEvent]:
    due = schedule.breaches_due(ticket, now)
    return ticket.record_breaches(due, scheduled.SLA_MONITOR, now) if due else []


def follow_sla(ticket: Ticket, events: tuple[TicketEvent, ...], config, actor: Actor,
               now: datetime) -> list[TicketEvent]:
    """Deadlines after the action (a note restarts the update clock, a pause ends, a resolution ends the update
    clock; a configuration newer than the ticket's moves them too, and then its history says so), and the events
    carrying them."""
    change = ticket.recalculate_sla(config, now)
    if change is not None:
        ticket.record_sla_recalculated({**change, "reason": "calendar or policy changed"}, actor, now,
                                       new_version=False)
    state = ticket.state(actor)
    return [type(event).model_validate({**event.model_dump(), **{f: state[f] for f in SLA_EVENT_FIELDS}})
            if any(getattr(event, field) != state[field] for field in SLA_EVENT_FIELDS) else event
            for event in events]


SLA_EVENT_FIELDS = ("respond_by", "resolve_by", "update_by", "received_at", "responded_timely", "timely")
IfMatch = Header(None, alias="If-Match", description="the version you read; 412 if it changed")


@router.post("/tickets/{ticket_id}/assign", response_model=TicketOut, summary="Assign 分派")
async def assign(ticket_id: str, body: AssignIn, response: Response, principal: Principal = Depends(authenticate),
                 rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "assign", if_match,
                     lambda t, a, now: t.assign(body.assignee, a, now), response)


@router.post("/tickets/{ticket_id}/escalate", response_model=TicketOut, summary="Escalate 转产品经理/厂家")
async def escalate(ticket_id: str, body: EscalateIn, response: Response, principal: Principal = Depends(authenticate),
                   rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "escalate", if_match,
                     lambda t, a, now: t.escalate(body.tier, body.target, body.reason, a, now), response)


@router.post("/tickets/{ticket_id}/notes", response_model=TicketOut, summary="Note or progress report 进度通报")
async def notes(ticket_id: str, body: NoteIn, response: Response, principal: Principal = Depends(authenticate),
                rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "notes", if_match,
                     lambda t, a, now: t.add_note(body.body, body.visibility, a, now), response)


@router.post("/tickets/{ticket_id}/resolve", response_model=TicketOut, summary="Answer 答复")
async def resolve(ticket_id: str, body: ResolveIn, response: Response, principal: Principal = Depends(authenticate),
                  rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "resolve", if_match,
                     lambda t, a, now: t.resolve(body.answer, body.cause, body.knowledge_article_id, a, now),
                     response)


@router.post("/tickets/{ticket_id}/feedback", response_model=TicketOut,
             summary="Requester feedback 反馈: satisfied closes, unsatisfied reopens")
async def feedback(ticket_id: str, body: FeedbackIn, response: Response, principal: Principal = Depends(authenticate),
                   rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "feedback", if_match,
                     lambda t, a, now: t.give_feedback(body.satisfied, body.score, body.comment, a, now), response)
