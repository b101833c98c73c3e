"""Views across a product's records: its timeline (every stage, document, decision and step, dated, with who)
and the portfolio (products by stage, gates blocked and by what, trials ending this month, overdue inspections)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from contracts.vocabulary import Stage
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.lifecycle.api.access import load_entry, require_reader
from services.lifecycle.api.stage_models import MissingItem
from services.lifecycle.domain import gates
from services.lifecycle.store import maintenance
from services.lifecycle.store.collections import PLATFORMS, PRODUCTS
from services.lifecycle.store.gates import entered_at, gather_many
from services.lifecycle.store.timeline import timeline

router = APIRouter(prefix="/v1", tags=["views"])
LOCAL = ZoneInfo("Asia/Shanghai")
Rt = Annotated[Runtime, Depends(runtime)]
Caller = Annotated[Principal, Depends(authenticate)]


class TimelineEntry(BaseModel):
    at: datetime
    kind: str = Field(description="registered | transition | document | decision | … (every kind of record)")
    kind_label: str
    by: str | None = None
    summary: str = Field(description="One line for people (中文)")
    id: str
    detail: dict[str, Any] = {}


class Timeline(BaseModel):
    code: str
    name: str
    stage: Stage
    stage_label: str
    entries: list[TimelineEntry]
    next_cursor: str | None = None


def transition_entries(product: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{"at": product["created_at"], "kind": "registered", "kind_label": "需求提出", "by": None,
            "summary": f"登记{product['name']}", "id": f"{product['code']}:registered", "detail": {}}]
    for n, step in enumerate(product.get("transitions", []), 1):
        summary = f"{gates.label(step['from_stage'])} → {gates.label(step['to_stage'])}"
        if step.get("override_reason"):
            summary += f"（管理员特批：{step['override_reason']}）"
        elif step.get("note"):
            summary += f"：{step['note']}"
        out.append({"at": step["at"], "kind": "transition", "kind_label": "阶段变更", "by": step["by"],
                    "summary": summary, "id": f"{product['code']}:transition:{n}",
                    "detail": {k: step[k] for k in ("from_stage", "to_stage", "override_reason", "overridden")
                               if step.get(k)}})
    labels = {"budget_cny": "预算", "vendor": "厂家", "product_managers": "产品经理"}
    for n, edit in enumerate(product.get("edits", []), 1):
        said = "，".join(f"{labels[k]}：{'、'.join(v) if isinstance(v, list) else v}" for k, v in edit["changes"].items())
        out.append({"at": edit["at"], "kind": "edit", "kind_label": "信息变更", "by": edit["by"],
                    "summary": said + (f"（{edit['note']}）" if edit.get("note") else ""),
                    "id": f"{product['code']}:edit:{n}", "detail": edit["changes"]})
    return out


@router.get("/products/{code}/timeline", response_model=Timeline,
            summary="Every stage, document, decision and step of a product, dated, with who (oldest first)")
async def product_timeline(code: str, principal: Caller, rt: Rt,
                           limit: int = Query(200, ge=1, le=1000, description="Entries per page (oldest first)"),
                           cursor: str | None = Query(None, description="The next_cursor of the previous page")):
    require_reader(principal)
    _, product = await load_entry(rt, code)
    entries, cursor = await timeline(rt, code, transition_entries(product), limit=limit, cursor=cursor)
    return Timeline(code=code, name=product["name"], stage=product["stage"],
                    stage_label=gates.label(product["stage"]), entries=entries, next_cursor=cursor)


class Blocked(BaseModel):
    code: str
    name: str
    stage: Stage
    stage_label: str
    next_stage: Stage
    missing: list[MissingItem]


class TrialEnding(BaseModel):
    code: str
    name: str
    stage: Stage
    stage_label: str
    entered_at: datetime
    earliest_end: date
    overdue: bool = Field(description="Its 2 months were over before this month began")


class OverdueInspection(BaseModel):
    target: str
    plan_id: str
    name: str
    next_due: date


class StageCount(BaseModel):
    stage: Stage
    stage_label: str
    count: int
    codes: list[str]


class Portfolio(BaseModel):
    as_of: datetime
    by_stage: list[StageCount]
    blocked: list[Blocked] = Field(description="Products whose next step lacks something, with every item")
    trials_ending: list[TrialEnding] = Field(description="Trials and trial-commercial stages whose 2 months end by "
                                                         "the end of this month")
    overdue_inspections: list[OverdueInspection]


def month_end(today: date) -> date:
    return gates.add_months(datetime(today.year, today.month, 1), 1).date()


@router.get("/portfolio", response_model=Portfolio,
            summary="Products by stage, gates blocked and by what, trials ending this month, overdue inspections")
async def portfolio(principal: Caller, rt: Rt,
                    platform_code: str | None = Query(None, description="Only this platform and its products")):
    require_reader(principal)
    now = datetime.now(UTC)
    entries = await rt.store[PLATFORMS].find({} if not platform_code else {"_id": platform_code}).to_list()
    entries += await rt.store[PRODUCTS].find({} if not platform_code else {"platform_code": platform_code}).to_list()
    entries.sort(key=lambda e: (list(Stage).index(Stage(e["stage"])), e["code"]))
    facts = await gather_many(rt, entries) if entries else {}
    by_stage = [StageCount(stage=s, stage_label=gates.label(s), count=len(codes), codes=codes)
                for s in Stage if (codes := [e["code"] for e in entries if e["stage"] == s.value])]
    blocked, ending = [], []
    today = now.astimezone(LOCAL).date()
    first_of_month, next_month = today.replace(day=1), month_end(today)
    for entry in entries:
        stage = Stage(entry["stage"])
        nxt = gates.NEXT.get(stage)
        if nxt is None or stage == Stage.delivered:
            continue  # delivered products are in daily operation: no gate ahead but retirement
        missing = gates.missing(facts[entry["code"]], nxt, now)
        if missing:
            blocked.append(Blocked(code=entry["code"], name=entry["name"], stage=stage, stage_label=gates.label(stage),
                                   next_stage=nxt, missing=[MissingItem(**m.as_dict()) for m in missing]))
        ends = gates.ends_on(entered_at(entry).astimezone(LOCAL), stage)
        if ends and ends < next_month:
            ending.append(TrialEnding(code=entry["code"], name=entry["name"], stage=stage,
                                      stage_label=gates.label(stage), entered_at=entered_at(entry),
                                      earliest_end=ends, overdue=ends < first_of_month))
    shown = {e["code"] for e in entries}
    overdue = [OverdueInspection(target=target, **plan)
               for target, plans in (await maintenance.overdue_inspections(rt, now)).items()
               if target in shown for plan in plans]
    return Portfolio(as_of=now, by_stage=by_stage, blocked=blocked, trials_ending=ending, overdue_inspections=overdue)
