"""Daily maintenance of platforms and products (平台/产品日常维护): scheduled inspections (巡检) against a checklist,
change records (变更: 版本升级, 割接, 配置) with a window, an approval, a rollback plan and an outcome, and fault
statistics from the fault tickets of ticketing.

Pure rules only: when an inspection is next due, whether the results answer the checklist, the change state machine,
who may do what, and the fault figures. Dates of the inspection calendar are days in Asia/Shanghai: an inspection
done at 00:30 Beijing time is that day's, whatever UTC says."""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.vocabulary import Role
from services.kit.auth import Principal
from services.lifecycle.domain import access

TZ = ZoneInfo("Asia/Shanghai")

# --- who may act -----------------------------------------------------------------------------------------


def maintains(principal: Principal, entry: Mapping[str, Any]) -> bool:
    """Ops engineers run the daily maintenance of every platform and product (SPEC §1: no product scope limits
    them); besides them only an admin or a product manager of that entry."""
    return principal.has(Role.ops_engineer) or access.manages(principal, entry)


def approves(principal: Principal, entry: Mapping[str, Any], change: Mapping[str, Any]) -> bool:
    """An approval is a second pair of eyes: an admin or a product manager of the target, and never the one who
    asked for the change (an admin's own change needs another admin or the product's manager)."""
    return access.manages(principal, entry) and principal.sub != change["requested_by"]


# --- inspection plans --------------------------------------------------------------------------------------

EVERY_DAYS = {"daily": 1, "weekly": 7}
EVERY_LABELS = {"daily": "每日", "weekly": "每周", "monthly": "每月"}


def local_day(at: datetime) -> date:
    return at.astimezone(TZ).date()


def add_months(day: date, months: int) -> date:
    """The same day of a later month, or that month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_due(every: str | None, interval_days: int | None, starts_on: date, last_at: datetime | None) -> date:
    """The day the next inspection is due: the plan's first day until one is done, then one interval after the
    day of the latest inspection (an inspection done late moves the rhythm, as the team works)."""
    if last_at is None:
        return starts_on
    last = local_day(last_at)
    due = add_months(last, 1) if every == "monthly" else last + timedelta(days=interval_days or EVERY_DAYS[every])
    return max(due, starts_on)


def overdue(due: date, now: datetime) -> bool:
    """Overdue once the due day has passed in Beijing without an inspection."""
    return local_day(now) > due


def interval_label(every: str | None, interval_days: int | None) -> str:
    return EVERY_LABELS[every] if every else f"每{interval_days}天"


# --- inspections -------------------------------------------------------------------------------------------

OUTCOME_LABELS = {"normal": "正常", "abnormal": "异常"}


def result_errors(checklist: Sequence[Mapping[str, Any]],
                  results: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(field, message) for every way `results` fails to answer each checklist item exactly once: an inspection
    that skips an item is not the inspection the plan asked for."""
    items = [c["item"] for c in checklist]
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, result in enumerate(results):
        item = result["item"]
        if item not in items:
            errors.append((f"results.{index}.item", f"{item!r} is not on the plan's checklist"))
        elif item in seen:
            errors.append((f"results.{index}.item", f"{item!r} is answered twice"))
        seen.add(item)
    errors += [("results", f"checklist item {item!r} is not answered") for item in items if item not in seen]
    return errors


def outcome(results: Iterable[Mapping[str, Any]]) -> str:
    return "normal" if all(r["ok"] for r in results) else "abnormal"


# --- changes -----------------------------------------------------------------------------------------------

CHANGE_TYPE_LABELS = {"upgrade": "版本升级", "cutover": "割接", "config": "配置变更", "other": "其他变更"}
CHANGE_STATE_LABELS = {"planned": "待审批", "approved": "已批准", "in_progress": "实施中", "done": "已完成",
                       "cancelled": "已取消"}
CHANGE_OUTCOME_LABELS = {"success": "成功", "rolled_back": "已回退", "failed": "失败"}
# action → (the states it leaves, the state it enters)
CHANGE_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({"planned"}), "approved"),
    "start": (frozenset({"approved"}), "in_progress"),
    "complete": (frozenset({"in_progress"}), "done"),
    "cancel": (frozenset({"planned", "approved"}), "cancelled"),  # once work began, it ends as done (rolled back)
}
# Changes whose window holds the target: two of them at once would touch the same system in the same hours.
HOLDING = frozenset({"approved", "in_progress"})


class IllegalTransition(Exception):
    def __init__(self, state: str, action: str):
        allowed = sorted(CHANGE_ACTIONS[action][0]) if action in CHANGE_ACTIONS else []
        super().__init__(f"a change that is {state!r} cannot {action!r} (only from: {', '.join(allowed)})")
        self.state, self.action = state, action


