"""The SLA engine (SPEC §3, issue 8 point 1): versioned policies and the deadlines of a ticket. Pure: no I/O.

Definitions, applied exactly:
- a clock starts at `received_at` (when the requester contacted the channel); one that starts outside working
  time starts at the next working period (calendar.BusinessCalendar.add);
- "N business hours" counts working time only; "N business days" is N × the working day (9 h by default);
- faults run 24×7 on the wall clock (a rule's `clock: wall`);
- paused intervals (待补充, waiting for the requester) stop every clock of the ticket: their working time is not
  counted for business-time rules, their wall time for wall-clock rules; an open pause is counted up to `as_of`;
- a complaint's resolve deadline is never later than 15 calendar days after `received_at`, pause or not (the
  regulator's limit before a user may appeal): not a policy setting, so no policy can lift it;
- a rule with an `update` target (complaints by default, 定期通报处理进度) gives open tickets an `update_by`: the
  last requester-visible contact (or `received_at`) plus that much time.

A policy is a list of rules per kind, optionally narrowed by priority and/or severity (faults); the most specific
rule wins (kind+priority+severity, kind+severity, kind+priority, kind). Every PUT of the policies is a new version;
a ticket keeps the version it was opened under (`sla_policy_version`) unless an admin applies a new version to the
open tickets (`SlaConfig.minimum_policy_version`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.vocabulary import Kind, Priority
from services.ticketing.domain.calendar import WALL_CLOCK, BusinessCalendar, Interval, merged

COMPLAINT_HARD_LIMIT = timedelta(days=15)  # the regulator's limit before a user may appeal
FAULT_SEVERITIES = (1, 2, 3)


class Duration(BaseModel):
    """An amount of a clock's time: on the business clock `days` are working days (9 h each by default) and
    `hours`/`minutes` are working hours/minutes; on the wall clock they are calendar days and plain hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: float = Field(gt=0, le=10_000, description="how many units")
    unit: Literal["minutes", "hours", "days"] = Field(description="minutes | hours | days (business or wall, by the rule's clock)")

    def on(self, clock: Literal["business", "wall"], calendar: BusinessCalendar) -> timedelta:
        if self.unit == "minutes":
            return timedelta(minutes=self.amount)
        if self.unit == "hours":
            return timedelta(hours=self.amount)
        return self.amount * (calendar.day_length if clock == "business" else timedelta(days=1))


def _d(amount: float, unit: str) -> Duration:
    return Duration(amount=amount, unit=unit)


