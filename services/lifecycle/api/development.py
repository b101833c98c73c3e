"""Development and testing routes (开发/测试, source §2.4): the vendor's daily reports and function test list, the
test rounds and their parties' reports, the issues they find and the optimisation plan that sends a product back
to development.

The vendor writes what it owes the centre (its reports, its test list, its fixes) for the products it supplies;
the product's manager (or an admin) runs the rounds, records what testers found and decides what is fixed."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pymongo.errors import DuplicateKeyError

from contracts.vocabulary import Stage
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem, invalid
from services.lifecycle.api.access import load_entry, load_managed, require_manager_or_vendor, require_reader
from services.lifecycle.api.moments import moment, now_ms, require_stage
from services.lifecycle.domain import development as d
from services.lifecycle.domain.development import (
    RESULT_LABELS,
    STATE_LABELS,
    TERMINAL_LABELS,
    IssueState,
    Party,
    Result,
    Terminal,
)
from services.lifecycle.store.collections import ISSUES
from services.lifecycle.store.development import (
    DEV_REPORTS,
    OPTIMISATION_PLANS,
    TEST_CASES,
    TEST_REPORTS,
    TEST_ROUNDS,
)

router = APIRouter(prefix="/v1", tags=["development"])
LOCAL = ZoneInfo("Asia/Shanghai")
BUILDING = (Stage.development, Stage.testing)  # a vendor reports and lists test cases while it builds and fixes


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Text = Annotated[str, AfterValidator(_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- development reports -------------------------------------------------------------------------------------

class DevReportCreate(Strict):
    """The vendor's daily development report (开发日报). One per product and day: a second is 409."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"day": "2026-11-25", "progress": "完成通讯录批量导入接口开发，联调中", "done": "批量导入接口",
         "planned": "PC端导入页面", "risks": "平台接口文档待确认", "percent": 45}]})

    day: date = Field(description="The working day reported on (not after today, Asia/Shanghai)")
    progress: Text = Field(min_length=1, max_length=4000, description="今日进展")
    done: str | None = Field(None, max_length=4000, description="已完成")
    planned: str | None = Field(None, max_length=4000, description="明日计划")
    risks: str | None = Field(None, max_length=4000, description="风险与问题")
    percent: int | None = Field(None, ge=0, le=100, description="Overall progress (总体进度 %)")
    at: AwareDatetime | None = Field(None, description="When it was sent (default now)")



class DevReport(BaseModel):
    id: str
    product_code: str
    day: date
    progress: str
    done: str | None = None
    planned: str | None = None
    risks: str | None = None
    percent: int | None = None
    at: datetime
    by: str

    @classmethod
    def of(cls, doc: dict) -> DevReport:
        return cls.model_validate({**doc, "id": doc["_id"]})


class DevReportPage(BaseModel):
    product_code: str
    items: list[DevReport]
    next_cursor: str | None = None


@router.post("/products/{code}/dev-reports", response_model=DevReport, status_code=201,
             summary="File the day's development report (开发日报); the product's vendor, manager or admin")
