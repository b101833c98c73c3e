"""Integration tests of analytics: ticket events on the real broker feed the read model in the real store, and the
summary answers over HTTP. Each test uses its own product code, so tests do not see each other's tickets."""

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import (Envelope, TicketClosed, TicketEscalated, TicketOpened, TicketReopened, TicketResolved,
                              TicketSlaBreached)
from services.analytics.events.handlers import apply_ticket_event
from services.kit.store import ChangeBatch, Store
from tests.support import collect_dead_letters, eventually, publish, token

OPENED_AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def product() -> str:
    return "P-" + uuid.uuid4().hex[:8]


def state(ticket_id: str, product_code: str, *, kind="complaint", city="济南", **changes) -> dict:
    base = dict(ticket_id=ticket_id, kind=kind, status="new", channel="call_center", product_code=product_code,
                city=city, industry="education", priority="normal", tier=1, tier_reached=1, opened_at=OPENED_AT,
                respond_by=OPENED_AT + timedelta(hours=4), resolve_by=OPENED_AT + timedelta(days=7))
    return {**base, **changes}


def wrap(payload, event_type: str, sequence: int) -> Envelope:
    return Envelope.wrap(payload, type=event_type, source="ticketing", subject=payload.ticket_id,
                         sequence=sequence, correlationid="test-" + uuid.uuid4().hex[:8])


def opened(ticket_id, product_code, **changes) -> Envelope:
    payload = TicketOpened(**state(ticket_id, product_code, **changes), title="通讯录同步失败",
                           description="集团通讯录在手机端无法同步")
    return wrap(payload, "ticket.opened", 1)


def closed(ticket_id, product_code, *, sequence=5, satisfied=True, **changes) -> Envelope:
    fields = dict(status="closed", first_response_at=OPENED_AT + timedelta(hours=1), responded_timely=True,
                  resolved_at=OPENED_AT + timedelta(hours=6), timely=True, cause="usage_misunderstanding",
                  closed_at=OPENED_AT + timedelta(days=1), satisfied=satisfied, score=5 if satisfied else 2,
                  tier_reached=2)
    payload = TicketClosed(**state(ticket_id, product_code, **{**fields, **changes}), title="通讯录同步失败",
                           description="集团通讯录在手机端无法同步", answer="请在设置中开启后台同步")
    return wrap(payload, "ticket.closed", sequence)


