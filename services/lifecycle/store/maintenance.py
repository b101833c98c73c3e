"""The maintenance records (inspection plans, inspections, changes) and the fault read model: their collections,
indexes and queries, and how the records read on a product's timeline.

An inspection plan's `next_due` is not stored: it is derived from the plan's latest inspection, so recording an
inspection is one insert (no second write to the plan that could fail half-way) and an inspection entered late,
with an earlier `at`, counts exactly as far as it really reaches."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from services.kit.app import Runtime
from services.kit.store import eq
from services.lifecycle.domain import maintenance
from services.lifecycle.store.collections import PLATFORMS, PRODUCTS
from services.lifecycle.store.timeline import Source, register

INSPECTION_PLANS = "inspection_plans"  # _id = "IP-…": {product_code (the target), name, checklist, every}
INSPECTIONS = "inspections"            # _id = "IN-…": {plan_id, product_code, at, results, outcome}
CHANGES = "changes"                    # _id = "CH-…": {product_code, type, window, state, history}
FAULTS = "faults"                      # _id = ticket id: one fault ticket's latest known state (events/maintenance.py)

INDEXES = {
    INSPECTION_PLANS: [IndexModel([("product_code", ASCENDING), ("at", ASCENDING)])],
    INSPECTIONS: [IndexModel([("plan_id", ASCENDING), ("at", DESCENDING)]),
                  IndexModel([("product_code", ASCENDING), ("at", DESCENDING)])],
    CHANGES: [IndexModel([("product_code", ASCENDING), ("at", DESCENDING)])],
    FAULTS: [IndexModel([("product_code", ASCENDING)])],
}


def _plan_summary(doc: dict[str, Any]) -> str:
    return f"巡检计划《{doc['name']}》 {maintenance.interval_label(doc.get('every'), doc.get('interval_days'))}，" \
           f"{len(doc['checklist'])}项检查" + ("（已停止）" if doc.get("stopped_at") else "")


def _inspection_summary(doc: dict[str, Any]) -> str:
    failed = sum(1 for r in doc["results"] if not r["ok"])
    line = f"巡检《{doc['plan_name']}》 {maintenance.OUTCOME_LABELS[doc['outcome']]}"
    return line + (f"（{failed}项异常）" if failed else "")


register(
    Source(INSPECTION_PLANS, "inspection_plan", "巡检计划", _plan_summary),
    Source(INSPECTIONS, "inspection", "巡检", _inspection_summary,
           detail=lambda d: {"plan_id": d["plan_id"], "outcome": d["outcome"]}),
    Source(CHANGES, "change", "变更", maintenance.change_summary,
           detail=lambda d: {"type": d["type"], "state": d["state"], "outcome": d.get("outcome"),
                             "window": d["window"]}),
)


async def last_inspection_at(rt: Runtime, plan_id: str) -> datetime | None:
    doc = await rt.store[INSPECTIONS].find({"plan_id": eq(plan_id)}, {"at": 1}).sort("at", -1).limit(1).to_list()
    return doc[0]["at"] if doc else None


async def plan_status(rt: Runtime, plan: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The plan with its derived `last_inspection_at`, `next_due` and `overdue`."""
    last = await last_inspection_at(rt, plan["_id"])
    if plan.get("stopped_at") is not None:  # a stopped plan is due no more (the target retired, the check moved)
        return {**plan, "last_inspection_at": last, "next_due": None, "overdue": False}
    # `starts_on` is stored as ISO text: a BSON document holds no bare date
    due = maintenance.next_due(plan.get("every"), plan.get("interval_days"), date.fromisoformat(plan["starts_on"]),
                               last)
    return {**plan, "last_inspection_at": last, "next_due": due, "overdue": maintenance.overdue(due, now)}


async def overdue_inspections(rt: Runtime, now: datetime) -> dict[str, list[dict]]:
    """Target code → its plans whose inspection is overdue, as {plan_id, name, next_due} (for the portfolio view).
    Targets with nothing overdue are left out."""
    found: dict[str, list[dict]] = {}
    for plan in await rt.store[INSPECTION_PLANS].find({"stopped_at": None}).sort("_id", 1).to_list():
        status = await plan_status(rt, plan, now)
        if status["overdue"]:
            found.setdefault(plan["product_code"], []).append(
                {"plan_id": plan["_id"], "name": plan["name"], "next_due": status["next_due"]})
    return found


async def holding_changes(rt: Runtime, code: str) -> list[dict[str, Any]]:
    """The target's changes that hold their window (approved or in progress)."""
    return await rt.store[CHANGES].find({"product_code": eq(code), "state": {"$in": sorted(maintenance.HOLDING)}}) \
        .to_list(1000)


async def catalog_platforms(rt: Runtime) -> tuple[dict[str, dict], dict[str, dict]]:
    """The platforms and the products of the catalog by code (name, and a product's platform_code)."""
    platforms = {d["_id"]: d for d in await rt.store[PLATFORMS].find({}, {"name": 1}).to_list()}
    products = {d["_id"]: d for d in await rt.store[PRODUCTS].find({}, {"name": 1, "platform_code": 1}).to_list()}
    return platforms, products
