"""An assignee's due reminders (待办提醒): `GET /v1/reminders`, what ticketing's scheduled work raised for the
tickets assigned to the caller that still asks something of them (domain/reminders.py): a complaint's progress
report due within the hour (`update_due`, the `ticket.update_due` reminder) and deadlines missed
(`sla_breached`). Cleared as soon as the ticket stops asking: the requester-visible note that restarts the update
clock, the first response, the resolution, or the ticket going to someone else.

Who: those who work tickets (front line, product managers) see their own, as the tickets they may see; an admin
(the team lead's view: SPEC §1 has no team-lead role) names anyone with `assignee=`. Read from the tickets
themselves (the assignee's open tickets, one index range: kit/store.py), so nothing is kept in step elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from contracts.vocabulary import KIND_LABELS, Kind, Priority, Role, TicketStatus
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.pagination import PageParams, key_cursor, keyed_page, page_params
from services.kit.problems import Problem
from services.kit.store import eq
from services.ticketing.api.routes import LIST_PROJECTION
from services.ticketing.domain import scope
from services.ticketing.domain.reminders import OPEN_STATUSES, Reminder, reminders_of
from services.ticketing.domain.ticket import Ticket
from services.ticketing.store import listing
from services.ticketing.store.collections import TICKETS, from_document

router = APIRouter(prefix="/v1", tags=["tickets"])
R = Role
# whoever tickets are assigned to (those who may be given one: routes' assign), and admins
REMINDER_ROLES = (*scope.FRONT_LINE, R.product_manager, R.admin)
TICKETS_PER_READ = 100
MAX_TICKETS_SCANNED = 2000  # a page stops after this many of the assignee's open tickets, with a cursor


class ReminderOut(BaseModel):
    ticket_id: str
    title: str
    ticket_kind: Kind
    ticket_kind_label: str
    status: TicketStatus
    priority: Priority
    assignee: str
    kind: Literal["update_due", "sla_breached"] = Field(
        description="update_due: a progress report to the requester (定期通报处理进度) is due; sla_breached: a "
                    "deadline was missed")
    deadline: Literal["respond", "resolve", "update"] = Field(description="which clock")
    due_at: datetime = Field(description="when the report is due, or the deadline that was missed")
    raised_at: datetime | None = Field(None, description="when the breach was raised")
    late_seconds: float | None = Field(None, description="how late the ticket was when the breach was raised")

    @classmethod
    def of(cls, ticket: Ticket, reminder: Reminder) -> "ReminderOut":
        return cls(ticket_id=ticket.id, title=ticket.title, ticket_kind=ticket.kind,
                   ticket_kind_label=KIND_LABELS[ticket.kind], status=ticket.status, priority=ticket.priority,
                   assignee=ticket.assignee or "", kind=reminder.kind, deadline=reminder.deadline,
                   due_at=reminder.due_at, raised_at=reminder.raised_at, late_seconds=reminder.late_seconds)


class ReminderPage(BaseModel):
    items: list[ReminderOut]
    next_cursor: str | None


@router.get("/reminders", response_model=ReminderPage,
            summary="My due reminders 待办提醒: progress reports due, deadlines missed",
            responses={403: {"description": "Not a role tickets are assigned to, or another's reminders and not an "
                                            "admin"}})
async def list_reminders(principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime),
                         params: PageParams = Depends(page_params),
                         assignee: str | None = Query(None, min_length=1, max_length=100,
                                                      description="admins: whose reminders (处理人); "
                                                                  "default: the caller's own")):
    """The reminders of the tickets assigned to the caller (or to `assignee`), by ticket, newest ticket first,
    each ticket's most pressing first. A page holds at most `limit` reminders (a ticket's all together)."""
    if not principal.has(*REMINDER_ROLES):
        raise Problem(403, "forbidden", "Forbidden", "Reminders are for those tickets are assigned to.")
    who = assignee or principal.sub
    if who != principal.sub and not principal.has(R.admin):
        raise Problem(403, "out-of-scope", "Outside your scope", "Only an admin reads another person's reminders.")
    query = {"assignee": eq(who), "status": {"$in": [s.value for s in OPEN_STATUSES]}}
    items: list[ReminderOut] = []
    cursor, last_key, scanned = params.cursor, None, 0
    while True:
        docs, more = await keyed_page(rt.store[TICKETS], [query], PageParams(limit=TICKETS_PER_READ, cursor=cursor),
                                      listing.SORT_KEY, projection=LIST_PROJECTION)
        for doc in docs:
            key = doc[listing.SORT_KEY]
            ticket = from_document(doc)
            found = [ReminderOut.of(ticket, r) for r in reminders_of(ticket)] if scope.can_see(principal, ticket) \
                else []
            if found and items and len(items) + len(found) > params.limit:
                return ReminderPage(items=items, next_cursor=key_cursor(last_key))
            items += found
            last_key, scanned = key, scanned + 1
        if more is None:
            return ReminderPage(items=items, next_cursor=None)
        if len(items) >= params.limit or scanned >= MAX_TICKETS_SCANNED:
            return ReminderPage(items=items, next_cursor=key_cursor(last_key))
        cursor = more