async def summary(client, headers, **params) -> dict:
    response = await client.get("/v1/metrics/summary", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for(client, headers, check, **params) -> dict:
    async def probe():
        body = await summary(client, headers, **params)
        return body if check(body) else None

    return await eventually(probe, timeout=15, what=f"summary {params}")


async def test_opened_then_closed_ticket_is_counted(client, analyst, send):
    code = product()
    await send(opened("TS-A1", code), closed("TS-A1", code))
    body = await wait_for(client, analyst, lambda b: b["closed"] == 1, product_code=code)
    assert body["count"] == 1 and body["opened"] == 1 and body["resolved"] == 1 and body["backlog"] == 0
    assert body["timeliness_rate"] == {"response": 1.0, "resolution": 1.0}
    assert body["satisfaction_rate"] == 1.0
    assert body["resolution_hours"] == {"avg": 6.0, "p90": 6.0}
    assert body["escalation_rate"] == {"tier2": 1.0, "tier3": 0.0}
    assert body["reopen_rate"] == 0.0
    assert body["filters"]["product_code"] == code
    assert datetime.fromisoformat(body["as_of"]) <= datetime.now(UTC)


async def test_same_event_twice_counts_once(client, analyst, send):
    code = product()
    event = opened("TS-B1", code)
    await send(event, event, opened("TS-B2", code))
    await wait_for(client, analyst, lambda b: b["opened"] == 2, product_code=code)
    await send(event)
    sentinel = opened("TS-B3", code)
    await send(sentinel)  # once it shows, the duplicate before it has been handled too
    body = await wait_for(client, analyst, lambda b: b["count"] >= 3, product_code=code)
    assert body["opened"] == 3 and body["backlog"] == 3


async def test_closed_before_opened_leaves_the_ticket_closed(client, analyst, send):
    code = product()
    await send(closed("TS-C1", code, sequence=5))
    await wait_for(client, analyst, lambda b: b["closed"] == 1, product_code=code)
    await send(opened("TS-C1", code), opened("TS-C2", code))  # the stale one, then a sentinel
    body = await wait_for(client, analyst, lambda b: b["count"] == 2, product_code=code)
    assert body["closed"] == 1 and body["backlog"] == 1  # only TS-C2 is open


async def test_sla_breach_arriving_late_does_not_reopen_and_reopened_tickets_count(client, analyst, infra, send):
    code = product()
    resolved = TicketResolved(**state("TS-D1", code, status="resolved", resolved_at=OPENED_AT + timedelta(days=2),
                                      timely=True, reopen_count=1), answer="已修复")
    breach = TicketSlaBreached(**state("TS-D1", code, status="in_progress"), deadline="respond")
    await send(wrap(resolved, "ticket.resolved", 6), wrap(breach, "ticket.sla_breached", 2))
    body = await wait_for(client, analyst, lambda b: b["resolved"] == 1, product_code=code)
    assert body["reopen_rate"] == 1.0 and body["backlog"] == 1

    from pymongo import AsyncMongoClient

    mongo = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    try:
        tickets = mongo[infra.db_name("analytics")]["tickets"]

        async def breached():
            doc = await tickets.find_one({"_id": "TS-D1"})
            return doc if doc and doc["sla_breached"] else None

        doc = await eventually(breached, what="breach recorded")
        assert doc["status"] == "resolved" and doc["sequence"] == 6 and doc["breached_deadlines"] == ["respond"]
        assert doc["opened_at"] == OPENED_AT and doc["opened_at"].tzinfo is not None
    finally:
        await mongo.close()


async def test_filters_by_product_city_and_kind(client, analyst, send):
    code = product()
    await send(opened("GZ-E1", code, kind="fault", severity=1, city="青岛"),
               opened("TS-E2", code, kind="complaint", city="青岛"),
               opened("TS-E3", code, kind="complaint", city="烟台"),
               opened("TS-E4", product(), kind="complaint", city="青岛"))
    await wait_for(client, analyst, lambda b: b["opened"] == 3, product_code=code)
    assert (await summary(client, analyst, product_code=code, city="青岛"))["opened"] == 2
    assert (await summary(client, analyst, product_code=code, kind="complaint"))["opened"] == 2
    body = await summary(client, analyst, product_code=code, city="青岛", kind="fault")
    assert body["opened"] == 1 and body["filters"] == {"from": None, "to": None, "product_code": code,
                                                       "city": "青岛", "kind": "fault", "channel": None,
                                                       "industry": None, "cause": None}


async def test_period_filters_on_each_timestamp(client, analyst, send):
    code = product()
    await send(opened("ZX-F1", code, kind="consultation"),
               closed("ZX-F2", code, kind="consultation", opened_at=OPENED_AT - timedelta(days=40),
                      resolved_at=OPENED_AT + timedelta(hours=2), closed_at=OPENED_AT + timedelta(hours=3)))
    await wait_for(client, analyst, lambda b: b["count"] == 2, product_code=code)
    march = await summary(client, analyst, product_code=code, **{"from": "2026-03-01", "to": "2026-03-31"})
    assert (march["opened"], march["resolved"], march["closed"], march["backlog"]) == (1, 1, 1, 1)
    assert march["period"]["start"].startswith("2026-02-28T16:00:00")
    january = await summary(client, analyst, product_code=code, **{"from": "2026-01-01", "to": "2026-01-31"})
    # Backlog is "open at the period's end": ZX-F2 was opened in January and closed in March.
    assert (january["opened"], january["closed"], january["backlog"]) == (1, 0, 1)
    february = await summary(client, analyst, product_code=code, **{"from": "2026-02-01", "to": "2026-02-28"})
    assert (february["count"], february["opened"], february["backlog"]) == (1, 0, 1)  # carried in from January


async def test_escalation_by_tier(client, analyst, send):
    code = product()
    escalated = TicketEscalated(**state("TS-G1", code, status="escalated", tier=3, tier_reached=3,
                                        escalation_target="vendor-x", escalation_count=2),
                                to_tier=3, target="vendor-x", reason="平台缺陷")
    reopened = TicketReopened(**state("TS-G2", code, status="in_progress", reopen_count=1, tier_reached=2,
                                      resolved_at=OPENED_AT + timedelta(hours=5)))
    await send(wrap(escalated, "ticket.escalated", 4), wrap(reopened, "ticket.reopened", 7))
    body = await wait_for(client, analyst, lambda b: b["opened"] == 2, product_code=code)
    assert body["escalation_rate"] == {"tier2": 1.0, "tier3": 0.5}
    assert body["reopen_rate"] == 1.0 and body["backlog"] == 2


@pytest.mark.parametrize("role", ["product_manager", "agent", "complaint_handler", "ops_engineer", "admin"])
async def test_metrics_readers(client, infra, role):
    assert (await client.get("/v1/metrics/summary", headers=token(infra, role))).status_code == 200


async def test_without_token_401_and_vendor_403(client, infra):
    response = await client.get("/v1/metrics/summary")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.get("/v1/metrics/summary", headers=token(infra, "vendor", vendor="v1"))
    assert response.status_code == 403 and response.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize("params,field", [({"city": "北京"}, "city"),
                                          ({"from": "2026-03-05", "to": "2026-03-04"}, "from"),
                                          ({"from": "last week"}, "from"), ({"to": "2026-02-30"}, "to"),
                                          ({"kind": "praise"}, "query.kind")])
async def test_bad_query_is_a_422_problem(client, analyst, params, field):
    response = await client.get("/v1/metrics/summary", params=params, headers=analyst)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422 and [e["field"] for e in problem["errors"]] == [field]


async def test_poison_goes_to_the_dlq_and_later_events_apply(client, analyst, infra):
    code = product()
    bad_payload = {**json.loads(opened("TS-H0", code).model_dump_json()), "data": {"ticket_id": "TS-H0"}}
    await publish(infra, b"{}", routing_key="ticket.opened")
    await publish(infra, bad_payload)
    await publish(infra, opened("TS-H1", code))
    await wait_for(client, analyst, lambda b: b["opened"] == 1, product_code=code)

    collected = await collect_dead_letters(infra, "analytics.tickets", lambda got: len(got) >= 2,
                                           what="poison messages in analytics.tickets.dlq")
    bodies = [m.body for m in collected]
    assert b"{}" in bodies
    assert any(b"TS-H0" in body for body in bodies)
    assert all(m.headers.get("x-error") for m in collected)


def resolved_event(ticket_id: str, product_code: str, sequence: int) -> Envelope:
    payload = TicketResolved(**state(ticket_id, product_code, status="resolved", timely=True,
                                     resolved_at=OPENED_AT + timedelta(hours=3)), answer="已答复")
    return wrap(payload, "ticket.resolved", sequence)


@pytest.mark.parametrize("write,mine,theirs,expected_status", [
    ("insert", 3, 5, "closed"),    # they created it first with a newer state: mine is stale after the re-read
    ("insert", 6, 5, "resolved"),  # they created it first, mine is newer: replace after the re-read
    ("replace", 3, 5, "closed"),   # they changed it since my read (revision guard), theirs is newer
    ("replace", 6, 5, "resolved"),
])
async def test_a_writer_slipping_in_between_read_and_write(app, client, analyst, monkeypatch, write, mine, theirs,
                                                           expected_status):
    code, ticket_id = product(), f"TS-L-{write}-{mine}"
    rt = app.state.runtime
    if write == "replace":
        await apply_ticket_event(rt, opened(ticket_id, code))
    # The competitor is another replica: its own store client, outside this process's batches.
    replica = dataclasses.replace(rt, store=Store(rt.settings))
    batch = ChangeBatch(rt.store, "tickets")
    monkeypatch.setitem(rt.store._batches, (ChangeBatch, "tickets"), batch)
    real_write = batch._write

    async def competitor_first(writes):
        monkeypatch.setattr(batch, "_write", real_write)  # my retry writes for real
        await apply_ticket_event(replica, closed(ticket_id, code, sequence=theirs))
        return await real_write(writes)

    monkeypatch.setattr(batch, "_write", competitor_first)
    try:
        await apply_ticket_event(rt, resolved_event(ticket_id, code, mine))
    finally:
        await replica.store.close()
    doc = await rt.store["tickets"].find_one({"_id": ticket_id})
    assert (doc["status"], doc["sequence"]) == (expected_status, max(mine, theirs))
    await wait_for(client, analyst, lambda b: b["count"] == 1 and b["lag"]["pending_tickets"] == 0,
                   product_code=code)
