"""Unit tests of the flows of issue 8 in ticketing's pure domain: pending (待补充) and the requester's reply, the
hand-back of an upper tier's answer, the merge of a duplicate, and who may act on which ticket."""

from datetime import timedelta

import pytest

from contracts.events import TicketAnswered, TicketClosed, TicketMerged, TicketPending, TicketRequesterReplied
from contracts.vocabulary import Cause, Kind, Role, TicketStatus
from services.kit.auth import Principal
from services.ticketing.domain import scope
from services.ticketing.domain.ticket import ALLOWED_FROM, Actor, IllegalTransition, MergeTargetRefused, RuleViolation
from tests.ticketing.test_domain import ME, T0, new_ticket

S = TicketStatus
PM = Actor(sub="pm-01", name="李经理")
VENDOR = Actor(sub="vendor-a-user", name="厂家工程师")
CHANNEL = Actor(sub="crm-1")


def escalated(tier=2, target="pm-01"):
    t = new_ticket()
    t.assign("handler-1", ME, T0)
    t.escalate(tier, target, "需上级处理", ME, T0 + timedelta(minutes=10))
    return t


# --- pending (待补充) -----------------------------------------------------------------------------------------

def test_pending_from_escalated_returns_to_the_same_status_and_tier_with_the_pause_kept():
    t = escalated(3, "vendor-a")
    asked = t.request_information("请提供截图", ME, T0 + timedelta(hours=1))
    assert isinstance(asked, TicketPending) and asked.needed == "请提供截图" and asked.status == S.pending
    assert (t.status, t.tier) == (S.pending, 3)
    assert t.pauses[-1].start == T0 + timedelta(hours=1) and t.pauses[-1].end is None
    assert (t.pauses[-1].resume_status, t.pauses[-1].resume_tier) == (S.escalated, 3)

    replied = t.requester_reply("截图已发", CHANNEL, T0 + timedelta(hours=3))
    assert isinstance(replied, TicketRequesterReplied)
    assert (t.status, t.tier) == (S.escalated, 3) and t.escalation.target == "vendor-a"
    assert t.pauses[-1].end == T0 + timedelta(hours=3) and t.pauses[-1].reply == "截图已发"
    assert replied.body == "截图已发" and replied.needed == "请提供截图" and replied.pause_seconds == 7200
    assert t.paused_seconds() == 7200 and replied.paused_seconds == 7200
    # the deadlines are the SLA engine's (it reads the pauses, tests/ticketing/test_sla.py); the ticket's own
    # actions shift nothing until the route recomputes them
    assert t.resolve_by == escalated(3, "vendor-a").resolve_by
    assert [h.action for h in t.history][-2:] == ["pending", "requester_reply"]


def test_pending_from_in_progress_and_paused_time_adds_up_over_two_pauses():
    t = new_ticket()
    t.assign("handler-1", ME, T0)
    t.request_information("手机号", ME, T0 + timedelta(minutes=10))
    t.requester_reply("13800000000", CHANNEL, T0 + timedelta(minutes=40))
    t.request_information("截图", ME, T0 + timedelta(hours=1))
    assert t.paused_seconds(T0 + timedelta(hours=2)) == 1800 + 3600  # the open pause counts up to now
    t.requester_reply("已发", CHANNEL, T0 + timedelta(hours=1, minutes=30))
    assert (t.status, t.tier) == (S.in_progress, 1) and t.paused_seconds(T0 + timedelta(days=9)) == 3600


def test_a_request_for_information_is_a_first_response_but_the_reply_is_not_a_note():
    t = new_ticket()
    t.status = S.in_progress
    t.request_information("请提供账号", ME, T0 + timedelta(minutes=3))
    assert t.first_response_at == T0 + timedelta(minutes=3)
    t.requester_reply("账号是 zs01", CHANNEL, T0 + timedelta(minutes=9))
    assert t.notes == []


@pytest.mark.parametrize("action", ["assign", "escalate", "resolve"])
def test_while_pending_only_notes_go_on(action):
    t = escalated()
    t.request_information("截图", ME, T0 + timedelta(hours=1))
    version = t.version
    calls = {"assign": lambda: t.assign("x", ME, T0), "escalate": lambda: t.escalate(3, "vendor-a", "r", ME, T0),
             "resolve": lambda: t.resolve("a", Cause.other, None, ME, T0)}
    with pytest.raises(IllegalTransition):
        calls[action]()
    assert t.version == version and t.status == S.pending
    t.add_note("等待用户补充", "internal", ME, T0 + timedelta(hours=2))
    assert t.status == S.pending and S.pending in ALLOWED_FROM["notes"]