async def file_dev_report(code: str, body: DevReportCreate, response: Response,
                          principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_entry(rt, code)
    require_manager_or_vendor(principal, product)
    require_stage(product, *BUILDING)
    now = now_ms()
    at = moment(body.at, now)
    if body.day > now.astimezone(LOCAL).date():
        raise invalid("day", "must not be after today")
    doc = {"_id": d.report_id(code, body.day), "product_code": code,
           **body.model_dump(mode="json", exclude={"at"}), "at": at, "by": principal.sub, "recorded_at": now}
    try:
        await rt.store.insert(DEV_REPORTS, doc)
    except DuplicateKeyError as error:
        raise Problem(409, "dev-report-exists", "Report of that day exists",
                      f"{code!r} already has its report of {body.day.isoformat()}; add corrections to the next one.",
                      id=doc["_id"]) from error
    response.headers["Location"] = f"/v1/products/{code}/dev-reports"
    return DevReport.of(doc)


@router.get("/products/{code}/dev-reports", response_model=DevReportPage,
            summary="The vendor's development reports, newest day first")
async def list_dev_reports(code: str, params: PageParams = Depends(page_params),
                           principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_reader(principal)
    await load_entry(rt, code)
    docs, cursor = await page(rt.store[DEV_REPORTS], {"product_code": code}, params, [("day", -1), ("_id", -1)])
    return DevReportPage(product_code=code, items=[DevReport.of(x) for x in docs], next_cursor=cursor)


# --- function test list -----------------------------------------------------------------------------------------

class TestCaseCreate(Strict):
    """One function to test on one terminal (功能测试列表, 手机端/PC端), filed by the vendor for the centre to
    review; the reviewed list as a whole is the `test_case_list` gate document."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"terminal": "mobile", "function": "通讯录批量导入", "steps": "登录→通讯录→导入→选择Excel",
         "expected": "导入成功并提示条数"}]})

    terminal: Terminal = Field(description="mobile 手机端 | pc PC端")
    function: Text = Field(min_length=1, max_length=200, description="功能点")
    steps: str | None = Field(None, max_length=4000, description="测试步骤")
    expected: str | None = Field(None, max_length=4000, description="预期结果")
    at: AwareDatetime | None = None



class TestCase(BaseModel):
    id: str
    product_code: str
    terminal: Terminal
    terminal_label: str
    function: str
    steps: str | None = None
    expected: str | None = None
    at: datetime
    by: str

    @classmethod
    def of(cls, doc: dict) -> TestCase:
        return cls.model_validate({**doc, "id": doc["_id"], "terminal_label": TERMINAL_LABELS[Terminal(doc["terminal"])]})


class TestCasePage(BaseModel):
    product_code: str
    counts: dict[Terminal, int] = Field(description="Cases per terminal, whatever the filter")
    items: list[TestCase] = Field(description="Ordered by terminal (mobile, then pc), then as filed")
    next_cursor: str | None = None


@router.post("/products/{code}/test-cases", response_model=TestCase, status_code=201,
             summary="Add a function to the test list (功能测试列表); the vendor, manager or admin")
async def add_test_case(code: str, body: TestCaseCreate, response: Response,
                        principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_entry(rt, code)
    require_manager_or_vendor(principal, product)
    require_stage(product, *BUILDING)
    now = now_ms()
    doc = {"_id": f"tc-{uuid.uuid4().hex[:12]}", "product_code": code, **body.model_dump(mode="json", exclude={"at"}),
           "at": moment(body.at, now), "by": principal.sub, "recorded_at": now}
    await rt.store.insert(TEST_CASES, doc)
    response.headers["Location"] = f"/v1/products/{code}/test-cases"
    return TestCase.of(doc)


@router.get("/products/{code}/test-cases", response_model=TestCasePage,
            summary="The function test list, by terminal")
async def list_test_cases(code: str, terminal: Terminal | None = Query(None, description="Only this terminal"),
                          params: PageParams = Depends(page_params),
                          principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_reader(principal)
    await load_entry(rt, code)
    query = {"product_code": code, **({"terminal": terminal.value} if terminal else {})}
    docs, cursor = await page(rt.store[TEST_CASES], query, params, [("terminal", 1), ("at", 1), ("_id", 1)])
    counts = {t: await rt.store[TEST_CASES].count_documents({"product_code": code, "terminal": t.value})
              for t in Terminal}
    return TestCasePage(product_code=code, counts=counts, items=[TestCase.of(x) for x in docs], next_cursor=cursor)


# --- test rounds and their reports ----------------------------------------------------------------------------

class TestRoundCreate(Strict):
    """Open the next test round (its number is the next one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"started_at": "2026-11-20T09:00:00+08:00", "note": "第一轮：信息化中心、中移公司与青岛、烟台参与"}, {}]})

    started_at: AwareDatetime | None = Field(None, description="When testing began (default now)")
    note: str | None = Field(None, max_length=2000)


