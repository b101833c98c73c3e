"""The records of development and testing (source §2.4): their collections, indexes and timeline entries."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from services.lifecycle.domain import development as d
from services.lifecycle.store.collections import ISSUES
from services.lifecycle.store.timeline import Source, register

DEV_REPORTS = "dev_reports"            # _id = "<code>:<day>": the vendor's daily report (开发日报)
TEST_CASES = "test_cases"              # _id = random: one function to test on one terminal (功能测试列表)
TEST_ROUNDS = "test_rounds"            # _id = "<code>:r<n>": a test round (测试轮次)
TEST_REPORTS = "test_round_reports"    # _id = "<code>:r<n>:<party>[:<city>]": a party's report of a round
OPTIMISATION_PLANS = "optimisation_plans"  # _id = "<code>:r<n>": the round's 优化方案, back to development

_BY_PRODUCT = [IndexModel([("product_code", ASCENDING), ("at", ASCENDING)])]
INDEXES = {
    DEV_REPORTS: [IndexModel([("product_code", ASCENDING), ("day", ASCENDING)])],
    TEST_CASES: [IndexModel([("product_code", ASCENDING), ("terminal", ASCENDING)])],
    TEST_ROUNDS: [IndexModel([("product_code", ASCENDING), ("round", ASCENDING)])],
    TEST_REPORTS: [IndexModel([("product_code", ASCENDING), ("round", ASCENDING)])],
    # store/gates.py counts {product_code, blocking: True, state: "open"} at testing → trial.
    ISSUES: [IndexModel([("product_code", ASCENDING), ("state", ASCENDING), ("blocking", ASCENDING)]), *_BY_PRODUCT],
    OPTIMISATION_PLANS: _BY_PRODUCT,
}

register(
    Source(DEV_REPORTS, "dev_report", "开发日报", d.report_summary,
           detail=lambda r: {"day": r["day"], "percent": r.get("percent")}),
    Source(TEST_CASES, "test_case", "功能测试列表", d.case_summary,
           detail=lambda c: {"terminal": c["terminal"], "function": c["function"]}),
    Source(TEST_ROUNDS, "test_round", "测试轮次", d.round_summary, detail=lambda r: {"round": r["round"]}),
    Source(TEST_REPORTS, "test_round_report", "测试报告", d.test_report_summary,
           detail=lambda r: {"round": r["round"], "party": r["party"], "city": r.get("city"), "result": r["result"]}),
    Source(ISSUES, "test_issue", "测试问题", d.issue_summary,
           detail=lambda i: {"blocking": i["blocking"], "state": i["state"], "round": i.get("round")}),
    Source(OPTIMISATION_PLANS, "optimisation_plan", "优化方案", d.plan_summary,
           detail=lambda p: {"round": p["round"], "issue_ids": p["issue_ids"]}),
)
