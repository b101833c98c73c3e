"""Intake's request path: replays decided by the unique index, the catalog from a cache fed by events (also in
an API-only process), the correlation id from the request into the event."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client.parser import text_string_to_metric_families

from contracts.events import Envelope, ProductRegistered
from services.ticketing.main import create
from services.ticketing.settings import Settings
from tests.support import captured, database, eventually, publish, running, settings_for, token


def ticket(product: str, **overrides) -> dict:
    return {"kind": "consultation", "channel": "call_center", "product_code": product, "city": "青岛",
            "title": "外勤通如何导出考勤", "description": "客户询问外勤通考勤记录如何批量导出",
            "customer": {"name": "李四", "group_name": "青岛某公司"}, **overrides}


async def register(infra, code: str, sequence: int = 1, correlationid: str = "test") -> None:
    """An announcement as lifecycle makes it; in answer to an ask for the catalog it carries the ask's
    correlation id."""
    await publish(infra, Envelope.wrap(ProductRegistered(code=code, name=f"测试产品{code}", stage="delivered"),
                                       type="lifecycle.product.registered", source="lifecycle", subject=code,
                                       sequence=sequence, correlationid=correlationid))


async def product_known(infra, client, headers, correlationid: str = "test") -> str:
    """A new product, registered by event, once the service accepts tickets of it."""
    product = "p_" + uuid.uuid4().hex[:8]
    await register(infra, product, correlationid=correlationid)

    async def accepted():
        return (await client.post("/v1/tickets", json=ticket(product), headers=headers)).status_code == 201

    await eventually(accepted, what="the catalog knows the product")
    return product


def store_commands(text: str, command: str, collection: str) -> float:
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "ops_store_commands_total" and sample.labels.get("command") == command
               and sample.labels.get("collection") == collection)


async def test_an_api_only_process_learns_the_catalog_from_its_own_queue_and_reads_no_catalog(infra):
    # No worker runs: the stored catalog is never written, so the product can only be known through the
    # per-process queue that feeds this process's cache.
    app = create(settings_for(Settings, infra, "ticketing-api-only", role="api"))
    async with running(app) as client:
        product = "p_" + uuid.uuid4().hex[:8]
        intake = token(infra, "intake", sub="crm-cache")
        assert (await client.post("/v1/tickets", json=ticket(product), headers=intake)).status_code == 422
        await register(infra, product)

        async def accepted():
            return (await client.post("/v1/tickets", json=ticket(product), headers=intake)).status_code == 201

        await eventually(accepted, what="the API-only process learnt the product from its per-process queue")
        before = (await client.get("/metrics")).text
        for _ in range(5):
            assert (await client.post("/v1/tickets", json=ticket(product), headers=intake)).status_code == 201
        after = (await client.get("/metrics")).text
        assert store_commands(after, "find", "catalog") == store_commands(before, "find", "catalog")
        assert store_commands(after, "insert", "tickets") - store_commands(before, "insert", "tickets") == 5


async def test_concurrent_replays_of_one_key_create_one_ticket(infra):
    app = create(settings_for(Settings, infra, "ticketing-intake"))
    async with running(app) as client:
        intake = token(infra, "intake", sub="crm-replays")
        product = await product_known(infra, client, intake)
        key = {"Idempotency-Key": uuid.uuid4().hex, **intake}
        answers = await asyncio.gather(*(client.post("/v1/tickets", json=ticket(product, title="同一个请求"),
                                                     headers=key) for _ in range(8)))
        assert {r.status_code for r in answers} == {201}
        assert len({r.json()["id"] for r in answers}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 7
        listed = (await client.get("/v1/tickets", params={"product_code": product}, headers=intake)).json()["items"]
        assert [t["title"] for t in listed].count("同一个请求") == 1


async def test_a_replay_sends_the_first_answer_as_it_was_sent_also_when_stored_in_the_older_shapes(infra):
    """The first answer is kept as the JSON text it was sent as, compressed, and a small part of the document; a
    ticket stored when it was kept as plain text, or as fields before that, replays the same answer."""
    app = create(settings_for(Settings, infra, "ticketing-first-answer"))
    async with running(app) as client:
        intake = token(infra, "intake", sub="crm-first-answer")
        product = await product_known(infra, client, intake)
        key = {"Idempotency-Key": uuid.uuid4().hex, **intake}
        first = await client.post("/v1/tickets", json=ticket(product, title="首次应答"), headers=key)
        assert first.status_code == 201 and first.headers["content-type"] == "application/json"
        again = await client.post("/v1/tickets", json=ticket(product, title="首次应答"), headers=key)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.content == first.content

        tickets = app.state.runtime.store["tickets"]
        stored = await tickets.find_one({"_id": first.json()["id"]})
        assert "first_answer" not in stored and len(stored["first_answer_z"]) < len(first.content) * 0.9
        await tickets.update_one({"_id": stored["_id"]}, {"$set": {"first_answer": first.text},
                                                          "$unset": {"first_answer_z": ""}})  # as plain text
        plain = await client.post("/v1/tickets", json=ticket(product, title="首次应答"), headers=key)
        assert plain.status_code == 201 and plain.headers["Idempotent-Replayed"] == "true"
        assert plain.content == first.content
        await tickets.update_one({"_id": stored["_id"]}, {"$set": {"first_answer": first.json()}})  # as fields
        older = await client.post("/v1/tickets", json=ticket(product, title="首次应答"), headers=key)
        assert older.status_code == 201 and older.headers["Idempotent-Replayed"] == "true"
        assert older.json() == first.json()


async def test_the_correlation_id_goes_from_the_request_into_the_event(infra):
    app = create(settings_for(Settings, infra, "ticketing-correlation"))
    async with running(app) as client, captured(infra, "ticket.opened") as received:
        staff = token(infra, "agent")
        product = await product_known(infra, client, staff)
        r = await client.post("/v1/tickets", json=ticket(product), headers={"X-Correlation-ID": "cid-42", **staff})
        assert r.status_code == 201 and r.headers["X-Correlation-ID"] == "cid-42"
        assert r.headers["Location"] == f"/v1/tickets/{r.json()['id']}" and r.headers["ETag"] == '"1"'

        async def event_carries_it():
            return [e for e in await received() if e["subject"] == r.json()["id"]]

        events = await eventually(event_carries_it, what="ticket.opened published")
        assert events[0]["correlationid"] == "cid-42"
        other = await client.get("/healthz")
        assert other.headers["X-Correlation-ID"] and other.headers["X-Correlation-ID"] != "cid-42"


async def test_a_service_without_a_catalog_asks_again_until_it_has_one(infra):
    """On a fresh broker an ask can be lost (lifecycle's queue for it may not exist yet): ticketing asks again,
    waiting longer each time, and stops once lifecycle answered."""
    async with captured(infra, "catalog.sync_requested") as asks:
        app = create(settings_for(Settings, infra, "ticketing-asks-" + uuid.uuid4().hex[:6]))
        async with running(app) as client:
            async def asked_twice():
                mine = [a for a in await asks() if a["data"]["requested_by"] == "ticketing"]
                return mine if len(mine) >= 2 else None

            mine = await eventually(asked_twice, timeout=15, what="a second ask after the first went unanswered")
            assert len({a["correlationid"] for a in mine}) == len(mine), "each ask has its own correlation id"
            intake = token(infra, "intake", sub="crm-asks")
            await product_known(infra, client, intake, correlationid=mine[-1]["correlationid"])  # lifecycle's answer
            before = len(await asks())
            await asyncio.sleep(4.5)  # past the next wait (2 s, then 4 s, ...)
            assert len(await asks()) == before, "it kept asking after the catalog came"
            assert app.state.runtime.extras["catalog_asking"].done()


async def test_a_service_holding_part_of_the_catalog_asks_until_its_own_ask_is_answered(infra):
    """On a fresh broker lifecycle's announcements at its start reach ticketing's queues only from the moment they
    exist: what came makes a copy that looks whole and is not (seen: a ticketing that knew some products and
    refused the rest). So ticketing asks even with a copy at hand, and an announcement that is not the answer to
    its ask does not end the asking."""
    service = "ticketing-part-" + uuid.uuid4().hex[:6]
    async with database(infra, service) as db:
        await db["catalog"].insert_one({"_id": "p_early", "name": "先到的产品", "stage": "delivered", "sequence": 1})
    async with captured(infra, "catalog.sync_requested") as asks:
        app = create(settings_for(Settings, infra, service))
        async with running(app) as client:
            async def asked(count):
                mine = [a for a in await asks() if a["data"]["requested_by"] == "ticketing"]
                return mine if len(mine) >= count else None

            await eventually(lambda: asked(1), what="an ask though a copy is held")
            await register(infra, "p_" + uuid.uuid4().hex[:8])  # a change announced meanwhile: no answer
            mine = await eventually(lambda: asked(2), timeout=15, what="asking on, the ask unanswered")
            intake = token(infra, "intake", sub="crm-part")
            await product_known(infra, client, intake, correlationid=mine[0]["correlationid"])  # a late answer

            async def done_asking():
                return app.state.runtime.extras["catalog_asking"].done()

            await eventually(done_asking, timeout=10, what="no more asks once answered")
