"""The work queue and the ticket page in the browser, for what test_complaint_loop.py does not walk through: the
queue's filters, its two tabs, bulk assignment and 加载更多; on the ticket page an attachment uploaded and
downloaded, 待补充 and the requester's reply, merging a duplicate, the timeline of those steps, and the knowledge
base's answer suggestions beside the reply box.

The tickets are filed through the gateway as a channel files them (an intake token), each group of them with a word
of its own in the title: filtering the queue by that word (关键词) keeps the other tests' tickets out of the rows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.helpers import file_ticket, shot, sign_in, wait_until
from tests.console.test_complaint_loop import act, pick, press, status_is

pytestmark = pytest.mark.browser

AGENT, OTHER_AGENT, PM, PRODUCT = "agent-01", "agent-02", "pm-01", "mobile_office"
PAGE_SIZE = 20  # the queue's page (console/src/pages/tickets/Queue.tsx PAGE_SIZE)


class Stack:
    """The APIs behind the console, called as the channels and the staff call them (httpx through the gateway)."""

    def __init__(self, console_stack):
        self.stack, self.base = console_stack, console_stack.base_url
        self.http = httpx.Client(timeout=15)
        self.intake = self.auth("intake", "crm-callcenter")

    def auth(self, role: str, sub: str, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.token(role, sub, **claims)}"}

    def file(self, title: str, *, kind: str = "complaint", city: str = "济南", product: str = PRODUCT,
             group: str = "济南市某局", received_at: datetime | None = None) -> dict:
        body = {"kind": kind, "channel": "call_center", "product_code": product, "city": city,
                "industry": "government", "title": title, "description": f"客户反映：{title}",
                "customer": {"name": "张三", "contact": "13800000000", "group_name": group}}
        if received_at:
            body["received_at"] = received_at.isoformat()
        return file_ticket(self.http, self.base, body, {**self.intake, "Idempotency-Key": uuid.uuid4().hex})

    def act(self, ticket: dict, action: str, body: dict, *, sub: str = AGENT) -> dict:
        r = self.http.post(f"{self.base}/api/ticketing/v1/tickets/{ticket['id']}/{action}", json=body,
                           headers=self.auth("agent", sub))
        assert r.status_code == 200, r.text
        return r.json()

    def published_article(self, title: str, body: str) -> dict:
        """A service script written by an agent and published by the product's manager (docs/knowledge.md), once
        knowledge's search finds it for the words of `title`."""
        article = {"type": "service_script", "product_code": PRODUCT, "title": title, "body": body,
                   "tags": ["屏幕共享"], "note": "根据屏幕共享失败工单整理"}

        def written():  # knowledge, too, may not know the catalog's products in its first seconds
            r = self.http.post(f"{self.base}/api/knowledge/v1/articles", json=article,
                               headers=self.auth("agent", AGENT))
            return r if r.status_code != 422 else None
        r = wait_until(written, 30, "knowledge takes an article of the catalog's product")
        assert r.status_code == 201, r.text
        draft = r.json()
        r = self.http.post(f"{self.base}/api/knowledge/v1/articles/{draft['id']}/publish", json={"note": "核对无误"},
                           headers={**self.auth("product_manager", PM, products=[PRODUCT]),
                                    "If-Match": f'"{draft["version"]}"'})
        assert r.status_code == 200 and r.json()["state"] == "published", r.text
        search = {"q": title, "product_code": PRODUCT}
        wait_until(lambda: any(i["id"] == draft["id"] for i in self.http.get(
            f"{self.base}/api/knowledge/v1/search", params=search, headers=self.auth("agent", AGENT)).json()["items"]),
            30, "knowledge's search finds the published article")
        return r.json()


@pytest.fixture(scope="module")
def stack(console_stack):
    api = Stack(console_stack)
    yield api
    api.http.close()


def a_word() -> str:
    """A word no other ticket has (the search index keeps a run of letters and digits as one word)."""
    return "w" + uuid.uuid4().hex[:7]


# --------------------------------------------------------------------------- the queue


def rows(page: Page):
    return page.locator('[data-testid^="ticket-row-"]')


