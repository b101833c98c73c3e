"""Daily maintenance routes (平台/产品日常维护): inspection plans and inspections (巡检), change records (变更) and
their approval, and fault statistics per product and platform. Thin: parse → domain/maintenance → store."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.vocabulary import Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate, require_roles
from services.kit.clock import to_milliseconds
from services.lifecycle.api.moments import moment
from services.kit.lease import Lease
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem, invalid
from services.kit.store import ConcurrencyConflict, eq, flat_and, public
from services.lifecycle.api.access import forbidden, load_entry, require_reader
from services.lifecycle.domain import maintenance as rules
from services.lifecycle.store import maintenance as store
from services.lifecycle.store.maintenance import CHANGES, FAULTS, INSPECTION_PLANS, INSPECTIONS

router = APIRouter(prefix="/v1/maintenance", tags=["maintenance"])

# Only these roles ever write maintenance records; which entry they may touch is decided per request.
writer = require_roles(Role.ops_engineer, Role.product_manager)


async def reader(principal: Principal = Depends(authenticate)) -> Principal:
    require_reader(principal)
    return principal


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


# --- bodies --------------------------------------------------------------------------------------------------


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=120, description="What is checked (检查项)", examples=["CPU使用率"])
    expected: str | None = Field(None, max_length=200, description="What a normal reading is", examples=["低于80%"])

    @field_validator("item", "expected")
    @classmethod
    def not_blank(cls, value: str | None) -> str | None:
        return _text(value)


class InspectionPlanCreate(BaseModel):
    """A recurring inspection (巡检计划) of one platform or product."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"target": "cloud", "name": "信息化云平台日常巡检", "every": "daily",
         "checklist": [{"item": "CPU使用率", "expected": "低于80%"}, {"item": "磁盘空间", "expected": "剩余20%以上"},
                       {"item": "核心服务进程"}]},
        {"target": "mobile_office", "name": "移动办公月度安全巡检", "every": "monthly", "starts_on": "2026-12-01",
         "checklist": [{"item": "账号权限核查"}, {"item": "备份恢复演练"}]},
    ]})

    target: str = Field(min_length=1, max_length=60, description="Code of the platform or product inspected")
    name: str = Field(min_length=1, max_length=80, description="Plan name (巡检计划名称)")
    checklist: list[ChecklistItem] = Field(min_length=1, max_length=100)
    every: Literal["daily", "weekly", "monthly"] | None = Field(None, description="The rhythm; or `interval_days`")
    interval_days: int | None = Field(None, ge=1, le=366, description="Every so many days, instead of `every`")
    starts_on: date | None = Field(None, description="First day due (Beijing); default today")

    @field_validator("name")
    @classmethod
    def not_blank(cls, value: str | None) -> str | None:
        return _text(value)

    @field_validator("checklist")
    @classmethod
    def distinct_items(cls, items: list[ChecklistItem]) -> list[ChecklistItem]:
        names = [i.item for i in items]
        if len(set(names)) != len(names):
            raise ValueError("checklist items must be distinct")
        return items

    @model_validator(mode="after")
    def one_rhythm(self):
        if (self.every is None) == (self.interval_days is None):
            raise ValueError("give exactly one of `every` and `interval_days`")
        return self


class InspectionPlanStop(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "产品已下线，停止巡检"}]})

    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def not_blank(cls, value: str | None) -> str | None:
        return _text(value)


class InspectionResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=120, description="The checklist item answered")
    ok: bool
    value: str | None = Field(None, max_length=200, description="What was read, e.g. 65%")
    note: str | None = Field(None, max_length=500)


class FollowUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str | None = Field(None, max_length=40, description="The fault ticket opened for it")
    note: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def something(self):
        if not (self.ticket_id or (self.note and self.note.strip())):
            raise ValueError("name a ticket_id or write a note")
        return self


