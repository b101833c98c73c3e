"""The summary figures of SPEC §5 (运营指标汇总) over ticket read-model documents.

Each figure is counted on the moment that defines it: `opened` on `opened_at`, `resolved` on `resolved_at`
(the current, i.e. last, resolution of a ticket), `closed` on `closed_at`, first-response timeliness on
`first_response_at`. Rates are None when their denominator is 0 (no data is not a 0 % rate).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.analytics.domain.period import Period

Ticket = Mapping[str, Any]

RATE_DIGITS = 4
HOURS_DIGITS = 2


def summarize(tickets: Iterable[Ticket], period: Period) -> dict[str, Any]:
    """The summary of `tickets` (read-model documents already matching the product/city/kind filters)."""
    tickets = list(tickets)
    opened = [t for t in tickets if period.contains(t.get("opened_at"))]
    resolved = [t for t in tickets if period.contains(t.get("resolved_at"))]
    closed = [t for t in tickets if period.contains(t.get("closed_at"))]
    # The read model holds the newest state, so "open now" is "open at as_of"; a ticket opened after the
    # period is not part of that period's backlog.
    backlog = [t for t in tickets if t.get("status") != "closed" and period.begun_by_end(t.get("opened_at"))]
    responded = [t for t in tickets
                 if period.contains(t.get("first_response_at")) and t.get("responded_timely") is not None]
    judged = [t for t in resolved if t.get("timely") is not None]
    with_feedback = [t for t in closed if t.get("satisfied") is not None]
    hours = [(t["resolved_at"] - t["opened_at"]).total_seconds() / 3600 for t in resolved if t.get("opened_at")]
    counted = {t["ticket_id"] for group in (opened, resolved, closed, backlog, responded) for t in group}
    return {
        "count": len(counted),
        "opened": len(opened),
        "resolved": len(resolved),
        "closed": len(closed),
        "backlog": len(backlog),
        "timeliness_rate": {
            "response": rate(sum(t["responded_timely"] is True for t in responded), len(responded)),
            "resolution": rate(sum(t["timely"] is True for t in judged), len(judged)),
        },
        "satisfaction_rate": rate(sum(t["satisfied"] is True for t in with_feedback), len(with_feedback)),
        "resolution_hours": {
            "avg": round(sum(hours) / len(hours), HOURS_DIGITS) if hours else None,
            "p90": round(percentile(hours, 90), HOURS_DIGITS) if hours else None,
        },
        "reopen_rate": rate(sum((t.get("reopen_count") or 0) >= 1 for t in resolved), len(resolved)),
        "escalation_rate": {
            "tier2": rate(sum((t.get("tier_reached") or 1) >= 2 for t in opened), len(opened)),
            "tier3": rate(sum((t.get("tier_reached") or 1) >= 3 for t in opened), len(opened)),
        },
    }


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, RATE_DIGITS) if denominator else None


def percentile(values: Iterable[float], pct: int) -> float:
    """Nearest-rank percentile: the smallest value with at least `pct` % of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = max(1, -(-pct * len(ordered) // 100))  # integer ceiling: no float rounding at exact ranks
    return ordered[rank - 1]
