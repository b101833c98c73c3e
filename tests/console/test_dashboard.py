"""运营看板 in the browser: an agent signs in through the page, opens the dashboard and sees the KPIs, the city chart
and the figures' freshness, for a ticket filed through the API a moment before."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.helpers import file_ticket, open_area, shot, sign_in, wait_until

pytestmark = pytest.mark.browser

COMPLAINT = {"kind": "complaint", "channel": "call_center", "product_code": "mobile_office", "city": "济南",
             "industry": "government", "title": "移动办公考勤打卡失败",
             "description": "客户反映移动办公考勤打卡一直提示定位失败",
             "customer": {"name": "张三", "contact": "13800000000", "group_name": "济南市某局"}}


@pytest.fixture(scope="module")
def one_ticket(console_stack):
    """A complaint filed through the gateway (as a channel does), counted by analytics."""
    intake = {"Authorization": f"Bearer {console_stack.token('intake', 'crm-callcenter')}",
              "Idempotency-Key": "console-dashboard-0001"}
    analyst = {"Authorization": f"Bearer {console_stack.token('analyst', 'analyst-01')}"}
    base = console_stack.base_url
    with httpx.Client(timeout=10) as http:
        ticket = file_ticket(http, base, COMPLAINT, intake)
        wait_until(lambda: http.get(f"{base}/api/analytics/v1/metrics/summary", headers=analyst).json().get("opened"),
                   30, "analytics counts the ticket")
    return ticket


def test_agent_sees_the_dashboard_kpis(page, console, one_ticket):
    sign_in(page, console, "agent", "agent-01", name="王客服")
    open_area(page, console, "dashboard")
    for testid in ("kpi-timeliness", "kpi-satisfaction", "kpi-opened", "kpi-closed"):
        expect(page.get_by_test_id(testid)).to_be_visible()
    expect(page.get_by_test_id("kpi-timeliness")).to_contain_text("解决及时率")
    expect(page.get_by_test_id("kpi-satisfaction")).to_contain_text("满意度")
    expect(page.get_by_test_id("kpi-opened")).to_contain_text(re.compile(r"受理量\s*[1-9]"))
    expect(page.get_by_test_id("kpi-closed")).to_contain_text(re.compile(r"归档量\s*\d"))
    expect(page.get_by_test_id("as-of")).to_contain_text(re.compile(r"数据截至：\d{4}-\d{2}-\d{2}"))
    expect(page.get_by_test_id("chart-city").locator("canvas")).to_be_visible()
    # an agent reads the metrics and the reports, not the anomalies (analysts' and managers')
    expect(page.get_by_test_id("report-download")).to_be_visible()
    expect(page.get_by_test_id("anomalies-table")).to_have_count(0)
    assert not page.errors, page.errors
    shot(page, "dashboard-agent")


def test_analyst_sees_the_anomalies_and_a_tablet_layout(page, console, one_ticket):
    page.set_viewport_size({"width": 768, "height": 1024})
    sign_in(page, console, "analyst", "analyst-01")
    open_area(page, console, "dashboard")
    expect(page.get_by_test_id("kpi-opened")).to_contain_text(re.compile(r"[1-9]"))
    expect(page.get_by_test_id("anomalies-table")).to_be_visible()
    expect(page.get_by_test_id("anomalies-error")).to_have_count(0)
    assert not page.errors, page.errors
    shot(page, "dashboard-analyst-tablet")


def test_report_download_gives_an_xlsx(page, console, one_ticket):
    sign_in(page, console, "analyst", "analyst-01")
    open_area(page, console, "dashboard")
    with page.expect_download() as info:
        page.get_by_test_id("report-download").click()
    name = info.value.suggested_filename
    assert name.endswith(".xlsx") and "客服投诉月度分析" in name, name
    expect(page.get_by_test_id("report-error")).to_have_count(0)
