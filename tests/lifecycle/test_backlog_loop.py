"""The backlog's closed loop against the real broker and store: items grown from closed tickets are prioritised,
planned into the vendor's work, shipped with a release (announced once through the item's outbox) or declined."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.vocabulary import Kind
from services.lifecycle.domain import backlog
from services.lifecycle.main import create
from services.lifecycle.settings import Settings
from tests.lifecycle.stages import new_product
from tests.lifecycle.test_api import closed
from tests.support import captured, eventually, publish, running, settings_for, token

PM = "pm-loop"


@pytest.fixture
def app(infra):
    return create(settings_for(Settings, infra, "lifecycle"))


async def grown_item(client, infra, code: str, title: str, tickets: int = 2) -> dict:
    ids = [f"JY-{uuid.uuid4().hex[:8]}" for _ in range(tickets)]
    await publish(infra, *(closed(t, title=title, product_code=code, kind=Kind.suggestion) for t in ids))

    async def item():
        body = (await client.get(f"/v1/products/{code}/backlog/loop", headers=token(infra, "agent"))).json()
        return next((i for i in body.get("items", []) if i["count"] == tickets), None)

    return await eventually(item, what="backlog item grown from tickets")


async def test_an_item_goes_round_the_loop_and_its_release_is_announced_once(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, vendor="vendor-loop")
        item = await grown_item(client, infra, code, "希望支持批量导入")
        assert item["state"] == "new" and item["state_label"] == "待评估"
        base = f"/v1/products/{code}/backlog/{item['id']}"
        headers = token(infra, "product_manager", sub=PM)

        early = await client.post(f"{base}/done", json={"release": "v2.3"}, headers=headers)
        assert early.status_code == 409 and early.json()["type"] == "/problems/wrong-state"
        not_yet = await client.post(f"{base}/plan", json={}, headers=headers)
        assert not_yet.status_code == 409

        prioritised = await client.post(f"{base}/prioritise", json={"priority": "P2"}, headers=headers)
        assert prioritised.status_code == 200, prioritised.text
        assert (prioritised.json()["state"], prioritised.json()["priority_label"]) == ("prioritised", "高")
        planned = await client.post(f"{base}/plan", json={"due": "2027-01-31", "work_ref": "XQ-118"}, headers=headers)
        assert planned.json()["plan"] == {"vendor": "vendor-loop", "due": "2027-01-31", "work_ref": "XQ-118"}
        again = await client.post(f"{base}/prioritise", json={"priority": "P1"}, headers=headers)
        assert again.json()["state"] == "planned" and again.json()["priority"] == "P1"

        async with captured(infra, "lifecycle.backlog_item.shipped") as received:
            shipped = await client.post(f"{base}/done", json={"release": "v2.3.0"}, headers=headers)
            assert shipped.status_code == 200, shipped.text
            body = shipped.json()
            assert body["state"] == "done" and body["release"]["version"] == "v2.3.0"
            assert sorted(body["told_ticket_ids"]) == sorted(item["ticket_ids"])
            assert [h["action"] for h in body["history"]] == ["prioritise", "plan", "prioritise", "done"]
            events = await eventually(received, what="shipped event")
            assert len(events) == 1
            data = events[0]["data"]
            assert (data["product_code"], data["item_id"], data["release"]) == (code, item["id"], "v2.3.0")
            assert sorted(data["ticket_ids"]) == sorted(item["ticket_ids"])
            assert events[0]["sequence"] == 4
            twice = await client.post(f"{base}/done", json={"release": "v2.3.1"}, headers=headers)
            assert twice.status_code == 409

        loop = (await client.get(f"/v1/products/{code}/backlog/loop", params={"state": "done"},
                                 headers=token(infra, "vendor", vendor="vendor-loop"))).json()
        assert [i["id"] for i in loop["items"]] == [item["id"]]
        assert loop["counts"]["done"] == 1 and loop["tickets_told"] == 2 and loop["tickets_raised"] == 2
        # the existing backlog list still reads the item
        listed = (await client.get(f"/v1/products/{code}/backlog", headers=token(infra, "agent"))).json()
        assert [i["id"] for i in listed["items"]] == [item["id"]]


async def test_decline_then_reconsider_and_new_items_filter(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM)
        item = await grown_item(client, infra, code, "希望增加夜间模式", tickets=1)
        headers = token(infra, "admin")
        base = f"/v1/products/{code}/backlog/{item['id']}"
        declined = await client.post(f"{base}/decline", json={"reason": "与统一规划冲突"}, headers=headers)
        assert declined.json()["state"] == "declined" and declined.json()["declined_reason"] == "与统一规划冲突"
        assert (await client.post(f"{base}/plan", json={}, headers=headers)).status_code == 409
        new = (await client.get(f"/v1/products/{code}/backlog/loop", params={"state": "new"},
                                headers=headers)).json()
        assert new["items"] == [] and new["counts"]["declined"] == 1
        back = await client.post(f"{base}/prioritise", json={"priority": "P4"}, headers=headers)
        assert back.json()["state"] == "prioritised" and back.json()["declined_reason"] is None


async def test_loop_routes_need_a_token_the_right_role_and_good_input(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, vendor="vendor-loop")
        item = await grown_item(client, infra, code, "希望导出报表", tickets=1)
        base = f"/v1/products/{code}/backlog/{item['id']}"
        writes = [("prioritise", {"priority": "P1"}), ("plan", {}), ("done", {"release": "v1"}),
                  ("decline", {"reason": "不做"})]
        for action, body in writes:
            assert (await client.post(f"{base}/{action}", json=body)).status_code == 401
            for headers in (token(infra, "agent"), token(infra, "vendor", vendor="vendor-loop"),
                            token(infra, "product_manager", sub="pm-other")):
                response = await client.post(f"{base}/{action}", json=body, headers=headers)
                assert response.status_code == 403, (action, response.text)
        for path in (f"/v1/products/{code}/backlog/loop", base):
            assert (await client.get(path)).status_code == 401
            assert (await client.get(path, headers=token(infra, "intake"))).status_code == 403
        headers = token(infra, "product_manager", sub=PM)
        future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        cases = [("prioritise", {"priority": "urgent"}, "priority"), ("prioritise", {"priority": "P1", "x": 1}, "x"),
                 ("plan", {"due": "soon"}, "due"), ("done", {"release": ""}, "release"),
                 ("done", {"release": "v1", "shipped_at": future}, "shipped_at"), ("decline", {"reason": "  "}, "reason")]
        for action, body, field in cases:
            response = await client.post(f"{base}/{action}", json=body, headers=headers)
            assert response.status_code == 422, (action, response.text)
            assert response.json()["errors"][0]["field"] == field
        missing = await client.post(f"/v1/products/{code}/backlog/{code}:nope/prioritise", json={"priority": "P1"},
                                    headers=headers)
        assert missing.status_code == 404
        other = await client.get(f"/v1/products/mobile_office/backlog/{item['id']}", headers=headers)
        assert other.status_code == 404
        bad_state = await client.get(f"/v1/products/{code}/backlog/loop", params={"state": "shipped"}, headers=headers)
        assert bad_state.status_code == 422
        stored = (await client.get(base, headers=headers)).json()
        assert stored["state"] == "new" and stored["history"] == []


def test_the_loop_rules():
    now = datetime.now(UTC)
    item = {"_id": "p:1", "ticket_ids": ["a", "b"]}
    assert backlog.state_of(item) == "new"
    with pytest.raises(backlog.NotAllowed):
        backlog.act(item, "done", by="pm", at=now, release={"version": "v1"})
    p = backlog.act(item, "prioritise", by="pm", at=now, priority="P3")
    planned = backlog.act(p, "plan", by="pm", at=now, plan={"vendor": "v"})
    shipped = backlog.act(planned, "done", by="pm", at=now, release={"version": "v1", "shipped_at": now})
    assert shipped["state"] == "done" and backlog.loop_sequence(shipped) == 3
    counts = backlog.loop_counts([shipped, item])
    assert counts["by_state"]["done"] == 1 and counts["by_state"]["new"] == 1
    assert counts["tickets_raised"] == 4 and counts["tickets_told"] == 2