def row(page: Page, ticket: dict):
    return page.get_by_test_id(f"ticket-row-{ticket['id']}")


def search(page: Page, word: str) -> None:
    box = page.get_by_test_id("filter-q")
    box.fill(word)
    box.press("Enter")


def shows_exactly(page: Page, *tickets: dict) -> None:
    """The queue's rows are these tickets and no others (waits for the load a filter started)."""
    expect(rows(page)).to_have_count(len(tickets))
    for ticket in tickets:
        expect(row(page, ticket)).to_be_visible()


def test_the_queue_filters_narrow_the_rows(page, console, stack):
    word = a_word()
    jinan_complaint = stack.file(f"移动办公考勤打卡失败 {word}")
    qingdao_consultation = stack.file(f"集团通讯录如何批量导入 {word}", kind="consultation", city="青岛",
                                      product="group_directory", group="青岛某公司")
    qingdao_pending = stack.file(f"移动办公审批提交失败 {word}", city="青岛", group="青岛某局")
    stack.act(qingdao_pending, "assign", {"assignee": AGENT})
    stack.act(qingdao_pending, "pending", {"needed": "请提供报错截图"})
    # received ten days ago: its response deadline has long passed, whatever the business calendar says
    overdue = stack.file(f"移动办公消息推送延迟 {word}", kind="consultation",
                         received_at=datetime.now(timezone.utc) - timedelta(days=10))

    sign_in(page, console, "agent", AGENT, name="王客服")
    page.get_by_test_id("tab-team").click()
    search(page, word)
    shows_exactly(page, jinan_complaint, qingdao_consultation, qingdao_pending, overdue)

    pick(page, "filter-kind", "投诉")
    shows_exactly(page, jinan_complaint, qingdao_pending)
    pick(page, "filter-city", "青岛")
    shows_exactly(page, qingdao_pending)
    expect(row(page, qingdao_pending)).to_contain_text("待补充")
    expect(page.get_by_test_id(f"sla-{qingdao_pending['id']}")).to_contain_text("已暂停")
    shot(page, "ticket-queue-filtered")

    # 清除筛选 clears every filter, the keyword box too: a box still showing the word would say the queue is
    # filtered by it while the rows are everyone's
    page.get_by_test_id("queue-reset").click()
    expect(page.get_by_test_id("filter-q")).to_have_value("")
    expect(page.locator(".ant-select", has=page.locator("#filter-kind-input"))).not_to_contain_text("投诉")
    expect(row(page, jinan_complaint)).to_be_visible()

    search(page, word)
    pick(page, "filter-status", "待补充")
    shows_exactly(page, qingdao_pending)
    page.get_by_test_id("queue-reset").click()
    search(page, word)
    shows_exactly(page, jinan_complaint, qingdao_consultation, qingdao_pending, overdue)

    press(page, "filter-pending")
    shows_exactly(page, qingdao_pending)
    press(page, "filter-pending")
    press(page, "filter-breached")
    shows_exactly(page, overdue)
    expect(page.get_by_test_id(f"sla-{overdue['id']}")).to_contain_text("已超时")
    shot(page, "ticket-queue-breached")
    assert not page.errors, page.errors


def test_my_tickets_are_those_assigned_to_me_and_the_team_sees_all(page, console, stack):
    word = a_word()
    mine = stack.file(f"移动办公登录失败 {word}")
    theirs = stack.file(f"移动办公登录超时 {word}")
    stack.act(mine, "assign", {"assignee": AGENT})
    stack.act(theirs, "assign", {"assignee": OTHER_AGENT})

    sign_in(page, console, "agent", AGENT, name="王客服")
    page.get_by_test_id("tab-mine").click()
    search(page, word)
    shows_exactly(page, mine)
    expect(row(page, mine)).to_contain_text(AGENT)
    shot(page, "ticket-queue-mine")
    page.get_by_test_id("tab-team").click()
    shows_exactly(page, mine, theirs)  # the keyword stays applied across the tabs
    expect(row(page, theirs)).to_contain_text(OTHER_AGENT)
    shot(page, "ticket-queue-team")
    assert not page.errors, page.errors


