"""ticketing against the real broker and store: intake, idempotency, actions, scopes, events out."""

import asyncio
import json

import aio_pika
import pytest

from contracts.events import EXCHANGE
from services.ticketing.main import create
from services.ticketing.settings import Settings
from tests.support import catalog_learns, publish, running, settings_for, token

PRODUCT = "mobile_office"


def complaint(**overrides):
    body = {"kind": "complaint", "channel": "account_manager", "product_code": PRODUCT, "city": "济南",
            "industry": "government", "title": "移动办公无法登录", "description": "客户反映移动办公登录失败，提示密码错误",
            "customer": {"name": "张三", "contact": "13800000000", "group_name": "济南市某局"}}
    return {**body, **overrides}


@pytest.fixture(scope="module")
async def ticket_events(infra):
    """A queue bound to every ticket event of this session, declared before the service starts."""
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(f"{infra.namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="ticket.*")
    yield queue
    await connection.close()


@pytest.fixture(scope="module")
async def api(infra, ticket_events):
    app = create(settings_for(Settings, infra, "ticketing"))
    async with running(app) as client:
        staff = token(infra, "agent")
        await catalog_learns(infra, client, PRODUCT, complaint(title="probe"), staff)
        yield client


async def drain(queue, ticket_id, timeout=5.0, quiet=0.5):
    """Events of one ticket received so far: waits until none has arrived for `quiet` seconds (the relay may
    publish a ticket's events over several passes)."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_arrival = loop.time()
    while loop.time() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            if seen and loop.time() - last_arrival >= quiet:
                break
            await asyncio.sleep(0.05)
            continue
        last_arrival = loop.time()
        envelope = json.loads(message.body)
        if envelope["subject"] == ticket_id:
            seen.append(envelope)
    return seen


async def test_unknown_product_and_city_are_422_problems(api, infra):
    staff = token(infra, "agent")
    r = await api.post("/v1/tickets", json=complaint(product_code="no_such_product"), headers=staff)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "product_code"
    r = await api.post("/v1/tickets", json=complaint(city="北京"), headers=staff)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "city"
    r = await api.post("/v1/tickets", json=complaint(severity=1), headers=staff)
    assert r.status_code == 422


async def test_idempotent_intake(api, infra):
    intake = token(infra, "intake", sub="crm-1")
    key = {"Idempotency-Key": "crm-1-abc", **intake}
    first = await api.post("/v1/tickets", json=complaint(), headers=key)
    again = await api.post("/v1/tickets", json=complaint(), headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await api.post("/v1/tickets", json=complaint(title="另一个问题"), headers=key)
    assert other.status_code == 409
    mine = await api.get("/v1/tickets", headers=intake)
    assert [t["id"] for t in mine.json()["items"]] == [first.json()["id"]]


async def test_actions_follow_the_status_machine_and_emit_one_event_each(api, infra, ticket_events):
    staff = token(infra, "complaint_handler")
    created = (await api.post("/v1/tickets", json=complaint(), headers=staff)).json()
    tid = created["id"]
    assert tid.startswith("TS-") and created["status"] == "new" and created["tier"] == 1
    assert created["sla"]["respond_by"] < created["sla"]["resolve_by"]

    r = await api.post(f"/v1/tickets/{tid}/resolve", json={"answer": "x", "cause": "other"}, headers=staff)
    assert r.status_code == 409 and r.json()["ticket_status"] == "new"
    r = await api.post(f"/v1/tickets/{tid}/assign", json={"assignee": "handler-1"}, headers={"If-Match": "7", **staff})
    assert r.status_code == 412
    r = await api.post(f"/v1/tickets/{tid}/assign", json={"assignee": "handler-1"}, headers={"If-Match": "1", **staff})
    assert r.status_code == 200 and r.json()["status"] == "in_progress" and r.headers["ETag"] == '"2"'
    r = await api.post(f"/v1/tickets/{tid}/escalate", json={"tier": 2, "target": "pm-01", "reason": "查证"}, headers=staff)
    assert r.json()["status"] == "escalated"
    r = await api.post(f"/v1/tickets/{tid}/notes", json={"body": "处理中", "visibility": "requester"}, headers=staff)
    assert r.status_code == 200
    r = await api.post(f"/v1/tickets/{tid}/resolve", json={"answer": "请重置密码", "cause": "usage_misunderstanding"},
                       headers=staff)
    assert r.json()["status"] == "resolved"
    r = await api.post(f"/v1/tickets/{tid}/feedback", json={"satisfied": True, "score": 5}, headers=staff)
    assert r.json()["status"] == "closed" and r.json()["version"] == 6

    history = (await api.get(f"/v1/tickets/{tid}/history", headers=staff)).json()["items"]
    assert [h["action"] for h in history] == ["open", "assign", "escalate", "notes", "resolve", "feedback"]

    events = await drain(ticket_events, tid)
    assert [e["type"] for e in events] == ["ticket.opened", "ticket.assigned", "ticket.escalated",
                                           "ticket.progress_noted", "ticket.resolved", "ticket.closed"]
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5, 6]
    closed = events[-1]["data"]
    assert closed["answer"] == "请重置密码" and closed["cause"] == "usage_misunderstanding"
    assert closed["tier_reached"] == 2 and closed["satisfied"] is True and closed["description"]


async def test_scopes(api, infra):
    staff = token(infra, "agent")
    jinan = (await api.post("/v1/tickets", json=complaint(), headers=staff)).json()
    qingdao_manager = token(infra, "account_manager", city="青岛", sub="am-qd")
    assert (await api.get(f"/v1/tickets/{jinan['id']}", headers=qingdao_manager)).status_code == 403
    assert all(t["city"] == "青岛" for t in
               (await api.get("/v1/tickets", headers=qingdao_manager)).json()["items"])
    r = await api.post("/v1/tickets", json=complaint(), headers=qingdao_manager)
    assert r.status_code == 403
    r = await api.post("/v1/tickets", json=complaint(city="青岛"), headers=qingdao_manager)
    assert r.status_code == 201

    vendor = token(infra, "vendor", vendor="vendor-a")
    assert (await api.get(f"/v1/tickets/{jinan['id']}", headers=vendor)).status_code == 403
    await api.post(f"/v1/tickets/{jinan['id']}/escalate", json={"tier": 3, "target": "vendor-a", "reason": "厂家"},
                   headers=staff)
    assert (await api.get(f"/v1/tickets/{jinan['id']}", headers=vendor)).status_code == 200

    assert (await api.get("/v1/tickets")).status_code == 401
    assert (await api.get("/v1/tickets", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    analyst = token(infra, "analyst")
    r = await api.post(f"/v1/tickets/{jinan['id']}/assign", json={"assignee": "x"}, headers=analyst)
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"


async def test_list_filters_and_cursor(api, infra):
    staff = token(infra, "agent")
    for i in range(3):
        await api.post("/v1/tickets", json=complaint(kind="consultation", title=f"分页测试{i}", city="烟台"), headers=staff)
    seen, cursor = [], None
    while True:
        params = {"city": "烟台", "kind": "consultation", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/tickets", params=params, headers=staff)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 3 and all(s.startswith("ZX-") for s in seen)
    r = await api.get("/v1/tickets", params={"q": "分页测试1"}, headers=staff)
    assert [t["title"] for t in r.json()["items"]] == ["分页测试1"]
    assert (await api.get("/v1/tickets", params={"limit": 500}, headers=staff)).status_code == 422


async def test_list_filters_by_assignee_tier_and_pending(api, infra):
    staff = token(infra, "agent")
    city = "威海"
    ids = []
    for i in range(3):
        r = await api.post("/v1/tickets", json=complaint(title=f"筛选测试{i}", city=city), headers=staff)
        ids.append(r.json()["id"])
    await api.post(f"/v1/tickets/{ids[0]}/assign", json={"assignee": "agent-wh-1"}, headers=staff)
    await api.post(f"/v1/tickets/{ids[1]}/assign", json={"assignee": "agent-wh-2"}, headers=staff)
    r = await api.post(f"/v1/tickets/{ids[1]}/escalate", json={"tier": 2, "target": "pm-1", "reason": "需产品经理"},
                       headers=staff)
    assert r.status_code == 200

    async def listed(**params):
        r = await api.get("/v1/tickets", params={"city": city, **params}, headers=staff)
        assert r.status_code == 200, r.text
        return {t["id"] for t in r.json()["items"]}

    assert await listed(assignee="agent-wh-1") == {ids[0]}
    assert await listed(tier=2) == {ids[1]}
    assert await listed(tier=1) == {ids[0], ids[2]}
    assert await listed(pending="false") == set(ids)
    assert await listed(pending="true") == set()
    assert await listed(pending="true", status="new") == set()
    assert await listed(pending="false", status="new") == {ids[2]}
    r = await api.get("/v1/tickets", params={"tier": 4}, headers=staff)
    assert r.status_code == 422 and "tier" in r.text