@pytest.mark.parametrize("status", [S.new, S.pending, S.resolved, S.closed])
def test_pending_is_refused_outside_in_progress_and_escalated(status):
    t = new_ticket()
    t.status = status
    with pytest.raises(IllegalTransition):
        t.request_information("x", ME, T0)
    assert t.pauses == [] and t.version == 1


@pytest.mark.parametrize("status", [S.new, S.in_progress, S.escalated, S.resolved, S.closed])
def test_a_reply_is_refused_unless_pending(status):
    t = new_ticket()
    t.status = status
    with pytest.raises(IllegalTransition):
        t.requester_reply("x", CHANNEL, T0)


# --- hand-back (产品经理反馈…由客服人员答复) -------------------------------------------------------------------

def test_hand_back_returns_to_the_front_line_and_resolve_relays_the_proposal():
    t = escalated(2, "pm-01")
    handed = t.hand_back("请联系集团管理员重新启用账号", Cause.usage_misunderstanding, PM, T0 + timedelta(hours=2))
    assert isinstance(handed, TicketAnswered) and handed.from_tier == 2 and handed.from_target == "pm-01"
    assert (t.status, t.tier, t.tier_reached, t.escalation) == (S.in_progress, 1, 2, None)
    assert t.proposed_answer.answer == "请联系集团管理员重新启用账号" and t.proposed_answer.by == "pm-01"
    assert [(s.tier, s.via) for s in t.tier_path] == [(2, "escalate"), (1, "answer")]
    assert t.first_response_at is None  # a hand-back tells the front line, not the requester

    resolved = t.resolve(None, None, None, ME, T0 + timedelta(hours=3))
    assert resolved.answer == "请联系集团管理员重新启用账号" and t.cause == Cause.usage_misunderstanding
    assert t.history[-1].details["relayed"] == {"from": "pm-01", "tier": 2, "edited": False}
    assert t.proposed_answer is None


def test_the_front_line_may_edit_the_proposal_and_the_history_says_so():
    t = escalated(3, "vendor-a")
    t.hand_back("补丁已发布", None, VENDOR, T0 + timedelta(hours=2))
    with pytest.raises(RuleViolation) as missing:
        t.resolve(None, None, None, ME, T0 + timedelta(hours=3))  # the vendor named no cause
    assert missing.value.field == "cause" and t.status == S.in_progress
    t.resolve("厂家已发布补丁，请升级到 3.2 版本", Cause.product_defect, None, ME, T0 + timedelta(hours=3))
    assert t.answer == "厂家已发布补丁，请升级到 3.2 版本"
    assert t.history[-1].details["relayed"] == {"from": "vendor-a-user", "tier": 3, "edited": True}


def test_resolve_without_an_answer_and_without_a_proposal_is_refused():
    t = new_ticket()
    t.status = S.in_progress
    with pytest.raises(RuleViolation) as refused:
        t.resolve(None, Cause.other, None, ME, T0)
    assert refused.value.field == "answer" and t.status == S.in_progress


@pytest.mark.parametrize("status", [S.new, S.in_progress, S.pending, S.resolved, S.closed])
def test_hand_back_only_while_escalated(status):
    t = escalated()
    t.status = status
    with pytest.raises(IllegalTransition):
        t.hand_back("x", None, PM, T0)
    assert t.proposed_answer is None


def test_the_tier_path_keeps_reopen_and_a_second_escalation():
    t = escalated(2, "pm-01")
    t.hand_back("答复", Cause.other, PM, T0 + timedelta(hours=1))
    t.resolve(None, None, None, ME, T0 + timedelta(hours=2))
    t.give_feedback(False, 2, "不满意", CHANNEL, T0 + timedelta(hours=3))
    t.escalate(3, "vendor-a", "厂家查证", ME, T0 + timedelta(hours=4))
    assert [(s.tier, s.via, s.target) for s in t.tier_path] == [
        (2, "escalate", "pm-01"), (1, "answer", "pm-01"), (1, "reopen", None), (3, "escalate", "vendor-a")]


# --- merge --------------------------------------------------------------------------------------------------

