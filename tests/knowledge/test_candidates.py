"""Candidates through the public API with the real broker and store: paraphrases grouped by similarity, every
close counted exactly once (duplicates included) with bounded documents, promote and dismiss role by role, and
the KCS measures (GET /v1/kcs/measures and knowledge.kcs.measured)."""

from __future__ import annotations

import json
import random

from contracts.vocabulary import Cause, Kind
from tests.knowledge.test_api import candidates_of, client, closed_event, create_article, product  # noqa: F401
from tests.support import captured, database, dead_letters, eventually, publish, token

PARAPHRASES = ["如何登录移动办公？", "移动办公怎么登录", "请问移动办公如何登陆"]


async def settled(client, infra, code, total, state="open"):
    async def counted():
        r = await client.get("/v1/candidates", params={"product_code": code, "state": state},
                             headers=token(infra, "analyst"))
        items = r.json()["items"]
        return items if sum(c["occurrences"] for c in items) == total else None

    return await eventually(counted, timeout=30, what=f"{total} closes counted")


async def test_paraphrases_join_one_candidate_and_duplicates_count_once(client, infra):
    code = product()
    events = [closed_event(code, title=PARAPHRASES[i % 3]) for i in range(30)]
    events += [closed_event(code, title="移动办公忘记密码怎么办", answer="在登录页点“忘记密码”，用短信验证码重置。")]
    deliveries = events + events[:10]   # ten delivered twice, as a relay retry would
    random.Random(3).shuffle(deliveries)
    # the first phrasing first, so that the grouping does not depend on which paraphrase happens to come first
    await publish(infra, events[0])
    await settled(client, infra, code, 1)
    async with captured(infra, "knowledge.kcs.measured") as measured:
        await publish(infra, *deliveries)
        items = await settled(client, infra, code, len(events))

        async def last_figures():
            ours = [e for e in await measured() if e["data"]["product_code"] == code]
            return ours if ours and max(e["sequence"] for e in ours) == len(events) else None

        figures = await eventually(last_figures, what="the month's figures published")
    login, password = items
    assert login["occurrences"] == 30 and password["occurrences"] == 1
    assert {q["question"] for q in login["questions"]} == set(PARAPHRASES)
    assert sorted(q["count"] for q in login["questions"]) == [10, 10, 10]
    assert len(login["ticket_ids"]) == 20 and login["answers"][0]["count"] == 30
    last = max(figures, key=lambda e: e["sequence"])
    assert last["subject"] == f"{code}:2026-03" and last["type"] == "knowledge.kcs.measured"
    assert {k: last["data"][k] for k in ("closed", "linked", "new", "known")} == \
        {"closed": 31, "linked": 0, "new": 2, "known": 29}
    assert len({e["sequence"] for e in figures}) == len(figures), "a change published twice"
    async with database(infra, "knowledge") as db:
        async def all_recorded():  # a record is marked counted last, just after the month's figures
            records = await db["closures"].find({"product_code": code}).to_list()
            return records if {r["state"] for r in records} == {"counted"} else None

        records = await eventually(all_recorded, what="every closure record counted")
        hot = await db["candidates"].find_one({"_id": login["id"]})
    assert sorted(r["_id"] for r in records) == sorted(e.subject for e in events)
    assert len(hot.get("_counted", [])) < 16 + 10  # markers settle: the hot document stays small
    assert not [m for m in await dead_letters(infra, "knowledge.tickets")
                if m.body.startswith(b"{") and json.loads(m.body)["data"]["product_code"] == code]


async def one_candidate(client, infra, code, **event) -> dict:
    await publish(infra, closed_event(code, **event))
    [candidate] = await settled(client, infra, code, 1)
    return candidate


