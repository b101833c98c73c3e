"""Unit tests of ticketing's pure domain: the status machine, SLA arithmetic and scope rules."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import TicketClosed, TicketReopened
from contracts.vocabulary import Cause, Channel, Kind, Role, TicketStatus
from services.kit.auth import Principal
from services.ticketing.domain import scope, sla
from services.ticketing.domain.ticket import Actor, Customer, IllegalTransition, RuleViolation, Ticket

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ME = Actor(sub="agent-1", name="王客服")


def new_ticket(kind=Kind.complaint, severity=None, **kw) -> Ticket:
    ticket, _ = Ticket.open(id="TS-20261125-00001", kind=kind, channel=Channel.call_center,
                            product_code="mobile_office", city="济南", title="无法登录", description="移动办公无法登录",
                            customer=Customer(name="张三", group_name="济南某局"), actor=ME, now=T0,
                            severity=severity, **kw)
    return ticket


def test_open_sets_sla_from_default_policy_on_the_business_calendar():
    ticket = new_ticket()  # T0 is Wednesday 17:00 in Shanghai: half an hour of working time left that day
    assert ticket.status == TicketStatus.new and ticket.tier == 1 and ticket.version == 1
    assert ticket.received_at == T0 and ticket.sla_policy_version == 1
    assert ticket.respond_by == datetime(2026, 11, 26, 4, 0, tzinfo=UTC)   # Thursday 12:00: 0.5 h + 3.5 h
    assert ticket.resolve_by == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)    # 45 working hours: next Wednesday 17:00
    assert ticket.update_by == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)    # one business day: Thursday 17:00


@pytest.mark.parametrize("severity,respond,resolve", [(1, timedelta(minutes=15), timedelta(hours=4)),
                                                      (2, timedelta(minutes=30), timedelta(hours=8)),
                                                      (3, timedelta(hours=2), timedelta(hours=48))])
def test_fault_deadlines_follow_severity(severity, respond, resolve):
    assert sla.deadlines(Kind.fault, severity, T0) == (T0 + respond, T0 + resolve)


def test_fault_defaults_to_severity_3_and_other_kinds_refuse_severity():
    assert new_ticket(kind=Kind.fault).severity == 3
    with pytest.raises(RuleViolation):
        new_ticket(kind=Kind.consultation, severity=1)


def test_complaint_never_later_than_15_calendar_days():
    rules = [r if r.kind != Kind.complaint else r.model_copy(update={"resolve": sla.Duration(amount=30, unit="days")})
             for r in sla.DEFAULT_POLICY.rules]
    config = sla.SlaConfig(policies={2: sla.Policy(version=2, rules=rules)})
    assert sla.deadlines(Kind.complaint, None, T0, config=config)[1] == T0 + timedelta(days=15)


def test_the_loop_of_spec_with_a_reopen():
    t = new_ticket()
    t.assign("handler-1", ME, T0 + timedelta(minutes=5))
    assert t.status == TicketStatus.in_progress and t.first_response_at is None  # assigning is no response
    t.escalate(2, "pm-01", "需产品经理查证", ME, T0 + timedelta(hours=1))
    assert (t.status, t.tier, t.tier_reached) == (TicketStatus.escalated, 2, 2)
    assert t.first_response_at is None  # nor is escalating: the requester heard nothing yet
    t.resolve("已恢复", Cause.usage_misunderstanding, None, ME, T0 + timedelta(hours=2))
    assert t.first_response_at == T0 + timedelta(hours=2)  # the answer is the first response
    reopened = t.give_feedback(False, 2, "还是不行", ME, T0 + timedelta(hours=3))
    assert isinstance(reopened, TicketReopened)
    assert (t.status, t.tier, t.reopen_count) == (TicketStatus.in_progress, 1, 1)
    t.escalate(3, "vendor-a", "厂家处理", ME, T0 + timedelta(hours=4))
    t.resolve("厂家已修复", Cause.product_defect, "KB-000001", ME, T0 + timedelta(days=8))
    closed = t.give_feedback(True, 5, None, ME, T0 + timedelta(days=8, hours=1))
    assert isinstance(closed, TicketClosed)
    assert t.status == TicketStatus.closed and closed.tier_reached == 3 and closed.reopen_count == 1
    assert closed.timely is False and closed.responded_timely is True  # resolved after its 5-business-day deadline
    assert closed.satisfied is True and closed.score == 5 and closed.answer == "厂家已修复"
    assert t.version == 8 and [h.action for h in t.history] == [
        "open", "assign", "escalate", "resolve", "feedback", "escalate", "resolve", "feedback"]


@pytest.mark.parametrize("status,action", [
    (TicketStatus.new, "resolve"), (TicketStatus.new, "feedback"), (TicketStatus.closed, "assign"),
    (TicketStatus.closed, "resolve"), (TicketStatus.resolved, "escalate"), (TicketStatus.in_progress, "feedback"),
])
def test_illegal_transitions_are_refused(status, action):
    t = new_ticket()
    t.status = status
    calls = {"resolve": lambda: t.resolve("a", Cause.other, None, ME, T0),
             "feedback": lambda: t.give_feedback(True, None, None, ME, T0),
             "assign": lambda: t.assign("x", ME, T0),
             "escalate": lambda: t.escalate(2, "pm", "r", ME, T0)}
    with pytest.raises(IllegalTransition):
        calls[action]()
    assert t.version == 1


def test_escalation_only_goes_up():
    t = new_ticket()
    t.escalate(3, "vendor-a", "r", ME, T0)
    with pytest.raises(IllegalTransition):
        t.escalate(2, "pm-01", "r", ME, T0)


def test_requester_note_counts_as_first_response_but_internal_does_not():
    t = new_ticket()
    t.add_note("内部记录", "internal", ME, T0 + timedelta(minutes=1))
    assert t.first_response_at is None
    t.add_note("正在处理", "requester", ME, T0 + timedelta(minutes=2))
    assert t.first_response_at == T0 + timedelta(minutes=2)


def test_scope_rules():
    t = new_ticket()
    manager_jinan = Principal(sub="am", roles=[Role.account_manager], city="济南")
    manager_qingdao = Principal(sub="am2", roles=[Role.account_manager], city="青岛")
    vendor = Principal(sub="v", roles=[Role.vendor], vendor="vendor-a")
    pm = Principal(sub="pm", roles=[Role.product_manager], products=["mobile_office"])
    other_pm = Principal(sub="pm2", roles=[Role.product_manager], products=["field_force"])
    assert scope.can_see(manager_jinan, t) and not scope.can_see(manager_qingdao, t)
    assert scope.can_see(pm, t) and not scope.can_see(other_pm, t)
    assert not scope.can_see(vendor, t)
    t.escalate(3, "vendor-a", "r", ME, T0)
    assert scope.can_see(vendor, t)
    assert scope.visibility_filters(manager_qingdao) == [{"city": {"$eq": "青岛"}}]
    assert scope.visibility_filters(vendor) == [{"escalated_to": {"$in": ["vendor-a"]}}]  # membership, both stores
    assert scope.visibility_filters(Principal(sub="x", roles=[Role.vendor])) == []
    assert scope.visibility_filters(Principal(sub="x", roles=[Role.analyst])) == [{}]
    assert not scope.may(Principal(sub="a", roles=[Role.analyst]), "resolve")
