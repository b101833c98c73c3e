"""Trial (试用) and trial-commercial (试商用) routes: the pilots, the tariff, the evaluation, the optimisation plan
and (trial-commercial) the summary of a product's trial stage; the feedback tickets linked to it. Staff read;
the product's manager (or an admin) writes. Thin: parse → domain/trials → store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.vocabulary import CITIES, Industry
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import invalid
from services.kit.store import public
from services.lifecycle.api.access import load_entry, load_managed, require_reader
from services.lifecycle.api.moments import moment, now_ms
from services.lifecycle.domain import trials
from services.lifecycle.store.collections import BACKLOG, DOCUMENTS, TRAININGS, TRIALS
from services.lifecycle.store.gates import entered_at
from services.lifecycle.store.trials import TRIAL_FEEDBACK, feedback_counts, file_document

router = APIRouter(prefix="/v1", tags=["trials"])

TrialStage = Literal["trial", "trial_commercial"]
STAGE = Path(description="`trial` 试用 or `trial_commercial` 试商用")


def _city(value: str) -> str:
    if value not in CITIES:
        raise ValueError(f"not one of the 16 cities: {'、'.join(CITIES)}")
    return value


class PilotCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Customer (集团客户) name")
    group_code: str | None = Field(None, max_length=40, description="Group code (集团编号), if known")
    city: str = Field(description="Its city; one of the pilot cities")
    industry: Industry | None = None

    @field_validator("city")
    @classmethod
    def known_city(cls, value: str) -> str:
        return _city(value)


class PilotsPut(BaseModel):
    """The pilot cities (试点地市) and customers (试点客户) of the stage, replacing what was there."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"cities": ["济南", "青岛"], "customers": [
            {"name": "济南市历下区机关事务局", "group_code": "JN0001", "city": "济南", "industry": "government"},
            {"name": "青岛港集团", "city": "青岛", "industry": "transport"}]}]})

    cities: list[str] = Field(min_length=1, max_length=len(CITIES), description="Pilot cities (试点地市)")
    customers: list[PilotCustomer] = Field([], max_length=200, description="Pilot customers (试点客户)")

    @field_validator("cities")
    @classmethod
    def known_cities(cls, value: list[str]) -> list[str]:
        for city in value:
            _city(city)
        if len(set(value)) != len(value):
            raise ValueError("a city is named twice")
        return value


class TariffPut(BaseModel):
    """The tariff of the stage, agreed with the promotion office (与信息化推进室制定资费); files a `tariff_table`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "智慧党建试用资费（免费试用三个月）", "ref": "files/party_building/tariff-trial-v1.pdf",
         "agreed_with": "信息化推进室", "at": "2026-10-20T09:00:00+08:00"}]})

    name: str = Field(min_length=1, max_length=200, description="Tariff name (资费名称)")
    ref: str = Field(min_length=1, max_length=500, description="Where the tariff table is (文件引用)")
    agreed_with: Literal["信息化推进室"] = Field(trials.PROMOTION_OFFICE, description="Agreed with (协商部门)")
    at: AwareDatetime | None = Field(None, description="When it was agreed; default now, never in the future")



class EvaluationCreate(BaseModel):
    """The stage's evaluation (试用评估 / 试商用评估) with its evidence; files the gate document, approved when
    the conclusion is `ready` (a `not_ready` evaluation is kept, and keeps the gate shut)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"conclusion": "ready", "summary": "试点地市运行平稳，客户满意度92%，主要问题已在v1.2中修复",
         "evidence": ["files/party_building/survey-2026-12.xlsx", "files/party_building/usage-report.pdf"],
         "title": "智慧党建试用评估报告", "ref": "files/party_building/trial-evaluation.pdf"}]})

    conclusion: Literal["ready", "not_ready"] = Field(description="ready: 可进入下一阶段; not_ready: 尚不具备条件")
    summary: str = Field(min_length=1, max_length=4000, description="Findings (评估结论)")
    evidence: list[str] = Field(min_length=1, max_length=50, description="References of the evidence (佐证材料)")
    title: str | None = Field(None, max_length=200, description="Document title; default from the stage")
    ref: str = Field(min_length=1, max_length=500, description="Where the evaluation document is")
    at: AwareDatetime | None = Field(None, description="When it was concluded; default now, never in the future")



