"""The stage machine of a product or platform (SPEC §3, source §2.2–2.4 and §3.1) and the gate of every step.

A gate is a pure function of `Facts`: what the product's records say at the moment of the transition. It answers
every missing item at once, each as {code, label}: `code` is the document type for a missing document, else
the rule's name (`review_decision`, `decision_meeting`, `vendor`, `min_duration`, `training`, `blocking_issues`).
store/gates.py gathers the facts; api/transitions.py refuses with 409 what lacks anything."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from contracts.vocabulary import STAGE_LABELS, Stage
from services.lifecycle.domain.documents import DELIVERY_DOCUMENTS, DOCUMENT_LABELS

FORWARD: tuple[Stage, ...] = tuple(s for s in Stage if s != Stage.retired)
NEXT: dict[Stage, Stage] = dict(zip(FORWARD, FORWARD[1:], strict=False))
# 优化方案 "返回开发调试阶段" (source §2.4 step 8): testing may go back to development, without a gate.
BACK: dict[Stage, Stage] = {Stage.testing: Stage.development}
DECISION_MEETING_BUDGET_CNY = 1_000_000  # 100万以上工程需提交决策会审议 (source §2.3 step 3)
MIN_MONTHS: dict[Stage, int] = {Stage.trial: 2, Stage.trial_commercial: 2}  # 经过2个月试用/试商用阶段后 (§3.1)

RULE_LABELS: dict[str, str] = {
    "review_decision": "评审决策未通过：需公司领导评审通过的决策记录",
    "decision_meeting": "预算100万元及以上，需决策会审议通过",
    "vendor": "未确定厂家（中标商）",
    "min_duration": "阶段时长不足2个月",
    "training": "未记录对试点地市的培训",
    "blocking_issues": "仍有未解决的阻断性问题",
}

# The documents each step needs (approved, in their newest version), beside the rules in `missing`.
GATE_DOCUMENTS: dict[tuple[Stage, Stage], tuple[str, ...]] = {
    (Stage.research, Stage.review): ("research_report",),
    (Stage.planning, Stage.initiation): ("function_proposal", "schedule"),
    (Stage.initiation, Stage.development): ("initiation_request", "technical_spec", "contract"),
    (Stage.development, Stage.testing): ("test_case_list", "om_manual"),
    (Stage.testing, Stage.trial): ("test_report",),
    (Stage.trial, Stage.trial_commercial): ("trial_evaluation", "user_manual", "process_description",
                                            "function_intro", "tariff_table"),
    (Stage.trial_commercial, Stage.commercial): ("trial_commercial_evaluation", "summary"),
    (Stage.commercial, Stage.delivered): DELIVERY_DOCUMENTS,
}


@dataclass(frozen=True)
class Facts:
    """What a gate looks at. `documents` maps a type to whether its newest version is approved; `decisions`
    maps a kind (`review`, `decision_meeting`) to the outcome of its newest decision."""

    stage: Stage
    entered_at: datetime
    documents: Mapping[str, bool] = field(default_factory=dict)
    decisions: Mapping[str, str] = field(default_factory=dict)
    vendor: str | None = None
    budget_cny: int | None = None
    pilot_cities: frozenset[str] = frozenset()
    trained_cities: frozenset[str] = frozenset()
    open_blocking_issues: int = 0


@dataclass(frozen=True)
class Missing:
    code: str
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "label": self.label}


class TransitionRefused(Exception):
    """A move that is no step of the machine at all (not a gate that lacks something)."""


def label(stage: Stage | str) -> str:
    return STAGE_LABELS[Stage(stage)]


def allowed_targets(stage: Stage) -> tuple[Stage, ...]:
    """Where a product may go from `stage`: the next stage, back to development from testing, or retired."""
    if stage == Stage.retired:
        return ()
    return tuple(s for s in (NEXT.get(stage), BACK.get(stage), Stage.retired) if s is not None)


def check_move(current: Stage, to: Stage) -> None:
    if to not in allowed_targets(current):
        targets = "、".join(f"{s.value} ({label(s)})" for s in allowed_targets(current)) or "none"
        raise TransitionRefused(f"{current.value} ({label(current)}) cannot move to {to.value} ({label(to)}); "
                                f"allowed: {targets}")


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, the month's last day where it has no such day (31 Jan + 1 → 28/29 Feb)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def document_missing(doc_type: str, approved: bool | None) -> Missing:
    name = DOCUMENT_LABELS[doc_type]
    return Missing(doc_type, f"{name}（未提交）" if approved is None else f"{name}（未审核通过）")


def missing(facts: Facts, to: Stage, at: datetime) -> list[Missing]:
    """Every item the move from `facts.stage` to `to` at `at` lacks, in the order a person would check them.
    Retiring and going back to development need nothing."""
    check_move(facts.stage, to)
    if to != NEXT.get(facts.stage):
        return []
    out: list[Missing] = []
    step = (facts.stage, to)
    if step == (Stage.review, Stage.planning) and facts.decisions.get("review") != "approved":
        out.append(Missing("review_decision", RULE_LABELS["review_decision"]))
    months = MIN_MONTHS.get(facts.stage)
    if months and at < add_months(facts.entered_at, months):
        ends = add_months(facts.entered_at, months)
        out.append(Missing("min_duration", f"{label(facts.stage)}阶段需满{months}个月："
                                           f"{facts.entered_at.date().isoformat()} 进入，{ends.date().isoformat()} 起可转"))
    for doc_type in GATE_DOCUMENTS.get(step, ()):
        approved = facts.documents.get(doc_type)
        if not approved:
            out.append(document_missing(doc_type, approved))
    if step == (Stage.initiation, Stage.development):
        if not facts.vendor:
            out.append(Missing("vendor", RULE_LABELS["vendor"]))
        if (facts.budget_cny or 0) >= DECISION_MEETING_BUDGET_CNY and facts.decisions.get("decision_meeting") != "approved":
            out.append(Missing("decision_meeting", RULE_LABELS["decision_meeting"]))
    if step == (Stage.testing, Stage.trial) and facts.open_blocking_issues:
        out.append(Missing("blocking_issues", f"仍有{facts.open_blocking_issues}个未解决的阻断性问题"))
    if step == (Stage.trial, Stage.trial_commercial):
        untrained = sorted(facts.pilot_cities - facts.trained_cities)
        if not facts.trained_cities:
            out.append(Missing("training", RULE_LABELS["training"]))
        elif untrained:
            out.append(Missing("training", f"试点地市未培训：{'、'.join(untrained)}"))
    return out


def check_at(at: datetime, *, now: datetime, entered_at: datetime | None) -> str | None:
    """Why a transition dated `at` cannot be recorded, or None: never in the future, never before the previous
    one (`entered_at`; None before the first, so that a centre can enter a product's history from its start)."""
    if at > now:
        return "must not be in the future"
    if entered_at is not None and at < entered_at:
        return f"must not be before the previous transition ({entered_at.isoformat()})"
    return None


def ends_on(entered_at: datetime, stage: Stage) -> date | None:
    """When a timed stage (trial, trial-commercial) may end at the earliest."""
    months = MIN_MONTHS.get(stage)
    return add_months(entered_at, months).date() if months else None