class InspectionCreate(BaseModel):
    """The results of one inspection (巡检记录): every checklist item of the plan answered once."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"plan_id": "IP-3f9a1c2e7b10", "at": "2026-12-02T09:30:00+08:00", "summary": "磁盘空间不足，已清理日志",
         "results": [{"item": "CPU使用率", "ok": True, "value": "42%"},
                     {"item": "磁盘空间", "ok": False, "value": "剩余8%", "note": "日志目录占用过大"},
                     {"item": "核心服务进程", "ok": True}],
         "follow_up": {"ticket_id": "GZ20261202000017", "note": "已转故障工单跟进扩容"}},
    ]})

    plan_id: str = Field(min_length=1, max_length=40)
    at: AwareDatetime | None = Field(None, description="When it was done; default now, never in the future")
    results: list[InspectionResult] = Field(min_length=1, max_length=100)
    summary: str | None = Field(None, max_length=2000)
    follow_up: FollowUp | None = Field(None, description="Only for an abnormal inspection: what follows it up")


class ChangeWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def ends_after_start(self):
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ChangeCreate(BaseModel):
    """A change (变更) of a platform or product: planned with a window and a rollback plan, then approved."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"target": "video", "type": "upgrade", "title": "视频监控平台V3.2升级", "version": "3.2.0",
         "window": {"start": "2026-12-12T00:00:00+08:00", "end": "2026-12-12T04:00:00+08:00"},
         "rollback_plan": "保留V3.1镜像与数据库快照，升级失败30分钟内切回", "impact": "升级期间监控回看不可用"},
        {"target": "card", "type": "cutover", "title": "一卡通平台机房割接",
         "window": {"start": "2026-12-19T23:00:00+08:00", "end": "2026-12-20T05:00:00+08:00"},
         "rollback_plan": "原机房保持热备，割接失败回切原链路"},
    ]})

    target: str = Field(min_length=1, max_length=60, description="Code of the platform or product changed")
    type: Literal["upgrade", "cutover", "config", "other"] = Field(description="upgrade 版本升级, cutover 割接, …")
    title: str = Field(min_length=1, max_length=120)
    window: ChangeWindow = Field(description="When the work is done (变更窗口)")
    rollback_plan: str = Field(min_length=1, max_length=4000, description="How to go back (回退方案)")
    impact: str | None = Field(None, max_length=2000, description="What users notice meanwhile (影响范围)")
    version: str | None = Field(None, max_length=40, description="The version installed, for an upgrade")
    at: AwareDatetime | None = Field(None, description="When it was requested; default now, never in the future")

    @field_validator("title", "rollback_plan")
    @classmethod
    def not_blank(cls, value: str | None) -> str | None:
        return _text(value)


class ChangeApprove(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "同意，请提前通知受影响集团客户"}]})

    note: str | None = Field(None, max_length=2000)


class ChangeStart(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"at": "2026-12-12T00:05:00+08:00", "note": "开始升级，已确认数据库快照"}]})

    at: AwareDatetime | None = Field(None, description="When work began; default now")
    note: str | None = Field(None, max_length=2000)


class ChangeComplete(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "success", "notes": "升级完成，回看功能验证正常"},
        {"outcome": "rolled_back", "notes": "新版本转码异常，已按回退方案切回V3.1"},
    ]})

    outcome: Literal["success", "rolled_back", "failed"]
    notes: str | None = Field(None, max_length=4000, description="What happened; required unless a success")
    at: AwareDatetime | None = Field(None, description="When work ended; default now")

    @model_validator(mode="after")
    def explained(self):
        if self.outcome != "success" and not (self.notes and self.notes.strip()):
            raise ValueError("notes: say what happened when a change is not a success")
        return self


class ChangeCancel(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "厂家补丁未到，改期"}]})

    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def not_blank(cls, value: str | None) -> str | None:
        return _text(value)


# --- answers -------------------------------------------------------------------------------------------------


class ChecklistEntry(BaseModel):
    item: str
    expected: str | None = None


class InspectionPlan(BaseModel):
    """A plan with what is derived from its inspections at every read (`last_inspection_at`, `next_due`,
    `overdue`)."""

    id: str
    target: str = Field(description="Code of the platform or product inspected")
    product_code: str = Field(description="The same as `target`: the lifecycle records' common key")
    name: str
    checklist: list[ChecklistEntry]
    every: Literal["daily", "weekly", "monthly"] | None = None
    interval_days: int | None = None
    interval_label: str = Field(description="The rhythm in words (每日, 每周, 每月, 每3天)", examples=["每日"])
    starts_on: date
    at: datetime
    by: str
    active: bool = Field(description="False once stopped")
    stopped_at: datetime | None = None
    stopped_by: str | None = None
    stop_reason: str | None = None
    last_inspection_at: datetime | None = None
    next_due: date | None = Field(None, description="The Beijing day the next inspection is due; null once stopped")
    overdue: bool


