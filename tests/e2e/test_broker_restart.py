"""A broker restart loses nothing (SPEC §6; deploy/README.md, "Upgrading without losing messages").

While RabbitMQ is down, ticketing goes on taking and closing tickets: their events wait in its outbox. When the
broker is back, the relay publishes them, the knowledge worker's consumer has reconnected, and every closed ticket
counts exactly once. The test stops and starts the local broker (`rabbitmqctl stop_app` / `start_app`), so it runs
only where the session uses the machine's own RabbitMQ.
"""

from __future__ import annotations

import subprocess
import uuid

import httpx
import pytest

import devstack
from contracts.events import Envelope, ProductRegistered
from services.kit.store import OUTBOX_PENDING
from services.knowledge.store.collections import CANDIDATES
from services.ticketing.store.collections import TICKETS
from tests.support import database, eventually, publish, token

pytestmark = pytest.mark.e2e


def rabbitmqctl(*args: str) -> None:
    ctl = devstack._find_executable("rabbitmqctl")
    assert ctl, "rabbitmqctl not found"
    subprocess.run([ctl, *args], check=True, capture_output=True, timeout=120)


async def close_ticket(client: httpx.AsyncClient, body: dict) -> str:
    r = await client.post("/v1/tickets", json=body)
    assert r.status_code == 201, r.text
    ticket_id = r.json()["id"]
    for action, payload in (("assign", {"assignee": "agent-1"}),
                            ("resolve", {"answer": "使用手机号和短信验证码登录。", "cause": "other"}),
                            ("feedback", {"satisfied": True, "score": 5})):
        r = await client.post(f"/v1/tickets/{ticket_id}/{action}", json=payload)
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    return ticket_id


async def test_tickets_closed_while_the_broker_is_down_all_arrive_once_it_is_back(infra, processes):
    if "local" not in infra.backend or infra.amqp_url != devstack.DEFAULT_AMQP_URL:
        pytest.skip("restarts the broker: only the machine's own RabbitMQ can be restarted by the test")
    code = "restart_" + uuid.uuid4().hex[:6]
    body = {"kind": "consultation", "channel": "call_center", "product_code": code, "city": "济南",
            "industry": "government", "title": "如何登录移动办公？", "description": "客户询问登录方式",
            "customer": {"name": "张三", "contact": "13800000000", "group_name": "济南市某局"}}
    ticketing = processes.start("ticketing", "ticketing")
    processes.start("knowledge", "knowledge-worker", "--role", "worker")
    await publish(infra, Envelope.wrap(
        ProductRegistered(code=code, name="重启测试产品", stage="delivered", vendor="vendor-a"),
        type="lifecycle.product.registered", source="lifecycle", subject=code, sequence=1, correlationid="test"))

    async with httpx.AsyncClient(base_url=ticketing.url, headers=token(infra, "agent")) as client, \
            database(infra, "knowledge") as knowledge, database(infra, "ticketing") as ticketing_db:

        async def knows_product():
            return (await client.post("/v1/tickets", json={**body, "title": "probe"})).status_code == 201

        await eventually(knows_product, timeout=30, what="ticketing knows the product")
        before = [await close_ticket(client, body) for _ in range(3)]

        async def counted() -> int:
            doc = await knowledge[CANDIDATES].find_one({"product_code": code, "question": body["title"]})
            return doc["occurrences"] if doc else 0

        await eventually(lambda: _equals(counted, len(before)), timeout=30, what="closes counted before the restart")

        rabbitmqctl("stop_app")
        try:
            during = [await close_ticket(client, body) for _ in range(5)]  # the API needs only the store
            assert (await client.get("/readyz")).status_code == 503  # no broker: not ready for new traffic
            assert await ticketing_db[TICKETS].count_documents({"_id": {"$in": during}, OUTBOX_PENDING: True}) == 5
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")

        await eventually(lambda: _equals(counted, len(before) + len(during)), timeout=90,
                         what="the closes made while the broker was down, counted once it is back")
        after = await close_ticket(client, body)
        await eventually(lambda: _equals(counted, len(before) + len(during) + 1), timeout=30,
                         what="a close after the restart")
        doc = await knowledge[CANDIDATES].find_one({"product_code": code, "question": body["title"]})
        assert sorted(doc["ticket_ids"]) == sorted([*before, *during, after])
        assert await ticketing_db[TICKETS].count_documents({OUTBOX_PENDING: True}) == 0


async def _equals(probe, n: int) -> bool:
    return await probe() == n
