"""The lifecycle service in-process against the session's real broker and store."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from pymongo import AsyncMongoClient

from contracts.events import EXCHANGE, Envelope, TicketClosed
from contracts.vocabulary import Cause, Kind
from services.lifecycle.main import create
from services.lifecycle.settings import Settings
from tests.support import eventually, publish, running, settings_for, token

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(infra):
    return create(settings_for(Settings, infra, "lifecycle"))


def closed(ticket_id: str, *, title: str, product_code: str = "mobile_office", kind=Kind.suggestion, cause=None,
           closed_at=T0) -> Envelope:
    ticket = TicketClosed(
        ticket_id=ticket_id, kind=kind, status="closed", channel="call_center", product_code=product_code,
        city="青岛", priority="normal", tier=1, tier_reached=2, opened_at=closed_at - timedelta(days=1),
        closed_at=closed_at, respond_by=closed_at, resolve_by=closed_at + timedelta(days=2), cause=cause,
        title=title, description=f"{title}(客户原话)", answer="已记录, 转产品经理评估")
    return Envelope.wrap(ticket, type="ticket.closed", source="ticketing", subject=ticket_id, sequence=5,
                         correlationid=str(uuid.uuid4()))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_routes_need_a_token(app):
    async with running(app) as client:
        for path in ("/v1/products", "/v1/products/mobile_office", "/v1/platforms", "/v1/products/mobile_office/backlog"):
            response = await client.get(path)
            assert response.status_code == 401, path
            assert response.headers["content-type"].startswith("application/problem+json")
        response = await client.get("/v1/products", headers={"Authorization": "Bearer not-a-jwt"})
        assert response.status_code == 401


async def test_the_seeded_catalog_is_listed(app, infra):
    headers = token(infra, "agent")
    async with running(app) as client:
        platforms = (await client.get("/v1/platforms", headers=headers)).json()["items"]
        assert {p["code"]: p["name"] for p in platforms} == {
            "cloud": "信息化云平台", "video": "视频监控平台", "card": "一卡通平台", "school": "校讯通平台"}
        assert all(p["product_count"] > 0 and p["stage_label"] == "交付" for p in platforms)

        product = (await client.get("/v1/products/mobile_office", headers=headers)).json()
        assert product["name"] == "移动办公" and product["platform_code"] == "cloud"
        assert product["sample"] is False and product["version"] == 1
        assert product["stage"] == "delivered" and product["stage_label"] == "交付"

        seen, cursor = [], None
        while True:
            response = await client.get("/v1/products", headers=headers,
                                        params={"limit": 10, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200
            body = response.json()
            seen += body["items"]
            if not (cursor := body["next_cursor"]):
                break
        codes = [p["code"] for p in seen]
        assert len(codes) == len(set(codes)) >= 35
        assert {"mobile_office", "group_directory", "field_force", "smart_campus"} <= set(codes)
        assert any(p["sample"] for p in seen)


async def test_product_filters(app, infra):
    headers = token(infra, "agent")
    async with running(app) as client:
        async def codes(**params) -> set[str]:
            response = await client.get("/v1/products", headers=headers, params={"limit": 200, **params})
            assert response.status_code == 200, response.text
            return {p["code"] for p in response.json()["items"]}

        school = await codes(platform_code="school")
        assert "smart_campus" in school and "mobile_office" not in school
        trial = await codes(stage="trial")
        assert "party_building" in trial and "mobile_office" not in trial
        assert await codes(q="通讯录") >= {"group_directory"}
        assert "mobile_office" in await codes(q="MOBILE")
        assert await codes(q=".*") == set()  # the text is searched literally
        assert await codes(platform_code="school", stage="development") >= {"homework_helper"}
        bad = await client.get("/v1/products", headers=headers, params={"stage": "launched"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.stage"


async def test_an_unknown_product_is_a_404_problem(app, infra):
    async with running(app) as client:
        response = await client.get("/v1/products/no_such_product", headers=token(infra, "agent"))
        assert response.status_code == 404
        assert response.json()["type"] == "/problems/product-not-found"
        backlog = await client.get("/v1/products/no_such_product/backlog", headers=token(infra, "agent"))
        assert backlog.status_code == 404


async def test_register_a_product_then_read_it(app, infra):
    code = f"smart_hall_{uuid.uuid4().hex[:6]}"
    pm = token(infra, "product_manager", sub="pm-42")
    async with running(app) as client:
        response = await client.post("/v1/products", headers=pm, json={
            "code": code, "name": "智慧营业厅", "platform_code": "cloud", "vendor": "vendor-07"})
        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"/v1/products/{code}"
        created = response.json()
        assert (created["stage"], created["stage_label"], created["version"]) == ("demand", "需求提出", 1)
        assert created["product_managers"] == ["pm-42"] and created["sample"] is False

        fetched = await client.get(f"/v1/products/{code}", headers=token(infra, "agent"))
        assert fetched.status_code == 200 and fetched.json() == created
        listed = await client.get("/v1/products", headers=token(infra, "agent"), params={"stage": "demand", "limit": 200})
        assert code in {p["code"] for p in listed.json()["items"]}

        again = await client.post("/v1/products", headers=token(infra, "admin"), json={"code": code, "name": "别的"})
        assert again.status_code == 409 and again.json()["type"] == "/problems/product-exists"
        platform_code = await client.post("/v1/products", headers=pm, json={"code": "cloud", "name": "云"})
        assert platform_code.status_code == 409


async def test_register_refuses_bad_input_and_other_roles_without_writing(app, infra):
    pm = token(infra, "product_manager")
    async with running(app) as client:
        for body, field in [({"code": "Smart-Hall", "name": "x"}, "code"),
                            ({"code": "a", "name": "x"}, "code"),
                            ({"code": "smart_hall_x", "name": "   "}, "name"),
                            ({"code": "smart_hall_x"}, "name"),
                            ({"code": "smart_hall_x", "name": "x", "stage": "commercial"}, "stage"),
                            ({"code": "smart_hall_x", "name": "x", "platform_code": "mars"}, "platform_code")]:
            response = await client.post("/v1/products", headers=pm, json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert field in {e["field"] for e in response.json()["errors"]}, response.json()
        forbidden = await client.post("/v1/products", headers=token(infra, "agent"),
                                      json={"code": "smart_hall_x", "name": "x"})
        assert forbidden.status_code == 403
        assert (await client.get("/v1/products/smart_hall_x", headers=pm)).status_code == 404


async def test_seeding_never_overwrites_a_later_change(infra):
    settings = settings_for(Settings, infra, "lifecycle")
    async with running(create(settings)):
        pass
    async with AsyncMongoClient(infra.mongo_url, tz_aware=True) as mongo:
        products = mongo[infra.db_name("lifecycle")]["products"]
        doc = await products.find_one({"_id": "cloud_fax"})  # no other test looks at this seeded product
        await products.replace_one({"_id": "cloud_fax"}, {**doc, "name": "云传真(新版)", "version": 2,
                                                          "_rev": doc["_rev"] + 1, "_wrev": doc["_wrev"] + 1})
        async with running(create(settings)) as client:
            product = (await client.get("/v1/products/cloud_fax", headers=token(infra, "agent"))).json()
        assert (product["name"], product["version"]) == ("云传真(新版)", 2)
        assert await products.count_documents({"sample": {"$in": [True, False]}}) >= 35


async def test_the_catalog_is_announced_again_at_every_start(infra):
    async with running(create(settings_for(Settings, infra, "lifecycle"))):
        pass  # seeded (and its events relayed) before our queue exists: what arrives below is re-published
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{infra.namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(f"{infra.namespace}.test.{uuid.uuid4().hex[:8]}", exclusive=True)
        await queue.bind(exchange, routing_key="lifecycle.product.registered")

        async with running(create(settings_for(Settings, infra, "lifecycle"))):
            received: dict[str, Envelope] = {}

            async def announced() -> bool:
                while (message := await queue.get(no_ack=True, fail=False)) is not None:
                    envelope = Envelope.model_validate_json(message.body)
                    received[envelope.subject] = envelope
                return {"mobile_office", "cloud", "smart_campus"} <= received.keys()

            await eventually(announced, timeout=15, what="catalog announced")
        mobile_office = received["mobile_office"]
        assert mobile_office.type == "lifecycle.product.registered" and mobile_office.source == "lifecycle"
        assert mobile_office.data["name"] == "移动办公" and mobile_office.data["kind"] == "product"
        assert mobile_office.data["platform_code"] == "cloud" and mobile_office.sequence == 1
        assert received["cloud"].data["kind"] == "platform"


async def test_a_closed_ticket_delivered_twice_is_counted_once(app, infra):
    product = unique("p")  # a product the catalog does not know (yet): still recorded
    headers = token(infra, "product_manager")
    envelope = closed(unique("JY"), title="希望支持批量导入通讯录", product_code=product)
    async with running(app) as client:
        await publish(infra, envelope)
        await publish(infra, envelope)
        await publish(infra, Envelope.model_validate({**json.loads(envelope.model_dump_json()), "id": str(uuid.uuid4())}))

        async def backlog():
            response = await client.get(f"/v1/products/{product}/backlog", headers=headers)
            return response.status_code == 200 and response.json()["items"]

        items = await eventually(backlog, what="backlog item")
        await asyncio.sleep(1.0)  # let the duplicates be consumed too
        items = (await client.get(f"/v1/products/{product}/backlog", headers=headers)).json()["items"]
        assert len(items) == 1
        assert items[0]["count"] == 1 and items[0]["ticket_ids"] == [envelope.subject]
        assert items[0]["kinds"] == ["suggestion"] and items[0]["kind_labels"] == ["建议"]


async def test_a_suggestion_and_a_defect_complaint_about_the_same_issue_merge(app, infra):
    product = unique("p")
    headers = token(infra, "agent")
    suggestion = closed(unique("JY"), title="外勤打卡定位不准！", product_code=product, closed_at=T0)
    ignored = closed(unique("TS"), title="外勤打卡定位不准", product_code=product, kind=Kind.complaint,
                     cause=Cause.billing_error)
    complaint = closed(unique("TS"), title="外勤打卡 定位不准", product_code=product, kind=Kind.complaint,
                       cause=Cause.product_defect, closed_at=T0 + timedelta(days=3))
    other = closed(unique("GZ"), title="导出报表失败", product_code=product, kind=Kind.fault,
                   cause=Cause.feature_request)
    async with running(app) as client:
        for envelope in (suggestion, ignored, complaint, other):
            await publish(infra, envelope)

        async def both_items():
            response = await client.get(f"/v1/products/{product}/backlog", headers=headers)
            items = response.json()["items"] if response.status_code == 200 else []
            return len(items) == 2 and items[0]["count"] == 2 and items

        items = await eventually(both_items, what="merged backlog item")
        merged = items[0]
        assert set(merged["ticket_ids"]) == {suggestion.subject, complaint.subject}
        assert merged["kinds"] == ["complaint", "suggestion"] and merged["causes"] == ["product_defect"]
        assert merged["first_seen"].startswith("2026-11-02") and merged["last_seen"].startswith("2026-11-05")
        assert items[1]["count"] == 1 and items[1]["ticket_ids"] == [other.subject]


async def test_a_malformed_ticket_closed_goes_to_the_dead_letter_queue(app, infra):
    from tests.support import collect_dead_letters

    async with running(app):
        bad = {**json.loads(closed(unique("JY"), title="x").model_dump_json()), "data": {"ticket_id": "only"}}
        await publish(infra, bad)

        def ours(got):
            # other tests of the session publish their own poison onto ticket.closed: find this one
            return [m for m in got if m.body.startswith(b"{") and json.loads(m.body).get("data") == {"ticket_id": "only"}]

        messages = ours(await collect_dead_letters(infra, "lifecycle.tickets", ours, what="dead-lettered message"))
        assert messages[0].headers["x-error-type"] == "ValidationError"