class TrialOptimisationPlanCreate(BaseModel):
    """The optimisation plan (优化方案) the evaluation leads to, naming the backlog items it takes up."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"summary": "针对试点反馈，优化登录流程与消息提醒，12月底前发布v1.3",
         "backlog_item_ids": ["party_building:3f2a9c0d1e4b5a67"], "ref": "files/party_building/opt-plan.docx"}]})

    summary: str = Field(min_length=1, max_length=4000, description="The plan (优化方案)")
    backlog_item_ids: list[str] = Field([], max_length=200, description="Backlog items of this product it takes up")
    ref: str | None = Field(None, max_length=500, description="A plan document; filed as `optimisation_plan`")
    at: AwareDatetime | None = Field(None, description="When it was made; default now, never in the future")



class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="Case (案例)")
    customer: str | None = Field(None, max_length=100)
    city: str | None = None
    industry: Industry | None = None
    ref: str | None = Field(None, max_length=500)

    @field_validator("city")
    @classmethod
    def known_city(cls, value: str | None) -> str | None:
        return None if value is None else _city(value)


class IndustrySolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    industry: Industry
    title: str = Field(min_length=1, max_length=200, description="Industry solution (行业解决方案)")
    ref: str | None = Field(None, max_length=500)


class SummaryCreate(BaseModel):
    """The trial-commercial summary (试商用总结): the cases and the industry solutions; files `summary`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"cases": [{"title": "济南市某局电子发票全流程上线", "customer": "济南市某局", "city": "济南",
                    "industry": "government"}],
         "industry_solutions": [{"industry": "finance", "title": "金融行业电子发票解决方案"}],
         "title": "电子发票试商用总结", "ref": "files/e_invoice/summary.pdf"}]})

    cases: list[Case] = Field(min_length=1, max_length=100, description="Cases (案例)")
    industry_solutions: list[IndustrySolution] = Field(min_length=1, max_length=50,
                                                       description="Industry solutions (行业解决方案)")
    title: str | None = Field(None, max_length=200)
    ref: str = Field(min_length=1, max_length=500, description="Where the summary document is")
    at: AwareDatetime | None = Field(None, description="When it was written; default now, never in the future")



class Trainings(BaseModel):
    sessions: list[dict[str, Any]] = Field(description="Training sessions (培训) counted for this stage")
    trained_cities: list[str]
    untrained_pilot_cities: list[str] = Field(description="Pilot cities not trained yet (未培训的试点地市)")


class TrialView(BaseModel):
    id: str
    product_code: str
    stage: TrialStage
    stage_label: str
    current: bool = Field(description="Whether the product is in this stage now")
    pilot_cities: list[str] = []
    pilot_customers: list[dict[str, Any]] = []
    tariff: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    optimisation_plan: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    trainings: Trainings
    feedback: dict[str, int] = Field(description="Linked tickets by kind and state")
    updated_at: datetime | None = None
    updated_by: str | None = None


class FeedbackItem(BaseModel):
    ticket_id: str
    kind: str
    kind_label: str
    city: str
    title: str | None = None
    state: Literal["open", "closed"]
    state_label: str
    answer: str | None = None
    satisfied: bool | None = None
    at: datetime = Field(description="When the ticket was opened")
    closed_at: datetime | None = None


class FeedbackPage(BaseModel):
    product_code: str
    stage: TrialStage
    items: list[FeedbackItem]
    next_cursor: str | None = None


