"""突然变化 in the browser: an analyst acknowledges a sudden change (the page sends If-Match with the version it read)
and explains it; the state labels follow. The anomaly is written into analytics' store as its scan writes one
(services/analytics/store/anomalies.new_episode), since a real spike needs weeks of history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import expect
from pymongo import MongoClient

from services.analytics.domain.anomalies import evaluate
from services.analytics.store.anomalies import ANOMALIES, new_episode
from services.kit.store import OUTBOX, OUTBOX_PENDING, REVISION, WRITE_REVISION
from tests.console.helpers import open_area, shot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def anomaly(console_stack) -> str:
    infra = console_stack.infra
    day = date.today() - timedelta(days=3)
    history = {day - timedelta(days=i): 2 for i in range(1, 60)} | {day: 40}
    verdict = evaluate(day, history)
    assert verdict.direction == "spike", verdict
    doc = new_episode("city", "青岛", verdict, datetime.now(UTC))
    with MongoClient(infra.mongo_url, serverSelectionTimeoutMS=5000) as client:
        client[infra.db_name("analytics")][ANOMALIES].insert_one(
            {**doc, REVISION: 1, WRITE_REVISION: 1, OUTBOX: [], OUTBOX_PENDING: False})
    return doc["id"]


def test_analyst_acknowledges_and_explains_an_anomaly(page, console, anomaly):
    sign_in(page, console, "analyst", "analyst-01", name="赵分析")
    open_area(page, console, "dashboard")
    table = page.get_by_test_id("anomalies-table")
    expect(table).to_contain_text("地市：青岛")
    expect(table).to_contain_text("突增")
    expect(page.get_by_test_id(f"anomaly-state-{anomaly}")).to_have_text("未处理")

    page.get_by_test_id(f"anomaly-acknowledge-{anomaly}").click()
    expect(page.get_by_test_id(f"anomaly-state-{anomaly}")).to_have_text("已确认")
    expect(page.get_by_test_id(f"anomaly-acknowledge-{anomaly}")).to_have_count(0)  # explaining is what is left

    page.get_by_test_id(f"anomaly-explain-{anomaly}").click()
    page.get_by_test_id("anomaly-explanation").fill("营销活动：青岛分公司推广移动办公，咨询量上升属正常")
    page.get_by_test_id("anomaly-explain-submit").click()
    expect(page.get_by_test_id(f"anomaly-state-{anomaly}")).to_have_text("已说明")
    assert not page.errors, page.errors
    shot(page, "dashboard-anomaly-explained")


def test_an_account_manager_sees_their_city_anomaly_without_review_buttons(page, console, anomaly):
    sign_in(page, console, "account_manager", "am-qd-01", city="青岛")
    open_area(page, console, "dashboard")
    page.get_by_test_id("anomaly-state").click()  # all states: the analyst may have explained it already
    page.locator(".ant-select", has=page.get_by_role("combobox", name="状态")).locator(".ant-select-clear").click()
    expect(page.get_by_test_id(f"anomaly-state-{anomaly}")).to_be_visible()
    expect(page.get_by_test_id(f"anomaly-acknowledge-{anomaly}")).to_have_count(0)
    expect(page.get_by_test_id(f"anomaly-explain-{anomaly}")).to_have_count(0)
