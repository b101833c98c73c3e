"""Unit tests of the SLA engine (services/ticketing/domain/sla.py) and of the ticket's deadlines over it."""

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts.vocabulary import Cause, Channel, Kind, Priority
from services.ticketing.domain import sla
from services.ticketing.domain.calendar import SHANGHAI, BusinessCalendar, DayOverride
from services.ticketing.domain.ticket import Actor, Customer, RuleViolation, Ticket

H = timedelta(hours=1)
ME = Actor(sub="agent-1", name="王客服")
SYSTEM = Actor(sub="system:sla", name="SLA")
CONFIG = sla.DEFAULT_CONFIG


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


class PausableTicket(Ticket):
    """A ticket with the paused intervals that the pending flow (待补充) keeps; the engine reads only start/end."""

    pauses: list[dict] = []


def ticket(kind=Kind.complaint, received=sh(2026, 11, 25, 9, 0), now=None, config=CONFIG, cls=Ticket, **kw):
    opened, _ = cls.open(id="TS-20261125-00001", kind=kind, channel=Channel.call_center, product_code="mobile_office",
                         city="济南", title="无法登录", description="移动办公无法登录",
                         customer=Customer(name="张三", group_name="济南某局"), actor=ME, now=now or received,
                         received_at=received, sla_config=config, **kw)
    return opened


def deadlines(kind, received, severity=None, priority=None, **kw):
    target = CONFIG.target(CONFIG.current, kind, priority, severity)
    return sla.compute(target, CONFIG.calendar, kind=kind, received_at=received, **kw)


def test_spec_defaults_per_kind():
    wednesday = sh(2026, 11, 25, 9, 0)
    consultation = deadlines(Kind.consultation, wednesday)
    assert (consultation.respond_by, consultation.resolve_by, consultation.update_by) == (
        sh(2026, 11, 25, 13, 0), sh(2026, 11, 27, 9, 0), None)  # 4 business hours, 2 × 9 h
    complaint = deadlines(Kind.complaint, wednesday)
    assert (complaint.respond_by, complaint.resolve_by, complaint.update_by) == (
        sh(2026, 11, 25, 13, 0), sh(2026, 12, 2, 9, 0), sh(2026, 11, 26, 9, 0))  # 5 business days; update daily
    suggestion = deadlines(Kind.suggestion, wednesday)
    assert (suggestion.respond_by, suggestion.resolve_by) == (sh(2026, 11, 27, 9, 0), sh(2026, 12, 16, 9, 0))


@pytest.mark.parametrize("severity,respond,resolve", [(1, timedelta(minutes=15), 4 * H), (2, timedelta(minutes=30), 8 * H),
                                                      (3, 2 * H, 48 * H)])
def test_faults_run_on_the_wall_clock_even_on_a_holiday_night(severity, respond, resolve):
    national_day_night = sh(2026, 10, 3, 3, 0)
    found = deadlines(Kind.fault, national_day_night, severity=severity)
    assert (found.respond_by, found.resolve_by) == (national_day_night + respond, national_day_night + resolve)