class RoundReportCreate(Strict):
    """A party's report of one round: the centre (信息化中心), the China Mobile subsidiary (中移公司, which also
    consolidates the round, see the `test_report` gate document) or one city (地市公司)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"party": "city", "city": "青岛", "result": "fail", "summary": "手机端导入超时，PC端正常",
         "terminals": {"mobile": "fail", "pc": "pass"}, "ref": "oa://tests/2026/r1-qingdao"},
        {"party": "cmcc_subsidiary", "result": "pass", "summary": "各终端功能正常"}]})

    party: Party = Field(description="centre 信息化中心 | cmcc_subsidiary 中移公司 | city 地市公司")
    city: str | None = Field(None, description="Required when party is city: one of the 16 cities")
    result: Result = Field(description="pass 通过 | fail 不通过")
    summary: Text = Field(min_length=1, max_length=4000)
    ref: str | None = Field(None, max_length=500, description="Where the full report is kept")
    terminals: dict[Terminal, Result] | None = Field(None, description="Result per terminal (分终端)")
    at: AwareDatetime | None = None



class RoundReport(BaseModel):
    id: str
    round: int
    party: Party
    party_label: str
    city: str | None = None
    result: Result
    result_label: str
    summary: str
    ref: str | None = None
    terminals: dict[Terminal, Result] | None = None
    at: datetime
    by: str

    @classmethod
    def of(cls, doc: dict) -> RoundReport:
        return cls.model_validate({**doc, "id": doc["_id"], "party_label": d.party_label(doc["party"], doc.get("city")),
                                   "result_label": RESULT_LABELS[Result(doc["result"])]})


class RoundOptimisationPlanCreate(Strict):
    """The optimisation plan (优化方案) the centre and the subsidiary draw from a round's issues. Recording it does
    not move the product: the transition testing → development does (no gate)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"summary": "优化批量导入性能，分批提交；PC端补充导入结果下载", "issue_ids": ["is-3f2a9c1d7e4b"],
         "ref": "oa://plans/2026/r1"}]})

    summary: Text = Field(min_length=1, max_length=4000)
    issue_ids: list[str] = Field(min_length=1, max_length=500, description="The issues it addresses")
    ref: str | None = Field(None, max_length=500)
    at: AwareDatetime | None = None



class RoundOptimisationPlan(BaseModel):
    id: str
    round: int
    summary: str
    issue_ids: list[str]
    ref: str | None = None
    at: datetime
    by: str

    @classmethod
    def of(cls, doc: dict) -> RoundOptimisationPlan:
        return cls.model_validate({**doc, "id": doc["_id"]})


class TestRound(BaseModel):
    id: str
    product_code: str
    round: int
    note: str | None = None
    at: datetime = Field(description="When testing began")
    by: str
    reports: list[RoundReport] = []
    optimisation_plan: RoundOptimisationPlan | None = None


class TestRounds(BaseModel):
    product_code: str
    items: list[TestRound]


async def _round(rt: Runtime, code: str, n: int) -> dict:
    doc = await rt.store[TEST_ROUNDS].find_one({"_id": d.round_id(code, n)})
    if doc is None:
        raise Problem(404, "test-round-not-found", "Test round not found", f"{code!r} has no test round {n}.")
    return doc


async def _rounds(rt: Runtime, code: str, only: int | None = None) -> list[TestRound]:
    query = {"product_code": code, **({"round": only} if only is not None else {})}
    rounds = await rt.store[TEST_ROUNDS].find(query).sort("round", 1).to_list(None)
    reports = await rt.store[TEST_REPORTS].find(query).sort("at", 1).to_list(None)
    plans = {p["round"]: p for p in await rt.store[OPTIMISATION_PLANS].find(query).to_list(None)}
    return [TestRound.model_validate({
        **r, "id": r["_id"], "reports": [RoundReport.of(x) for x in reports if x["round"] == r["round"]],
        "optimisation_plan": RoundOptimisationPlan.of(plans[r["round"]]) if r["round"] in plans else None}) for r in rounds]


@router.post("/products/{code}/test-rounds", response_model=TestRound, status_code=201,
             summary="Open the next test round; admin or the product's manager, in stage testing")
