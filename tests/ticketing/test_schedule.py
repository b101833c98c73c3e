"""Unit tests of the rules of the scheduled work (services/ticketing/domain/schedule.py): which deadlines are
breached at a given now, once each; pauses; update reminders; auto-close; the stored keys the jobs look up."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import TicketClosed, TicketSlaBreached
from contracts.vocabulary import Cause, Kind, TicketStatus
from services.ticketing.domain import schedule
from services.ticketing.domain.calendar import BusinessCalendar
from services.ticketing.domain.ticket import Actor, IllegalTransition
from services.ticketing.store import scheduled
from services.ticketing.store.collections import from_document, to_document
from services.ticketing.store.listing import NEVER, breach_key, instant_text
from tests.ticketing.test_sla import ME, PausableTicket, sh, ticket

MONITOR = Actor(sub="system:sla")
CLOSER = Actor(sub="system:auto-close")
CALENDAR = BusinessCalendar()


def paused_at(start):
    """An open pause (待补充) from `start`, as Ticket.request_information leaves it."""
    from contracts.vocabulary import TicketStatus
    from services.ticketing.domain.ticket import Pause
    return Pause(start=start, needed="请补充截图", resume_status=TicketStatus.in_progress, resume_tier=1)


def names(breaches) -> list[tuple[str, datetime]]:
    return [(b.deadline, b.deadline_at) for b in breaches]


def raise_due(t, now):
    return t.record_breaches(schedule.breaches_due(t, now), MONITOR, now)


def test_which_deadlines_are_breached_at_a_given_now_and_each_only_once():
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0))  # Wednesday
    assert (t.respond_by, t.update_by, t.resolve_by) == (sh(2026, 11, 25, 13, 0), sh(2026, 11, 26, 9, 0),
                                                         sh(2026, 12, 2, 9, 0))
    assert schedule.breaches_due(t, sh(2026, 11, 25, 13, 0)) == []  # at the deadline is still in time
    due = schedule.breaches_due(t, sh(2026, 11, 25, 13, 1))
    assert names(due) == [("respond", sh(2026, 11, 25, 13, 0))] and due[0].late_seconds == 60
    events = t.record_breaches(due, MONITOR, sh(2026, 11, 25, 13, 1))
    assert [type(e) for e in events] == [TicketSlaBreached] and events[0].late_seconds == 60
    assert events[0].deadline_at == sh(2026, 11, 25, 13, 0) and t.version == 2
    assert t.history[-1].action == "sla_breached" and t.history[-1].actor == "system:sla"
    assert schedule.breaches_due(t, sh(2026, 11, 25, 16, 0)) == []  # raised once
    assert schedule.breach_check_at(t) == sh(2026, 11, 26, 9, 0)    # the next one to watch: the update

    # after downtime: everything passed meanwhile at once, each with how late it is now
    late = schedule.breaches_due(t, sh(2026, 12, 3, 9, 0))
    assert names(late) == [("resolve", sh(2026, 12, 2, 9, 0)), ("update", sh(2026, 11, 26, 9, 0))]
    assert [b.late_seconds for b in late] == [86400, 7 * 86400]


def test_a_deadline_met_late_is_raised_with_how_late_it_was_met():
    t = ticket(Kind.consultation, received=sh(2026, 11, 25, 9, 0))
    t.add_note("已收到，正在处理", "requester", ME, sh(2026, 11, 25, 14, 0))  # an hour after respond_by
    due = schedule.breaches_due(t, sh(2026, 11, 25, 15, 30))  # the job saw it only later
    assert names(due) == [("respond", sh(2026, 11, 25, 13, 0))] and due[0].late_seconds == 3600
    t.assign("agent-1", ME, sh(2026, 11, 25, 15, 0))
    t.resolve("请在考勤页面导出", Cause.usage_misunderstanding, None, ME, sh(2026, 11, 25, 16, 0))
    raise_due(t, sh(2026, 11, 25, 16, 0))
    assert schedule.breach_check_at(t) is None  # resolved in time: nothing more can be breached
    assert schedule.breaches_due(t, sh(2027, 1, 1, 9, 0)) == []


def test_a_missed_update_stays_on_record_after_a_late_note_and_a_second_miss_is_raised_again():
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0))
    t.add_note("已受理", "requester", ME, sh(2026, 11, 25, 9, 30))
    t.recalculate_sla(sh_config(), sh(2026, 11, 25, 9, 30))
    first_update = t.update_by
    assert first_update == sh(2026, 11, 26, 9, 30)
    raise_due(t, sh(2026, 11, 26, 10, 0))
    t.add_note("仍在核实", "requester", ME, sh(2026, 11, 26, 11, 0))  # late progress report
    t.recalculate_sla(sh_config(), sh(2026, 11, 26, 11, 0))
    assert t.update_by == sh(2026, 11, 27, 11, 0)
    assert t.breached(sh(2026, 11, 26, 11, 1))  # the missed report still shows
    assert breach_key(t) == instant_text(first_update)
    assert schedule.breaches_due(t, sh(2026, 11, 27, 11, 0)) == []
    again = schedule.breaches_due(t, sh(2026, 11, 27, 11, 5))
    assert names(again) == [("update", sh(2026, 11, 27, 11, 0))]
    t.record_breaches(again, MONITOR, sh(2026, 11, 27, 11, 5))
    assert [(b.deadline, b.deadline_at) for b in t.sla_breaches] == [
        ("update", first_update), ("update", sh(2026, 11, 27, 11, 0))]


def sh_config():
    from services.ticketing.domain.sla import DEFAULT_CONFIG
    return DEFAULT_CONFIG


def test_an_open_pause_stops_new_breaches_of_business_time_deadlines_but_not_a_complaints_15_days():
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0), cls=PausableTicket)
    t.add_note("请补充截图", "requester", ME, sh(2026, 11, 25, 10, 0))
    t.pauses = [paused_at(sh(2026, 11, 25, 10, 0))]
    t.recalculate_sla(sh_config(), sh(2026, 11, 25, 10, 0))
    assert schedule.breaches_due(t, sh(2026, 12, 9, 9, 0)) == []  # past every deadline the clocks would have had
    assert schedule.reminder_check_at(t) is None                  # no progress report due while paused
    limit = sh(2026, 12, 10, 9, 0)
    assert schedule.breach_check_at(t) == limit
    assert names(schedule.breaches_due(t, sh(2026, 12, 10, 9, 1))) == [("resolve", limit)]


def test_a_deadline_passed_before_the_pause_began_is_still_raised_during_it():
    t = ticket(Kind.consultation, received=sh(2026, 11, 25, 9, 0), cls=PausableTicket)
    t.pauses = [paused_at(sh(2026, 11, 25, 14, 0))]  # respond_by 13:00 passed unmet
    assert names(schedule.breaches_due(t, sh(2026, 11, 30, 9, 0))) == [("respond", sh(2026, 11, 25, 13, 0))]


def test_faults_breach_on_the_wall_clock_at_night():
    t = ticket(Kind.fault, received=sh(2026, 11, 28, 23, 0), severity=1)  # Saturday night
    assert names(schedule.breaches_due(t, sh(2026, 11, 28, 23, 16))) == [("respond", sh(2026, 11, 28, 23, 15))]
    assert names(schedule.breaches_due(t, sh(2026, 11, 29, 3, 1)))[-1] == ("resolve", sh(2026, 11, 29, 3, 0))


@pytest.mark.parametrize("scenario", ["new", "responded_late", "resolved_late", "paused", "reopened"])
def test_the_named_deadlines_are_the_ones_the_ticket_counts_as_breached(scenario):
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0), cls=PausableTicket)
    if scenario == "responded_late":
        t.add_note("已受理", "requester", ME, sh(2026, 11, 25, 15, 0))
    if scenario in ("resolved_late", "reopened"):
        t.assign("h-1", ME, sh(2026, 11, 25, 9, 1))
        t.resolve("已处理", Cause.other, None, ME, sh(2026, 12, 3, 9, 0))
    if scenario == "reopened":
        t.give_feedback(False, 1, "没解决", ME, sh(2026, 12, 3, 10, 0))
    if scenario == "paused":
        t.pauses = [paused_at(sh(2026, 11, 25, 15, 0))]
    raise_due(t, sh(2026, 11, 26, 12, 0))
    named = [at for _, at in schedule.deadlines_in_play(t)] + [b.deadline_at for b in t.sla_breaches]
    assert named == t.deadlines_in_play()
    assert t.deadlines_in_play(), "every scenario has something in play"


def test_the_assignee_is_reminded_within_the_lead_once_per_update_by():
    hour = timedelta(hours=1)
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0))
    t.assign("handler-1", ME, sh(2026, 11, 25, 9, 1))
    assert schedule.reminder_check_at(t) == sh(2026, 11, 26, 9, 0)
    assert not schedule.reminder_due(t, sh(2026, 11, 26, 7, 59), hour)
    assert schedule.reminder_due(t, sh(2026, 11, 26, 8, 0), hour)
    assert not schedule.reminder_due(t, sh(2026, 11, 26, 9, 1), hour)  # passed: that is a breach, not a reminder
    event = t.remind_update(Actor(sub="system:reminder"), sh(2026, 11, 26, 8, 30))
    assert event.assignee == "handler-1" and event.due_in_seconds == 1800 and event.update_by == t.update_by
    assert not schedule.reminder_due(t, sh(2026, 11, 26, 8, 40), hour) and schedule.reminder_check_at(t) is None
    t.add_note("处理进展", "requester", ME, sh(2026, 11, 26, 8, 45))
    t.recalculate_sla(sh_config(), sh(2026, 11, 26, 8, 45))
    assert schedule.reminder_check_at(t) == sh(2026, 11, 27, 8, 45)  # a new instant: reminded again
    assert ticket(Kind.consultation).update_by is None and schedule.reminder_check_at(ticket(Kind.consultation)) is None


def test_auto_close_after_three_business_days_without_feedback():
    t = ticket(Kind.consultation, received=sh(2026, 11, 27, 9, 0))
    t.assign("agent-1", ME, sh(2026, 11, 27, 9, 5))
    t.resolve("请在考勤页面导出", Cause.usage_misunderstanding, None, ME, sh(2026, 11, 27, 16, 0))  # Friday
    # 27 working hours: Fri 1.5 h, Mon 9, Tue 9, Wed 7.5 → Wednesday 16:00
    assert not schedule.auto_close_due(t, sh(2026, 12, 2, 15, 59), CALENDAR, 3)
    assert schedule.auto_close_due(t, sh(2026, 12, 2, 16, 0), CALENDAR, 3)
    cutoff = schedule.auto_close_cutoff(sh(2026, 12, 2, 16, 0), CALENDAR, 3)
    assert abs(cutoff - sh(2026, 11, 27, 16, 0)) <= timedelta(milliseconds=1) and cutoff <= sh(2026, 11, 27, 16, 0)
    closed = t.auto_close(CLOSER, sh(2026, 12, 2, 16, 0))
    assert isinstance(closed, TicketClosed) and closed.close_reason == "no_feedback"
    assert closed.satisfied is None and closed.score is None and closed.closed_at == sh(2026, 12, 2, 16, 0)
    assert t.status == TicketStatus.closed and t.history[-1].actor == "system:auto-close"
    assert schedule.auto_close_from(t) is None
    with pytest.raises(IllegalTransition):
        t.auto_close(CLOSER, sh(2026, 12, 3, 9, 0))
    with pytest.raises(IllegalTransition):
        t.give_feedback(True, 5, None, ME, sh(2026, 12, 3, 9, 0))


def test_a_ticket_reserved_for_a_merge_is_not_due_for_auto_close_and_is_again_once_released():
    t = ticket(Kind.consultation, received=sh(2026, 11, 27, 9, 0))
    t.assign("agent-1", ME, sh(2026, 11, 27, 9, 5))
    t.resolve("请在考勤页面导出", Cause.usage_misunderstanding, None, ME, sh(2026, 11, 27, 16, 0))
    target = ticket(Kind.consultation, received=sh(2026, 11, 30, 9, 0)).model_copy(update={"id": "TS-20261130-00002"})
    t.reserve_merge(target, ME, sh(2026, 12, 2, 15, 0))
    assert schedule.auto_close_from(t) is None
    assert not schedule.auto_close_due(t, sh(2026, 12, 3, 9, 0), CALENDAR, 3)  # past the period, but reserved
    assert to_document(t, {})[scheduled.AUTO_CLOSE_CHECK] == NEVER  # the job's range does not find it
    assert t.release_merge(target.id)
    assert schedule.auto_close_from(t) == sh(2026, 11, 27, 16, 0)  # the period still runs from the resolution
    assert schedule.auto_close_due(t, sh(2026, 12, 3, 9, 0), CALENDAR, 3)
    assert to_document(t, {})[scheduled.AUTO_CLOSE_CHECK] == instant_text(sh(2026, 11, 27, 16, 0))


def test_auto_close_after_an_unsatisfied_round_counts_from_the_latest_resolution_with_no_satisfaction():
    t = ticket(Kind.complaint, received=sh(2026, 11, 23, 9, 0))
    t.assign("h-1", ME, sh(2026, 11, 23, 9, 5))
    t.resolve("已退费", Cause.billing_error, None, ME, sh(2026, 11, 23, 15, 0))
    t.give_feedback(False, 2, "未到账", ME, sh(2026, 11, 24, 9, 0))
    with pytest.raises(IllegalTransition):
        t.auto_close(CLOSER, sh(2026, 11, 30, 9, 0))  # in progress again: nothing to close
    t.resolve("已到账", Cause.billing_error, None, ME, sh(2026, 11, 25, 10, 0))
    assert not schedule.auto_close_due(t, sh(2026, 11, 27, 17, 0), CALENDAR, 3)
    assert schedule.auto_close_due(t, sh(2026, 11, 30, 10, 0), CALENDAR, 3)
    closed = t.auto_close(CLOSER, sh(2026, 11, 30, 10, 0))
    assert closed.satisfied is None and closed.score is None and closed.reopen_count == 1


@pytest.mark.parametrize("now", [sh(2026, 10, 8, 10, 0), sh(2026, 10, 1, 12, 0), sh(2026, 12, 2, 8, 0),
                                 datetime(2026, 6, 1, 0, 0, tzinfo=UTC)])
def test_the_cutoff_is_the_latest_resolution_whose_period_has_run_out(now):
    for days in (0.5, 3, 10):
        cutoff = schedule.auto_close_cutoff(now, CALENDAR, days)
        period = days * CALENDAR.day_length
        assert CALENDAR.add(cutoff, period) <= now
        assert CALENDAR.add(cutoff + timedelta(milliseconds=2), period) > now or \
            CALENDAR.add(cutoff + timedelta(minutes=1), period) <= now  # a flat stretch (outside working time)


def test_the_stored_check_keys_follow_the_ticket_and_the_breaches_survive_storage():
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0))
    keys = scheduled.check_fields(t)
    assert keys == {scheduled.BREACH_CHECK: instant_text(sh(2026, 11, 25, 13, 0)),
                    scheduled.REMIND_CHECK: instant_text(sh(2026, 11, 26, 9, 0)), scheduled.AUTO_CLOSE_CHECK: NEVER}
    raise_due(t, sh(2026, 11, 25, 13, 30))
    t.remind_update(Actor(sub="system:reminder"), sh(2026, 11, 26, 8, 30))
    again = from_document(to_document(t, {}))
    assert again.sla_breaches == t.sla_breaches and again.update_reminders == [sh(2026, 11, 26, 9, 0)]
    keys = scheduled.check_fields(again)
    assert keys[scheduled.BREACH_CHECK] == instant_text(sh(2026, 11, 26, 9, 0))
    assert keys[scheduled.REMIND_CHECK] == NEVER
    again.assign("h-1", ME, sh(2026, 11, 26, 9, 0))
    again.resolve("已处理", Cause.other, None, ME, sh(2026, 11, 26, 9, 0))
    assert scheduled.check_fields(again)[scheduled.AUTO_CLOSE_CHECK] == instant_text(sh(2026, 11, 26, 9, 0))