async def _view(rt: Runtime, product: dict[str, Any], stage: str) -> TrialView:
    code = product["code"]
    doc = await rt.store[TRIALS].find_one({"_id": trials.trial_id(code, stage)}) or {}
    current = product["stage"] == stage
    since = entered_at(product).date() if current else None
    sessions = [public(t) for t in await rt.store[TRAININGS].find({"product_code": code}).sort("held_on", 1).to_list()]
    training = trials.training_view(doc.get("pilot_cities", []), sessions, since)
    training["sessions"] = [{k: v for k, v in t.items() if k not in ("_id", "by")} | {"id": t["_id"]}
                            for t in training["sessions"]]
    return TrialView.model_validate({
        **{k: v for k, v in doc.items() if k in TrialView.model_fields},
        "id": trials.trial_id(code, stage), "product_code": code, "stage": stage,
        "stage_label": trials.TRIAL_LABELS[stage], "current": current, "trainings": training,
        "feedback": await feedback_counts(rt, code, stage)})


async def _change(rt: Runtime, product: dict[str, Any], stage: str, principal: Principal, **fields: Any) -> TrialView:
    now = datetime.now(UTC)

    def decide(doc):
        base = doc or trials.empty(product["code"], stage, at=now, by=principal.sub)
        return trials.updated(base, at=now, by=principal.sub, **fields), []

    await rt.store.change(TRIALS, trials.trial_id(product["code"], stage), decide)
    return await _view(rt, product, stage)


async def _change_with_document(rt: Runtime, product: dict[str, Any], stage: str, principal: Principal, key: str,
                                record: dict[str, Any], document: dict[str, Any]) -> TrialView:
    """File the gate document, then the trial record that names it; a record that cannot be written takes its
    document back, so that the gate never sees a document the trial does not show."""
    filed = await file_document(rt, product["code"], **document)
    try:
        return await _change(rt, product, stage, principal, **{key: {**record, "document_id": filed["_id"]}})
    except BaseException:
        await rt.store[DOCUMENTS].delete_one({"_id": filed["_id"]})
        raise


async def _writable(rt: Runtime, code: str, principal: Principal) -> dict[str, Any]:
    _, product = await load_managed(rt, code, principal)
    return product


@router.get("/products/{code}/trials/{stage}", response_model=TrialView,
            summary="The trial (试用) or trial-commercial (试商用) of a product: pilots, tariff, evaluation, trainings")
async def get_trial(code: str, stage: TrialStage = STAGE, principal: Principal = Depends(authenticate),
                    rt: Runtime = Depends(runtime)):
    require_reader(principal)
    _, product = await load_entry(rt, code)
    return await _view(rt, product, stage)


@router.put("/products/{code}/trials/{stage}/pilots", response_model=TrialView,
            summary="Set the pilot cities and customers (试点地市和客户); product manager")
