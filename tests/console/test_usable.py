"""Usable by the centre's people: each main page passes axe-core's WCAG 2 A/AA rules (readable contrast, names on
controls, landmarks), fits a tablet's width without a sideways scroll, and the sign-in and the menu work from the
keyboard alone. axe-core comes from the console's own npm lock (console/node_modules), injected into the page."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ROOT
from tests.console.helpers import AREAS, file_ticket, open_area, shot, sign_in

pytestmark = pytest.mark.browser
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
TABLET = {"width": 768, "height": 1024}
COMPLAINT = {"kind": "complaint", "channel": "call_center", "product_code": "mobile_office", "city": "烟台",
             "industry": "government", "title": "移动办公消息提醒延迟", "description": "客户反映消息提醒延迟十分钟以上",
             "customer": {"name": "王五", "contact": "13700000000", "group_name": "烟台市某局"}}


def violations(page: Page) -> list[str]:
    """axe-core's WCAG 2 A and AA findings on the page as it is, one line per rule with a few of its elements."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: the console's npm dependencies are not installed (make console)",
                    pytrace=False)
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(r"""async () => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}});
        return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +
            v.nodes.slice(0, 4).map(n => n.target.join(' ') + ': ' + n.failureSummary.replace(/\s+/g, ' ')).join(' | '));
    }""")
    return found


@pytest.fixture(scope="module")
def ticket(console_stack) -> str:
    """One complaint, so that the queue and the ticket page have something to show."""
    intake = {"Authorization": f"Bearer {console_stack.token('intake', 'crm-callcenter')}",
              "Idempotency-Key": "console-usable-0001"}
    with httpx.Client(timeout=10) as http:
        return file_ticket(http, console_stack.base_url, COMPLAINT, intake)["id"]


def test_the_sign_in_page_passes_the_accessibility_rules(page, console):
    page.goto(console)
    expect(page.get_by_test_id("dev-sign-in-card")).to_be_visible()
    found = violations(page)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("area", (*AREAS, "tickets/new", "knowledge/articles/new", "lifecycle/maintenance", "lifecycle/mobile_office"))
def test_each_area_passes_the_accessibility_rules(page, console, ticket, area):
    sign_in(page, console, "admin", "admin-01", name="管理员")
    open_area(page, console, area)
    page.wait_for_load_state("networkidle")
    found = violations(page)
    assert not found, "\n".join(found)


def test_the_ticket_page_passes_the_accessibility_rules(page, console, ticket):
    sign_in(page, console, "agent", "agent-01", name="王客服")
    page.goto(f"{console}/tickets/{ticket}")
    expect(page.get_by_test_id("ticket-id")).to_have_text(ticket)
    page.wait_for_load_state("networkidle")
    found = violations(page)
    assert not found, "\n".join(found)


def test_every_area_fits_a_tablet_width(page, console, ticket):
    page.set_viewport_size(TABLET)
    sign_in(page, console, "admin", "admin-01", name="管理员")
    for area in AREAS:
        open_area(page, console, area)
        page.wait_for_load_state("networkidle")
        sideways = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert sideways <= 1, f"{area} is {sideways}px wider than a {TABLET['width']}px tablet"
        shot(page, f"tablet-{area}")


def test_signing_in_and_changing_area_by_keyboard_alone(page, console):
    page.goto(console)
    expect(page.get_by_test_id("dev-sign-in-card")).to_be_visible()

    def tab_to(predicate: str, most: int = 30) -> None:
        for _ in range(most):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => {{ const e = document.activeElement; return !!e && ({predicate}); }}"):
                return
        raise AssertionError(f"Tab never reached an element where {predicate}")

    tab_to("e.getAttribute('aria-label') === '角色'")
    page.keyboard.press("ArrowDown")  # opens the list on 客服支撑人员 agent
    active = page.locator(".ant-select-dropdown:visible .ant-select-item-option-active")
    expect(active).to_contain_text("agent")
    for _ in range(8):  # … down to 数据分析员 analyst
        if "analyst" in active.inner_text():
            break
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(100)
    page.keyboard.press("Enter")
    tab_to("e.getAttribute('aria-label') === '工号'")
    page.keyboard.press("Control+A")
    page.keyboard.type("analyst-07")
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_test_id("current-user")).to_contain_text("analyst-07（analyst）")

    tab_to("e.closest('[role=menu]') !== null")
    for _ in range(5):  # the menu takes the focus, its arrows move it from item to item: down to 运营看板
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(150)  # the menu moves the focus in the next animation frame
        if page.evaluate("() => { const e = document.activeElement; "
                         "return e.getAttribute('role') === 'menuitem' && e.textContent.includes('运营看板'); }"):
            break
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
