"""SPEC's headline loop through the public API of the four running services:

a complaint is filed (idempotent replay, 422 on a bad city), assigned, escalated to tier 2, resolved;
unsatisfied feedback reopens it; it is resolved again and satisfied feedback closes it. Then the knowledge
candidates list it and the analytics summary counts it; a closed suggestion lands in lifecycle's backlog.
"""

from __future__ import annotations


import httpx
import pytest

from tests.support import eventually, token

pytestmark = pytest.mark.e2e
PRODUCT = "mobile_office"  # 移动办公, seeded by lifecycle from the source document


@pytest.fixture(scope="module")
async def http(stack):
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def file_when_catalog_known(http, stack, body, headers):
    """ticketing learns the catalog from lifecycle's start-up events: retry 422 'unknown product' briefly."""
    async def attempt():
        r = await http.post(f"{stack.urls['ticketing']}/v1/tickets", json=body, headers=headers)
        return r if r.status_code != 422 else None
    return await eventually(attempt, timeout=15, what="ticketing knows the seeded catalog")


async def test_closed_complaint_reaches_knowledge_and_analytics(stack, http, infra):
    t = stack.urls["ticketing"]
    intake = token(infra, "intake", sub="crm-callcenter")
    handler = token(infra, "complaint_handler", sub="handler-1", name="李投诉")
    pm = token(infra, "product_manager", sub="pm-01", products=[PRODUCT])
    complaint = {"kind": "complaint", "channel": "call_center", "product_code": PRODUCT, "city": "济南",
                 "industry": "government", "title": "移动办公考勤打卡失败",
                 "description": "客户反映移动办公考勤打卡一直提示定位失败",
                 "customer": {"name": "张三", "contact": "13800000000", "group_name": "济南市某局"}}

    r = await http.post(f"{t}/v1/tickets", json={**complaint, "city": "北京"}, headers=intake)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")

    filed = await file_when_catalog_known(http, stack, complaint, {**intake, "Idempotency-Key": "call-0001"})
    assert filed.status_code == 201
    ticket = filed.json()
    tid = ticket["id"]
    assert tid.startswith("TS-") and ticket["status"] == "new" and ticket["tier"] == 1
    replay = await http.post(f"{t}/v1/tickets", json=complaint, headers={**intake, "Idempotency-Key": "call-0001"})
    assert replay.status_code == 201 and replay.json()["id"] == tid

    async def act(action, body, who, expect):
        r = await http.post(f"{t}/v1/tickets/{tid}/{action}", json=body, headers=who)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == expect
        return r.json()

    await act("assign", {"assignee": "handler-1"}, handler, "in_progress")
    await act("escalate", {"tier": 2, "target": "pm-01", "reason": "需产品经理查证定位问题"}, handler, "escalated")
    await act("resolve", {"answer": "请在手机设置中为移动办公开启定位权限", "cause": "usage_misunderstanding"}, pm, "resolved")
    reopened = await act("feedback", {"satisfied": False, "score": 2, "comment": "开了权限还是失败"}, intake, "in_progress")
    assert reopened["reopen_count"] == 1 and reopened["tier"] == 1
    await act("resolve", {"answer": "请开启定位权限并将移动办公加入省电白名单", "cause": "usage_misunderstanding"},
              handler, "resolved")
    closed = await act("feedback", {"satisfied": True, "score": 5}, intake, "closed")
    assert closed["tier_reached"] == 2 and closed["version"] == 7

    analyst = token(infra, "analyst")

    async def candidate():
        r = await http.get(f"{stack.urls['knowledge']}/v1/candidates", params={"product_code": PRODUCT}, headers=handler)
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["items"] if tid in c["ticket_ids"]), None)

    faq = await eventually(candidate, timeout=10, what="knowledge lists the closed complaint as a candidate")
    assert faq["type"] == "faq" and faq["occurrences"] == 1

    async def summary():
        r = await http.get(f"{stack.urls['analytics']}/v1/metrics/summary",
                           params={"product_code": PRODUCT, "kind": "complaint"}, headers=analyst)
        assert r.status_code == 200, r.text
        return r.json() if r.json()["closed"] == 1 else None

    # one hop more than the read model: the counters job (every second) folds the close into the figures
    figures = await eventually(summary, timeout=30, what="analytics counts the closed complaint")
    assert figures["opened"] == 1 and figures["resolved"] == 1 and figures["backlog"] == 0
    assert figures["satisfaction_rate"] == 1.0 and figures["reopen_rate"] == 1.0
    assert figures["escalation_rate"]["tier2"] == 1.0 and figures["as_of"]


