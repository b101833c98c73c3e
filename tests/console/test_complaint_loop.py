"""The whole complaint loop in the browser, as the centre's people live it (SPEC §3, 投诉处理流程): an agent signs in,
files a complaint through the new-ticket page, takes it, escalates it to the product manager; the product manager
hands the answer back; the agent resolves, the requester is unsatisfied (relayed by the agent), the agent resolves
again, the requester is satisfied and the ticket closes. Then the dashboard counts the closure, and the product
manager sees the FAQ candidate the closure grew and promotes it to a draft."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.console.helpers import open_area, pick_option, shot, sign_in

pytestmark = pytest.mark.browser
PRODUCT, PM = "mobile_office", "pm-01"


def pick(page: Page, testid: str, text: str) -> None:
    """An antd Select: open it, type to filter (its list is virtual: only the options in view exist), pick."""
    pick_option(page, page.get_by_test_id(testid), text, typed=text)


def press(page: Page, testid: str) -> None:
    element = page.get_by_test_id(testid)
    if element.evaluate("e => e.tagName === 'INPUT'"):
        element.evaluate("e => e.click()")  # antd hides a radio's input under its styled label
    else:
        element.click()


def act(page: Page, action: str, *, choose: tuple[str, ...] = (), fill: dict[str, str] | None = None) -> None:
    """Open an action's dialog on the ticket page, choose and fill its fields, submit, wait for it to close."""
    page.get_by_test_id(action).click()
    for testid in choose:
        press(page, testid)
    for testid, value in (fill or {}).items():
        page.get_by_test_id(testid).fill(value)
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-submit")).to_have_count(0)


def status_is(page: Page, status: str) -> None:
    expect(page.get_by_test_id("ticket-status")).to_have_attribute("data-status", status)


def test_an_agent_handles_a_complaint_to_closure_and_the_loop_shows_everywhere(page, console):
    sign_in(page, console, "agent", "agent-01", name="王客服")
    shot(page, "tickets-queue")
    page.get_by_test_id("new-ticket-button").click()
    press(page, "new-kind-complaint")
    pick(page, "new-product", "移动办公")
    pick(page, "new-city", "济南")
    title = f"移动办公考勤打卡定位失败 {uuid.uuid4().hex[:4]}"
    page.get_by_test_id("new-title").fill(title)
    page.get_by_test_id("new-description").fill("客户反映移动办公考勤打卡一直提示定位失败，已重装仍不行")
    page.get_by_test_id("new-customer-name").fill("张三")
    page.get_by_test_id("new-customer-group").fill("济南市某局")
    shot(page, "ticket-new")
    page.get_by_test_id("new-ticket-submit").click()
    opened = page.get_by_test_id("new-ticket-open")  # shown instead of the ticket when duplicates may exist
    page.wait_for_url(re.compile(r"/tickets/TS-"), timeout=15_000) if not opened.count() else opened.click()
    page.wait_for_url(re.compile(r"/tickets/TS-"))
    ticket_url = page.url
    ticket_id = page.get_by_test_id("ticket-id").inner_text().strip()
    assert ticket_id.startswith("TS-")
    status_is(page, "new")

    act(page, "action-assign", choose=("assign-to-me",))
    status_is(page, "in_progress")
    act(page, "action-escalate", choose=("field-tier-2",), fill={"field-target": PM, "field-reason": "需产品经理核实定位策略"})
    status_is(page, "escalated")

    sign_in(page, console, "product_manager", PM, name="李产品", products=[PRODUCT])
    page.goto(ticket_url)
    act(page, "action-handback", choose=("field-cause-usage_misunderstanding",),
        fill={"field-answer": "请在手机系统设置中为移动办公开启定位权限后重试"})
    status_is(page, "in_progress")

    sign_in(page, console, "agent", "agent-01", name="王客服")
    page.goto(ticket_url)
    expect(page.get_by_test_id("proposed-answer")).to_contain_text("开启定位权限")
    act(page, "action-resolve", choose=("field-cause-usage_misunderstanding",))  # relays the answer handed back
    status_is(page, "resolved")
    act(page, "action-feedback", choose=("field-satisfied-no", "field-score-2"), fill={"field-comment": "开启后还是不行"})
    status_is(page, "in_progress")
    expect(page.get_by_test_id("ticket-history")).to_contain_text("不满意")
    act(page, "action-resolve", choose=("field-cause-usage_misunderstanding",),
        fill={"field-answer": "已远程协助客户开启定位权限并校准，打卡恢复正常"})
    status_is(page, "resolved")
    act(page, "action-feedback", choose=("field-satisfied-yes", "field-score-5"))
    status_is(page, "closed")
    shot(page, "ticket-closed")

    open_area(page, console, "dashboard")
    closed = page.get_by_test_id("kpi-closed")
    for _ in range(30):  # analytics counts a closure within a few seconds (docs/analytics.md): 刷新 until it shows
        if re.search(r"归档量\s*[1-9]", closed.inner_text()):
            break
        page.wait_for_timeout(1000)
        page.get_by_test_id("dashboard-refresh").click()
    expect(closed).to_contain_text(re.compile(r"归档量\s*[1-9]"))
    shot(page, "dashboard")

    sign_in(page, console, "product_manager", PM, name="李产品", products=[PRODUCT])
    page.goto(f"{console}/knowledge/candidates")
    row = page.locator('[data-testid^="candidate-row-"]', has_text="定位")
    expect(row.first).to_be_visible(timeout=30_000)  # knowledge grew it from the closed ticket, by event
    shot(page, "knowledge-candidates")
    row.first.get_by_test_id("action-promote").click()
    press(page, "promote-mode-new")
    page.get_by_test_id("dialog-submit").click()
    page.wait_for_url(re.compile(r"/knowledge/articles/KB-"))
    expect(page.get_by_test_id("article-state")).to_contain_text("草稿")
    shot(page, "knowledge-article-draft")

    open_area(page, console, "lifecycle")
    expect(page.get_by_test_id(f"board-product-{PRODUCT}")).to_be_visible()
    shot(page, "lifecycle-board")
    page.goto(f"{console}/lifecycle/{PRODUCT}")
    expect(page.get_by_test_id("product-stage")).to_contain_text("交付")
    shot(page, "lifecycle-product")
    assert not page.errors, page.errors