def test_merge_closes_the_source_and_absorb_moves_its_notes_and_requester_once():
    target, source = new_ticket(), new_ticket()
    source.id, target.id = "TS-20261125-00002", "TS-20261125-00001"
    source.add_note("用户第二次来电", "requester", ME, T0 + timedelta(minutes=5))
    target.add_note("已记录", "internal", ME, T0 + timedelta(minutes=1))
    merged, closed = source.merge_into(target, ME, T0 + timedelta(hours=1))
    assert isinstance(merged, TicketMerged) and isinstance(closed, TicketClosed)
    assert (source.status, source.close_reason, source.merged_into) == (S.closed, "merged", target.id)
    assert closed.close_reason == "merged" and closed.merged_into == target.id and closed.satisfied is None
    assert merged.into == target.id and merged.customer["name"] == "张三" and merged.moved_notes == 1
    assert source.history[-1].action == "merge" and source.history[-1].details["into"] == target.id

    assert target.absorb(source, ME, T0 + timedelta(hours=1)) is True
    assert [(n.body, n.origin) for n in target.notes] == [("已记录", None), ("用户第二次来电", source.id)]
    assert [r.ticket_id for r in target.related_requesters] == [source.id] and target.merged_from == [source.id]
    assert target.history[-1].action == "merged_in" and target.history[-1].details["from"] == source.id
    version = target.version
    assert target.absorb(source, ME, T0 + timedelta(hours=2)) is False  # redelivered: nothing changes
    assert target.version == version and len(target.notes) == 2


def test_merging_a_pending_ticket_ends_its_pause():
    target, source = new_ticket(), new_ticket()
    source.id = "TS-20261125-00002"
    source.status = S.in_progress
    source.request_information("截图", ME, T0 + timedelta(minutes=10))
    source.merge_into(target, ME, T0 + timedelta(minutes=40))
    assert source.pauses[-1].end == T0 + timedelta(minutes=40) and source.paused_seconds() == 1800


def test_merge_refusals():
    target, source = new_ticket(), new_ticket()
    source.id = "TS-20261125-00002"
    with pytest.raises(RuleViolation) as itself:
        source.merge_into(source, ME, T0)
    assert itself.value.field == "into"
    for status in (S.resolved, S.closed):
        target.status = status
        with pytest.raises(IllegalTransition):
            source.merge_into(target, ME, T0)
    target.status = S.in_progress
    other_product = target.model_copy(update={"product_code": "field_force"})
    with pytest.raises(RuleViolation):
        source.merge_into(other_product, ME, T0)
    other_kind = target.model_copy(update={"kind": Kind.consultation})
    with pytest.raises(RuleViolation):
        source.merge_into(other_kind, ME, T0)
    source.status = S.closed
    with pytest.raises(IllegalTransition):
        source.merge_into(target, ME, T0)
    assert source.merged_into is None and source.version == 1


def test_a_reserved_merge_takes_no_other_action_and_finishes_into_its_target_only():
    target, source = new_ticket(), new_ticket()
    source.id = "TS-20261125-00002"
    source.add_note("用户第二次来电", "requester", ME, T0 + timedelta(minutes=5))
    version = source.version
    intent = source.reserve_merge(target, ME, T0 + timedelta(hours=1))
    assert (intent.into, intent.by) == (target.id, ME.sub) and source.version == version  # nothing to act on yet
    for action in (lambda: source.add_note("x", "internal", ME, T0), lambda: source.assign("a", ME, T0),
                   lambda: source.reserve_merge(target, ME, T0)):
        with pytest.raises(IllegalTransition, match="being merged"):
            action()
    third = new_ticket()
    third.id = "TS-20261125-00003"
    with pytest.raises(MergeTargetRefused) as into_source:  # nor is anything merged into it meanwhile
        third.reserve_merge(source, ME, T0)
    assert into_source.value.into == source.id
    with pytest.raises(IllegalTransition):
        source.finish_merge("TS-20261125-09999", ME, T0)  # not the target it was reserved for

    assert target.take_in(source, ME, T0 + timedelta(hours=1)) is True
    merged, closed = source.finish_merge(target.id, ME, T0 + timedelta(hours=1))
    assert (source.status, source.merged_into, source.merging) == (S.closed, target.id, None)
    assert merged.into == target.id and closed.close_reason == "merged"
    assert source.finish_merge(target.id, ME, T0 + timedelta(hours=2)) is None  # finished before: nothing again


