"""Default SLA policy (SPEC §3) and the deadline arithmetic.

This is the plain-clock version: business hours and business days are counted as wall-clock hours and calendar
days. The business calendar (Asia/Shanghai, Mon–Fri 08:30–17:30, holidays and 调休) replaces `add_duration` in a
later issue; the policy table and the complaint's 15-calendar-day cap stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.vocabulary import Kind


@dataclass(frozen=True)
class Target:
    respond: timedelta
    resolve: timedelta
    business_time: bool  # faults run 24×7 on the wall clock


HOUR, DAY = timedelta(hours=1), timedelta(days=1)
COMPLAINT_HARD_LIMIT = timedelta(days=15)  # the regulator's limit before a user may appeal

DEFAULT_POLICY: dict[tuple[Kind, int | None], Target] = {
    (Kind.consultation, None): Target(4 * HOUR, 2 * DAY, True),
    (Kind.complaint, None): Target(4 * HOUR, 5 * DAY, True),
    (Kind.suggestion, None): Target(2 * DAY, 15 * DAY, True),
    (Kind.fault, 1): Target(timedelta(minutes=15), 4 * HOUR, False),
    (Kind.fault, 2): Target(timedelta(minutes=30), 8 * HOUR, False),
    (Kind.fault, 3): Target(2 * HOUR, 48 * HOUR, False),
}


def target_for(kind: Kind, severity: int | None) -> Target:
    return DEFAULT_POLICY[(kind, severity if kind == Kind.fault else None)]


def add_duration(start: datetime, duration: timedelta, business_time: bool) -> datetime:
    """Plain clock for now (see the module docstring)."""
    return start + duration


def deadlines(kind: Kind, severity: int | None, opened_at: datetime) -> tuple[datetime, datetime]:
    """(respond_by, resolve_by) for a ticket opened at `opened_at`."""
    target = target_for(kind, severity)
    respond_by = add_duration(opened_at, target.respond, target.business_time)
    resolve_by = add_duration(opened_at, target.resolve, target.business_time)
    if kind == Kind.complaint:
        resolve_by = min(resolve_by, opened_at + COMPLAINT_HARD_LIMIT)
    return respond_by, resolve_by