class InspectionPlanPage(BaseModel):
    items: list[InspectionPlan]
    next_cursor: str | None = None


class InspectionResultEntry(BaseModel):
    item: str
    ok: bool
    value: str | None = None
    note: str | None = None


class InspectionFollowUp(BaseModel):
    ticket_id: str | None = None
    note: str | None = None


class Inspection(BaseModel):
    id: str
    target: str
    product_code: str
    plan_id: str
    plan_name: str
    at: datetime
    by: str
    results: list[InspectionResultEntry]
    outcome: Literal["normal", "abnormal"]
    outcome_label: str = Field(description="正常 or 异常", examples=["异常"])
    summary: str | None = None
    follow_up: InspectionFollowUp | None = None
    recorded_at: datetime


class InspectionPage(BaseModel):
    items: list[Inspection]
    next_cursor: str | None = None


class ChangeWindowOut(BaseModel):
    start: datetime
    end: datetime


class ChangeStep(BaseModel):
    action: Literal["plan", "approve", "start", "complete", "cancel"]
    state: Literal["planned", "approved", "in_progress", "done", "cancelled"]
    at: datetime
    by: str
    note: str | None = None


class Change(BaseModel):
    id: str
    target: str
    product_code: str
    type: Literal["upgrade", "cutover", "config", "other"]
    type_label: str = Field(description="版本升级, 割接, 配置变更, 其他变更", examples=["版本升级"])
    title: str
    window: ChangeWindowOut
    rollback_plan: str
    impact: str | None = None
    version: str | None = None
    state: Literal["planned", "approved", "in_progress", "done", "cancelled"]
    state_label: str = Field(description="待审批, 已批准, 实施中, 已完成, 已取消", examples=["已批准"])
    outcome: Literal["success", "rolled_back", "failed"] | None = None
    outcome_label: str | None = Field(None, description="成功, 已回退, 失败; null until done", examples=["已回退"])
    notes: str | None = None
    at: datetime = Field(description="When it was requested")
    by: str
    requested_by: str
    approved_by: str | None = None
    history: list[ChangeStep]


class ChangeCreated(Change):
    overlapping: list[str] = Field(description="Changes holding an overlapping window on the target (a warning: "
                                               "approving this one is refused while they hold it)")


class ChangePage(BaseModel):
    items: list[Change]
    next_cursor: str | None = None


class FaultFigures(BaseModel):
    total: int
    by_severity: dict[str, int] = Field(description='Faults by severity, "1" to "3"')
    open: int
    restored: int
    mean_restore_hours: float | None = None
    p90_restore_hours: float | None = None
    restored_within_sla: int
    within_sla_rate: float | None = Field(None, description="Over the restored faults; null when none")


class FaultProductRow(FaultFigures):
    code: str
    name: str | None = None
    platform_code: str | None = None


class FaultPlatformRow(FaultFigures):
    code: str
    name: str | None = None
    products: list[str] = Field(description="The product codes whose faults are pooled here")


class FaultStatistics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime | None = Field(None, alias="from")
    to: datetime | None = None
    sla_hours: dict[str, int] = Field(description="Restore target in hours by severity (SPEC §3)")
    products: list[FaultProductRow]
    platforms: list[FaultPlatformRow]


# --- helpers -------------------------------------------------------------------------------------------------


async def _target(rt: Runtime, code: str, field: str = "target") -> dict[str, Any]:
    try:
        return (await load_entry(rt, code))[1]
    except Problem as problem:
        if problem.status == 404:
            raise invalid(field, f"no product or platform with code {code!r}") from problem
        raise


def _require_maintainer(principal: Principal, entry: dict[str, Any]) -> None:
    if not rules.maintains(principal, entry):
        raise forbidden(f"Only an ops engineer, an admin or a product manager of {entry['code']!r} maintains it.")


