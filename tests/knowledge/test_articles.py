"""Articles through the public API (issue 9, point 1): who reads what (audience, drafts), why each version was
made, a diff of two versions, If-Match on every change, and who publishes and archives."""

from __future__ import annotations

import pytest

from services.knowledge.main import create
from services.knowledge.settings import Settings
from tests.knowledge.catalog import announce
from tests.knowledge.test_api import product
from tests.support import captured, eventually, running, settings_for, token


@pytest.fixture(scope="module")
async def client(infra):
    async with running(create(settings_for(Settings, infra, "knowledge"))) as client:
        yield client


async def write(client, infra, code, **overrides) -> dict:
    body = {"type": "service_script", "product_code": code, "title": "审批提交失败的答复口径",
            "body": "1. 确认客户端版本\n2. 重新登录后再提交", "tags": ["审批"], **overrides}
    r = await client.post("/v1/articles", json=body, headers=token(infra, "agent"))
    assert r.status_code == 201, r.text
    return r.json()


async def publish(client, infra, article: dict, code: str | None = None, **claims) -> dict:
    pm = token(infra, "product_manager", products=[code or article["product_code"]], **claims)
    r = await client.post(f"/v1/articles/{article['id']}/publish", json={"note": "核对无误"},
                          headers={**pm, "If-Match": str(article["version"])})
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_audience_decides_who_reads_an_article_and_drafts_are_for_staff(client, infra):
    code = product()
    await announce(infra, "knowledge", code, "vendor-a")
    made = {audience: await publish(client, infra, await write(client, infra, code, audience=audience))
            for audience in ("internal", "account_manager", "customer")}
    draft = await write(client, infra, code, audience="customer")
    readers = {"agent": {"internal", "account_manager", "customer", "draft"},
               "vendor": {"internal", "account_manager", "customer", "draft"},  # the product's own vendor
               "account_manager": {"account_manager", "customer"},
               "intake": {"customer"}}
    for role, sees in readers.items():
        headers = token(infra, role, city="济南", vendor="vendor-a")
        listed = (await client.get("/v1/articles", params={"product_code": code}, headers=headers)).json()
        expected = {made[a]["id"] for a in sees if a != "draft"} | ({draft["id"]} if "draft" in sees else set())
        assert {a["id"] for a in listed["items"]} == expected, role
        for name, article in [*made.items(), ("draft", draft)]:
            r = await client.get(f"/v1/articles/{article['id']}", headers=headers)
            assert r.status_code == (200 if name in sees else 404), (role, name, r.text)
    # the union over roles: intake + account_manager reads what either reads, and still no draft
    both = token(infra, "intake", "account_manager", city="济南")
    listed = (await client.get("/v1/articles", params={"product_code": code}, headers=both)).json()
    assert {a["id"] for a in listed["items"]} == {made["account_manager"]["id"], made["customer"]["id"]}
    # asking for what one may not read is refused naming the parameter, as search does (not an empty list)
    for params, parameter in (({"state": "draft"}, "state"), ({"audience": "internal"}, "audience")):
        r = await client.get("/v1/articles", params={"product_code": code, **params}, headers=both)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", r.text
        assert r.json()["parameter"] == parameter and r.json()["detail"].startswith(f"{parameter}: "), r.text
    within = await client.get("/v1/articles", params={"product_code": code, "state": "published",
                                                      "audience": "customer"}, headers=both)
    assert [a["id"] for a in within.json()["items"]] == [made["customer"]["id"]]
    only = await client.get("/v1/articles", params={"product_code": code, "audience": "customer"},
                            headers=token(infra, "agent"))
    assert {a["id"] for a in only.json()["items"]} == {made["customer"]["id"], draft["id"]}
    assert made["customer"]["audience_label"] == "客户"


