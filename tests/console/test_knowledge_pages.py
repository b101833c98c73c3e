"""The knowledge pages in the browser, as the people who use them (docs/knowledge.md, knowledge-search.md,
knowledge-candidates.md): an agent writes a 客服口径 in the editor and edits it (a second version, sent with
If-Match), the product manager publishes it and compares two versions; a search finds it with the word
highlighted; the product manager dismisses a candidate grown from a closed consultation, and the monthly FAQ a
city downloads lists the other question but not the dismissed one."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.helpers import file_ticket, open_area, pick_option, shot, sign_in, wait_until
from tests.console.test_complaint_loop import pick

pytestmark = pytest.mark.browser
PRODUCT, PM, AGENT = "mobile_office", "pm-01", "agent-01"
# Two different questions of one product (their signatures share too little to be grouped into one candidate).
DISMISSED_QUESTION = "移动办公能否导出考勤报表到电子表格"
KEPT_QUESTION = "移动办公怎样更换绑定的手机号码"


def choose(page: Page, testid: str, option: str) -> None:
    """An antd Select without a search box: open it and click the option whose text is `option`."""
    pick_option(page, page.get_by_test_id(testid), re.compile(rf"^{re.escape(option)}$"))
    # wait for the list to close: a next Select's options would otherwise be looked for in this closing one
    expect(page.locator(".ant-select-dropdown:visible")).to_have_count(0)


def close_consultation(http: httpx.Client, base: str, tokens: dict[str, dict], title: str, answer: str) -> str:
    """A consultation taken by a channel, answered by an agent and accepted by the requester: ticket.closed,
    from which knowledge grows a 客服口径 candidate (docs/knowledge-candidates.md)."""
    body = {"kind": "consultation", "channel": "call_center", "product_code": PRODUCT, "city": "青岛",
            "industry": "government", "title": title, "description": f"客户咨询：{title}",
            "customer": {"name": "赵六", "contact": "13900000000", "group_name": "青岛市某局"}}
    ticket_id = file_ticket(http, base, body, {**tokens["intake"], "Idempotency-Key": uuid.uuid4().hex})["id"]
    for action, payload, who in (("assign", {"assignee": AGENT}, "agent"),
                                 ("resolve", {"answer": answer, "cause": "other"}, "agent"),
                                 ("feedback", {"satisfied": True, "score": 5}, "intake")):
        r = http.post(f"{base}/api/ticketing/v1/tickets/{ticket_id}/{action}", json=payload, headers=tokens[who])
        assert r.status_code == 200, (action, r.text)
    assert r.json()["status"] == "closed"
    return ticket_id


@pytest.fixture(scope="module")
def closed_consultations(console_stack):
    """Two consultations of mobile_office closed through the gateway; knowledge has counted both."""
    base = console_stack.base_url
    tokens = {"intake": {"Authorization": f"Bearer {console_stack.token('intake', 'crm-callcenter')}"},
              "agent": {"Authorization": f"Bearer {console_stack.token('agent', AGENT)}"}}
    pm = {"Authorization": f"Bearer {console_stack.token('product_manager', PM, products=[PRODUCT])}"}
    with httpx.Client(timeout=10) as http:
        close_consultation(http, base, tokens, DISMISSED_QUESTION, "目前暂不支持导出，可在管理后台查看考勤统计")
        close_consultation(http, base, tokens, KEPT_QUESTION, "在移动办公“我的—账号与安全”中更换绑定手机号并短信验证")

        def both_counted():  # knowledge grows candidates from the ticket.closed events, asynchronously
            r = http.get(f"{base}/api/knowledge/v1/candidates", params={"product_code": PRODUCT}, headers=pm)
            questions = {c["question"] for c in r.json().get("items", [])} if r.status_code == 200 else set()
            return {DISMISSED_QUESTION, KEPT_QUESTION} <= questions
        wait_until(both_counted, 30, "knowledge grows a candidate from each closed consultation")


def test_an_article_written_edited_published_compared_and_found(page, console):
    sign_in(page, console, "agent", AGENT, name="王客服")
    open_area(page, console, "knowledge/articles")
    page.get_by_test_id("article-new").click()
    choose(page, "article-type", "客服口径")
    pick(page, "article-product", "移动办公")
    title = f"移动办公蓝牙签到失败的答复口径 {uuid.uuid4().hex[:4]}"
    page.get_by_test_id("article-title-input").fill(title)
    page.get_by_test_id("article-body-input").fill("1. 请客户打开手机蓝牙\n2. 靠近会议室的签到信标重试")
    page.get_by_test_id("article-tags-input").fill("蓝牙，签到")
    page.get_by_test_id("article-note-input").fill("根据近期签到失败工单整理")
    shot(page, "knowledge-editor-new")
    page.get_by_test_id("article-save").click()
    page.wait_for_url(re.compile(r"/knowledge/articles/KB-\d+$"))
    article_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_test_id("article-title")).to_have_text(title)
    expect(page.get_by_test_id("article-state")).to_have_text("草稿")
    expect(page.get_by_test_id("article-body")).to_contain_text("签到信标")
    expect(page.get_by_test_id("action-publish")).to_have_count(0)  # an agent writes; a product manager validates
    shot(page, "knowledge-article-draft-v1")

    # A second version: the editor names the version it was read at, so no one overwrites a change unseen.
    page.get_by_test_id("action-edit").click()
    expect(page.get_by_test_id("article-body-input")).to_have_value(re.compile("签到信标"))
    page.get_by_test_id("article-body-input").fill("1. 请客户打开手机蓝牙和定位权限\n2. 靠近会议室的签到信标重试")
    page.get_by_test_id("article-note-input").fill("补充定位权限")
    with page.expect_request(lambda r: r.method == "PUT" and f"/v1/articles/{article_id}" in r.url) as put:
        page.get_by_test_id("article-save").click()
    assert put.value.headers.get("if-match") == '"1"', put.value.headers
    page.wait_for_url(re.compile(rf"/knowledge/articles/{article_id}$"))
    expect(page.get_by_test_id("article-body")).to_contain_text("定位权限")
    expect(page.get_by_test_id("article-state")).to_have_text("草稿")
    expect(page.get_by_test_id("version-view-2")).to_be_visible()

    sign_in(page, console, "product_manager", PM, name="李产品", products=[PRODUCT])
    page.goto(f"{console}/knowledge/articles/{article_id}")
    page.get_by_test_id("action-publish").click()
    page.get_by_test_id("dialog-note").fill("核对无误")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("article-state")).to_have_text("已发布")
    expect(page.get_by_test_id("version-view-3")).to_be_visible()  # publishing is a version too, with its note
    expect(page.get_by_role("cell", name="核对无误")).to_be_visible()

    # v1 → v3: the body's changed line, removed and added, the words it changed, and the state it moved from and to.
    choose(page, "diff-from", "v1")
    choose(page, "diff-to", "v3")
    page.get_by_test_id("diff-compare").click()
    diff = page.get_by_test_id("article-diff-body")
    expect(diff).to_contain_text("- 1. 请客户打开手机蓝牙")
    expect(diff).to_contain_text("+ 1. 请客户打开手机蓝牙和定位权限")
    expect(diff.locator("div", has_text=re.compile(r"^\+ "))).to_have_count(1)  # only the changed line is added
    # and within it the words that changed: 和定位权限 added, nothing of the old line taken away
    expect(diff.get_by_test_id("diff-added-words")).to_have_text("和定位权限")
    expect(diff.get_by_test_id("diff-removed-words")).to_have_count(0)
    expect(page.get_by_test_id("article-diff")).to_contain_text(re.compile(r"草稿\s*→\s*已发布"))
    shot(page, "knowledge-article-diff")

    # The published article is found by a word of it, the word highlighted in the title and in the snippet.
    open_area(page, console, "knowledge")
    page.get_by_test_id("search-input").fill("蓝牙签到")
    hit = page.get_by_test_id(f"search-hit-{article_id}")

    def found():  # the search index takes up a change within a poll (docs/knowledge-search.md)
        page.get_by_role("button", name=re.compile(r"搜\s*索")).click()
        expect(page.get_by_test_id("search-results")).to_be_visible()
        return hit.count() > 0
    wait_until(found, 20, "the search finds the published article")
    expect(hit.locator("mark", has_text="蓝牙").first).to_be_visible()
    expect(hit.locator("a mark", has_text="签到").first).to_be_visible()  # in the title, which links to the article
    shot(page, "knowledge-search-hit")
    assert not page.errors, page.errors


def test_a_product_manager_dismisses_a_candidate_and_the_monthly_faq_leaves_it_out(page, console, closed_consultations,
                                                                                  tmp_path):
    sign_in(page, console, "product_manager", PM, name="李产品", products=[PRODUCT])
    open_area(page, console, "knowledge/candidates")
    dismissed = page.locator('[data-testid^="candidate-row-"]', has_text=DISMISSED_QUESTION)
    kept = page.locator('[data-testid^="candidate-row-"]', has_text=KEPT_QUESTION)
    expect(dismissed).to_have_count(1)
    expect(kept).to_have_count(1)
    dismissed.get_by_test_id("action-dismiss").click()
    page.get_by_test_id("dismiss-reason").fill("导出功能尚未上线，暂不作为口径")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-submit")).to_be_hidden()  # the dialog closes (antd keeps it in the page)
    expect(dismissed).to_have_count(0)  # no longer open
    expect(kept).to_have_count(1)
    choose(page, "candidates-state", "已驳回")
    expect(dismissed).to_contain_text("已驳回")
    expect(kept).to_have_count(0)
    shot(page, "knowledge-candidate-dismissed")

    # The month's FAQ (this month: the consultations closed today, Asia/Shanghai) shows the kept question only.
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    open_area(page, console, "knowledge/faq")
    pick(page, "faq-product", "移动办公")
    month_input = page.get_by_test_id("faq-month")
    month_input.click()
    month_input.fill(month)
    month_input.press("Enter")
    expect(month_input).to_have_value(month)
    page.get_by_test_id("faq-show").click()
    expect(page.get_by_test_id("faq-questions")).to_contain_text(KEPT_QUESTION)
    expect(page.get_by_test_id("faq-questions")).not_to_contain_text(DISMISSED_QUESTION)
    shot(page, "knowledge-faq")

    with page.expect_download() as info:
        page.get_by_test_id("faq-download-md").click()
    assert info.value.suggested_filename == f"faq-{PRODUCT}-{month}.md", info.value.suggested_filename
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert KEPT_QUESTION in text and DISMISSED_QUESTION not in text, text
    with page.expect_download() as info:
        page.get_by_test_id("faq-download-docx").click()
    assert info.value.suggested_filename == f"faq-{PRODUCT}-{month}.docx"
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.read_bytes()[:2] == b"PK"  # a Word file is a zip
    assert not page.errors, page.errors
