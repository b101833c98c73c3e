"""The stage machine's gates as pure rules (services/lifecycle/domain/gates.py)."""

from datetime import UTC, datetime

import pytest

from contracts.vocabulary import Stage
from services.lifecycle.domain import documents
from services.lifecycle.domain.gates import (
    Facts, TransitionRefused, add_months, allowed_targets, check_at, missing,
)

T = datetime(2026, 3, 31, 9, 0, tzinfo=UTC)


def codes(facts: Facts, to: Stage, at: datetime = T) -> list[str]:
    return [m.code for m in missing(facts, to, at)]


def test_only_the_next_stage_back_to_development_or_retired():
    assert allowed_targets(Stage.demand) == (Stage.research, Stage.retired)
    assert allowed_targets(Stage.testing) == (Stage.trial, Stage.development, Stage.retired)
    assert allowed_targets(Stage.delivered) == (Stage.retired,)
    assert allowed_targets(Stage.retired) == ()
    with pytest.raises(TransitionRefused):
        missing(Facts(stage=Stage.demand, entered_at=T), Stage.review, T)
    assert codes(Facts(stage=Stage.testing, entered_at=T, open_blocking_issues=3), Stage.development) == []
    assert codes(Facts(stage=Stage.research, entered_at=T), Stage.retired) == []


def test_every_missing_item_is_named_at_once():
    facts = Facts(stage=Stage.initiation, entered_at=T, budget_cny=1_000_000)
    assert codes(facts, Stage.development) == ["initiation_request", "technical_spec", "contract", "vendor",
                                              "decision_meeting"]
    done = Facts(stage=Stage.initiation, entered_at=T, budget_cny=999_999, vendor="vendor-07",
                 documents={"initiation_request": True, "technical_spec": True, "contract": True})
    assert codes(done, Stage.development) == []
    big = Facts(**{**done.__dict__, "budget_cny": 1_000_000})
    assert codes(big, Stage.development) == ["decision_meeting"]
    assert codes(Facts(**{**big.__dict__, "decisions": {"decision_meeting": "rejected"}}), Stage.development) == \
        ["decision_meeting"]
    assert codes(Facts(**{**big.__dict__, "decisions": {"decision_meeting": "approved"}}), Stage.development) == []


def test_a_document_counts_once_its_newest_version_is_approved():
    facts = Facts(stage=Stage.planning, entered_at=T, documents={"function_proposal": False})
    [proposal, schedule] = missing(facts, Stage.initiation, T)
    assert (proposal.code, proposal.label) == ("function_proposal", "功能建议书（未审核通过）")
    assert (schedule.code, schedule.label) == ("schedule", "工程进度表（未提交）")
    newest = documents.newest_by_type([{"type": "schedule", "version": 1, "approved": True},
                                       {"type": "schedule", "version": 2, "approved": False}])
    assert newest == {"schedule": False}


def test_review_needs_an_approving_decision_the_newest_one_counts():
    facts = Facts(stage=Stage.review, entered_at=T)
    assert codes(facts, Stage.planning) == ["review_decision"]
    decided = documents.newest_decisions([
        {"kind": "review", "outcome": "rejected", "at": T, "recorded_at": T},
        {"kind": "review", "outcome": "approved", "at": add_months(T, 1), "recorded_at": T}])
    assert codes(Facts(stage=Stage.review, entered_at=T, decisions=decided), Stage.planning) == []


def test_trials_last_two_months_counted_from_the_stage_dates():
    pack = {t: True for t in ("trial_evaluation", "user_manual", "process_description", "function_intro",
                              "tariff_table")}
    facts = Facts(stage=Stage.trial, entered_at=datetime(2025, 12, 31, tzinfo=UTC), documents=pack,
                  pilot_cities=frozenset({"济南", "青岛"}), trained_cities=frozenset({"济南", "青岛"}))
    assert add_months(facts.entered_at, 2) == datetime(2026, 2, 28, tzinfo=UTC)
    assert codes(facts, Stage.trial_commercial, datetime(2026, 2, 27, 23, tzinfo=UTC)) == ["min_duration"]
    assert codes(facts, Stage.trial_commercial, datetime(2026, 2, 28, tzinfo=UTC)) == []


def test_training_must_reach_every_pilot_city():
    facts = Facts(stage=Stage.trial, entered_at=datetime(2025, 1, 1, tzinfo=UTC),
                  pilot_cities=frozenset({"济南", "青岛"}), trained_cities=frozenset({"济南"}))
    training = [m for m in missing(facts, Stage.trial_commercial, T) if m.code == "training"]
    assert [m.label for m in training] == ["试点地市未培训：青岛"]
    nobody = Facts(stage=Stage.trial, entered_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert "training" in codes(nobody, Stage.trial_commercial)


def test_open_blocking_issues_block_the_trial():
    facts = Facts(stage=Stage.testing, entered_at=T, documents={"test_report": True}, open_blocking_issues=2)
    assert [m.as_dict() for m in missing(facts, Stage.trial, T)] == [
        {"code": "blocking_issues", "label": "仍有2个未解决的阻断性问题"}]


def test_delivery_needs_the_delivery_documents():
    assert codes(Facts(stage=Stage.commercial, entered_at=T), Stage.delivered) == list(documents.DELIVERY_DOCUMENTS)


def test_a_transition_is_dated_between_the_previous_one_and_now():
    assert check_at(T, now=T, entered_at=T) is None
    assert check_at(add_months(T, 1), now=T, entered_at=T) == "must not be in the future"
    assert "before the previous transition" in check_at(add_months(T, -1), now=T, entered_at=T)