def test_two_tickets_selected_are_assigned_at_once(page, console, stack):
    word = a_word()
    first, second = stack.file(f"外勤通轨迹不上传 {word}", product="field_force"), \
        stack.file(f"外勤通签到失败 {word}", product="field_force")
    assignee = "agent-jinan-07"

    sign_in(page, console, "agent", AGENT, name="王客服")
    page.get_by_test_id("tab-team").click()
    search(page, word)
    shows_exactly(page, first, second)
    for ticket in (first, second):
        expect(row(page, ticket)).to_contain_text("受理")
        page.get_by_role("checkbox", name=f"选择 {ticket['id']}").check()
    expect(page.get_by_text("已选 2")).to_be_visible()
    page.get_by_test_id("bulk-assign").click()
    expect(page.locator(".ant-modal-title")).to_contain_text("（2）")
    page.get_by_test_id("field-assignee").fill(assignee)
    shot(page, "ticket-queue-bulk-assign")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-submit")).to_have_count(0)
    for ticket in (first, second):  # reloaded: the service's state, not what the dialog sent
        expect(row(page, ticket)).to_contain_text(assignee)
        expect(row(page, ticket)).to_contain_text("处理中")
    shot(page, "ticket-queue-bulk-assigned")
    assert not page.errors, page.errors


def test_more_tickets_than_a_page_come_with_load_more(page, console, stack):
    word = a_word()
    filed = [stack.file(f"集团通讯录同步失败 {word} 第{n}单", product="group_directory") for n in range(PAGE_SIZE + 1)]
    oldest = filed[0]

    sign_in(page, console, "agent", AGENT, name="王客服")
    page.get_by_test_id("tab-team").click()
    search(page, word)
    expect(rows(page)).to_have_count(PAGE_SIZE)
    expect(row(page, oldest)).to_have_count(0)  # newest first: the first one filed is on the second page
    page.get_by_test_id("queue-load-more").click()
    expect(rows(page)).to_have_count(PAGE_SIZE + 1)
    expect(row(page, oldest)).to_be_visible()
    expect(page.get_by_test_id("queue-load-more")).to_have_count(0)
    expect(page.get_by_text("没有更多了")).to_be_visible()
    shot(page, "ticket-queue-load-more")
    assert not page.errors, page.errors


# --------------------------------------------------------------------------- the ticket page


def open_ticket(page: Page, console: str, ticket: dict) -> None:
    page.goto(f"{console}/tickets/{ticket['id']}")
    expect(page.get_by_test_id("ticket-id")).to_have_text(ticket["id"])


def test_an_attachment_then_pending_and_the_requesters_reply_show_on_the_page(page, console, stack, tmp_path):
    ticket = stack.file(f"移动办公考勤定位不准 {a_word()}")
    stack.act(ticket, "assign", {"assignee": AGENT})
    screenshot_text = "客户提供的报错信息：定位失败 code=E102\n".encode()
    upload = tmp_path / "定位报错.txt"
    upload.write_bytes(screenshot_text)

    sign_in(page, console, "agent", AGENT, name="王客服")
    open_ticket(page, console, ticket)
    status_is(page, "in_progress")
    attachments = page.get_by_test_id("ticket-attachments")
    expect(attachments).not_to_contain_text("定位报错.txt")
    page.get_by_test_id("attachment-input").set_input_files(str(upload))
    expect(attachments).to_contain_text("定位报错.txt")
    expect(attachments).to_contain_text(f"{len(screenshot_text)} B")
    with page.expect_download() as download:
        attachments.locator('[data-testid^="attachment-download-"]').click()
    assert download.value.suggested_filename == "定位报错.txt"
    assert open(download.value.path(), "rb").read() == screenshot_text
    shot(page, "ticket-attachment")

    act(page, "action-pending", fill={"field-needed": "请客户提供手机型号和定位权限截图"})
    status_is(page, "pending")
    expect(page.get_by_test_id("ticket-sla")).to_contain_text("已暂停（待补充）")
    expect(page.get_by_test_id("ticket-notes")).to_contain_text("请客户提供手机型号和定位权限截图")
    expect(page.get_by_test_id("action-pending")).to_have_count(0)  # asked already: it waits for the reply
    shot(page, "ticket-pending")

    act(page, "action-requester-reply", fill={"field-body": "华为Mate60，定位权限已设为始终允许"})
    status_is(page, "in_progress")  # back to the status it was paused from
    expect(page.get_by_test_id("ticket-notes")).to_contain_text("华为Mate60，定位权限已设为始终允许")
    expect(page.get_by_test_id("ticket-sla")).not_to_contain_text("已暂停")

    history = page.get_by_test_id("ticket-history")
    expect(history.get_by_test_id("history-attach")).to_contain_text("定位报错.txt")
    expect(history.get_by_test_id("history-pending")).to_contain_text("待补充：请客户提供手机型号和定位权限截图")
    expect(history.get_by_test_id("history-pending")).to_contain_text("处理中 → 待补充")
    expect(history.get_by_test_id("history-requester_reply")).to_contain_text("待补充 → 处理中")
    expect(history.get_by_test_id("history-requester_reply")).to_contain_text("暂停")
    shot(page, "ticket-requester-replied")
    assert not page.errors, page.errors