async def test_promote_to_a_new_draft_article(client, infra):
    code = product()
    candidate = await one_candidate(client, infra, code, kind=Kind.complaint, cause=Cause.usage_misunderstanding,
                                    title="考勤打卡提示定位失败", answer="请在手机设置中为移动办公开启定位权限。")
    path = f"/v1/candidates/{candidate['id']}/promote"
    assert (await client.post(path, json={"mode": "new"})).status_code == 401
    assert (await client.post(path, json={"mode": "new"}, headers=token(infra, "agent"))).status_code == 403
    assert (await client.post(path, json={"mode": "new"}, headers=token(infra, "analyst"))).status_code == 403
    other = token(infra, "product_manager", products=["someone-else"])
    assert (await client.post(path, json={"mode": "new"}, headers=other)).status_code == 403
    bad = await client.post(path, json={"mode": "new", "article_id": "KB-000001"},
                            headers=token(infra, "product_manager", products=[code]))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "article_id"
    bad = await client.post(path, json={"mode": "sideways"}, headers=token(infra, "product_manager", products=[code]))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "mode"

    pm = token(infra, "product_manager", sub="pm-1", products=[code])
    promoted = await client.post(path, json={"mode": "new", "tags": ["考勤"]}, headers=pm)
    assert promoted.status_code == 201, promoted.text
    body = promoted.json()
    assert body["created"] is True and promoted.headers["location"] == f"/v1/articles/{body['article']['id']}"
    assert body["candidate"]["state"] == "promoted"
    assert body["candidate"]["decision"]["article_id"] == body["article"]["id"]
    article = (await client.get(f"/v1/articles/{body['article']['id']}", headers=token(infra, "agent"))).json()
    assert (article["type"], article["product_code"], article["state"], article["version"]) == ("faq", code,
                                                                                                   "draft", 1)
    assert (article["title"], article["body"]) == ("考勤打卡提示定位失败", "请在手机设置中为移动办公开启定位权限。")
    assert (article["audience"], article["versions"][0]["note"]) == (
        "internal", f"由候选条目 {candidate['id']} 提升（1 张已关闭工单）")
    published = await client.post(f"/v1/articles/{article['id']}/publish", headers={**pm, "If-Match": '"1"'})
    assert published.status_code == 200, published.text

    async def found():  # the promoted article, once published, is found by search (written through the Store)
        r = await client.get("/v1/search", params={"q": "打卡定位失败", "product_code": code},
                             headers=token(infra, "agent"))
        return [h["id"] for h in r.json()["items"]] == [article["id"]]

    await eventually(found, what="the promoted article found by search")
    again = await client.post(path, json={"mode": "new"}, headers=pm)
    assert again.status_code == 409 and again.json()["state"] == "promoted"
    assert await candidates_of(client, infra, code) == []  # no longer open
    # a later similar close counts onto the promoted candidate, silently
    await publish(infra, closed_event(code, kind=Kind.complaint, cause=Cause.usage_misunderstanding,
                                      title="打卡时提示定位失败"))
    [still] = await settled(client, infra, code, 2, state="promoted")
    assert still["id"] == candidate["id"] and await candidates_of(client, infra, code) == []

    async def march():  # the month's figures are counted just after the candidate: wait for them too
        figures = await client.get("/v1/kcs/measures", params={"product_code": code, "month": "2026-03"},
                                   headers=pm)
        assert figures.status_code == 200
        items = figures.json()["items"]
        return items[0] if items and items[0]["closed"] == 2 else None

    month = await eventually(march, what="March's figures with both closes")
    assert (month["closed"], month["new"], month["known"], month["link_rate"]) == (2, 1, 1, 0.0)
    # the decision counts in the month it was taken (today's, Asia/Shanghai)
    decided = (await client.get("/v1/kcs/measures", params={"product_code": code}, headers=pm)).json()["items"]
    assert sum(m["promoted"] for m in decided) == 1