async def open_round(code: str, body: TestRoundCreate, response: Response,
                     principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    require_stage(product, Stage.testing)
    now = now_ms()
    at = moment(body.started_at, now, "started_at")
    existing = await rt.store[TEST_ROUNDS].find({"product_code": code}, {"round": 1, "at": 1}).to_list(None)
    if existing and at < max(r["at"] for r in existing):
        raise invalid("started_at", "must not be before the previous round began")
    number = d.next_round([r["round"] for r in existing])
    for _ in range(5):  # two managers opening a round at once: the second gets the next number
        doc = {"_id": d.round_id(code, number), "product_code": code, "round": number, "note": body.note,
               "at": at, "by": principal.sub, "recorded_at": now}
        try:
            await rt.store.insert(TEST_ROUNDS, doc)
            break
        except DuplicateKeyError:
            number += 1
    else:
        raise Problem(409, "test-round-conflict", "Test round conflict", "Rounds are being opened concurrently.")
    response.headers["Location"] = f"/v1/products/{code}/test-rounds/{number}"
    return (await _rounds(rt, code, number))[0]


@router.get("/products/{code}/test-rounds", response_model=TestRounds,
            summary="The test rounds with each party's report and the optimisation plan")
async def list_rounds(code: str, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_reader(principal)
    await load_entry(rt, code)
    return TestRounds(product_code=code, items=await _rounds(rt, code))


@router.post("/products/{code}/test-rounds/{n}/reports", response_model=TestRound, status_code=201,
             summary="Record a party's report of a round; admin or the product's manager, in stage testing")
async def add_round_report(code: str, n: int, body: RoundReportCreate, principal: Principal = Depends(authenticate),
                           rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    require_stage(product, Stage.testing)
    test_round = await _round(rt, code, n)
    if refused := d.check_city(body.party, body.city):
        raise invalid("city", refused)
    now = now_ms()
    at = moment(body.at, now)
    if at < test_round["at"]:
        raise invalid("at", "must not be before the round began")
    doc = {"_id": f"{test_round['_id']}:{d.party_key(body.party, body.city)}", "product_code": code, "round": n,
           **body.model_dump(mode="json", exclude={"at"}), "at": at, "by": principal.sub, "recorded_at": now}
    try:
        await rt.store.insert(TEST_REPORTS, doc)
    except DuplicateKeyError as error:
        raise Problem(409, "test-report-exists", "Report exists",
                      f"Round {n} already has the report of {d.party_label(body.party, body.city)}.",
                      id=doc["_id"]) from error
    return (await _rounds(rt, code, n))[0]


@router.post("/products/{code}/test-rounds/{n}/optimisation-plan", response_model=TestRound, status_code=201,
             summary="Record the round's optimisation plan (优化方案); admin or the product's manager")
async def add_optimisation_plan(code: str, n: int, body: RoundOptimisationPlanCreate,
                                principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    require_stage(product, Stage.testing)
    test_round = await _round(rt, code, n)
    ids = list(dict.fromkeys(body.issue_ids))
    known = {i["_id"] for i in await rt.store[ISSUES].find({"_id": {"$in": ids}, "product_code": code},
                                                           {"_id": 1}).to_list(None)}
    if unknown := [i for i in ids if i not in known]:
        raise invalid("issue_ids", f"not issues of {code}: {', '.join(unknown)}")
    now = now_ms()
    at = moment(body.at, now)
    if at < test_round["at"]:
        raise invalid("at", "must not be before the round began")
    doc = {"_id": test_round["_id"], "product_code": code, "round": n, "summary": body.summary, "issue_ids": ids,
           "ref": body.ref, "at": at, "by": principal.sub, "recorded_at": now}
    try:
        await rt.store.insert(OPTIMISATION_PLANS, doc)
    except DuplicateKeyError as error:
        raise Problem(409, "optimisation-plan-exists", "Optimisation plan exists",
                      f"Round {n} already has its optimisation plan.") from error
    return (await _rounds(rt, code, n))[0]


# --- issues -------------------------------------------------------------------------------------------------------

class IssueCreate(Strict):
    """An issue found in testing. A blocking one (阻断性) holds the product in testing until it is fixed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"title": "手机端批量导入超时", "terminal": "mobile", "blocking": True, "round": 1,
         "description": "导入500条以上时超时"}]})

    title: Text = Field(min_length=1, max_length=200)
    terminal: Terminal | None = None
    blocking: bool
    round: int | None = Field(None, ge=1, description="The test round that found it")
    description: str | None = Field(None, max_length=4000)
    at: AwareDatetime | None = None



class IssueFix(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "导入改为每批100条异步提交", "release": "v1.2.3"}]})

    note: Text = Field(min_length=1, max_length=4000, description="What was fixed (修复说明)")
    release: str | None = Field(None, max_length=100, description="The version that carries the fix")
    at: AwareDatetime | None = None



class IssueReopen(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "复测仍超时（青岛）"}, {}]})

    note: str | None = Field(None, max_length=4000, description="Why the fix does not hold (复测未通过)")
    at: AwareDatetime | None = None


class IssueEvent(BaseModel):
    action: str
    note: str | None = None
    release: str | None = None
    by: str
    at: datetime


class Issue(BaseModel):
    id: str
    product_code: str
    title: str
    terminal: Terminal | None = None
    terminal_label: str | None = None
    blocking: bool
    round: int | None = None
    description: str | None = None
    state: IssueState
    state_label: str
    at: datetime
    by: str
    fixed_at: datetime | None = None
    fixed_by: str | None = None
    release: str | None = None
    reopen_count: int = 0
    history: list[IssueEvent] = []

    @classmethod
    def of(cls, doc: dict) -> Issue:
        return cls.model_validate({**doc, "id": doc["_id"], "blocking": bool(doc["blocking"]),
                                   "state_label": STATE_LABELS[IssueState(doc["state"])],
                                   "terminal_label": TERMINAL_LABELS[Terminal(doc["terminal"])] if doc.get("terminal") else None})


class IssuePage(BaseModel):
    product_code: str
    items: list[Issue]
    next_cursor: str | None = None


@router.post("/products/{code}/issues", response_model=Issue, status_code=201,
             summary="Record an issue found in testing; admin or the product's manager, in stage testing")
async def open_issue(code: str, body: IssueCreate, response: Response, principal: Principal = Depends(authenticate),
                     rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    require_stage(product, Stage.testing)
    if body.round is not None and not await rt.store[TEST_ROUNDS].find_one({"_id": d.round_id(code, body.round)},
                                                                           {"_id": 1}):
        raise invalid("round", f"{code} has no test round {body.round}")
    now = now_ms()
    doc = {"_id": f"is-{uuid.uuid4().hex[:12]}", "product_code": code, **body.model_dump(mode="json", exclude={"at"}),
           "state": IssueState.open.value, "at": moment(body.at, now), "by": principal.sub, "recorded_at": now,
           "fixed_at": None, "fixed_by": None, "release": None, "reopen_count": 0, "history": []}
    await rt.store.insert(ISSUES, doc)
    response.headers["Location"] = f"/v1/products/{code}/issues/{doc['_id']}"
    return Issue.of(doc)


@router.get("/products/{code}/issues", response_model=IssuePage, summary="Issues found in testing, newest first")
async def list_issues(code: str, state: IssueState | None = Query(None, description="open | fixed"),
                      blocking: bool | None = Query(None), terminal: Terminal | None = Query(None),
                      round: int | None = Query(None, ge=1), params: PageParams = Depends(page_params),
                      principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_reader(principal)
    await load_entry(rt, code)
    query: dict = {"product_code": code}
    if state:
        query["state"] = state.value
    if blocking is not None:
        query["blocking"] = blocking
    if terminal:
        query["terminal"] = terminal.value
    if round is not None:
        query["round"] = round
    docs, cursor = await page(rt.store[ISSUES], query, params, [("at", -1), ("_id", -1)])
    return IssuePage(product_code=code, items=[Issue.of(x) for x in docs], next_cursor=cursor)


async def _change_issue(rt: Runtime, code: str, issue_id: str, change) -> dict:
    """Apply `change` (raising a Problem when it does not apply) to the issue as stored, retried on conflict."""
    def decide(current):
        if current is None or current["product_code"] != code:
            raise Problem(404, "issue-not-found", "Issue not found", f"{code!r} has no issue {issue_id!r}.")
        return change(current), []

    return await rt.store.change(ISSUES, issue_id, decide)


@router.post("/products/{code}/issues/{issue_id}/fix", response_model=Issue,
             summary="Mark an issue fixed; the product's vendor, manager or admin")
async def fix_issue(code: str, issue_id: str, body: IssueFix, principal: Principal = Depends(authenticate),
                    rt: Runtime = Depends(runtime)):
    _, product = await load_entry(rt, code)
    require_manager_or_vendor(principal, product)
    now = now_ms()
    at = moment(body.at, now)

    def change(issue):
        if at < issue["at"]:
            raise invalid("at", "must not be before the issue was found")
        try:
            return d.fix(issue, note=body.note, release=body.release, by=principal.sub, at=at)
        except ValueError as error:
            raise Problem(409, "issue-already-fixed", "Issue already fixed", f"{issue_id!r} is already fixed.") \
                from error

    return Issue.of(await _change_issue(rt, code, issue_id, change))


@router.post("/products/{code}/issues/{issue_id}/reopen", response_model=Issue,
             summary="Reopen a fixed issue (the retest failed); admin or the product's manager")
async def reopen_issue(code: str, issue_id: str, body: IssueReopen,
                       principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    _, product = await load_managed(rt, code, principal)
    now = now_ms()
    at = moment(body.at, now)

    def change(issue):
        if issue.get("fixed_at") and at < issue["fixed_at"]:
            raise invalid("at", "must not be before the fix")
        try:
            return d.reopen(issue, note=body.note, by=principal.sub, at=at)
        except ValueError as error:
            raise Problem(409, "issue-open", "Issue is open", f"{issue_id!r} is open: nothing to reopen.") from error

    return Issue.of(await _change_issue(rt, code, issue_id, change))