def test_a_duplicate_is_merged_into_the_first_ticket(page, console, stack):
    word = a_word()
    first = stack.file(f"移动办公审批流程卡住 {word}", group="淄博某局")
    duplicate = stack.file(f"移动办公审批流程卡住无法提交 {word}", group="淄博某局")

    sign_in(page, console, "agent", AGENT, name="王客服")
    open_ticket(page, console, duplicate)
    status_is(page, "new")
    act(page, "action-merge", fill={"field-into": first["id"]})
    status_is(page, "closed")
    expect(page.get_by_test_id("ticket-actions")).not_to_contain_text("合并到另一工单")
    expect(page.get_by_text(f"合并为重复工单 → {first['id']}")).to_be_visible()
    expect(page.get_by_test_id("history-merge")).to_contain_text(f"合并到 {first['id']}")
    shot(page, "ticket-merged")

    open_ticket(page, console, first)
    status_is(page, "new")  # the ticket merged into stays open: it answers both requesters
    expect(page.get_by_test_id("history-merged_in")).to_contain_text(f"合并自 {duplicate['id']}")
    shot(page, "ticket-merged-into")
    assert not page.errors, page.errors


def test_the_reply_dialog_suggests_a_published_article_and_uses_it(page, console, stack):
    article = stack.published_article(
        "移动办公视频会议无法共享屏幕的答复口径",
        "请客户在手机系统设置中为移动办公开启屏幕录制权限，再重新发起共享；仍失败的转产品经理。")
    ticket = stack.file(f"移动办公视频会议无法共享屏幕 {a_word()}")
    stack.act(ticket, "assign", {"assignee": AGENT})

    sign_in(page, console, "agent", AGENT, name="王客服")
    open_ticket(page, console, ticket)
    page.get_by_test_id("action-resolve").click()
    suggestions = page.get_by_test_id("suggestions")
    expect(suggestions).to_contain_text(article["title"])
    expect(suggestions).to_contain_text("屏幕录制权限")
    shot(page, "ticket-suggestions")
    page.get_by_test_id(f"suggestion-use-{article['id']}").click()
    expect(page.get_by_test_id("field-answer")).to_have_value(article["body"])
    expect(page.get_by_test_id("field-knowledge-article")).to_have_value(article["id"])
    press(page, "field-cause-usage_misunderstanding")
    page.get_by_test_id("dialog-submit").click()
    expect(page.get_by_test_id("dialog-submit")).to_have_count(0)
    status_is(page, "resolved")
    expect(page.get_by_test_id("ticket-answer")).to_contain_text(f"知识 {article['id']}")
    expect(page.get_by_test_id("ticket-answer")).to_contain_text("屏幕录制权限")
    shot(page, "ticket-resolved-from-knowledge")
    assert not page.errors, page.errors