def test_answers_are_utc_instants():
    found = deadlines(Kind.consultation, datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    assert found.respond_by.utcoffset() == timedelta(0) and found.respond_by == datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


def test_pauses_stop_business_clocks_in_working_time_and_fault_clocks_in_wall_time():
    received = sh(2026, 11, 27, 9, 0)  # a Friday
    weekend_pause = [(sh(2026, 11, 27, 10, 0), sh(2026, 11, 30, 10, 0))]  # Friday 10:00 to Monday 10:00
    consultation = deadlines(Kind.consultation, received, pauses=weekend_pause)
    assert consultation.paused == 9 * H  # 7.5 h of Friday, 1.5 h of Monday; the weekend was no working time
    assert consultation.resolve_by == CONFIG.calendar.add(received, 27 * H)  # 18 h of target + 9 h paused
    fault = deadlines(Kind.fault, received, severity=3, pauses=weekend_pause)
    assert fault.paused == 72 * H and fault.resolve_by == received + 48 * H + 72 * H


def test_an_open_pause_counts_up_to_as_of():
    received = sh(2026, 11, 25, 9, 0)
    pending = [(sh(2026, 11, 25, 10, 0), None)]
    assert deadlines(Kind.consultation, received, pauses=pending).respond_by == sh(2026, 11, 25, 13, 0)
    later = deadlines(Kind.consultation, received, pauses=pending, as_of=sh(2026, 11, 25, 12, 0))
    assert later.respond_by == sh(2026, 11, 25, 15, 0) and later.paused == 2 * H


def test_a_complaint_is_due_within_15_calendar_days_pause_or_not():
    received = sh(2026, 9, 28, 9, 0)  # before National Day: 5 business days end on the 调休 Saturday Oct 10
    assert deadlines(Kind.complaint, received).resolve_by == sh(2026, 10, 10, 9, 0)
    long_pause = [(sh(2026, 9, 28, 10, 0), sh(2026, 10, 20, 10, 0))]
    assert deadlines(Kind.complaint, received, pauses=long_pause).resolve_by == received + timedelta(days=15)


def test_the_update_clock_restarts_from_the_last_requester_contact_and_stops_when_resolved():
    received = sh(2026, 11, 25, 9, 0)
    assert deadlines(Kind.complaint, received, last_contact=sh(2026, 11, 26, 16, 0)).update_by == sh(2026, 11, 27, 16, 0)
    assert deadlines(Kind.complaint, received, open_=False).update_by is None


def test_policy_rules_most_specific_first_and_validated():
    urgent = sla.Rule(kind=Kind.consultation, priority=Priority.urgent, clock="business",
                      respond=sla.Duration(amount=1, unit="hours"), resolve=sla.Duration(amount=1, unit="days"))
    policy = sla.Policy(version=2, rules=[*sla.DEFAULT_POLICY.rules, urgent])
    assert policy.rule_for(Kind.consultation, Priority.urgent, None) == urgent
    assert policy.rule_for(Kind.consultation, Priority.low, None).respond.amount == 4
    assert policy.rule_for(Kind.fault, Priority.urgent, 2).resolve == sla.Duration(amount=8, unit="hours")
    with pytest.raises(ValidationError, match="same kind/priority/severity"):
        sla.Policy(version=3, rules=[*policy.rules, urgent])
    with pytest.raises(ValidationError, match="no rule covers every suggestion"):
        sla.Policy(version=3, rules=[r for r in policy.rules if r.kind != Kind.suggestion])
    with pytest.raises(ValidationError, match="no rule covers every fault severity 2"):
        sla.Policy(version=3, rules=[r for r in policy.rules if r.severity != 2])
    with pytest.raises(ValidationError, match="faults only"):
        sla.Rule(kind=Kind.complaint, severity=1, clock="business", respond=urgent.respond, resolve=urgent.resolve)


def test_business_days_follow_the_configured_working_day():
    eight_hours = sla.SlaConfig(calendar=BusinessCalendar(start=datetime(2026, 1, 1, 9).time(),
                                                          end=datetime(2026, 1, 1, 17).time()))
    target = eight_hours.target(eight_hours.current, Kind.consultation, None, None)
    assert target.resolve == 16 * H


def test_a_ticket_received_earlier_runs_its_clocks_from_then_and_one_in_the_future_is_refused():
    filed_late = ticket(Kind.consultation, received=sh(2026, 11, 25, 9, 0), now=sh(2026, 11, 26, 9, 0))
    assert filed_late.received_at == sh(2026, 11, 25, 9, 0) and filed_late.respond_by == sh(2026, 11, 25, 13, 0)
    assert filed_late.breached(sh(2026, 11, 26, 9, 0))
    with pytest.raises(RuleViolation) as refused:
        ticket(received=sh(2026, 11, 26, 9, 0), now=sh(2026, 11, 25, 9, 0))
    assert refused.value.field == "received_at"


def test_a_ticket_stored_before_received_at_existed_reads_as_received_when_opened():
    doc = ticket().model_dump()
    del doc["received_at"]
    assert Ticket.model_validate(doc).received_at == doc["opened_at"]


def test_the_ticket_keeps_its_policy_version_unless_an_admin_applies_a_new_one_to_open_tickets():
    t = ticket(Kind.consultation)
    faster = [r.model_copy(update={"respond": sla.Duration(amount=1, unit="hours")}) if r.kind == Kind.consultation
              else r for r in sla.DEFAULT_POLICY.rules]
    kept = sla.SlaConfig(policies={1: sla.DEFAULT_POLICY, 2: sla.Policy(version=2, rules=faster)}, revision=1)
    now = sh(2026, 11, 25, 10, 0)
    assert t.recalculate_sla(kept, now) is None and t.sla_policy_version == 1 and t.sla_revision == 1
    assert t.respond_by == sh(2026, 11, 25, 13, 0)
    applied = sla.SlaConfig(policies=kept.policies, revision=2, minimum_policy_version=2)
    change = t.recalculate_sla(applied, now)
    assert t.sla_policy_version == 2 and t.respond_by == sh(2026, 11, 25, 10, 0)
    assert change["before"]["respond_by"] == sh(2026, 11, 25, 13, 0) and change["after"]["sla_policy_version"] == 2
    new = ticket(Kind.consultation, config=kept)
    assert new.sla_policy_version == 2 and new.respond_by == sh(2026, 11, 25, 10, 0)


def test_a_calendar_change_moves_the_deadlines_and_the_history_says_so():
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0))
    thursday_off = sla.SlaConfig(calendar=BusinessCalendar(overrides=[
        DayOverride(date(2026, 11, 26), False, "admin-1", sh(2026, 11, 25, 10, 0), "本地停电")]), revision=3)
    change = t.recalculate_sla(thursday_off, sh(2026, 11, 25, 10, 0))
    assert change["before"]["update_by"] == sh(2026, 11, 26, 9, 0) and t.update_by == sh(2026, 11, 27, 9, 0)
    assert t.resolve_by == sh(2026, 12, 3, 9, 0)
    t.record_sla_recalculated(change, SYSTEM, sh(2026, 11, 25, 10, 0), new_version=True)
    assert t.history[-1].action == "sla_recalculated" and t.version == 2
    assert t.recalculate_sla(thursday_off, sh(2026, 11, 25, 11, 0)) is None  # nothing moved the second time