class Rule(BaseModel):
    """The targets of the tickets of one kind (optionally of one priority and/or one fault severity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    priority: Priority | None = Field(None, description="only tickets of this priority; none: any")
    severity: int | None = Field(None, ge=1, le=3, description="faults only: only this severity; none: any")
    clock: Literal["business", "wall"] = Field(description="business: the working calendar; wall: 24×7 (faults)")
    respond: Duration = Field(description="first response 首次响应")
    resolve: Duration = Field(description="resolution 答复/恢复")
    update: Duration | None = Field(None, description="a progress report to the requester at least this often "
                                                     "while open (complaints: 1 business day)")

    @model_validator(mode="after")
    def severity_for_faults_only(self) -> "Rule":
        if self.severity is not None and self.kind != Kind.fault:
            raise ValueError("severity applies to faults only")
        return self

    @property
    def key(self) -> tuple[Kind, Priority | None, int | None]:
        return (self.kind, self.priority, self.severity)


def _default_rules() -> list[Rule]:
    business = dict(clock="business")
    return [
        Rule(kind=Kind.consultation, respond=_d(4, "hours"), resolve=_d(2, "days"), **business),
        Rule(kind=Kind.complaint, respond=_d(4, "hours"), resolve=_d(5, "days"), update=_d(1, "days"), **business),
        Rule(kind=Kind.suggestion, respond=_d(2, "days"), resolve=_d(15, "days"), **business),
        Rule(kind=Kind.fault, severity=1, clock="wall", respond=_d(15, "minutes"), resolve=_d(4, "hours")),
        Rule(kind=Kind.fault, severity=2, clock="wall", respond=_d(30, "minutes"), resolve=_d(8, "hours")),
        Rule(kind=Kind.fault, severity=3, clock="wall", respond=_d(2, "hours"), resolve=_d(48, "hours")),
    ]


class Policy(BaseModel):
    """One version of the SLA policies."""

    version: int = Field(ge=1)
    rules: list[Rule]
    by: str | None = None
    at: datetime | None = None
    note: str | None = None

    @model_validator(mode="after")
    def every_ticket_has_a_rule(self) -> "Policy":
        problem = rules_problem(self.rules)
        if problem:
            raise ValueError(problem[1])
        return self

    def rule_for(self, kind: Kind, priority: Priority | None, severity: int | None) -> Rule:
        rules = {rule.key: rule for rule in self.rules}
        severity = severity if kind == Kind.fault else None
        for key in ((kind, priority, severity), (kind, None, severity), (kind, priority, None), (kind, None, None)):
            if key in rules:
                return rules[key]
        raise LookupError(f"no SLA rule for {kind.value} priority={priority} severity={severity}")


def rules_problem(rules: Sequence[Rule]) -> tuple[str, str] | None:
    """(field, message) of the first reason `rules` cannot be a policy: a duplicate, or a ticket without a rule."""
    seen: dict[tuple, int] = {}
    for index, rule in enumerate(rules):
        if rule.key in seen:
            return (f"rules[{index}]", f"the same kind/priority/severity as rules[{seen[rule.key]}]")
        seen[rule.key] = index
    for kind in Kind:
        severities = FAULT_SEVERITIES if kind == Kind.fault else (None,)
        for severity in severities:
            if (kind, None, severity) not in seen and (kind, None, None) not in seen:
                what = f"{kind.value}" + (f" severity {severity}" if severity else "")
                return ("rules", f"no rule covers every {what} ticket (add one without a priority)")
    return None


DEFAULT_POLICY = Policy(version=1, rules=_default_rules(), note="SPEC §3 defaults")


@dataclass(frozen=True)
class Target:
    """A rule on a given calendar: the durations and the clock that counts them."""

    respond: timedelta
    resolve: timedelta
    business_time: bool
    update: timedelta | None = None

    @classmethod
    def of(cls, rule: Rule, calendar: BusinessCalendar) -> "Target":
        return cls(rule.respond.on(rule.clock, calendar), rule.resolve.on(rule.clock, calendar),
                   rule.clock == "business", rule.update.on(rule.clock, calendar) if rule.update else None)


@dataclass(frozen=True)
class Deadlines:
    respond_by: datetime
    resolve_by: datetime
    update_by: datetime | None
    paused: timedelta  # counted time the pauses stopped the clock for (working time, or wall time for faults)


def resolve_limit(kind: Kind, received_at: datetime) -> datetime | None:
    """The latest a ticket may be resolved whatever the policy and the pauses: 15 days for complaints."""
    return received_at + COMPLAINT_HARD_LIMIT if kind == Kind.complaint else None


def compute(target: Target, calendar: BusinessCalendar, *, kind: Kind, received_at: datetime,
            pauses: Sequence[Interval] = (), last_contact: datetime | None = None, open_: bool = True,
            as_of: datetime | None = None) -> Deadlines:
    """A ticket's deadlines. `pauses`: (start, end or None) intervals; `last_contact`: the last requester-visible
    note or answer (the update clock restarts from it); `open_`: the ticket is not resolved or closed (only then
    is an update due); `as_of`: up to when an open pause counts (default its start: the deadlines it would have
    if the requester answered at once)."""
    clock = calendar if target.business_time else WALL_CLOCK
    respond_by = clock.add_excluding(received_at, target.respond, pauses, as_of)
    resolve_by = clock.add_excluding(received_at, target.resolve, pauses, as_of)
    if (limit := resolve_limit(kind, received_at)) is not None:
        resolve_by = min(resolve_by, limit)
    update_by = None
    if target.update is not None and open_:
        anchor = max(received_at, last_contact) if last_contact else received_at
        update_by = clock.add_excluding(anchor, target.update, pauses, as_of)
    return Deadlines(utc(respond_by), utc(resolve_by), utc(update_by) if update_by else None,
                     paused_total(calendar, target.business_time, pauses, as_of))


def paused_total(calendar: BusinessCalendar, business_time: bool, pauses: Sequence[Interval],
                 as_of: datetime | None) -> timedelta:
    """How long the pauses stopped the clock (up to `as_of` for an open one): for display and timeliness."""
    clock = calendar if business_time else WALL_CLOCK
    total = timedelta(0)
    for start, end in merged(pauses, as_of):
        total += clock.between(start, end)
    return total


@dataclass(frozen=True)
class SlaConfig:
    """What the SLA of every ticket is computed from: the calendar, every policy version, and the revision of
    the whole (a number that grows with every change, so that stale deadlines can be found by it)."""

    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    policies: dict[int, Policy] = field(default_factory=lambda: {1: DEFAULT_POLICY})
    revision: int = 0
    minimum_policy_version: int = 1  # open tickets under an older version move to this one

    @property
    def current(self) -> Policy:
        return self.policies[max(self.policies)]

    def policy_for(self, version: int | None) -> Policy:
        """The policy a ticket opened under `version` follows now (itself, unless applied past)."""
        wanted = max(version or self.current.version, self.minimum_policy_version)
        return self.policies.get(wanted) or self.current

    def target(self, policy: Policy, kind: Kind, priority: Priority | None, severity: int | None) -> Target:
        return Target.of(policy.rule_for(kind, priority, severity), self.calendar)


DEFAULT_CONFIG = SlaConfig()


# --- the plain entry points of the skeleton, kept for their callers -------------------------------------

def target_for(kind: Kind, severity: int | None, priority: Priority | None = None,
               config: SlaConfig = DEFAULT_CONFIG) -> Target:
    return config.target(config.current, kind, priority, severity)


def deadlines(kind: Kind, severity: int | None, received_at: datetime, priority: Priority | None = None,
              config: SlaConfig = DEFAULT_CONFIG) -> tuple[datetime, datetime]:
    """(respond_by, resolve_by) of a ticket received at `received_at`, under the current policy."""
    found = compute(target_for(kind, severity, priority, config), config.calendar, kind=kind,
                    received_at=received_at)
    return found.respond_by, found.resolve_by


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
