"""An assignee's due reminders (待办提醒, `GET /v1/reminders`): what the scheduled work raised for a ticket that
still asks something of the person it is assigned to. Pure: derived from the ticket as it is, so a reminder is
cleared the moment the ticket stops asking for it, with nothing to keep in step.

- `update_due`: the reminder (`ticket.update_due`, store/scheduled.py) that a complaint's progress report to the
  requester (定期通报处理进度) is due at `update_by`. Active while `update_by` is still the instant reminded of
  and the requester has heard nothing since the reminder (the requester-visible note that restarts the update
  clock; written out of hours it may restart it to the same instant), and the ticket is not waiting for the
  requester (待补充: the update clock stands still). Once that report is late it shows as the breach instead.
- `sla_breached`: a deadline the ticket missed (`ticket.sla_breached`): `respond` until the first response,
  `resolve` until the ticket is resolved, `update` until the next requester-visible note.

Only while the ticket is open (not resolved or closed) and assigned: reassigned, it leaves its old assignee's
reminders and joins the new one's.

Tickets reminded before the ticket kept `update_reminded_at` have it from their history
(`reminded_at_from_history`), written once by store/scheduled.backfill_reminded_at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from contracts.vocabulary import TicketStatus
from services.ticketing.domain.schedule import CLOSED_OR_RESOLVED, Deadline

if TYPE_CHECKING:
    from services.ticketing.domain.ticket import Ticket

# MongoDB keeps datetimes to the millisecond, the history's text keeps microseconds
SAME_INSTANT = timedelta(milliseconds=1)

ReminderKind = Literal["update_due", "sla_breached"]
# the statuses of tickets that can ask something of their assignee: where GET /v1/reminders looks
OPEN_STATUSES = tuple(s for s in TicketStatus if s not in CLOSED_OR_RESOLVED)


@dataclass(frozen=True)
class Reminder:
    kind: ReminderKind
    deadline: Deadline          # which clock: `update` for update_due
    due_at: datetime            # when the report is (or was) due, or the deadline missed
    raised_at: datetime | None  # when the breach was raised (None for update_due: the ticket keeps no time)
    late_seconds: float | None  # how late when the breach was raised


def reminders_of(ticket: "Ticket") -> list[Reminder]:
    """The ticket's active reminders for its assignee, the most pressing deadline first."""
    if ticket.assignee is None or ticket.status in CLOSED_OR_RESOLVED:
        return []
    found: list[Reminder] = []
    update_breached = False
    for breach in ticket.sla_breaches:
        if breach.deadline == "respond" and ticket.first_response_at is not None:
            continue
        if breach.deadline == "update":
            if breach.deadline_at != ticket.update_by:
                continue  # a requester-visible note restarted the clock since
            update_breached = True
        found.append(Reminder("sla_breached", breach.deadline, breach.deadline_at, breach.raised_at,
                              breach.late_seconds))
    if (ticket.update_by is not None and ticket.update_by in ticket.update_reminders and not update_breached
            and ticket.update_reminded_at is not None and ticket.status != TicketStatus.pending):
        found.append(Reminder("update_due", "update", ticket.update_by, None, None))
    return sorted(found, key=lambda r: r.due_at)


def reminded_at_from_history(ticket: "Ticket") -> datetime | None:
    """When the assignee was reminded of the report due at the ticket's `update_by`, read from its history, for
    a ticket stored before `update_reminded_at` existed (store/scheduled.backfill_reminded_at): the
    `update_reminded` entry for that instant, unless a requester-visible note came after it (the note forgets
    the reminder, as Ticket.add_note does). None when it was not reminded of this `update_by`, or the note came."""
    if ticket.update_by is None or ticket.update_by not in ticket.update_reminders:
        return None
    reminded: datetime | None = None
    for entry in ticket.history:
        if entry.action == "update_reminded" and _instant(entry.details.get("update_by")) is not None \
                and abs(_instant(entry.details["update_by"]) - ticket.update_by) < SAME_INSTANT:
            reminded = entry.at
        elif reminded is not None and entry.action == "notes" and entry.details.get("visibility") == "requester":
            reminded = None
    return reminded


def _instant(text: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