async def test_promote_as_a_new_version_of_a_chosen_article(client, infra):
    code = product()
    candidate = await one_candidate(client, infra, code, title="移动办公登不上", answer="请先升级客户端到3.2.5以上。")
    article = await create_article(client, infra, code, title="移动办公登录问题", body="使用手机号登录。")
    pm = token(infra, "product_manager", products=[code])
    path = f"/v1/candidates/{candidate['id']}/promote"
    missing = await client.post(path, json={"mode": "version"}, headers=pm)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "article_id"
    foreign = await create_article(client, infra, product())
    wrong = await client.post(path, json={"article_id": foreign["id"]}, headers=pm)
    assert wrong.status_code == 422 and "belongs to product" in wrong.json()["detail"]
    unconditional = await client.post(path, json={"article_id": article["id"]}, headers=pm)
    assert unconditional.status_code == 428, unconditional.text
    stale = await client.post(path, json={"article_id": article["id"]}, headers={**pm, "If-Match": '"7"'})
    assert stale.status_code == 412
    assert (await client.get(f"/v1/candidates/{candidate['id']}", headers=pm)).json()["state"] == "open"

    done = await client.post(path, json={"article_id": article["id"]}, headers={**pm, "If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.json()["created"] is False and done.json()["article"]["version"] == 2
    after = (await client.get(f"/v1/articles/{article['id']}", headers=pm)).json()
    assert after["body"] == "使用手机号登录。\n\n请先升级客户端到3.2.5以上。" and after["version"] == 2
    assert after["versions"][-1]["note"] == f"由候选条目 {candidate['id']} 提升（1 张已关闭工单）"
    assert done.json()["candidate"]["decision"] | {"at": None} == {
        "state": "promoted", "by": "product_manager-test", "at": None, "reason": None, "article_id": article["id"],
        "article_version": 2, "mode": "version"}


async def test_dismiss_keeps_it_from_coming_back(client, infra):
    code = product()
    candidate = await one_candidate(client, infra, code, title="外勤通定位不准")
    path = f"/v1/candidates/{candidate['id']}/dismiss"
    assert (await client.post(path, json={"reason": "个案"}, headers=token(infra, "complaint_handler"))).status_code \
        == 403
    assert (await client.post("/v1/candidates/nope/dismiss", json={"reason": "个案"},
                              headers=token(infra, "admin"))).status_code == 404
    empty = await client.post(path, json={"reason": "  "}, headers=token(infra, "admin"))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "reason"
    assert (await client.get(f"/v1/candidates/{candidate['id']}", headers=token(infra, "agent"))).json()[
        "state"] == "open"

    dismissed = await client.post(path, json={"reason": "个案问题，不具普遍性"}, headers=token(infra, "admin"))
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["decision"]["reason"] == "个案问题，不具普遍性"
    assert (await client.post(path, json={"reason": "再次"}, headers=token(infra, "admin"))).status_code == 409
    await publish(infra, closed_event(code, title="外勤通定位偏差很大"), closed_event(code, title="外勤通定位不准"))
    [silent] = await settled(client, infra, code, 3, state="dismissed")
    assert silent["id"] == candidate["id"] and await candidates_of(client, infra, code) == []


async def test_kcs_measures_are_for_staff_and_a_product_manager_sees_their_own(client, infra):
    mine, theirs = product(), product()
    article = await create_article(client, infra, mine)
    await publish(infra, closed_event(mine, knowledge_article_id=article["id"]), closed_event(mine),
                  closed_event(theirs))

    async def both():
        r = await client.get("/v1/kcs/measures", params={"month": "2026-03", "limit": 200},
                             headers=token(infra, "analyst"))
        codes = {m["product_code"]: m for m in r.json()["items"]}
        return codes if mine in codes and theirs in codes and codes[mine]["closed"] == 2 else None

    figures = await eventually(both, what="both products' figures")
    assert {k: figures[mine][k] for k in ("closed", "linked", "reuses", "link_rate", "new", "known")} == \
        {"closed": 2, "linked": 1, "reuses": 1, "link_rate": 0.5, "new": 1, "known": 1}
    assert (await client.get("/v1/kcs/measures")).status_code == 401
    for outsider in (token(infra, "vendor", vendor="acme"), token(infra, "account_manager", city="济南"),
                     token(infra, "intake")):
        assert (await client.get("/v1/kcs/measures", headers=outsider)).status_code == 403
    pm = token(infra, "product_manager", products=[mine])
    assert (await client.get("/v1/kcs/measures", params={"product_code": theirs}, headers=pm)).status_code == 403
    own = (await client.get("/v1/kcs/measures", params={"limit": 200}, headers=pm)).json()["items"]
    assert {m["product_code"] for m in own} == {mine}
    bad = await client.get("/v1/kcs/measures", params={"month": "2026-13"}, headers=pm)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.month"


async def test_every_new_route_wants_a_token(client):
    for method, path in (("GET", "/v1/candidates/x"), ("POST", "/v1/candidates/x/promote"),
                         ("POST", "/v1/candidates/x/dismiss"), ("GET", "/v1/kcs/measures"),
                         ("GET", "/v1/faq/monthly/2026-03?product_code=p"),
                         ("POST", "/v1/faq/monthly/2026-03/publish?product_code=p")):
        r = await client.request(method, path, json={"reason": "个案"} if method == "POST" else None)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", (method, path)


async def test_readers_read_candidates_and_others_do_not(client, infra):
    code = product()
    candidate = await one_candidate(client, infra, code)
    for role in ("agent", "complaint_handler", "product_manager", "analyst", "admin"):
        r = await client.get(f"/v1/candidates/{candidate['id']}", headers=token(infra, role))
        assert r.status_code == 200, role
    for role, claims in (("vendor", {"vendor": "acme"}), ("account_manager", {"city": "济南"}), ("intake", {})):
        r = await client.get(f"/v1/candidates/{candidate['id']}", headers=token(infra, role, **claims))
        assert r.status_code == 403, role
    assert (await client.get("/v1/candidates/nope", headers=token(infra, "agent"))).status_code == 404