async def test_a_vendor_reads_the_knowledge_of_the_products_it_supplies_only(client, infra):
    """Issue 9: a vendor reads only the knowledge of products whose vendor (lifecycle's catalog) is its own —
    lists, articles, versions, diffs, search and trainings; a product without a known vendor is none of its."""
    ours, theirs, unknown = product(), product(), product()
    a, b = f"vendor-{ours}", f"vendor-{theirs}"  # vendors of this test alone: the database is the module's
    await announce(infra, "knowledge", ours, a)
    await announce(infra, "knowledge", theirs, b)
    # `unknown`: never announced; general articles have no product
    written = {code: await write(client, infra, code, title=f"外勤通签到失败口径{code}") for code in (ours, theirs, unknown)}
    written["general"] = await write(client, infra, None, title="通用的升级流程口径")
    published = {k: await publish(client, infra, a, code="any") if k == "general" else await publish(client, infra, a)
                 for k, a in written.items()}
    vendor = token(infra, "vendor", vendor=a)

    listed = (await client.get("/v1/articles", params={"limit": 200}, headers=vendor)).json()["items"]
    assert {a["product_code"] for a in listed} == {ours}
    refused = await client.get("/v1/articles", params={"product_code": theirs}, headers=vendor)
    assert refused.status_code == 403 and refused.json()["parameter"] == "product_code", refused.text
    for key, article in published.items():
        sees = key == ours
        for path, params in ((f"/v1/articles/{article['id']}", {}),
                             (f"/v1/articles/{article['id']}", {"version": 1}),
                             (f"/v1/articles/{article['id']}/diff", {"from": 1, "to": 2})):
            r = await client.get(path, params=params, headers=vendor)
            assert r.status_code == (200 if sees else 404), (key, path, params, r.text)
    # the other vendor reads its own product, and not ours
    other = token(infra, "vendor", vendor=b)
    assert (await client.get(f"/v1/articles/{published[theirs]['id']}", headers=other)).status_code == 200
    assert (await client.get(f"/v1/articles/{published[ours]['id']}", headers=other)).status_code == 404
    # no vendor claim: nothing
    bare = token(infra, "vendor")
    assert (await client.get("/v1/articles", params={"limit": 200}, headers=bare)).json()["items"] == []
    assert (await client.get(f"/v1/articles/{published[ours]['id']}", headers=bare)).status_code == 404
    # an agent who is also a vendor reads as an agent
    both = token(infra, "vendor", "agent", vendor=a)
    assert (await client.get(f"/v1/articles/{published[theirs]['id']}", headers=both)).status_code == 200

    # lifecycle moves the product to another vendor (PATCH → a newer announcement): the old vendor loses it
    await announce(infra, "knowledge", ours, b, sequence=2)
    assert (await client.get(f"/v1/articles/{published[ours]['id']}", headers=vendor)).status_code == 404
    assert (await client.get(f"/v1/articles/{published[ours]['id']}", headers=other)).status_code == 200


async def test_a_customer_reads_only_the_versions_meant_for_customers(client, infra):
    code = product()
    article = await write(client, infra, code)  # v1 internal draft
    r = await client.put(f"/v1/articles/{article['id']}", json={
        "title": "审批提交失败怎么办", "body": "请先将客户端升级到最新版本，再重新提交。", "audience": "customer",
        "note": "改写为客户可读的说法"}, headers={**token(infra, "agent"), "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    published = await publish(client, infra, r.json())  # v3 customer published
    channel = token(infra, "intake")
    got = (await client.get(f"/v1/articles/{article['id']}", headers=channel)).json()
    assert [v["version"] for v in got["versions"]] == [3] and got["audience"] == "customer"
    assert (await client.get(f"/v1/articles/{article['id']}", params={"version": 1},
                             headers=channel)).status_code == 404
    assert (await client.get(f"/v1/articles/{article['id']}/diff", params={"from": 1, "to": 3},
                             headers=channel)).status_code == 404
    staff = (await client.get(f"/v1/articles/{article['id']}", headers=token(infra, "analyst"))).json()
    assert [(v["version"], v["audience"], v["state"], v["note"], v["changed_by"]) for v in staff["versions"]] == [
        (1, "internal", "draft", None, "agent-test"), (2, "customer", "draft", "改写为客户可读的说法", "agent-test"),
        (3, "customer", "published", "核对无误", "product_manager-test")]
    assert published["version"] == 3


async def test_a_diff_between_two_versions(client, infra):
    code = product()
    article = await write(client, infra, code)
    r = await client.put(f"/v1/articles/{article['id']}", json={
        "title": "审批提交失败的答复口径", "body": "1. 确认客户端版本不低于3.2.5\n2. 重新登录后再提交\n3. 仍失败的转产品经理",
        "tags": ["审批", "升级"], "audience": "account_manager", "note": "补充版本要求和转派"},
        headers={**token(infra, "complaint_handler"), "If-Match": "1"})
    assert r.status_code == 200, r.text
    reader = token(infra, "agent")
    d = await client.get(f"/v1/articles/{article['id']}/diff", params={"from": 1, "to": 2}, headers=reader)
    assert d.status_code == 200, d.text
    body = d.json()
    assert (body["from_version"]["version"], body["to_version"]["version"]) == (1, 2)
    assert body["to_version"]["note"] == "补充版本要求和转派"
    fields = body["fields"]
    assert fields["title"] == {"changed": False, "from": "审批提交失败的答复口径", "to": "审批提交失败的答复口径"}
    assert fields["tags"]["added"] == ["升级"] and fields["audience"]["to"] == "account_manager"
    assert fields["body"]["unified"].startswith("--- v1\n+++ v2\n@@")
    assert [c["op"] for c in fields["body"]["changes"]] == ["replace", "insert"]
    assert fields["body"]["changes"][1]["added"] == ["3. 仍失败的转产品经理"]

    for params, status, field in [({"from": 1, "to": 9}, 404, None), ({"from": 1}, 422, "query.to"),
                                  ({"to": 2}, 422, "query.from"), ({"from": "x", "to": 2}, 422, "query.from"),
                                  ({"from": 0, "to": 2}, 422, "query.from")]:
        r = await client.get(f"/v1/articles/{article['id']}/diff", params=params, headers=reader)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        if field:
            assert field in {e["field"] for e in r.json()["errors"]}
    r = await client.get("/v1/articles/KB-999999/diff", params={"from": 1, "to": 2}, headers=reader)
    assert r.status_code == 404


async def test_every_change_needs_if_match(client, infra):
    code = product()
    article = await write(client, infra, code)
    id = article["id"]
    pm = token(infra, "product_manager", products=[code])
    edit = {"title": "t", "body": "b", "note": "为什么改"}
    for method, path, headers, body in [("PUT", f"/v1/articles/{id}", token(infra, "agent"), edit),
                                        ("POST", f"/v1/articles/{id}/publish", pm, None),
                                        ("POST", f"/v1/articles/{id}/archive", pm, None)]:
        for if_match in (None, "*"):
            sent = {**headers, **({"If-Match": if_match} if if_match else {})}
            r = await client.request(method, path, json=body, headers=sent)
            assert r.status_code == 428, (path, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"] == "/problems/precondition-required"
        r = await client.request(method, path, json=body, headers={**headers, "If-Match": '"7"'})
        assert r.status_code == 412 and r.json()["current_version"] == 1
        r = await client.request(method, path, json=body, headers={**headers, "If-Match": "abc"})
        assert r.status_code == 400
    got = (await client.get(f"/v1/articles/{id}", headers=token(infra, "agent"))).json()
    assert (got["version"], got["state"]) == (1, "draft")  # nothing was written


async def test_an_edit_says_why_and_bad_input_writes_nothing(client, infra):
    code = product()
    article = await write(client, infra, code)
    headers = {**token(infra, "agent"), "If-Match": "1"}
    r = await client.put(f"/v1/articles/{article['id']}", json={"title": "t", "body": "b"}, headers=headers)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"note"}
    r = await client.put(f"/v1/articles/{article['id']}", json={"title": "t", "body": "b", "note": " ",
                                                                "audience": "everyone"}, headers=headers)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"note", "audience"}
    r = await client.post("/v1/articles", json={"type": "faq", "product_code": code, "title": "t", "body": "b",
                                                "audience": "public"}, headers=token(infra, "agent"))
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"audience"}
    r = await client.post(f"/v1/articles/{article['id']}/publish", json={"note": "x" * 501},
                          headers={**token(infra, "admin"), "If-Match": "1"})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"note"}
    got = (await client.get(f"/v1/articles/{article['id']}", headers=token(infra, "agent"))).json()
    assert got["version"] == 1
    listed = (await client.get("/v1/articles", params={"product_code": code}, headers=token(infra, "agent"))).json()
    assert len(listed["items"]) == 1


