"""The monthly FAQ (客服分析 / 投诉分析) through the API, from closes on the real broker: misunderstanding-driven
complaints first, Markdown and DOCX downloads, and publishing as the month's faq article (draft, then versions)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import docx

from contracts.vocabulary import Cause, Kind
from services.knowledge.domain import faq
from tests.knowledge.test_api import client, closed_event, create_article, product  # noqa: F401 - the fixture
from tests.support import eventually, publish, token

MISUNDERSTOOD = dict(kind=Kind.complaint, cause=Cause.usage_misunderstanding)


async def month_with_closes(client, infra, code):
    events = (
        [closed_event(code, title="移动办公怎么登录", answer="用手机号加短信验证码登录。") for _ in range(3)]
        + [closed_event(code, title="考勤打卡提示定位失败", answer="请为移动办公开启定位权限。", **MISUNDERSTOOD)
           for _ in range(2)]
        + [closed_event(code, title="考勤打卡定位失败", answer="请为移动办公开启定位权限。", city="青岛", **MISUNDERSTOOD)]
    )
    # 00:30 on 1 April in Shanghai: April's, not March's
    april = closed_event(code, title="移动办公怎么登录", closed_at=datetime(2026, 3, 31, 16, 30, tzinfo=UTC))
    await publish(infra, april, *events)

    async def ready():
        r = await client.get("/v1/faq/monthly/2026-03", params={"product_code": code}, headers=token(infra, "agent"))
        return r.json() if r.status_code == 200 and r.json()["closes"] == len(events) else None

    return await eventually(ready, what="the month's closes in the FAQ")


async def test_the_monthly_faq_puts_misunderstandings_first_and_downloads(client, infra):
    code = product()
    body = await month_with_closes(client, infra, code)
    [misunderstood] = body["misunderstandings"]
    assert (misunderstood["question"], misunderstood["count"], misunderstood["misunderstanding_complaints"]) == \
        ("考勤打卡提示定位失败", 3, 3)
    assert misunderstood["answer"] == "请为移动办公开启定位权限。" and misunderstood["cities"] == ["济南", "青岛"]
    assert [(q["question"], q["count"]) for q in body["questions"]] == [("移动办公怎么登录", 3)]

    staff = token(infra, "agent")  # the working FAQ; the account managers' is the reviewed one (below)
    md = await client.get("/v1/faq/monthly/2026-03", params={"product_code": code, "format": "md"}, headers=staff)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.headers["content-disposition"] == f'attachment; filename="faq-{code}-2026-03.md"'
    text = md.text
    assert text.index("理解偏差") < text.index("考勤打卡提示定位失败") < text.index("移动办公怎么登录")
    word = await client.get("/v1/faq/monthly/2026-03", params={"product_code": code, "format": "docx"},
                            headers=staff)
    assert word.status_code == 200 and word.headers["content-disposition"].endswith('.docx"')
    paragraphs = [p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs]
    assert paragraphs[0] == f"{code} 2026年3月常见问题 (FAQ)"
    assert "1. 考勤打卡提示定位失败" in paragraphs and "答：请为移动办公开启定位权限。" in paragraphs

    april = await client.get("/v1/faq/monthly/2026-04", params={"product_code": code}, headers=staff)
    assert april.json()["closes"] == 1 and april.json()["questions"][0]["question"] == "移动办公怎么登录"
    empty = await client.get("/v1/faq/monthly/2026-05", params={"product_code": code}, headers=staff)
    assert empty.json() == {"product_code": code, "month": "2026-05", "closes": 0, "reviewed_only": False,
                            "unreviewed_closes": 0, "misunderstandings": [], "questions": []}


async def test_account_managers_get_the_faq_of_reviewed_answers_only(client, infra):
    """Issue 9: the account managers take the FAQ to their customers, so theirs holds published answers they may
    read only: a candidate's closes count on the article it was promoted to once that is published; a candidate
    nobody reviewed, and an article not for them, are left out and only counted (`unreviewed_closes`)."""
    code = product()
    await month_with_closes(client, infra, code)  # 3 × 移动办公怎么登录 (open), 3 × 考勤打卡 (理解偏差)
    pm = token(infra, "product_manager", products=[code])
    internal = await create_article(client, infra, code, title="内部：审批流配置说明", body="仅供内部：后台参数A=3。")
    for_them = await create_article(client, infra, code, title="如何开通移动办公", body="由客户经理在开通平台提交申请。",
                                    audience="account_manager")
    for article in (internal, for_them):
        r = await client.post(f"/v1/articles/{article['id']}/publish", headers={**pm, "If-Match": '"1"'})
        assert r.status_code == 200, r.text
    await publish(infra, closed_event(code, title="审批流怎么配", knowledge_article_id=internal["id"]),
                  closed_event(code, title="怎么开通", knowledge_article_id=for_them["id"], city="烟台"))
    staff = token(infra, "agent")

    async def eight():
        r = await client.get("/v1/faq/monthly/2026-03", params={"product_code": code}, headers=staff)
        return r.json() if r.json()["closes"] == 8 else None

    working = await eventually(eight, what="the reuses counted")
    [misunderstood] = working["misunderstandings"]
    # the product manager promotes the 理解偏差 question and publishes it for account managers
    promoted = await client.post(f"/v1/candidates/{misunderstood['candidate_id']}/promote", headers=pm, json={
        "mode": "new", "audience": "account_manager", "body": "请在手机“设置→隐私→定位服务”中允许移动办公使用定位。"})
    assert promoted.status_code == 201, promoted.text
    reviewed_id = promoted.json()["article"]["id"]
    am = token(infra, "account_manager", city="济南")
    path, params = "/v1/faq/monthly/2026-03", {"product_code": code}
    before = (await client.get(path, params=params, headers=am)).json()  # promoted, but still a draft
    assert (before["reviewed_only"], before["closes"], before["unreviewed_closes"]) == (True, 1, 7)
    r = await client.post(f"/v1/articles/{reviewed_id}/publish", headers={**pm, "If-Match": '"1"'})
    assert r.status_code == 200, r.text

    got = (await client.get(path, params=params, headers=am)).json()
    assert (got["reviewed_only"], got["closes"], got["unreviewed_closes"]) == (True, 4, 4)
    [entry] = got["misunderstandings"]
    assert (entry["article_id"], entry["candidate_id"], entry["question"], entry["count"],
            entry["misunderstanding_complaints"]) == (reviewed_id, None, "考勤打卡提示定位失败", 3, 3)
    assert entry["answer"] == "请在手机“设置→隐私→定位服务”中允许移动办公使用定位。"
    assert [(q["article_id"], q["answer"], q["cities"]) for q in got["questions"]] == [
        (for_them["id"], "由客户经理在开通平台提交申请。", ["烟台"])]
    unreviewed = ("用手机号加短信验证码登录", "移动办公怎么登录", "请为移动办公开启定位权限", "后台参数A=3", "审批流")
    md = (await client.get(path, params={**params, "format": "md"}, headers=am)).text
    word = await client.get(path, params={**params, "format": "docx"}, headers=am)
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs)
    for shown in (md, text):
        assert "允许移动办公使用定位" in shown and "另有 4 张工单的问题尚无审核过的答复，未列入" in shown
        assert not [words for words in unreviewed if words in shown], shown
    # the staff's working FAQ still shows the open candidate's answer, for the product manager to review
    working = (await client.get(path, params=params, headers=staff)).json()
    assert working["reviewed_only"] is False and working["unreviewed_closes"] == 0
    assert "用手机号加短信验证码登录。" in [q["answer"] for q in working["questions"]]


async def test_faq_reading_and_publishing_are_scoped(client, infra):
    code = product()
    path = "/v1/faq/monthly/2026-03"
    assert (await client.get(path, params={"product_code": code})).status_code == 401
    assert (await client.get(path, params={"product_code": code},
                             headers=token(infra, "vendor", vendor="acme"))).status_code == 403
    bad = await client.get("/v1/faq/monthly/2026-3", params={"product_code": code}, headers=token(infra, "agent"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "path.month"
    bad = await client.get(path, params={"product_code": code, "format": "pdf"}, headers=token(infra, "agent"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.format"
    missing = await client.get(path, headers=token(infra, "agent"))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "query.product_code"
    publish_path = f"{path}/publish"
    for who in (token(infra, "agent"), token(infra, "account_manager", city="济南"),
                token(infra, "product_manager", products=["someone-else"])):
        assert (await client.post(publish_path, params={"product_code": code}, headers=who)).status_code == 403
    nothing = await client.post(publish_path, params={"product_code": code}, headers=token(infra, "admin"))
    assert nothing.status_code == 409 and nothing.json()["type"] == "/problems/empty-faq"


async def test_publishing_makes_a_draft_then_new_versions_of_the_month_article(client, infra):
    code = product()
    await month_with_closes(client, infra, code)
    pm = token(infra, "product_manager", products=[code])
    first = await client.post("/v1/faq/monthly/2026-03/publish", params={"product_code": code}, headers=pm)
    assert first.status_code == 201, first.text
    created = first.json()
    assert (created["action"], created["version"], created["state"]) == ("created", 1, "draft")
    article = (await client.get(f"/v1/articles/{created['article_id']}", headers=pm)).json()
    assert article["type"] == "faq" and article["product_code"] == code and "理解偏差" in article["body"]
    assert first.headers["etag"] == '"1"'
    assert article["versions"][0]["note"] == "2026-03 月度FAQ：由 6 张已关闭工单整理"
    published = await client.post(f"/v1/articles/{created['article_id']}/publish", headers={**pm, "If-Match": '"1"'})
    assert published.status_code == 200, published.text
    await publish(infra, closed_event(code, title="移动办公怎么登录"))

    async def four():
        r = await client.get("/v1/faq/monthly/2026-03", params={"product_code": code}, headers=pm)
        return r.json()["questions"][0]["count"] == 4

    await eventually(four, what="the late close counted")
    # a new version of the existing article is a change of it: If-Match, as on every article change
    path = "/v1/faq/monthly/2026-03/publish"
    assert (await client.post(path, params={"product_code": code}, headers=pm)).status_code == 428
    assert (await client.post(path, params={"product_code": code}, headers={**pm, "If-Match": '"1"'})).status_code \
        == 412
    again = await client.post(path, params={"product_code": code}, headers={**pm, "If-Match": '"2"'})
    assert again.status_code == 200, again.text
    assert (again.json()["action"], again.json()["article_id"], again.json()["version"], again.json()["state"]) == \
        ("new_version", created["article_id"], 3, "published")
    latest = (await client.get(f"/v1/articles/{created['article_id']}", headers=pm)).json()
    assert "本月 4 次" in latest["body"] and latest["versions"][-1]["note"] == "2026-03 月度FAQ：由 7 张已关闭工单整理"

    async def found():  # published, the month's article is found by search (written through the Store)
        r = await client.get("/v1/search", params={"q": "考勤打卡定位失败", "product_code": code},
                             headers=token(infra, "agent"))
        return [h for h in r.json()["items"] if h["id"] == created["article_id"] and h["version"] == 3]

    await eventually(found, what="the published FAQ found by search")


def test_a_dismissed_candidate_is_left_out_and_articles_answer_with_their_body():
    closures = [{"candidate_id": "c1", "question": "问甲", "answer": "答甲", "kind": "consultation", "city": "济南"},
                {"candidate_id": "c2", "question": "问乙", "answer": "", "kind": "consultation", "city": "济南"},
                {"article_id": "KB-000001", "question": "问丙", "answer": "x", "kind": "consultation", "city": "济南"}]
    built = faq.monthly("p", "2026-03", closures, {"c1": {"state": "dismissed"}, "c2": {"state": "open",
                        "answers": [{"answer": "候选答复", "count": 2}]}},
                        {"KB-000001": {"title": "丙的标题", "body": "丙的正文", "type": "faq"}})
    assert [(e["question"], e["answer"]) for e in built["questions"]] == [("丙的标题", "丙的正文"), ("问乙", "候选答复")]


def test_the_reviewed_faq_holds_published_articles_the_reader_may_read_only():
    closures = [{"candidate_id": "c1", "question": "问甲", "answer": "未审核的答复", "kind": "consultation"},
                {"candidate_id": "c2", "question": "问乙", "answer": "x", "kind": "complaint",
                 "cause": "usage_misunderstanding"},
                {"article_id": "KB-000002", "question": "问乙的另一说法", "answer": "y", "kind": "consultation"},
                {"article_id": "KB-000003", "question": "问丙", "answer": "z", "kind": "consultation"},
                {"candidate_id": "c3", "question": "问丁", "answer": "w", "kind": "consultation"}]
    candidates = {"c1": {"state": "open", "answers": [{"answer": "未审核的答复", "count": 1}]},
                  "c2": {"state": "promoted", "promoted": {"article_id": "KB-000002"}},
                  "c3": {"state": "dismissed"}}
    found = {"KB-000002": {"title": "乙", "body": "乙的已审核答复", "type": "faq", "state": "published"},
             "KB-000003": {"title": "丙", "body": "丙", "type": "faq", "state": "draft"}}
    built = faq.monthly("p", "2026-03", closures, candidates, found,
                        reviewed=lambda article: article["state"] == "published")
    assert (built["closes"], built["unreviewed_closes"], built["reviewed_only"]) == (2, 2, True)
    [entry] = built["misunderstandings"]
    assert (entry["article_id"], entry["candidate_id"], entry["answer"], entry["count"],
            entry["misunderstanding_complaints"]) == ("KB-000002", None, "乙的已审核答复", 2, 1)
    assert built["questions"] == []
    assert "未审核的答复" not in faq.markdown(built) and "另有 2 张工单" in faq.markdown(built)