def _day(value: datetime | None) -> datetime | None:
    """A bound given without a zone is Beijing time."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=rules.TZ)
    return value


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _plan_out(doc: dict[str, Any]) -> dict[str, Any]:
    doc = public(doc)
    return {"id": doc["_id"], "target": doc["product_code"], "product_code": doc["product_code"],
            "name": doc["name"], "checklist": doc["checklist"], "every": doc.get("every"),
            "interval_days": doc.get("interval_days"),
            "interval_label": rules.interval_label(doc.get("every"), doc.get("interval_days")),
            "starts_on": doc["starts_on"], "at": doc["at"], "by": doc["by"],
            "active": doc.get("stopped_at") is None, "stopped_at": doc.get("stopped_at"),
            "stopped_by": doc.get("stopped_by"), "stop_reason": doc.get("stop_reason"),
            "last_inspection_at": doc.get("last_inspection_at"), "next_due": doc.get("next_due"),
            "overdue": doc.get("overdue")}


def _inspection_out(doc: dict[str, Any]) -> dict[str, Any]:
    doc = public(doc)
    return {"id": doc["_id"], "target": doc["product_code"], **{k: v for k, v in doc.items() if k != "_id"},
            "outcome_label": rules.OUTCOME_LABELS[doc["outcome"]]}


def _change_out(doc: dict[str, Any], overlapping: list[str] | None = None) -> dict[str, Any]:
    doc = public(doc)
    out = {"id": doc["_id"], "target": doc["product_code"], **{k: v for k, v in doc.items() if k != "_id"},
           "type_label": rules.CHANGE_TYPE_LABELS[doc["type"]], "state_label": rules.CHANGE_STATE_LABELS[doc["state"]],
           "outcome_label": rules.CHANGE_OUTCOME_LABELS.get(doc.get("outcome"))}
    if overlapping is not None:
        out["overlapping"] = overlapping
    return out


# --- inspection plans ----------------------------------------------------------------------------------------


@router.post("/inspection-plans", status_code=201, response_model=InspectionPlan,
             summary="Plan a recurring inspection (巡检计划); ops engineer, admin or the target's product manager")
async def create_inspection_plan(body: InspectionPlanCreate, response: Response,
                                 principal: Principal = Depends(writer), rt: Runtime = Depends(runtime)):
    entry = await _target(rt, body.target)
    _require_maintainer(principal, entry)
    now = datetime.now(UTC)
    doc = {"_id": _new_id("IP"), "product_code": entry["code"], "name": body.name,
           "checklist": [i.model_dump() for i in body.checklist], "every": body.every,
           "interval_days": body.interval_days,
           "starts_on": (body.starts_on or rules.local_day(now)).isoformat(),
           "at": to_milliseconds(now), "by": principal.sub, "stopped_at": None}
    doc = await rt.store.insert(INSPECTION_PLANS, doc)
    response.headers["Location"] = f"/v1/maintenance/inspection-plans/{doc['_id']}"
    return _plan_out(await store.plan_status(rt, doc, now))


@router.get("/inspection-plans", response_model=InspectionPlanPage,
            summary="Inspection plans, each with its next due day and whether it is overdue")
async def list_inspection_plans(target: str | None = Query(None, description="Only this platform's or product's"),
                                overdue: bool | None = Query(None, description="Only the overdue (true) or not"),
                                params: PageParams = Depends(page_params), _: Principal = Depends(reader),
                                rt: Runtime = Depends(runtime)):
    if target:
        await load_entry(rt, target)
    now = datetime.now(UTC)
    query = {"product_code": eq(target)} if target else {}
    if overdue is None:
        docs, cursor = await page(rt.store[INSPECTION_PLANS], query, params, [("_id", 1)])
        items = [await store.plan_status(rt, d, now) for d in docs]
    else:
        items, cursor = await _plans_by_overdue(rt, query, overdue, params, now)
    return {"items": [_plan_out(d) for d in items], "next_cursor": cursor}


# `overdue` is derived (from each plan's latest inspection), so no query selects on it: plans are read in `_id`
# order from the cursor and filtered as their status becomes known. A page reads at most this many plans, so a
# page is bounded whatever the share of overdue plans; when the bound is hit first the page is short (even empty)
# and its cursor continues after the last plan read.
OVERDUE_SCAN_LIMIT = 1000


def _plan_cursor(plan_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": plan_id}).encode()).decode().rstrip("=")


def _after_plan(cursor: str) -> str:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as error:
        raise Problem(400, "bad-cursor", "Invalid cursor", "Pass back the next_cursor of the previous page.") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("after"), str):
        raise Problem(400, "bad-cursor", "Invalid cursor", "The cursor belongs to another listing.")
    return raw["after"]


async def _plans_by_overdue(rt: Runtime, query: dict[str, Any], overdue: bool, params: PageParams,
                            now: datetime) -> tuple[list[dict[str, Any]], str | None]:
    after = _after_plan(params.cursor) if params.cursor else None
    found: list[dict[str, Any]] = []
    scanned, last = 0, after
    while scanned < OVERDUE_SCAN_LIMIT:
        batch = min(OVERDUE_SCAN_LIMIT - scanned, max(params.limit + 1, 50))
        docs = await rt.store[INSPECTION_PLANS].find(
            flat_and(query, {"_id": {"$gt": last}} if last is not None else None)).sort("_id", 1) \
            .limit(batch).to_list()
        for doc in docs:
            scanned, last = scanned + 1, doc["_id"]
            status = await store.plan_status(rt, doc, now)
            if status["overdue"] != overdue:
                continue
            if len(found) == params.limit:  # one more exists: the page ends at the last one kept
                return found, _plan_cursor(found[-1]["_id"])
            found.append(status)
        if len(docs) < batch:
            return found, None  # every plan read
    return found, _plan_cursor(last)  # the scan bound: continue after the last plan read


@router.get("/inspection-plans/{plan_id}", response_model=InspectionPlan, summary="One inspection plan")
async def get_inspection_plan(plan_id: str, _: Principal = Depends(reader), rt: Runtime = Depends(runtime)):
    return _plan_out(await store.plan_status(rt, await _load_plan(rt, plan_id), datetime.now(UTC)))


@router.post("/inspection-plans/{plan_id}/stop", response_model=InspectionPlan,
             summary="Stop a plan (the target retired, the check moved elsewhere); its inspections stay on record")
async def stop_inspection_plan(plan_id: str, body: InspectionPlanStop, principal: Principal = Depends(writer),
                               rt: Runtime = Depends(runtime)):
    doc = await _load_plan(rt, plan_id)
    _require_maintainer(principal, (await load_entry(rt, doc["product_code"]))[1])
    if doc.get("stopped_at") is not None:
        raise Problem(409, "plan-stopped", "Plan stopped", f"The plan {plan_id!r} was stopped already.")
    now = datetime.now(UTC)
    changed = {**doc, "stopped_at": to_milliseconds(now), "stopped_by": principal.sub, "stop_reason": body.reason}
    try:
        changed = await rt.store.replace(INSPECTION_PLANS, changed)
    except ConcurrencyConflict as error:
        raise Problem(409, "plan-conflict", "Changed meanwhile", "The plan changed meanwhile; read it again.") from error
    return _plan_out(await store.plan_status(rt, changed, now))


async def _load_plan(rt: Runtime, plan_id: str) -> dict[str, Any]:
    doc = await rt.store[INSPECTION_PLANS].find_one({"_id": plan_id})
    if doc is None:
        raise Problem(404, "plan-not-found", "Inspection plan not found", f"No inspection plan {plan_id!r}.")
    return doc


# --- inspections ---------------------------------------------------------------------------------------------


@router.post("/inspections", status_code=201, response_model=Inspection,
             summary="Record an inspection's results (巡检记录); ops engineer, admin or the target's product manager")
async def record_inspection(body: InspectionCreate, response: Response,
                            principal: Principal = Depends(writer), rt: Runtime = Depends(runtime)):
    plan = await rt.store[INSPECTION_PLANS].find_one({"_id": body.plan_id})
    if plan is None:
        raise invalid("plan_id", f"no inspection plan {body.plan_id!r}")
    entry = await _target(rt, plan["product_code"], "plan_id")
    _require_maintainer(principal, entry)
    if plan.get("stopped_at") is not None:
        raise Problem(409, "plan-stopped", "Plan stopped", f"The plan {plan['_id']!r} is stopped: it takes no more "
                      "inspections.")
    results = [r.model_dump() for r in body.results]
    errors = rules.result_errors(plan["checklist"], results)
    if errors:
        raise Problem(422, "validation-error", "Invalid request", "; ".join(f"{f}: {m}" for f, m in errors),
                      errors=[{"field": f, "message": m, "type": "value_error"} for f, m in errors])
    outcome = rules.outcome(results)
    if body.follow_up is not None and outcome == "normal":
        raise invalid("follow_up", "only an abnormal inspection is followed up")
    now = datetime.now(UTC)
    doc = {"_id": _new_id("IN"), "plan_id": plan["_id"], "plan_name": plan["name"],
           "product_code": plan["product_code"], "at": moment(body.at, now), "by": principal.sub,
           "results": results, "outcome": outcome, "summary": body.summary,
           "follow_up": body.follow_up.model_dump() if body.follow_up else None, "recorded_at": to_milliseconds(now)}
    doc = await rt.store.insert(INSPECTIONS, doc)
    response.headers["Location"] = f"/v1/maintenance/inspections/{doc['_id']}"
    return _inspection_out(doc)


@router.get("/inspections", response_model=InspectionPage, summary="Inspections, newest first")
async def list_inspections(target: str | None = Query(None), plan_id: str | None = Query(None),
                           outcome: Literal["normal", "abnormal"] | None = Query(None),
                           params: PageParams = Depends(page_params), _: Principal = Depends(reader),
                           rt: Runtime = Depends(runtime)):
    query = flat_and({"product_code": eq(target)} if target else None, {"plan_id": eq(plan_id)} if plan_id else None,
                     {"outcome": eq(outcome)} if outcome else None)
    docs, cursor = await page(rt.store[INSPECTIONS], query, params, [("at", -1), ("_id", -1)])
    return {"items": [_inspection_out(d) for d in docs], "next_cursor": cursor}


@router.get("/inspections/{inspection_id}", response_model=Inspection, summary="One inspection")
async def get_inspection(inspection_id: str, _: Principal = Depends(reader), rt: Runtime = Depends(runtime)):
    doc = await rt.store[INSPECTIONS].find_one({"_id": inspection_id})
    if doc is None:
        raise Problem(404, "inspection-not-found", "Inspection not found", f"No inspection {inspection_id!r}.")
    return _inspection_out(doc)


# --- changes -------------------------------------------------------------------------------------------------


@router.post("/changes", status_code=201, response_model=ChangeCreated,
             summary="Plan a change (变更: 版本升级/割接); ops engineer, admin or the target's product manager")
async def create_change(body: ChangeCreate, response: Response, principal: Principal = Depends(writer),
                        rt: Runtime = Depends(runtime)):
    entry = await _target(rt, body.target)
    _require_maintainer(principal, entry)
    now = datetime.now(UTC)
    at = moment(body.at, now)
    window = {"start": to_milliseconds(body.window.start.astimezone(UTC)),
              "end": to_milliseconds(body.window.end.astimezone(UTC))}
    doc = {"_id": _new_id("CH"), "product_code": entry["code"], "type": body.type, "title": body.title,
           "window": window, "rollback_plan": body.rollback_plan, "impact": body.impact, "version": body.version,
           "state": "planned", "outcome": None, "notes": None, "at": at, "by": principal.sub,
           "requested_by": principal.sub, "approved_by": None,
           "history": [{"action": "plan", "state": "planned", "at": at, "by": principal.sub, "note": None}]}
    doc = await rt.store.insert(CHANGES, doc)
    response.headers["Location"] = f"/v1/maintenance/changes/{doc['_id']}"
    # A warning, not a refusal: two plans may compete for a window; approval decides which one holds it.
    return _change_out(doc, rules.overlapping(window, await store.holding_changes(rt, entry["code"])))


@router.get("/changes", response_model=ChangePage,
            summary="Changes, newest request first; `from`/`to` keep those whose window meets the range")
async def list_changes(target: str | None = Query(None),
                       state: Literal["planned", "approved", "in_progress", "done", "cancelled"] | None = Query(None),
                       from_: datetime | None = Query(None, alias="from"), to: datetime | None = Query(None),
                       params: PageParams = Depends(page_params), _: Principal = Depends(reader),
                       rt: Runtime = Depends(runtime)):
    from_, to = _day(from_), _day(to)
    if from_ and to and to <= from_:
        raise invalid("query.to", "must be after from")
    query = flat_and({"product_code": eq(target)} if target else None, {"state": eq(state)} if state else None,
                     {"window.end": {"$gt": from_}} if from_ else None, {"window.start": {"$lt": to}} if to else None)
    docs, cursor = await page(rt.store[CHANGES], query, params, [("at", -1), ("_id", -1)])
    return {"items": [_change_out(d) for d in docs], "next_cursor": cursor}


async def _load_change(rt: Runtime, change_id: str) -> dict[str, Any]:
    doc = await rt.store[CHANGES].find_one({"_id": change_id})
    if doc is None:
        raise Problem(404, "change-not-found", "Change not found", f"No change {change_id!r}.")
    return doc


@router.get("/changes/{change_id}", response_model=Change, summary="One change with its history")
async def get_change(change_id: str, _: Principal = Depends(reader), rt: Runtime = Depends(runtime)):
    return _change_out(await _load_change(rt, change_id))


async def _transition(rt: Runtime, principal: Principal, change_id: str, action: str, *, at: datetime | None = None,
                      note: str | None = None, **fields: Any) -> dict[str, Any]:
    doc = await _load_change(rt, change_id)
    entry = (await load_entry(rt, doc["product_code"]))[1]
    if action == "approve":
        if not rules.approves(principal, entry, doc):
            raise forbidden("A change is approved by an admin or a product manager of its target, "
                            "never by the one who requested it." if doc["requested_by"] == principal.sub else
                            f"Only an admin or a product manager of {entry['code']!r} approves its changes.")
    else:
        _require_maintainer(principal, entry)
    try:
        state = rules.transition(doc["state"], action)
    except rules.IllegalTransition as error:
        raise Problem(409, "illegal-transition", "Illegal transition", str(error), state=doc["state"]) from error
    now = datetime.now(UTC)
    when = moment(at, now)
    if when < doc["history"][-1]["at"]:
        raise invalid("at", "must not be before the change's previous step")
    changed = {**doc, **fields, "state": state,
               "history": [*doc["history"], {"action": action, "state": state, "at": when, "by": principal.sub,
                                             "note": note}]}
    if action != "approve":
        return _change_out(await _write_change(rt, changed))
    async with _approval_guard(rt, doc["product_code"]):
        # checked and written while no other approval of the target runs: two overlapping changes approved at the
        # same instant would otherwise both see the window free
        clashes = rules.overlapping(doc["window"], await store.holding_changes(rt, doc["product_code"]),
                                    skip=doc["_id"])
        if clashes:
            raise Problem(409, "window-overlap", "Window overlaps another change",
                          f"The window overlaps the approved change(s) {', '.join(clashes)} on {entry['code']!r}.",
                          overlapping=clashes)
        return _change_out(await _write_change(rt, {**changed, "approved_by": principal.sub}))


async def _write_change(rt: Runtime, changed: dict[str, Any]) -> dict[str, Any]:
    try:
        return await rt.store.replace(CHANGES, changed)
    except ConcurrencyConflict as error:
        raise Problem(409, "change-conflict", "Changed meanwhile",
                      "The change was changed by someone else meanwhile; read it again.") from error


# An approval holds its target's guard (a lease in the store, kit/lease.py) from reading the held windows to
# writing the approval. Held for milliseconds; it expires by itself should its holder die meanwhile.
APPROVAL_GUARD_SECONDS = 15.0
APPROVAL_WAIT_SECONDS = 5.0


@asynccontextmanager
async def _approval_guard(rt: Runtime, code: str):
    lease = Lease(rt.store, f"change-approval:{code}", APPROVAL_GUARD_SECONDS)
    deadline = time.monotonic() + APPROVAL_WAIT_SECONDS
    while not await lease.acquire():
        if time.monotonic() > deadline:
            raise Problem(409, "approval-busy", "Another approval is under way",
                          f"Another change of {code!r} is being approved; try again.")
        await asyncio.sleep(0.01 + random.random() * 0.04)
    try:
        yield
    finally:
        await lease.release()


@router.post("/changes/{change_id}/approve", response_model=Change,
             summary="Approve a planned change (审批); admin or the target's product manager, not the requester")
async def approve_change(change_id: str, body: ChangeApprove, principal: Principal = Depends(writer),
                         rt: Runtime = Depends(runtime)):
    return await _transition(rt, principal, change_id, "approve", note=body.note)


@router.post("/changes/{change_id}/start", response_model=Change, summary="Work on an approved change began (实施)")
async def start_change(change_id: str, body: ChangeStart, principal: Principal = Depends(writer),
                       rt: Runtime = Depends(runtime)):
    return await _transition(rt, principal, change_id, "start", at=body.at, note=body.note)


@router.post("/changes/{change_id}/complete", response_model=Change,
             summary="A change ended: success, rolled back (回退) or failed")
async def complete_change(change_id: str, body: ChangeComplete, principal: Principal = Depends(writer),
                          rt: Runtime = Depends(runtime)):
    return await _transition(rt, principal, change_id, "complete", at=body.at, note=body.notes,
                             outcome=body.outcome, notes=body.notes)


@router.post("/changes/{change_id}/cancel", response_model=Change, summary="Cancel a change not yet begun")
async def cancel_change(change_id: str, body: ChangeCancel, principal: Principal = Depends(writer),
                        rt: Runtime = Depends(runtime)):
    return await _transition(rt, principal, change_id, "cancel", note=body.reason)


# --- fault statistics ----------------------------------------------------------------------------------------


@router.get("/faults", response_model=FaultStatistics,
            summary="Fault statistics per product and platform (故障统计), from the fault tickets")
async def fault_statistics(target: str | None = Query(None, description="A product, or a platform and its products"),
                           from_: datetime | None = Query(None, alias="from", description="Opened at or after"),
                           to: datetime | None = Query(None, description="Opened before"),
                           _: Principal = Depends(reader), rt: Runtime = Depends(runtime)):
    from_, to = _day(from_), _day(to)
    if from_ and to and to <= from_:
        raise invalid("query.to", "must be after from")
    platforms, products = await store.catalog_platforms(rt)
    kind = None
    if target:
        kind = "platform" if (await load_entry(rt, target))[0] == "platforms" else "product"
    opened = {k: v for k, v in (("$gte", from_), ("$lt", to)) if v is not None}
    codes: list[str] | None = None
    if kind == "product":
        codes = [target]
    elif kind == "platform":
        codes = [target, *sorted(c for c, p in products.items() if p.get("platform_code") == target)]
    query = flat_and({"product_code": {"$in": codes}} if codes is not None else None,
                     {"opened_at": opened} if opened else None)
    faults = await rt.store[FAULTS].find(query).to_list(None)
    by_code: dict[str, list[dict]] = {}
    for fault in faults:
        by_code.setdefault(fault["product_code"], []).append(fault)

    def platform_of(code: str) -> str | None:
        return code if code in platforms else (products.get(code) or {}).get("platform_code")

    product_codes = [c for c in sorted(by_code) if c not in platforms]
    if kind == "product":
        product_codes = [target] if target not in platforms else []
    product_rows = [{"code": c, "name": (products.get(c) or {}).get("name"), "platform_code": platform_of(c),
                     **rules.fault_figures(by_code.get(c, []))} for c in product_codes]
    platform_codes = [target] if kind == "platform" else [] if kind == "product" else sorted(platforms)
    platform_rows = []
    for code in platform_codes:
        members = [c for c in by_code if platform_of(c) == code]
        platform_rows.append({"code": code, "name": platforms[code].get("name"),
                              "products": sorted(c for c in members if c != code),
                              **rules.fault_figures([f for c in members for f in by_code[c]])})
    return {"from": from_, "to": to, "sla_hours": {str(k): v for k, v in rules.RESTORE_SLA_HOURS.items()},
            "products": product_rows, "platforms": platform_rows}
