"""Which of a ticket's reminders still ask something of its assignee (domain/reminders.py). Pure."""

from datetime import timedelta

from contracts.vocabulary import TicketStatus
from services.ticketing.domain.reminders import reminders_of
from services.ticketing.domain.schedule import breaches_due
from tests.ticketing.test_domain import ME, T0, new_ticket

S = TicketStatus


def assigned():
    ticket = new_ticket()  # a complaint: it has an update clock
    ticket.assign("handler-1", ME, T0)
    return ticket


def kinds(ticket) -> list[tuple[str, str]]:
    return [(r.kind, r.deadline) for r in reminders_of(ticket)]


def test_an_update_reminder_lasts_until_a_requester_visible_note():
    ticket = assigned()
    assert kinds(ticket) == []
    ticket.remind_update(ME, ticket.update_by - timedelta(minutes=30))
    assert kinds(ticket) == [("update_due", "update")]
    assert reminders_of(ticket)[0].due_at == ticket.update_by
    ticket.add_note("内部", "internal", ME, ticket.update_by - timedelta(minutes=25))
    assert kinds(ticket) == [("update_due", "update")]
    ticket.add_note("处理中", "requester", ME, ticket.update_by - timedelta(minutes=20))
    # cleared by the note itself, even where the clock restarts to the same instant (a note out of hours)
    assert kinds(ticket) == []


def test_breaches_last_until_met_and_none_once_resolved_or_unassigned():
    ticket = assigned()
    ticket.remind_update(ME, ticket.update_by - timedelta(minutes=30))
    late = ticket.update_by + timedelta(minutes=1)
    ticket.record_breaches(breaches_due(ticket, late), ME, late)
    assert kinds(ticket) == [("sla_breached", "respond"), ("sla_breached", "update")]  # the update_due gave way
    ticket.first_response_at = late  # a late first response meets the respond deadline
    assert kinds(ticket) == [("sla_breached", "update")]
    ticket.status = S.pending
    assert kinds(ticket) == [("sla_breached", "update")]  # a missed report stays missed while we wait
    ticket.status = S.in_progress
    ticket.assignee = None
    assert kinds(ticket) == []
    ticket.assignee = "handler-2"
    assert kinds(ticket) == [("sla_breached", "update")]  # the new assignee's now
    ticket.status = S.resolved
    assert kinds(ticket) == []


def test_while_pending_the_update_reminder_waits():
    ticket = assigned()
    ticket.remind_update(ME, ticket.update_by - timedelta(minutes=30))
    ticket.status = S.pending
    assert kinds(ticket) == []
