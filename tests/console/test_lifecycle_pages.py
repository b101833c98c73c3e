"""The lifecycle pages in the browser (docs/lifecycle*.md): the board shows the products by stage, what blocks a
gate and the trials ending this month; a product manager walks a new product through its first gates on its
page — files the 调研报告 and sees it leave the missing list, records the approving review, files one of the two
planning documents and sees only the other left; an ops engineer records an inspection of an overdue plan and
plans a change on the maintenance page, and sees both listed."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.helpers import open_area, shot, sign_in
from tests.console.test_complaint_loop import pick, press

pytestmark = pytest.mark.browser
BEIJING = ZoneInfo("Asia/Shanghai")
PM, OPS, ADMIN = "pm-lc", "ops-01", "admin-01"
# The stages a product walks through before its trial, in order (docs/lifecycle.md, Stages).
TO_TRIAL = ("research", "review", "planning", "initiation", "development", "testing", "trial")


def api(console_stack, role: str, sub: str, **claims) -> httpx.Client:
    token = console_stack.token(role, sub, **claims)
    return httpx.Client(base_url=f"{console_stack.base_url}/api/lifecycle/v1", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def register(http: httpx.Client, code: str, name: str) -> None:
    r = http.post("/products", json={"code": code, "name": name, "platform_code": "cloud", "vendor": "vendor-07"})
    assert r.status_code == 201, r.text


def two_months_before(day: date) -> date:
    """The same day two calendar months earlier (or that month's last day)."""
    year, month = (day.year, day.month - 2) if day.month > 2 else (day.year - 1, day.month + 10)
    for d in range(day.day, 27, -1):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


@pytest.fixture(scope="module")
def walked_product(console_stack):
    """A product just registered by a product manager and moved to 初步调研 (demand → research needs nothing)."""
    code = f"walk_{uuid.uuid4().hex[:6]}"
    with api(console_stack, "product_manager", PM, products=[code]) as http:
        register(http, code, "智慧会务")
        r = http.post(f"/products/{code}/transitions", json={"to": "research"})
        assert r.status_code == 201, r.text
    return code


@pytest.fixture(scope="module")
def trial_ending_this_month(console_stack):
    """A product in 试用 since two months ago today, so its two months end this month: an admin enters its
    history (backdated moves past the gates, each with the reason), as a centre does for products under way."""
    code = f"trial_{uuid.uuid4().hex[:6]}"
    today = datetime.now(BEIJING).date()
    trial_began = datetime.combine(two_months_before(today), datetime.min.time(), BEIJING) + timedelta(hours=9)
    with api(console_stack, "product_manager", PM, products=[code]) as http:
        register(http, code, "智慧会议室")
    with api(console_stack, "admin", ADMIN) as http:
        for i, stage in enumerate(TO_TRIAL):
            at = trial_began - timedelta(days=len(TO_TRIAL) - 1 - i)
            r = http.post(f"/products/{code}/transitions",
                          json={"to": stage, "at": at.isoformat(), "override_reason": "系统上线前已在推进，补录历史"})
            assert r.status_code == 201, (stage, r.text)
    return code


@pytest.fixture(scope="module")
def overdue_plan(console_stack):
    """A weekly inspection plan of mobile_office due ten days ago and never done: overdue."""
    starts = (datetime.now(BEIJING).date() - timedelta(days=10)).isoformat()
    with api(console_stack, "ops_engineer", OPS) as http:
        r = http.post("/maintenance/inspection-plans", json={
            "target": "mobile_office", "name": f"移动办公周巡检 {uuid.uuid4().hex[:4]}", "every": "weekly",
            "starts_on": starts, "checklist": [{"item": "登录接口响应", "expected": "低于1秒"}, {"item": "考勤服务进程"}]})
        assert r.status_code == 201, r.text
    return r.json()


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def missing_items(page: Page) -> list[str]:
    return sorted(e.get_attribute("data-testid").removeprefix("gate-missing-")
                  for e in page.locator('[data-testid^="gate-missing-"]').all())


def test_the_board_shows_stages_blocked_gates_and_trials_ending(page, console, walked_product, trial_ending_this_month):
    sign_in(page, console, "product_manager", PM, name="周产品", products=[walked_product])
    open_area(page, console, "lifecycle")
    # seeded products in their stages, and the two of this test in theirs
    expect(page.get_by_test_id("board-stage-delivered").get_by_test_id("board-product-mobile_office")).to_be_visible()
    expect(page.get_by_test_id("board-stage-research").get_by_test_id(f"board-product-{walked_product}")).to_be_visible()
    expect(page.get_by_test_id("board-stage-trial").get_by_test_id(f"board-product-{trial_ending_this_month}")).to_be_visible()
    blocked = page.get_by_test_id("board-blocked").locator("tr", has=page.get_by_test_id(f"board-product-{walked_product}"))
    expect(blocked).to_contain_text("调研报告")
    this_month = datetime.now(BEIJING).strftime("%Y-%m")
    ending = page.get_by_test_id("board-trials-ending").locator(
        ".ant-list-item", has=page.get_by_test_id(f"board-product-{trial_ending_this_month}"))
    expect(ending).to_contain_text(re.compile(rf"最早可转\s*{this_month}-\d\d"))
    shot(page, "lifecycle-board")

    page.get_by_test_id(f"board-product-{trial_ending_this_month}").first.click()
    page.wait_for_url(re.compile(rf"/lifecycle/{trial_ending_this_month}$"))
    expect(page.get_by_test_id("product-stage")).to_have_text("试用")
    expect(page.get_by_test_id("product-gate")).to_contain_text(re.compile(rf"最早可转：{this_month}-\d\d"))
    expect(page.get_by_test_id("gate-missing-trial_evaluation")).to_be_visible()
    shot(page, "lifecycle-trial-product")
    assert not page.errors, page.errors


def test_a_product_manager_files_documents_and_records_a_decision_through_the_gates(page, console, walked_product):
    sign_in(page, console, "product_manager", PM, name="周产品", products=[walked_product])
    page.goto(f"{console}/lifecycle/{walked_product}")
    expect(page.get_by_test_id("product-name")).to_have_text("智慧会务")
    expect(page.get_by_test_id("product-stage")).to_have_text("初步调研")
    expect(page.get_by_test_id("gate-missing-research_report")).to_contain_text("调研报告")
    assert missing_items(page) == ["research_report"]
    shot(page, "lifecycle-product-research")

    def file_document(type_label: str, title: str) -> None:
        open_tab(page, "文档")
        page.get_by_test_id("action-file-document").click()
        pick(page, "document-type", type_label)
        page.get_by_test_id("document-title").fill(title)
        page.get_by_test_id("document-ref").fill(f"OA-2026-{uuid.uuid4().hex[:6]}")
        page.get_by_test_id("document-approved").check()  # the manager files it approved (审核通过)
        page.get_by_test_id("dialog-submit").click()
        expect(page.get_by_test_id("dialog-submit")).to_be_hidden()
        row = page.locator('[data-testid^="document-row-"]', has_text=title)
        expect(row).to_contain_text(type_label)
        expect(row).to_contain_text("已审核")
        open_tab(page, "概况")

    def move_to(stage: str, label: str) -> None:
        page.get_by_test_id("action-transition").click()
        press(page, f"transition-to-{stage}")
        page.get_by_test_id("dialog-submit").click()
        expect(page.get_by_test_id("product-stage")).to_have_text(label)

    file_document("调研报告", "智慧会务市场调研报告")
    expect(page.get_by_test_id("product-gate")).to_contain_text("门禁条件已满足")
    assert missing_items(page) == []
    move_to("review", "评审决策")
    expect(page.get_by_test_id("gate-missing-review_decision")).to_be_visible()

    open_tab(page, "决策")
    page.get_by_test_id("action-record-decision").click()
    page.get_by_test_id("decision-participants").fill("周产品，信息化推进室张主任，政企部李经理")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-submit")).to_be_hidden()
    decision = page.get_by_role("row", name=re.compile("信息化推进室张主任"))
    expect(decision).to_contain_text("评审决策")
    expect(decision).to_contain_text("通过")
    expect(decision).not_to_contain_text("不通过")
    shot(page, "lifecycle-product-decision")
    open_tab(page, "概况")
    expect(page.get_by_test_id("gate-missing-review_decision")).to_have_count(0)
    move_to("planning", "工程进度与详细调研")

    expect(page.get_by_test_id("gate-missing-schedule")).to_be_visible()
    assert missing_items(page) == ["function_proposal", "schedule"]
    file_document("功能建议书", "智慧会务功能建议书")
    expect(page.get_by_test_id("gate-missing-function_proposal")).to_have_count(0)
    assert missing_items(page) == ["schedule"]  # the list shrank by the document filed, and only by it
    shot(page, "lifecycle-product-planning")
    assert not page.errors, page.errors


def test_an_ops_engineer_records_an_inspection_and_plans_a_change(page, console, overdue_plan):
    sign_in(page, console, "ops_engineer", OPS, name="孙运维")
    open_area(page, console, "lifecycle/maintenance")
    plan = page.get_by_test_id(f"plan-row-{overdue_plan['id']}")
    expect(plan).to_contain_text("已逾期")
    shot(page, "lifecycle-maintenance-overdue")
    plan.get_by_test_id("action-record-inspection").click()
    page.get_by_test_id("inspection-ok-1").uncheck()  # 考勤服务进程 not running: an abnormal inspection
    page.get_by_role("dialog").get_by_placeholder("读数").nth(1).fill("进程已退出")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-submit")).to_be_hidden()
    next_due = (datetime.now(BEIJING).date() + timedelta(days=7)).isoformat()
    expect(plan).to_contain_text(next_due)  # one week after today's inspection
    expect(plan).not_to_contain_text("已逾期")

    open_tab(page, "巡检记录")
    inspection = page.get_by_role("row", name=re.compile(re.escape(overdue_plan["name"])))
    expect(inspection).to_contain_text("异常")
    expect(inspection).to_contain_text("考勤服务进程（进程已退出）")
    expect(inspection).to_contain_text(OPS)
    shot(page, "lifecycle-maintenance-inspection")

    open_tab(page, "变更")
    page.get_by_test_id("action-plan-change").click()
    pick(page, "change-target", "移动办公")
    title = f"移动办公考勤服务版本升级 {uuid.uuid4().hex[:4]}"
    page.get_by_test_id("change-title").fill(title)
    start = datetime.now(BEIJING).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=3)
    window = page.get_by_role("dialog").locator(".ant-picker-range input")
    window.first.click()
    window.first.fill(start.strftime("%Y-%m-%d %H:%M"))
    window.first.press("Enter")
    window.last.fill((start + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"))
    window.last.press("Enter")
    page.get_by_test_id("change-rollback").fill("回退至上一版本安装包并恢复配置备份")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-submit")).to_be_hidden()
    change = page.locator('[data-testid^="change-row-"]', has_text=title)
    expect(change).to_contain_text("待审批")
    expect(change).to_contain_text(start.strftime("%Y-%m-%d 02:00"))
    expect(change).to_contain_text(OPS)
    expect(change.get_by_test_id("change-approve")).to_have_count(0)  # a second person, not the ops engineer, approves
    shot(page, "lifecycle-maintenance-change")
    assert not page.errors, page.errors