def test_the_target_is_checked_again_when_it_takes_the_source_in():
    target, source = new_ticket(), new_ticket()
    source.id = "TS-20261125-00002"
    source.reserve_merge(target, ME, T0)
    target.status = S.closed  # closed since it was read
    with pytest.raises(MergeTargetRefused) as closed:
        target.take_in(source, ME, T0)
    assert closed.value.into == target.id and "closed" in str(closed.value)
    assert target.merged_from == [] and target.version == 1
    target.status = S.in_progress
    target.merging = source.merging.model_copy(update={"into": "TS-20261125-00009"})  # being merged away itself
    with pytest.raises(MergeTargetRefused, match="being merged into TS-20261125-00009"):
        target.take_in(source, ME, T0)
    assert source.release_merge(target.id) is True and source.merging is None
    assert source.release_merge(target.id) is False
    source.add_note("合并未成", "internal", ME, T0)  # free to act again


def test_a_ticket_merged_into_carries_its_own_merged_requesters_along():
    first, second, third = new_ticket(), new_ticket(), new_ticket()
    first.id, second.id, third.id = "A", "B", "C"
    first.merge_into(second, ME, T0)
    second.absorb(first, ME, T0)
    second.merge_into(third, ME, T0)
    third.absorb(second, ME, T0)
    assert [r.ticket_id for r in third.related_requesters] == ["B", "A"]


# --- who acts ---------------------------------------------------------------------------------------------------

def test_a_vendor_reads_what_was_escalated_to_it_but_acts_only_while_it_holds_the_ticket():
    vendor = Principal(sub="v", roles=[Role.vendor], vendor="vendor-a")
    other_vendor = Principal(sub="w", roles=[Role.vendor], vendor="vendor-b")
    assert not scope.may(vendor, "resolve") and not scope.may(vendor, "pending") and scope.may(vendor, "answer")
    t = escalated(3, "vendor-a")
    assert scope.may_act(vendor, "notes", t) and scope.may_act(vendor, "answer", t)
    assert not scope.may_act(other_vendor, "notes", t) and not scope.can_see(other_vendor, t)
    t.hand_back("已修复", Cause.product_defect, VENDOR, T0 + timedelta(hours=1))
    assert scope.can_see(vendor, t)  # its history with the ticket stays readable
    assert not scope.may_act(vendor, "notes", t) and not scope.may_act(vendor, "answer", t)


def test_acting_follows_each_role_and_its_own_scope():
    t = escalated(2, "pm-01")
    pm = Principal(sub="pm", roles=[Role.product_manager], products=["mobile_office"])
    other_pm = Principal(sub="pm2", roles=[Role.product_manager], products=["field_force"])
    assert scope.may_act(pm, "answer", t) and not scope.may_act(other_pm, "answer", t)
    channel = Principal(sub="crm-1", roles=[Role.intake])
    filer = Principal(sub=t.filed_by, roles=[Role.intake])
    assert scope.may_act(filer, "requester_reply", t) and not scope.may_act(channel, "requester_reply", t)
    assert not scope.may_act(filer, "answer", t)
    jinan = Principal(sub="am", roles=[Role.account_manager], city="济南")
    qingdao = Principal(sub="am2", roles=[Role.account_manager], city="青岛")
    assert scope.may_act(jinan, "requester_reply", t) and not scope.may_act(qingdao, "requester_reply", t)
    # a vendor who is also the city's account manager replies for the requester as account manager
    both = Principal(sub="x", roles=[Role.vendor, Role.account_manager], vendor="vendor-z", city="济南")
    assert scope.may_act(both, "requester_reply", t) and not scope.may_act(both, "answer", t)


def test_a_merged_duplicate_ends_its_resolution_clock_when_it_closes():
    from services.ticketing.store.listing import NEVER, breach_key

    target, early, late = new_ticket(), new_ticket(), new_ticket()
    early.id, late.id = "B", "C"
    early.add_note("已受理，正在核实", "requester", ME, T0)  # responded in time
    early.merge_into(target, ME, T0 + timedelta(days=1))
    assert not early.breached(T0 + timedelta(days=30)) and breach_key(early) == NEVER
    late.assign("x", ME, T0)
    late.merge_into(target, ME, T0 + timedelta(days=6))  # past its 5-day deadline
    assert late.breached(T0 + timedelta(days=30)) and breach_key(late) != NEVER