async def test_publish_and_archive_by_the_product_manager_of_the_product_or_an_admin(client, infra):
    code = product()
    own_pm = token(infra, "product_manager", products=[code])
    other_pm = token(infra, "product_manager", products=["another"])
    article = await write(client, infra, code)
    for who in (other_pm, token(infra, "agent"), token(infra, "complaint_handler")):
        r = await client.post(f"/v1/articles/{article['id']}/publish", headers={**who, "If-Match": "1"})
        assert r.status_code == 403, r.text
    async with captured(infra, "knowledge.article.*") as received:
        r = await client.post(f"/v1/articles/{article['id']}/publish", headers={**own_pm, "If-Match": "1"})
        assert r.status_code == 200, r.text
        r = await client.post(f"/v1/articles/{article['id']}/archive", json={"note": "产品下线"},
                              headers={**token(infra, "admin"), "If-Match": "2"})
        assert r.status_code == 200, r.text
        assert r.json()["versions"][-1]["note"] == "产品下线"

        async def two():
            ours = [e for e in await received() if e["subject"] == article["id"]]
            return ours if len(ours) >= 2 else None

        events = await eventually(two, what="published and archived")
    assert [(e["type"], e["data"]["audience"]) for e in events] == [
        ("knowledge.article.published", "internal"), ("knowledge.article.archived", "internal")]
    general = await write(client, infra, None, type="training", title="投诉受理规范")
    r = await client.post(f"/v1/articles/{general['id']}/publish", headers={**other_pm, "If-Match": "1"})
    assert r.status_code == 200, r.text


async def test_a_product_manager_writes_for_their_own_products(client, infra):
    code = product()
    body = {"type": "faq", "product_code": code, "title": "如何导入", "body": "下载模板后上传。"}
    r = await client.post("/v1/articles", json=body, headers=token(infra, "product_manager", products=["another"]))
    assert r.status_code == 403
    r = await client.post("/v1/articles", json=body, headers=token(infra, "product_manager", products=[code]))
    assert r.status_code == 201, r.text
    r = await client.put(f"/v1/articles/{r.json()['id']}", json={**{k: body[k] for k in ("title", "body")},
                                                                  "note": "n"},
                         headers={**token(infra, "product_manager", products=["another"]), "If-Match": "1"})
    assert r.status_code == 403