async def test_closed_suggestion_lands_in_the_product_backlog(stack, http, infra):
    t = stack.urls["ticketing"]
    agent = token(infra, "agent", sub="agent-1")
    body = {"kind": "suggestion", "channel": "account_manager", "product_code": PRODUCT, "city": "青岛",
            "title": "希望移动办公支持批量导入通讯录", "description": "集团客户希望支持 Excel 批量导入",
            "customer": {"name": "李四", "group_name": "青岛某制造企业"}}
    tid = (await file_when_catalog_known(http, stack, body, agent)).json()["id"]
    assert tid.startswith("JY-")
    for action, payload in (("assign", {"assignee": "agent-1"}),
                            ("resolve", {"answer": "已纳入优化需求", "cause": "feature_request"}),
                            ("feedback", {"satisfied": True})):
        r = await http.post(f"{t}/v1/tickets/{tid}/{action}", json=payload, headers=agent)
        assert r.status_code == 200, r.text

    pm = token(infra, "product_manager", products=[PRODUCT])

    async def backlog_item():
        r = await http.get(f"{stack.urls['lifecycle']}/v1/products/{PRODUCT}/backlog", headers=pm)
        assert r.status_code == 200, r.text
        return next((i for i in r.json()["items"] if tid in i["ticket_ids"]), None)

    item = await eventually(backlog_item, timeout=10, what="lifecycle's backlog lists the closed suggestion")
    assert item["count"] == 1


@pytest.mark.parametrize("service,path", [("ticketing", "/v1/tickets"), ("lifecycle", "/v1/products"),
                                          ("knowledge", "/v1/candidates"), ("analytics", "/v1/metrics/summary")])
async def test_every_service_answers_401_without_a_token(stack, http, service, path):
    r = await http.get(stack.urls[service] + path)
    assert r.status_code == 401 and r.json()["status"] == 401


async def test_roles_and_scopes_are_enforced_across_services(stack, http, infra):
    vendor = token(infra, "vendor", vendor="vendor-zz")
    r = await http.get(f"{stack.urls['analytics']}/v1/metrics/summary", headers=vendor)
    assert r.status_code == 403
    r = await http.post(f"{stack.urls['knowledge']}/v1/articles", headers=vendor,
                        json={"type": "faq", "title": "t", "body": "b", "product_code": PRODUCT})
    assert r.status_code == 403
    analyst = token(infra, "analyst")
    r = await http.post(f"{stack.urls['ticketing']}/v1/tickets", headers=analyst, json={
        "kind": "consultation", "channel": "customer", "product_code": PRODUCT, "city": "济南", "title": "t",
        "description": "d", "customer": {"name": "n", "group_name": "g"}})
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"
    r = await http.get(f"{stack.urls['ticketing']}/v1/tickets", headers=vendor)
    assert r.status_code == 200 and r.json()["items"] == []


async def test_health_and_metrics(stack, http):
    for url in stack.urls.values():
        assert (await http.get(f"{url}/healthz")).status_code == 200
        assert (await http.get(f"{url}/readyz")).json()["checks"] == {"store": True, "broker": True}
        assert "ops_http_requests_total" in (await http.get(f"{url}/metrics")).text