def transition(state: str, action: str) -> str:
    sources, target = CHANGE_ACTIONS.get(action, (frozenset(), ""))
    if state not in sources:
        raise IllegalTransition(state, action)
    return target


def windows_overlap(a: Mapping[str, datetime], b: Mapping[str, datetime]) -> bool:
    """Half-open windows: one ending at 02:00 and the next starting at 02:00 do not overlap."""
    return a["start"] < b["end"] and b["start"] < a["end"]


def overlapping(window: Mapping[str, datetime], others: Iterable[Mapping[str, Any]], *,
                skip: str | None = None) -> list[str]:
    """The ids of the other changes holding the target whose windows overlap `window`."""
    return [o["_id"] for o in others
            if o["_id"] != skip and o["state"] in HOLDING and windows_overlap(window, o["window"])]


def change_summary(doc: Mapping[str, Any]) -> str:
    line = f"{CHANGE_TYPE_LABELS[doc['type']]}《{doc['title']}》 {CHANGE_STATE_LABELS[doc['state']]}"
    if doc.get("outcome"):
        line += f"（{CHANGE_OUTCOME_LABELS[doc['outcome']]}）"
    return line


# --- fault statistics --------------------------------------------------------------------------------------

RESTORE_SLA_HOURS = {1: 4, 2: 8, 3: 48}  # SPEC §3: fault restore targets, wall clock (faults run 24×7)
SEVERITIES = (1, 2, 3)
RESTORED_STATUSES = frozenset({"resolved", "closed"})


def fault_record(current: Mapping[str, Any] | None, ticket: Mapping[str, Any], *, sequence: int,
                 recorded_at: datetime) -> dict[str, Any] | None:
    """The fault's read-model document after a ticket event (None: nothing to change). Every ticket event carries
    the whole state, so the newest sequence wins and an older event arriving late changes nothing.

    Every ticket event also carries the ticket's `kind`: a fault ticket whose newer event names another kind was
    reclassified, and its document stays, marked `reclassified` and counted nowhere (a still newer event naming
    `fault` again counts it again). A ticket never seen as a fault is not recorded at all."""
    if current is not None and current.get("sequence", 0) >= sequence:
        return None
    kind = str(ticket.get("kind") or "fault")
    if kind != "fault" and current is None:
        return None
    merged = ticket.get("close_reason") == "merged"
    restored = ticket["status"] in RESTORED_STATUSES and ticket.get("resolved_at") is not None
    return {
        "_id": ticket["ticket_id"],
        "ticket_id": ticket["ticket_id"],
        "product_code": ticket["product_code"],
        "severity": ticket.get("severity") or 3,  # ticketing files a fault without one as severity 3
        "status": ticket["status"],
        "opened_at": ticket["opened_at"],
        "resolved_at": ticket.get("resolved_at") if restored else None,
        # wall time the ticket waited for the requester (待补充) up to this event: not the O&M team's restore time
        "paused_seconds": float(ticket.get("paused_seconds") or 0),
        "duplicate": merged,  # closed into another ticket: the same fault, counted once there
        "kind": kind,
        "reclassified": kind != "fault",  # no longer a fault: not counted
        "sequence": sequence,
        "recorded_at": recorded_at,
    }


def restore_hours(fault: Mapping[str, Any]) -> float | None:
    """Opening to restore, wall clock, less the time the ticket was pending (待补充: waiting for the requester to
    supply what was needed), which the ticket events carry as `paused_seconds`."""
    if fault.get("resolved_at") is None:
        return None
    seconds = (fault["resolved_at"] - fault["opened_at"]).total_seconds() - (fault.get("paused_seconds") or 0)
    return max(0.0, seconds / 3600)


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile: a value that really occurred, 9 in 10 restores took no longer."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def fault_figures(faults: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts by severity, open and restored, mean and p90 hours to restore, and how many were restored within
    their severity's target (the rate over those restored). Duplicates and reclassified tickets are not counted."""
    counted = [f for f in faults if not f.get("duplicate") and not f.get("reclassified")]
    by_severity = {str(s): sum(1 for f in counted if f["severity"] == s) for s in SEVERITIES}
    hours = [(f["severity"], h) for f in counted if (h := restore_hours(f)) is not None]
    within = sum(1 for severity, h in hours if h <= RESTORE_SLA_HOURS.get(severity, RESTORE_SLA_HOURS[3]))
    values = [h for _, h in hours]
    return {
        "total": len(counted),
        "by_severity": by_severity,
        "open": len(counted) - len(hours),
        "restored": len(hours),
        "mean_restore_hours": round(sum(values) / len(values), 2) if values else None,
        "p90_restore_hours": round(p90(values), 2) if values else None,
        "restored_within_sla": within,
        "within_sla_rate": round(within / len(hours), 4) if hours else None,
    }
