"""The rules of ticketing's scheduled work (issue 8 point 4). Pure: no I/O; the jobs are in store/scheduled.py.

- SLA breaches (超时): a deadline in play (see `deadlines_in_play`) that `now` is past is breached. Each is raised
  once per ticket: `respond` and `resolve` once each, `update` once per `update_by` instant (a complaint can miss
  its progress report again after each one). What was raised is recorded on the ticket (`Ticket.sla_breaches`)
  and stays there whatever happens next: a late note moves `update_by` on, the missed one stays on record.
- Update reminders (通报提醒): an open complaint whose `update_by` lies within the reminder lead of `now`, not yet
  passed and not paused, gets one reminder for its assignee per `update_by` instant (`Ticket.update_reminders`).
- Auto-close (自动结单): a ticket resolved (答复) with no feedback for `auto_close_days` business days of the
  business calendar, counted from its latest resolution, closes as `no_feedback`. Not while it is reserved for
  a merge into another ticket: the merge closes it (`merged`), or gives up and the ticket is due again.

Each rule also says from when on it has something to do (`breach_check_at`, `reminder_check_at`,
`auto_close_from`): the jobs find their tickets by those instants, stored and indexed, not by "what happened in
the last minute", so a ticket whose moment passed while no job ran is found by the next run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from contracts.vocabulary import TicketStatus

if TYPE_CHECKING:
    from services.ticketing.domain.calendar import BusinessCalendar
    from services.ticketing.domain.ticket import Ticket

S = TicketStatus
Deadline = Literal["respond", "resolve", "update"]
CLOSED_OR_RESOLVED = (S.resolved, S.closed)


class SlaBreach(BaseModel):
    """A deadline missed, as raised (and kept on the ticket)."""

    deadline: Deadline
    deadline_at: datetime
    raised_at: datetime
    late_seconds: float  # how late when raised, or when the deadline was met late if that came first


def deadlines_in_play(ticket: "Ticket") -> list[tuple[Deadline, datetime]]:
    """`Ticket.deadlines_in_play()` with the name of each deadline (the same instants, tested so): respond until
    met in time, resolve until resolved in time, update while open; while a pause is open only what had passed
    when it began, and a complaint's 15-day limit, which runs pause or not."""
    from services.ticketing.domain import sla

    resolved = ticket.status in CLOSED_OR_RESOLVED
    in_play: list[tuple[Deadline, datetime]] = []
    if ticket.first_response_at is None or ticket.first_response_at > ticket.respond_by:
        in_play.append(("respond", ticket.respond_by))
    if not resolved or ticket.resolved_at is None or ticket.resolved_at > ticket.resolve_by:
        in_play.append(("resolve", ticket.resolve_by))
    if ticket.update_by is not None and not resolved:
        in_play.append(("update", ticket.update_by))
    paused_since = next((start for start, end in ticket.pause_intervals() if end is None), None)
    if paused_since is not None and not resolved:
        late_already = [(name, at) for name, at in in_play if at < paused_since
                        or (name == "respond" and ticket.first_response_at is not None)]
        limit = sla.resolve_limit(ticket.kind, ticket.received_at)
        in_play = late_already + ([("resolve", limit)] if limit is not None else [])
    return in_play


def _recorded(ticket: "Ticket", name: Deadline, at: datetime) -> bool:
    """Raised before: respond and resolve once per ticket, update once per instant."""
    return any(b.deadline == name and (name != "update" or b.deadline_at == at) for b in ticket.sla_breaches)


def _met_at(ticket: "Ticket", name: Deadline) -> datetime | None:
    if name == "respond":
        return ticket.first_response_at
    if name == "resolve" and ticket.status in CLOSED_OR_RESOLVED:
        return ticket.resolved_at
    return None


def unraised(ticket: "Ticket") -> list[tuple[Deadline, datetime]]:
    """The deadlines in play that were not raised yet (at most one per name)."""
    found: list[tuple[Deadline, datetime]] = []
    for name, at in deadlines_in_play(ticket):
        if not _recorded(ticket, name, at) and all(n != name for n, _ in found):
            found.append((name, at))
    return found


def breaches_due(ticket: "Ticket", now: datetime) -> list[SlaBreach]:
    """The breaches to raise at `now`: deadlines in play that `now` is past and that were not raised yet."""
    due = []
    for name, at in unraised(ticket):
        if now > at:
            until = _met_at(ticket, name) or now
            due.append(SlaBreach(deadline=name, deadline_at=at, raised_at=now,
                                 late_seconds=round(max((min(until, now) - at).total_seconds(), 0.0), 3)))
    return due


def breach_check_at(ticket: "Ticket") -> datetime | None:
    """From when on the breach job has something to raise for this ticket (the earliest unraised deadline in
    play), None if nothing can be breached while it stays as it is."""
    return min((at for _, at in unraised(ticket)), default=None)


def reminder_check_at(ticket: "Ticket") -> datetime | None:
    """The `update_by` an assignee is still to be reminded of, None if none: a complaint (any kind with an update
    clock) open and not paused, not reminded of that instant yet."""
    if ticket.update_by is None or ticket.status in CLOSED_OR_RESOLVED or ticket.update_by in ticket.update_reminders:
        return None
    if any(end is None for _, end in ticket.pause_intervals()):
        return None  # the update clock stands still while waiting for the requester
    return ticket.update_by


def reminder_due(ticket: "Ticket", now: datetime, lead: timedelta) -> bool:
    """Remind now: `update_by` lies within `lead` of `now` and has not passed (a passed one is a breach)."""
    due = reminder_check_at(ticket)
    return due is not None and now <= due <= now + lead


def auto_close_from(ticket: "Ticket") -> datetime | None:
    """The instant the no-feedback period of a resolved ticket runs from (its latest resolution), else None;
    None too while the ticket is reserved for a merge (`merging`, events/merges.py): the merge closes it, or it
    releases the reservation, and the release writes this instant back, so a later pass closes it then."""
    if ticket.status != S.resolved or ticket.merging is not None:
        return None
    return ticket.resolved_at


def auto_close_due(ticket: "Ticket", now: datetime, calendar: "BusinessCalendar", days: float) -> bool:
    start = auto_close_from(ticket)
    return start is not None and calendar.add(start, days * calendar.day_length) <= now


def auto_close_cutoff(now: datetime, calendar: "BusinessCalendar", days: float) -> datetime:
    """The latest resolution instant whose no-feedback period has run out at `now`: the
    tickets to close are those resolved at or before it, one range of the stored `resolved_at` text (to the
    microsecond, the texts' precision). Found by
    bisection, since adding business time never goes back (`calendar.add` is monotonic in its start)."""
    period = days * calendar.day_length
    low = now - period
    while calendar.add(low, period) > now:  # business time runs slower than the wall clock: go back far enough
        low -= max(period, timedelta(days=7))
    high = now
    while high - low > timedelta(microseconds=1):  # the stored texts' precision: the cutoff is exact
        middle = low + (high - low) / 2
        if calendar.add(middle, period) <= now:
            low = middle
        else:
            high = middle
    return low