def test_a_requester_note_restarts_the_update_clock():
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0))
    t.assign("handler-1", ME, sh(2026, 11, 25, 9, 5))
    t.add_note("正在核实", "requester", ME, sh(2026, 11, 26, 15, 0))
    assert t.recalculate_sla(CONFIG, sh(2026, 11, 26, 15, 0)) is None  # the ticket's own doing: no history entry
    assert t.update_by == sh(2026, 11, 27, 15, 0) and t.first_response_at == sh(2026, 11, 26, 15, 0)
    t.resolve("已处理", Cause.other, None, ME, sh(2026, 11, 27, 10, 0))
    t.recalculate_sla(CONFIG, sh(2026, 11, 27, 10, 0))
    assert t.update_by is None  # no progress report is due once answered


def test_while_paused_no_new_breach_except_a_complaints_15_days_and_the_pause_is_not_counted():
    t = ticket(Kind.complaint, received=sh(2026, 11, 25, 9, 0), cls=PausableTicket)
    t.add_note("请补充截图", "requester", ME, sh(2026, 11, 25, 10, 0))
    t.pauses = [{"start": sh(2026, 11, 25, 10, 0), "end": None}]
    t.recalculate_sla(CONFIG, sh(2026, 11, 25, 10, 0))
    assert not t.breached(sh(2026, 12, 8, 9, 0))  # past every deadline the clocks would have had
    assert t.breached(sh(2026, 12, 10, 9, 1))       # past the 15 calendar days
    t.pauses = [{"start": sh(2026, 11, 25, 10, 0), "end": sh(2026, 11, 26, 10, 0)}]  # the requester answered
    t.updated_at = sh(2026, 11, 26, 10, 0)
    t.recalculate_sla(CONFIG, sh(2026, 11, 26, 10, 0))
    assert t.sla_paused_seconds == 9 * 3600 and t.resolve_by == sh(2026, 12, 3, 9, 0)  # one working day later
