"""Sudden changes (突然变化, SPEC §5): `GET /v1/anomalies`, one anomaly, acknowledge, explain, and an admin's scan.

Who (SPEC §1, docs/analytics-anomalies.md): analysts and admins read and review every anomaly; a product manager
reads and reviews the product anomalies of their token's `products` only; an account manager reads the anomalies
of their own city only (and reviews none). Everyone else gets 403. An anomaly outside the caller's scope is not
there for them: 404, as for an id that does not exist, so that a scope does not tell which other products had
sudden changes. City anomalies count every product's tickets, so they are not a product manager's: hidden from
them; product anomalies count every city's, so they are not an account manager's. A list is narrowed to the
caller's scope; asking it for a dimension or key outside the scope is a 403, as analytics' metrics answer it, not an
empty page that would read as "no sudden change there".
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.vocabulary import CITIES, Role
from services.analytics.store import anomalies as store
from services.analytics.store.anomalies import ANOMALIES, DIMENSIONS, STATES
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.clock import stored_now
from services.kit.pagination import PageParams, keyed_page, page_params
from services.kit.preconditions import check_version, parse_if_match
from services.kit.problems import Problem, invalid
from services.kit.store import eq

router = APIRouter(prefix="/v1", tags=["anomalies"])

PROBLEM = {"content": {"application/problem+json": {}}}
READERS = (Role.analyst, Role.product_manager, Role.account_manager)  # and admin (require_roles)
REVIEWERS = (Role.analyst, Role.product_manager)
Rt = Annotated[Runtime, Depends(runtime)]
Paging = Annotated[PageParams, Depends(page_params)]
Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Reviewer = Annotated[Principal, Depends(require_roles(*REVIEWERS))]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
IfMatch = Annotated[str | None, Header(description="the anomaly's version (its ETag); a stale one is a 412")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "已看到，正在联系济南分公司核实"}, {}]})

    note: Text | None = Field(None, description="备注 (optional)")


class ExplainIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"explanation": "营销活动：国庆期间移动办公免费试用推广，咨询量上升属正常"},
        {"explanation": "平台故障：9月15日视频监控平台升级后登录失败，已修复"}]})

    explanation: Text = Field(description="原因说明, e.g. 营销活动, 平台故障, 数据重复导入")


class DayOut(BaseModel):
    day: date = Field(description="日期 (Asia/Shanghai)")
    count: int = Field(description="当日工单量 (so far, when partial)")
    partial: bool = Field(description="当日尚未结束 (in progress when judged)")
    baseline: float | None = Field(None, description="基线: median of the reference days")
    direction: Literal["spike", "drop"] | None = Field(None, description="spike 突增 / drop 突降 / None 正常")


class ReviewOut(BaseModel):
    at: Any = Field(description="时间")
    action: str = Field(description="detected | acknowledged | explained | ended")
    by: str = Field(description="操作人 (system: the scan)")
    note: str | None = Field(None, description="备注 or 原因说明")


class AnomalyOut(BaseModel):
    id: str = Field(description="异常编号, e.g. AN-20260915-1a2b3c4d5e")
    dimension: Literal["product_code", "city"] = Field(description="维度")
    dimension_label: str = Field(description="维度: 产品 / 地市")
    key: str = Field(description="产品编码 or 地市")
    direction: Literal["spike", "drop"] = Field(description="spike 突增 / drop 突降")
    direction_label: str = Field(description="突增 / 突降")
    state: Literal["open", "acknowledged", "explained"] = Field(description="状态")
    state_label: str = Field(description="状态: 未处理 / 已确认 / 已说明")
    ongoing: bool = Field(description="持续中: no normal day since it began")
    version: int = Field(description="版本 (the ETag)")
    start_day: date = Field(description="开始日期")
    last_day: date = Field(description="最近异常日期")
    ended_on: date | None = Field(None, description="结束日期: the first normal day")
    days: list[DayOut] = Field(description="异常的每一天")
    peak: DayOut = Field(description="峰值: the day furthest from its baseline")
    evidence: dict[str, Any] = Field(description="依据: the first day's verdict (median, MAD, σ, thresholds, the "
                                                 "reference days and their counts)")
    detected_at: Any = Field(description="发现时间")
    acknowledged_by: str | None = None
    acknowledged_at: Any = None
    explanation: str | None = Field(None, description="原因说明")
    explained_by: str | None = None
    explained_at: Any = None
    history: list[ReviewOut] = Field(description="处理记录")


class AnomalyPage(BaseModel):
    items: list[AnomalyOut]
    next_cursor: str | None


class ScanOut(BaseModel):
    day: date
    partial: bool = Field(description="the day is today, so far: only spikes are judged")
    reports: list[dict[str, Any]] = Field(description="per dimension: evaluated keys, opened / extended / closed ids")


def _day(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise invalid(field, f"{text!r} is not an ISO 8601 date (e.g. 2026-10-01)") from error


def scope(principal: Principal) -> dict[str, Any] | None:
    """The filter that keeps the caller's anomalies; None: the caller sees everything; a filter matching nothing
    for a scoped role without the claim."""
    if principal.has(Role.admin, Role.analyst):
        return None
    if principal.has(Role.product_manager):
        return {"dimension": eq("product_code"), "key": {"$in": list(principal.products)}}
    if principal.has(Role.account_manager):
        return {"dimension": eq("city"), "key": eq(principal.city or "")}
    return {"dimension": eq("none")}


def visible(principal: Principal, doc: dict[str, Any]) -> bool:
    if principal.has(Role.admin, Role.analyst):
        return True
    if principal.has(Role.product_manager):
        return doc["dimension"] == "product_code" and doc["key"] in principal.products
    if principal.has(Role.account_manager):
        return doc["dimension"] == "city" and doc["key"] == principal.city
    return False


def may_review(principal: Principal, doc: dict[str, Any]) -> bool:
    if principal.has(Role.admin, Role.analyst):
        return True
    return principal.has(Role.product_manager) and doc["dimension"] == "product_code" \
        and doc["key"] in principal.products


def _not_found(anomaly_id: str) -> Problem:
    return Problem(404, "not-found", "Anomaly not found", f"No anomaly {anomaly_id}.")


def _out(doc: dict[str, Any], response: Response | None = None) -> dict[str, Any]:
    out = store.view(doc)
    out["direction_label"] = {"spike": "突增", "drop": "突降"}[doc["direction"]]
    if response is not None:
        response.headers["ETag"] = f'"{doc["version"]}"'
    return out


@router.get("/anomalies", response_model=AnomalyPage, summary="突然变化: sudden changes in daily volumes, newest first",
            description="Episodes of a product's or a city's daily ticket volume far from its baseline "
                        "(docs/analytics-anomalies.md). `from`/`to` (ISO dates, inclusive) keep the episodes that "
                        "overlap those days.",
            responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def list_anomalies(
        rt: Rt, principal: Reader, params: Paging,
        state: Annotated[str | None, Query(description="open 未处理 | acknowledged 已确认 | explained 已说明")] = None,
        dimension: Annotated[str | None, Query(description="product_code 产品 | city 地市")] = None,
        key: Annotated[str | None, Query(min_length=1, max_length=64, description="产品编码 or 地市")] = None,
        from_: Annotated[str | None, Query(alias="from", description="ISO date, e.g. 2026-10-01")] = None,
        to: Annotated[str | None, Query(description="ISO date, inclusive")] = None):
    if state is not None and state not in STATES:
        raise invalid("state", f"{state!r} is not one of: {', '.join(STATES)}")
    if dimension is not None and dimension not in DIMENSIONS:
        raise invalid("dimension", f"{dimension!r} is not one of: {', '.join(DIMENSIONS)}")
    if dimension == "city" and key is not None and key not in CITIES:
        raise invalid("key", f"{key!r} is not one of the cities: {', '.join(CITIES)}")
    first, last = _day(from_, "from"), _day(to, "to")
    if first and last and first > last:
        raise invalid("from", "must not be after `to`")
    query: dict[str, Any] = {}
    if state:
        query["state"] = eq(state)
    if dimension:
        query["dimension"] = eq(dimension)
    if key:
        query["key"] = eq(key)
    if last:
        query["start_key"] = {"$lte": store.day_key(last)}
    if first:
        query["last_key"] = {"$gte": store.day_key(first)}
    limits = scope(principal)
    if limits is not None:
        asked_elsewhere = (dimension is not None and eq(dimension) != limits["dimension"]) or \
            (key is not None and not visible(principal, {"dimension": limits["dimension"]["$eq"], "key": key}))
        if asked_elsewhere:  # refused rather than an empty page, which would read as "no sudden change there"
            raise Problem(403, "forbidden", "Forbidden",
                          f"{dimension or ''} {key or ''} is outside your scope: "
                          + ("the product anomalies of " + ", ".join(principal.products or ["no product"])
                             if limits["dimension"] == eq("product_code") else
                             f"the city anomalies of {principal.city or 'no city'}"))
        query = {**query, **limits, **({"key": eq(key)} if key else {})}
    docs, cursor = await keyed_page(rt.store[ANOMALIES], [query], params, "list_key")
    return {"items": [_out(d) for d in docs], "next_cursor": cursor}


@router.get("/anomalies/{anomaly_id}", response_model=AnomalyOut, summary="One anomaly, with its evidence",
            responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
async def get_anomaly(anomaly_id: str, response: Response, rt: Rt, principal: Reader):
    doc = await store.get(rt.store, anomaly_id)
    if doc is None or not visible(principal, doc):
        raise _not_found(anomaly_id)
    return _out(doc, response)


async def _review(rt: Runtime, principal: Principal, anomaly_id: str, if_match: str | None, decide):
    expected = parse_if_match(if_match, what="anomaly")
    doc = await store.get(rt.store, anomaly_id)
    if doc is None or not visible(principal, doc):
        raise _not_found(anomaly_id)
    if not may_review(principal, doc):
        raise Problem(403, "forbidden", "Forbidden", "Only analysts, admins and the product's manager review an "
                                                     "anomaly.")
    check_version(doc["version"], expected, what="anomaly")

    def change(current):
        if current is None:
            raise _not_found(anomaly_id)
        check_version(current["version"], expected, what="anomaly")  # the scan may have changed it since
        new = decide(current)
        return None if new is None else (new, [])

    written = await rt.store.change(ANOMALIES, anomaly_id, change)
    return written or await store.get(rt.store, anomaly_id)


@router.post("/anomalies/{anomaly_id}/acknowledge", response_model=AnomalyOut,
             summary="确认: someone is looking at it (idempotent; 409 once explained)",
             responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM})
async def acknowledge(anomaly_id: str, response: Response, rt: Rt, principal: Reviewer, if_match: IfMatch = None,
                      body: Annotated[AcknowledgeIn, Body()] = AcknowledgeIn()):
    note = body.note

    def decide(current):
        if current["state"] == "explained":
            raise Problem(409, "already-explained", "Already explained",
                          f"{anomaly_id} is explained ({current.get('explanation')}); acknowledging it changes "
                          "nothing.", state=current["state"])
        if current["state"] == "acknowledged":
            return None  # acknowledged already: the same answer again
        now = stored_now()
        return {**current, "state": "acknowledged", "acknowledged_by": principal.sub, "acknowledged_at": now,
                "version": current["version"] + 1, "updated_at": now,
                "history": [*current["history"], {"at": now, "action": "acknowledged", "by": principal.sub,
                                                  "note": note}]}

    return _out(await _review(rt, principal, anomaly_id, if_match, decide), response)


@router.post("/anomalies/{anomaly_id}/explain", response_model=AnomalyOut,
             summary="说明: the cause is known (e.g. 营销活动); explaining again replaces the explanation",
             responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 412: PROBLEM, 422: PROBLEM})
async def explain(anomaly_id: str, body: ExplainIn, response: Response, rt: Rt, principal: Reviewer,
                  if_match: IfMatch = None):
    def decide(current):
        if current["state"] == "explained" and current.get("explanation") == body.explanation:
            return None
        now = stored_now()
        return {**current, "state": "explained", "explanation": body.explanation, "explained_by": principal.sub,
                "explained_at": now, "version": current["version"] + 1, "updated_at": now,
                "history": [*current["history"], {"at": now, "action": "explained", "by": principal.sub,
                                                  "note": body.explanation}]}

    return _out(await _review(rt, principal, anomaly_id, if_match, decide), response)


@router.post("/anomalies/scan", response_model=ScanOut, summary="Judge one day now (admin)",
             description="What the `anomalies` job does every 5 minutes for yesterday and today, for a day an admin "
                         "names (default today): after a correction of the data, or a day the job missed. "
                         "Idempotent: an episode found again sends no second event.",
             responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def scan(rt: Rt, principal: Admin,
               day: Annotated[str | None, Query(description="ISO date, not in the future; default today")] = None):
    when = _day(day, "day") or store.today()
    try:
        reports = await store.scan_day(rt, when)
    except ValueError as error:
        raise invalid("day", str(error)) from error
    return {"day": when, "partial": when == store.today(), "reports": [r.as_dict() for r in reports]}