async def put_pilots(body: PilotsPut, code: str, stage: TrialStage = STAGE,
                     principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    customers = [c.model_dump(mode="json") for c in body.customers]
    if field := trials.check_customers_in_pilot_cities(body.cities, customers):
        raise invalid(field, "the customer's city is not among the pilot cities")
    trials.check_plannable(product, stage)
    return await _change(rt, product, stage, principal, pilot_cities=body.cities, pilot_customers=customers)


@router.put("/products/{code}/trials/{stage}/tariff", response_model=TrialView,
            summary="Set the tariff agreed with the promotion office (资费); files a tariff_table; product manager")
async def put_tariff(body: TariffPut, code: str, stage: TrialStage = STAGE,
                     principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    trials.check_plannable(product, stage)
    at = moment(body.at, now_ms())
    tariff = {"name": body.name, "ref": body.ref, "agreed_with": body.agreed_with, "at": at}
    return await _change_with_document(rt, product, stage, principal, "tariff", tariff, dict(
        doc_type="tariff_table", title=body.name, ref=body.ref, approved=True, by=principal.sub, at=at))


@router.post("/products/{code}/trials/{stage}/evaluation", response_model=TrialView,
             summary="Record the stage's evaluation with its evidence (试用评估/试商用评估); product manager")
async def post_evaluation(body: EvaluationCreate, code: str, stage: TrialStage = STAGE,
                          principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    trials.check_in_stage(product, stage, "The evaluation")
    at = moment(body.at, now_ms())
    doc_type = trials.EVALUATION_DOCUMENT[stage]
    title = body.title or f"{product['name']}{trials.TRIAL_LABELS[stage]}评估"
    evaluation = {"conclusion": body.conclusion, "conclusion_label": trials.CONCLUSION_LABELS[body.conclusion],
                  "summary": body.summary, "evidence": body.evidence, "ref": body.ref, "at": at, "by": principal.sub}
    return await _change_with_document(rt, product, stage, principal, "evaluation", evaluation, dict(
        doc_type=doc_type, title=title, ref=body.ref, approved=body.conclusion == "ready", by=principal.sub, at=at))


@router.post("/products/{code}/trials/{stage}/optimisation-plan", response_model=TrialView,
             summary="Record the optimisation plan (优化方案) naming the backlog items it takes up; product manager")
async def post_optimisation_plan(body: TrialOptimisationPlanCreate, code: str, stage: TrialStage = STAGE,
                                 principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    if body.backlog_item_ids:
        known = {d["_id"] for d in await rt.store[BACKLOG].find(
            {"_id": {"$in": body.backlog_item_ids}, "product_code": code}, {"_id": 1}).to_list()}
        for n, item in enumerate(body.backlog_item_ids):
            if item not in known:
                raise invalid(f"backlog_item_ids.{n}", f"no backlog item {item!r} of {code!r}")
    trials.check_in_stage(product, stage, "The optimisation plan")
    at = moment(body.at, now_ms())
    plan = {"summary": body.summary, "backlog_item_ids": body.backlog_item_ids, "ref": body.ref, "at": at,
            "by": principal.sub}
    if not body.ref:
        return await _change(rt, product, stage, principal, optimisation_plan={**plan, "document_id": None})
    return await _change_with_document(rt, product, stage, principal, "optimisation_plan", plan, dict(
        doc_type="optimisation_plan", title=f"{product['name']}{trials.TRIAL_LABELS[stage]}优化方案", ref=body.ref,
        approved=True, by=principal.sub, at=at))


@router.post("/products/{code}/trials/trial_commercial/summary", response_model=TrialView,
             summary="Record the trial-commercial summary: cases and industry solutions (试商用总结); product manager")
async def post_summary(body: SummaryCreate, code: str, principal: Principal = Depends(authenticate),
                       rt: Runtime = Depends(runtime)):
    stage = "trial_commercial"
    _, product = await load_managed(rt, code, principal)
    trials.check_in_stage(product, stage, "The summary")
    at = moment(body.at, now_ms())
    summary = {"cases": [c.model_dump(mode="json") for c in body.cases],
               "industry_solutions": [s.model_dump(mode="json") for s in body.industry_solutions],
               "ref": body.ref, "at": at, "by": principal.sub}
    return await _change_with_document(rt, product, stage, principal, "summary", summary, dict(
        doc_type="summary", title=body.title or f"{product['name']}试商用总结", ref=body.ref, approved=True,
        by=principal.sub, at=at))


@router.get("/products/{code}/trials/{stage}/feedback", response_model=FeedbackPage,
            summary="Suggestions and complaints raised during the stage (试用期间的建议和投诉), newest first")
async def list_feedback(code: str, stage: TrialStage = STAGE, params: PageParams = Depends(page_params),
                        principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_reader(principal)
    await load_entry(rt, code)
    docs, cursor = await page(rt.store[TRIAL_FEEDBACK], {"product_code": code, "stage": stage}, params,
                              [("at", -1), ("_id", -1)])
    items = [FeedbackItem.model_validate({**d, "state_label": trials.FEEDBACK_STATE_LABELS[d["state"]]})
             for d in docs]
    return FeedbackPage(product_code=code, stage=stage, items=items, next_cursor=cursor)

