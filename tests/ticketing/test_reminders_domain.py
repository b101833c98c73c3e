"""Which of a ticket's reminders still ask something of its assignee (domain/reminders.py). Pure."""

from datetime import timedelta

from contracts.vocabulary import TicketStatus
from services.ticketing.domain.reminders import reminded_at_from_history, reminders_of
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


def stored_before_reminded_at_existed(ticket):
    """The ticket as a document written before tickets kept `update_reminded_at` reads back: without it."""
    return ticket.model_copy(update={"update_reminded_at": None})


def test_when_a_ticket_reminded_before_the_field_existed_was_reminded_is_read_from_its_history():
    ticket = assigned()
    assert reminded_at_from_history(ticket) is None  # not reminded
    at = ticket.update_by - timedelta(minutes=30)
    ticket.remind_update(ME, at)
    old = stored_before_reminded_at_existed(ticket)
    assert kinds(old) == []  # what GET /v1/reminders showed for it
    assert reminded_at_from_history(old) == at
    ticket.add_note("内部", "internal", ME, at + timedelta(minutes=5))
    assert reminded_at_from_history(stored_before_reminded_at_existed(ticket)) == at  # an internal note is no report


def test_a_requester_visible_note_after_the_reminder_leaves_none_even_at_the_same_instant():
    ticket = assigned()
    reminded_of = ticket.update_by
    ticket.remind_update(ME, reminded_of - timedelta(minutes=30))
    ticket.add_note("处理中", "requester", ME, reminded_of - timedelta(minutes=20))
    ticket.update_by = reminded_of  # a note out of hours can restart the clock to the same instant
    assert reminded_at_from_history(stored_before_reminded_at_existed(ticket)) is None


def test_a_reminder_of_an_earlier_update_by_is_not_this_one():
    ticket = assigned()
    ticket.remind_update(ME, ticket.update_by - timedelta(minutes=30))
    ticket.update_by = ticket.update_by + timedelta(days=1)  # moved on since (a recalculation, say)
    ticket.update_reminders = [*ticket.update_reminders, ticket.update_by]  # and reminded without a history entry
    assert reminded_at_from_history(stored_before_reminded_at_existed(ticket)) is None


def test_the_history_text_matches_the_millisecond_instant_mongodb_keeps():
    ticket = assigned()
    exact = ticket.update_by.replace(microsecond=123456)
    ticket.update_by = exact
    at = exact - timedelta(minutes=30)
    ticket.remind_update(ME, at)  # the history says ...:00.123456
    stored = stored_before_reminded_at_existed(ticket)
    kept = exact.replace(microsecond=123000)  # what MongoDB reads back for update_by and the reminders
    stored = stored.model_copy(update={"update_by": kept, "update_reminders": [kept]})
    assert reminded_at_from_history(stored) == at
