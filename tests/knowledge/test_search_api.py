"""Knowledge search, suggestions and synonyms through the public API, against the real broker and store, with
two app instances (two API replicas) on one store: what one publishes the other finds within a second.

Articles, their audiences and states are made through the articles' routes (If-Match on every change). Written
into the store directly, with the change stamp every Store write carries, is only what no route can make: an
article stored before audiences existed, and a candidate dismissed (until the candidates' routes land)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from contracts.events import Envelope, ProductRegistered
from services.kit.store import CHANGED, REVISION, change_stamp
from services.knowledge.domain.synonyms import DEFAULT_GROUPS
from services.knowledge.main import create
from services.knowledge.settings import Settings
from tests.knowledge.catalog import announce
from tests.knowledge.test_api import closed_event, create_article
from tests.knowledge.test_articles import publish as publish_article
from tests.support import database, eventually, publish, running, settings_for, token


@pytest.fixture(scope="module")
async def replicas(infra):
    async with running(create(settings_for(Settings, infra, "knowledge"))) as one, \
            running(create(settings_for(Settings, infra, "knowledge", role="api"))) as two:
        yield one, two


def product() -> str:
    return "s" + uuid.uuid4().hex[:8]


async def write_legacy_article(infra, code: str, *, title: str, body: str) -> str:
    """A published article as stored before audiences existed (no `audience` field): no route writes one."""
    id = f"KB-T{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    doc = {"_id": id, "type": "faq", "product_code": code, "title": title, "body": body, "tags": [],
           "state": "published", "version": 1, "created_at": now, "created_by": "t", "updated_at": now,
           "updated_by": "t", "published_at": now, "archived_at": None, "reuse_count": 0, "reused_by": [],
           "versions": [], REVISION: 1, CHANGED: change_stamp()}
    async with database(infra, "knowledge") as db:
        await db["articles"].insert_one(doc)
    return id


async def found(client, infra, q: str, role="agent", claims=None, **params) -> list[str]:
    response = await client.get("/v1/search", params={"q": q, **params}, headers=token(infra, role, **(claims or {})))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def until_found(client, infra, q: str, id: str, **params):
    async def probe():
        return id in await found(client, infra, q, **params)

    await eventually(probe, what=f"{id} found for {q}")


async def create_draft(client, infra, code, **body) -> dict:
    return await create_article(client, infra, code, **{"tags": [], **body})  # no tag the search would weigh


async def create_and_publish(client, infra, code, **body) -> dict:
    return await publish_article(client, infra, await create_draft(client, infra, code, **body))


def etag(article: dict) -> str:
    """The If-Match for a change based on this answer: its version, as the ETag header carries it."""
    return f'"{article["version"]}"'


# --- ranking, synonyms, snippets, drafts ------------------------------------------------------------------


async def test_ranked_search_with_synonyms_snippets_and_drafts(replicas, infra):
    one, _ = replicas
    code = product()
    login = await create_and_publish(one, infra, code, title="移动办公无法登录怎么办？",
                                     body="请先确认账号已由集团管理员开通，并已加入本单位的组织架构。"
                                          "新员工入职当天由管理员在后台添加，添加后约五分钟生效。"
                                          "客户端请升级到最新版本，旧版本在部分机型上存在兼容问题。"
                                          "连续输错密码5次账号锁定30分钟，可由管理员在后台解锁。"
                                          "收不到短信验证码时，请检查是否被安全软件拦截。", tags=["登录"])
    body_only = await create_and_publish(one, infra, code, title="移动办公管理后台常见问题",
                                         body="管理员账号无法登录后台时，请使用超级管理员重置。")
    draft = await create_draft(one, infra, code, title="登录失败的新口径", body="草稿：待补充。")
    await until_found(one, infra, "登不上去咋办", body_only["id"], product_code=code)

    response = await one.get("/v1/search", params={"q": "登不上去咋办", "product_code": code},
                             headers=token(infra, "agent"))
    page = response.json()
    assert [i["id"] for i in page["items"]] == [login["id"], body_only["id"]]  # title above body
    assert page["total"] == 2 and page["next_cursor"] is None
    assert page["words"] == ["登不上"] and "无法登录" in page["expanded"]["登不上"]
    top = page["items"][0]
    assert (top["type_label"], top["state"], top["audience"]) == ("FAQ", "published", "internal")
    assert [top["title"][a:b] for a, b in top["title_highlights"]] == ["无法登录"]
    second = page["items"][1]
    assert [second["snippet"][a:b] for a, b in second["highlights"]] == ["无法登录"]

    best_passage = (await one.get("/v1/search", params={"q": "验证码收不到", "product_code": code},
                                  headers=token(infra, "agent"))).json()["items"][0]
    assert best_passage["id"] == login["id"]
    marked = {best_passage["snippet"][a:b] for a, b in best_passage["highlights"]}
    assert marked == {"收不到", "验证码"} and best_passage["snippet"].startswith("…")  # the passage, not the start

    assert draft["id"] not in await found(one, infra, "登录失败", product_code=code)
    with_drafts = await found(one, infra, "登录失败", product_code=code, include_drafts="true")
    assert draft["id"] in with_drafts
    assert await found(one, infra, "登不上 -验证码", product_code=code) == [body_only["id"]]
    assert await found(one, infra, "登录", product_code=code, type="tariff") == []
    paged = await one.get("/v1/search", params={"q": "移动办公", "product_code": code, "limit": 1},
                          headers=token(infra, "agent"))
    rest = await one.get("/v1/search", params={"q": "移动办公", "product_code": code, "limit": 1,
                                               "cursor": paged.json()["next_cursor"]}, headers=token(infra, "agent"))
    assert len({paged.json()["items"][0]["id"], rest.json()["items"][0]["id"]}) == 2


async def test_what_one_replica_publishes_or_edits_the_other_finds_within_a_second(replicas, infra):
    one, two = replicas
    code = product()
    published = await create_and_publish(one, infra, code, title="外勤通轨迹回放的操作方法",
                                         body="在管理后台选择人员和日期即可回放。")
    started = time.monotonic()
    await until_found(two, infra, "轨迹回放", published["id"], product_code=code)
    assert time.monotonic() - started < 1.0

    edited = await one.put(f"/v1/articles/{published['id']}", json={"title": "外勤通签到记录导出",
                                                                     "body": "在管理后台导出签到记录为Excel。",
                                                                     "note": "改写为签到记录导出"},
                           headers={**token(infra, "agent"), "If-Match": etag(published)})
    assert edited.status_code == 200, edited.text
    started = time.monotonic()
    await until_found(two, infra, "签到记录导出", published["id"], product_code=code)
    assert time.monotonic() - started < 1.0
    assert await found(two, infra, "轨迹回放", product_code=code) == []

    archived = await two.post(f"/v1/articles/{published['id']}/archive",
                              headers={**token(infra, "admin"), "If-Match": etag(edited.json())})
    assert archived.status_code == 200, archived.text

    async def gone_from_one():
        return await found(one, infra, "签到记录导出", product_code=code) == []

    await eventually(gone_from_one, timeout=1.0, what="the archived article gone from the other replica")


# --- who reads what ---------------------------------------------------------------------------------------


async def test_audience_and_roles(replicas, infra):
    one, two = replicas
    code = product()
    vendor = {"vendor": f"vendor-{code}"}
    await announce(infra, "knowledge", code, vendor["vendor"])
    ids = {audience: (await create_and_publish(one, infra, code, title=f"集团彩铃设置方法（{audience}）",
                                               body="上传铃音并提交审核。", audience=audience))["id"]
           for audience in ("internal", "account_manager", "customer")}
    legacy = await write_legacy_article(infra, code, title="集团彩铃旧版设置方法", body="上传铃音。")
    draft = (await create_draft(one, infra, code, title="集团彩铃设置草稿", body="待补充。", audience="customer"))["id"]
    for id in (*ids.values(), legacy):
        await until_found(two, infra, "彩铃设置", id, product_code=code)
    # the draft was written last: the other replica may not have indexed it yet when the published ones show
    await until_found(two, infra, "彩铃设置", draft, product_code=code, include_drafts="true")

    async def readable(role, claims=None, **params):
        return set(await found(two, infra, "彩铃设置", role=role, claims=claims, product_code=code, **params))

    everyone = {*ids.values(), legacy}
    assert await readable("agent") == everyone
    assert await readable("vendor", vendor) == everyone  # the product's own vendor
    assert await readable("product_manager", {"products": ["someone-else"]}) == everyone  # searches all products
    assert await readable("account_manager") == {ids["account_manager"], ids["customer"]}
    assert await readable("intake") == {ids["customer"]}                      # a missing audience is internal
    assert await readable("agent", audience="customer") == {ids["customer"]}
    assert await readable("agent", include_drafts="true") == {*everyone, draft}
    # drafts by the articles' rule (GET /v1/articles/{id} says the same): staff, vendors included, not channels
    # nor account managers — not even a draft meant for customers
    assert await readable("vendor", vendor, include_drafts="true") == {*everyone, draft}
    # another vendor: nothing of this product (asked for it: 403 naming product_code, as GET /v1/articles)
    stranger = token(infra, "vendor", vendor="vendor-acme")
    assert code not in {h["product_code"] for h in (await two.get("/v1/search", params={"q": "集团彩铃设置"},
                                                                   headers=stranger)).json()["items"]}
    refused = await two.get("/v1/search", params={"q": "彩铃", "product_code": code}, headers=stranger)
    assert refused.status_code == 403 and refused.json()["parameter"] == "product_code", refused.text

    headers = {"intake": token(infra, "intake"), "account_manager": token(infra, "account_manager", city="济南")}
    for role in ("intake", "account_manager"):
        refused = await two.get("/v1/search", params={"q": "彩铃", "include_drafts": "true"}, headers=headers[role])
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json", role
        assert refused.json()["parameter"] == "include_drafts", refused.text
        assert (await two.get(f"/v1/articles/{draft}", headers=headers[role])).status_code == 404, role
    refused = await two.get("/v1/search", params={"q": "彩铃", "audience": "internal"}, headers=headers["intake"])
    assert refused.status_code == 403 and refused.json()["parameter"] == "audience", refused.text
    assert (await two.get("/v1/search", params={"q": "彩铃"})).status_code == 401
    assert (await two.get("/v1/search", params={"q": "彩铃"},
                          headers={"Authorization": "Bearer nonsense"})).status_code == 401


async def test_bad_search_input_is_a_422_naming_the_field(replicas, infra):
    one, _ = replicas
    agent = token(infra, "agent")
    cases = [({}, "query.q"), ({"q": "   "}, "query.q"), ({"q": "登录" * 101}, "query.q"),
             ({"q": "登录", "limit": 0}, "query.limit"), ({"q": "登录", "limit": 51}, "query.limit"),
             ({"q": "登录", "type": "poem"}, "query.type"), ({"q": "登录", "audience": "everyone"}, "query.audience"),
             ({"q": "登录", "include_drafts": "maybe"}, "query.include_drafts"), ({"q": "登录", "cursor": "abc"}, "cursor"),
             ({"q": "登录", "cursor": "999"}, "cursor")]
    for params, field in cases:
        response = await one.get("/v1/search", params=params, headers=agent)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}, (params, response.json())
    nothing = await one.get("/v1/search", params={"q": "的了吗"}, headers=agent)  # only stop words
    assert nothing.status_code == 200 and nothing.json()["items"] == [] and nothing.json()["words"] == []
    bad = await one.get("/v1/suggestions", params={"q": "x" * 2001}, headers=agent)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.q"


# --- synonyms ---------------------------------------------------------------------------------------------


async def test_synonyms_are_data_an_admin_edits(replicas, infra):
    one, two = replicas
    admin, agent = token(infra, "admin"), token(infra, "agent")
    current = await one.get("/v1/synonyms", headers=agent)
    assert current.status_code == 200
    assert current.json()["groups"][:3] == [list(g) for g in DEFAULT_GROUPS[:3]]
    version = current.json()["version"]
    assert current.headers["etag"] == f'"{version}"'
    for role in ("intake", "account_manager"):
        assert (await one.get("/v1/synonyms", headers=token(infra, role))).status_code == 403, role
    assert (await one.get("/v1/synonyms", headers=token(infra, "vendor", vendor="acme"))).status_code == 200
    assert (await one.get("/v1/synonyms")).status_code == 401
    groups = [*current.json()["groups"], ["彩虹码", "健康通行证"]]  # no character in common
    assert (await one.put("/v1/synonyms", json={"groups": groups}, headers=agent)).status_code == 403
    for unconditional in ({}, {"If-Match": "*"}):  # If-Match on every change in knowledge, as for articles
        missing = await one.put("/v1/synonyms", json={"groups": groups}, headers={**admin, **unconditional})
        assert missing.status_code == 428 and missing.headers["content-type"] == "application/problem+json"
    stale = await one.put("/v1/synonyms", json={"groups": groups}, headers={**admin, "If-Match": str(version + 5)})
    assert stale.status_code == 412 and stale.json()["current_version"] == version
    clash = await one.put("/v1/synonyms", json={"groups": [["资费", "收费"], ["价格", "资费"], ["单独"]]},
                          headers={**admin, "If-Match": str(version)})
    assert clash.status_code == 422
    assert {e["field"] for e in clash.json()["errors"]} == {"groups.1.1", "groups.2"}
    shape = await one.put("/v1/synonyms", json={"groups": "资费"}, headers=admin)
    assert shape.status_code == 422 and shape.json()["errors"][0]["field"] == "groups"

    code = product()
    article = await create_and_publish(one, infra, code, title="彩虹码申领流程", body="在营业厅申领。")
    try:
        changed = await one.put("/v1/synonyms", json={"groups": groups}, headers={**admin, "If-Match": str(version)})
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == version + 1 and changed.json()["updated_by"] == "admin-test"
        await until_found(two, infra, "健康通行证怎么领", article["id"], product_code=code)  # the other replica too
        response = await two.get("/v1/search", params={"q": "健康通行证", "product_code": code}, headers=agent)
        assert response.json()["expanded"] == {"健康通行证": ["彩虹码"]}
    finally:
        latest = (await one.get("/v1/synonyms", headers=admin)).headers["etag"]
        restored = await one.put("/v1/synonyms", json={"groups": [list(g) for g in DEFAULT_GROUPS]},
                                 headers={**admin, "If-Match": latest})
        assert restored.status_code == 200, restored.text

    async def forgotten():
        return await found(two, infra, "健康通行证", product_code=code) == []

    await eventually(forgotten, what="the removed synonym forgotten")


# --- the catalog's names in the dictionary ----------------------------------------------------------------


async def test_product_names_from_lifecycle_join_the_dictionary(replicas, infra):
    one, two = replicas
    code = product()

    async def words(client):
        response = await client.get("/v1/search", params={"q": "蓝鲸渔联打不开"}, headers=token(infra, "agent"))
        return response.json()["words"]

    assert "蓝鲸渔联" not in await words(two)
    await publish(infra, Envelope.wrap(ProductRegistered(code=code, name="蓝鲸渔联", stage="trial"),
                                       type="lifecycle.product.registered", source="lifecycle", subject=code,
                                       sequence=1, correlationid="test"))

    async def learnt():
        return "蓝鲸渔联" in await words(two) and "蓝鲸渔联" in await words(one)

    await eventually(learnt, what="the product name learnt by both replicas")


# --- suggestions ------------------------------------------------------------------------------------------


async def test_suggestions_give_articles_and_the_most_frequent_answers(replicas, infra):
    one, two = replicas
    code = product()
    article = await create_and_publish(one, infra, code, title="通讯录批量导入报错的答复口径",
                                       body="模板的列顺序不能修改，请重新下载最新模板填写。")
    frequent, rare = "请使用后台下载的最新模板，手机号列不要有空格。", "请联系客户经理代为导入。"
    # two paraphrases of one question join one candidate (its answers counted), a different question is another
    await publish(infra, *(closed_event(code, title="通讯录导入失败", answer=a) for a in (frequent, rare, frequent)),
                  closed_event(code, title="通讯录导入失败怎么办啊", answer=frequent),
                  closed_event(code, title="手机号格式校验不通过", answer=rare),
                  closed_event(code, title="外勤通怎么开通", answer="联系客户经理。"))

    async def suggested():
        response = await two.get("/v1/suggestions", params={"q": "集团通讯录导不进去，提示手机号格式错误",
                                                            "product_code": code}, headers=token(infra, "agent"))
        assert response.status_code == 200, response.text
        body = response.json()
        return body if len(body["answers"]) == 2 and body["answers"][0]["occurrences"] == 4 else None

    body = await eventually(suggested, timeout=15, what="both candidates suggested")
    assert [a["id"] for a in body["articles"]] == [article["id"]]
    first, second = body["answers"]
    assert (first["question"], first["answer"], first["answer_count"], first["occurrences"]) == \
        ("通讯录导入失败", frequent, 3, 4)
    assert (second["question"], second["answer"], second["occurrences"]) == ("手机号格式校验不通过", rare, 1)
    assert first["score"] > second["score"] and first["type"] == "service_script"

    manager = await two.get("/v1/suggestions", params={"q": "通讯录导不进去", "product_code": code},
                            headers=token(infra, "account_manager", city="济南"))
    assert manager.status_code == 200 and manager.json()["answers"] == []  # unvalidated answers stay internal
    for role in ("intake", "analyst", "vendor"):
        refused = await two.get("/v1/suggestions", params={"q": "通讯录"}, headers=token(infra, role))
        assert refused.status_code == 403, role
    assert (await two.get("/v1/suggestions", params={"q": "通讯录"})).status_code == 401

    dismissed = await two.post(f"/v1/candidates/{first['candidate_id']}/dismiss", json={"reason": "模板问题已修复"},
                               headers=token(infra, "product_manager", products=[code]))
    assert dismissed.status_code == 200, dismissed.text

    async def dismissed_gone():
        response = await one.get("/v1/suggestions", params={"q": "集团通讯录导不进去，提示手机号格式错误",
                                                            "product_code": code}, headers=token(infra, "ops_engineer"))
        return [a["candidate_id"] for a in response.json()["answers"]] == [second["candidate_id"]]

    await eventually(dismissed_gone, what="the dismissed candidate no longer suggested")
