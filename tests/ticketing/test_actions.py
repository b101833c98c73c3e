"""Ticket actions of concurrent requests, written in shared batches: each answer is its own, If-Match holds."""

from __future__ import annotations

import asyncio
import uuid

from services.ticketing.main import create
from services.ticketing.settings import Settings
from tests.support import eventually, running, settings_for, token
from tests.ticketing.test_intake import register, ticket


async def test_concurrent_actions_each_get_their_own_answer_and_if_match_holds(infra):
    app = create(settings_for(Settings, infra, "ticketing-actions"))
    async with running(app) as client:
        product = "p_" + uuid.uuid4().hex[:8]
        await register(infra, product)
        staff = token(infra, "agent")

        async def opened():
            r = await client.post("/v1/tickets", json=ticket(product), headers=staff)
            return r.json()["id"] if r.status_code == 201 else None

        first = await eventually(opened, what="the catalog knows the product")
        ids = [first, *[(await client.post("/v1/tickets", json=ticket(product), headers=staff)).json()["id"]
                        for _ in range(9)]]
        answers = await asyncio.gather(*(client.post(f"/v1/tickets/{tid}/assign", json={"assignee": f"agent-{tid}"},
                                                     headers=staff) for tid in ids))
        assert [(r.status_code, r.json()["id"], r.json()["assignee"]) for r in answers] == \
            [(200, tid, f"agent-{tid}") for tid in ids]

        target = ids[0]  # version 2 after the assignment: two requests that both read it
        racing = await asyncio.gather(*(client.post(f"/v1/tickets/{target}/notes", json={"body": f"进展{i}"},
                                                    headers={"If-Match": '"2"', **staff}) for i in range(2)))
        assert sorted(r.status_code for r in racing) == [200, 412]
        assert (await client.get(f"/v1/tickets/{target}", headers=staff)).json()["version"] == 3

        missing = await client.post("/v1/tickets/ZX-20000101-99999/assign", json={"assignee": "x"}, headers=staff)
        assert missing.status_code == 404
        manager = token(infra, "account_manager", city="济南", sub="am-jn")  # the tickets are 青岛's
        assert (await client.post(f"/v1/tickets/{target}/notes", json={"body": "x"},
                                  headers=manager)).status_code == 403
