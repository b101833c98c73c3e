"""Sudden changes end to end on the real store and broker: tickets go into the read model through the ticket event
handler, the `anomalies` job finds a spike, the episode's one `analytics.anomaly.detected` event reaches the
broker, a re-run sends nothing more, and people acknowledge and explain it over HTTP.

Each test has its own product code and city and its own weeks, so that one test's tickets are not another's
history (the city dimension counts every product)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.events import Envelope, TicketOpened
from services.analytics.events.handlers import apply_ticket_event
from tests.analytics.counting import all_counted
from services.analytics.main import create
from services.analytics.settings import Settings
from services.analytics.store.anomalies import ANOMALIES, run_scan, scan_day
from services.kit.store import OUTBOX_PENDING
from tests.support import captured, database, eventually, running, settings_for, token

SHANGHAI_OFFSET = timedelta(hours=8)


@pytest.fixture(scope="module")
async def app(infra):
    return create(settings_for(Settings, infra, "analytics-anomalies"))


@pytest.fixture(scope="module")
async def client(app):
    async with running(app) as client:
        yield client


@pytest.fixture
def rt(app, client):
    return app.state.runtime


def product() -> str:
    return "P-AN-" + uuid.uuid4().hex[:8]


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - SHANGHAI_OFFSET


def opened(product_code: str, city: str, opened_at: datetime, received_at: datetime | None = None) -> Envelope:
    ticket_id = "ZX-" + uuid.uuid4().hex[:10]
    payload = TicketOpened(ticket_id=ticket_id, kind="consultation", status="new", channel="call_center",
                           product_code=product_code, city=city, priority="normal", tier=1, tier_reached=1,
                           opened_at=opened_at, received_at=received_at, respond_by=opened_at + timedelta(hours=4),
                           resolve_by=opened_at + timedelta(days=2), title="如何开通移动办公", description="客户咨询开通流程")
    return Envelope.wrap(payload, type="ticket.opened", source="ticketing", subject=ticket_id, sequence=1,
                         correlationid="test-" + uuid.uuid4().hex[:8])


async def feed(rt, envelopes) -> None:
    await asyncio.gather(*(apply_ticket_event(rt, e) for e in envelopes))
    await all_counted(rt)  # volumes are read from the counters


async def history_and_spike(rt, code: str, city: str, spike_day: date, *, spike: int, next_day: int = 0):
    """2 tickets on each of the 8 Tuesdays and Wednesdays before `spike_day` (a Tuesday), `spike` on it and
    `next_day` on the Wednesday after (by 10:00)."""
    envelopes = []
    for week in range(1, 9):
        for offset in (0, 1):
            day = spike_day - timedelta(weeks=week) + timedelta(days=offset)
            envelopes += [opened(code, city, at_local(day, 10, i)) for i in range(2)]
    # the last spike ticket was received at 23:50 and opened after midnight: it counts on the day it was received
    envelopes += [opened(code, city, at_local(spike_day, 11, i)) for i in range(spike - 1)]
    envelopes.append(opened(code, city, at_local(spike_day + timedelta(days=1), 0, 20),
                            received_at=at_local(spike_day, 23, 50)))
    envelopes += [opened(code, city, at_local(spike_day + timedelta(days=1), 9, i)) for i in range(next_day)]
    await feed(rt, envelopes)


async def settled(infra, anomaly_id: str) -> None:
    """The relay published whatever the document owed."""
    async with database(infra, "analytics-anomalies") as db:
        async def published():
            doc = await db[ANOMALIES].find_one({"_id": anomaly_id})
            return doc is not None and doc.get(OUTBOX_PENDING) is not True

        await eventually(published, what="the anomaly's outbox relayed")


async def test_a_spike_is_one_anomaly_and_one_event_and_a_rerun_sends_nothing(rt, client, infra):
    code, city = product(), "威海"
    spike_day = date(2026, 9, 15)  # a Tuesday
    await history_and_spike(rt, code, city, spike_day, spike=14, next_day=11)
    now = at_local(spike_day + timedelta(days=1), 10)  # Wednesday 10:00: Tuesday complete, Wednesday so far
    analyst = token(infra, "analyst")
    async with captured(infra, "analytics.anomaly.detected") as received:
        reports = await run_scan(rt, now)
        opened_ids = [i for r in reports for i in r.opened]
        # per dimension (product, city): yesterday complete, then today so far
        assert [(r.day, r.partial) for r in reports] == [(spike_day, False), (spike_day + timedelta(days=1), True)] * 2

        r = await client.get("/v1/anomalies", params={"dimension": "product_code", "key": code}, headers=analyst)
        assert r.status_code == 200, r.text
        [anomaly] = r.json()["items"]
        assert anomaly["id"] in opened_ids
        assert anomaly["direction"] == "spike" and anomaly["direction_label"] == "突增"
        assert anomaly["state"] == "open" and anomaly["state_label"] == "未处理" and anomaly["dimension_label"] == "产品"
        assert anomaly["start_day"] == "2026-09-15" and anomaly["ongoing"]
        # today so far (11 by 10:00) is a spike too: the same episode, a second day
        assert [(d["day"], d["count"], d["partial"]) for d in anomaly["days"]] == [
            ("2026-09-15", 14, False), ("2026-09-16", 11, True)]
        evidence = anomaly["evidence"]
        assert evidence["median"] == 2 and evidence["day_kind"] == "workday" and len(evidence["samples"]) == 8
        assert evidence["spike_threshold"] == 10

        async def events():
            return [e for e in await received() if e["subject"] == anomaly["id"]]

        [event] = await eventually(events, what="analytics.anomaly.detected on the broker")
        assert event["dataversion"] == "2" and event["source"] == "analytics"
        assert event["data"]["key"] == code and event["data"]["day"] == "2026-09-15"
        assert event["data"]["count"] == 14 and event["data"]["baseline"] == 2
        assert event["data"]["direction"] == "spike" and len(event["data"]["samples"]) == 8

        # the job again, and again an hour later with more tickets today: the same episode, no new event
        assert [i for r in await run_scan(rt, now) for i in r.opened] == []
        await feed(rt, [opened(code, city, at_local(spike_day + timedelta(days=1), 10, 30)) for _ in range(3)])
        assert [i for r in await run_scan(rt, now + timedelta(hours=1)) for i in r.opened] == []
        await settled(infra, anomaly["id"])
        await asyncio.sleep(0.5)
        assert len(await events()) == 1

    r = await client.get(f"/v1/anomalies/{anomaly['id']}", headers=analyst)
    assert r.status_code == 200 and r.headers["etag"] == f'"{r.json()["version"]}"'
    assert r.json()["days"][-1]["count"] == 14  # the day so far grew
    # the city counts every product: 威海 had the same spike
    r = await client.get("/v1/anomalies", params={"dimension": "city", "key": city, "from": "2026-09-15",
                                                  "to": "2026-09-16"}, headers=analyst)
    assert [a["dimension_label"] for a in r.json()["items"]] == ["地市"]

    # Thursday complete and normal (no tickets against a median of 0): the episode ends on it
    await scan_day(rt, spike_day + timedelta(days=2), now=at_local(spike_day + timedelta(days=3), 9))
    r = await client.get(f"/v1/anomalies/{anomaly['id']}", headers=analyst)
    assert not r.json()["ongoing"] and r.json()["ended_on"] == "2026-09-17"


async def test_acknowledge_then_explain(rt, client, infra):
    code, city = product(), "日照"
    spike_day = date(2026, 6, 16)  # a Tuesday
    await history_and_spike(rt, code, city, spike_day, spike=25)
    await scan_day(rt, spike_day, now=at_local(spike_day + timedelta(days=1), 8))
    analyst, pm = token(infra, "analyst"), token(infra, "product_manager", sub="pm-1", products=[code])
    r = await client.get("/v1/anomalies", params={"key": code, "state": "open"}, headers=pm)
    [anomaly] = r.json()["items"]
    path = f"/v1/anomalies/{anomaly['id']}"

    r = await client.post(path + "/acknowledge", json={"note": "正在核实"}, headers={**pm, "If-Match": "999"})
    assert r.status_code == 412, r.text
    r = await client.post(path + "/acknowledge", json={"note": "正在核实"},
                          headers={**pm, "If-Match": f'"{anomaly["version"]}"'})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["state_label"] == "已确认" and body["acknowledged_by"] == "pm-1"
    assert body["history"][-1]["note"] == "正在核实"
    again = await client.post(path + "/acknowledge", headers=analyst)  # no body at all: idempotent
    assert again.status_code == 200 and again.json()["version"] == body["version"]

    r = await client.post(path + "/explain", json={"explanation": "营销活动：6月推广周"}, headers=analyst)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "explained" and r.json()["state_label"] == "已说明"
    assert r.json()["explanation"] == "营销活动：6月推广周"
    r = await client.post(path + "/acknowledge", json={}, headers=analyst)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/v1/anomalies", params={"key": code, "state": "explained"}, headers=analyst)
    assert [a["id"] for a in r.json()["items"]] == [anomaly["id"]]
    assert (await client.get("/v1/anomalies", params={"key": code, "state": "open"},
                             headers=analyst)).json()["items"] == []
    # a re-scan does not reopen nor re-send it
    assert [i for r in await scan_day(rt, spike_day, now=at_local(spike_day + timedelta(days=1), 9))
            for i in r.opened] == []
    assert (await client.get(path, headers=analyst)).json()["state"] == "explained"

    r = await client.post(path + "/explain", json={"explanation": "  "}, headers=analyst)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "explanation"
    assert (await client.post("/v1/anomalies/AN-nope/acknowledge", headers=analyst)).status_code == 404


async def test_the_national_day_trough_is_no_drop_and_the_same_trough_on_a_workday_is(rt, client, infra):
    code, city = product(), "滨州"
    # 25 tickets every Thursday from 08-06 to 09-24, then 3 on 国庆's first day (a Thursday) and 3 on the
    # Thursday after it, a workday
    thursdays = [date(2026, 8, 6) + timedelta(weeks=i) for i in range(8)]
    await feed(rt, [opened(code, city, at_local(day, 9, i)) for day in thursdays for i in range(25)]
               + [opened(code, city, at_local(day, 10, i)) for day in (date(2026, 10, 1), date(2026, 10, 8))
                  for i in range(3)])
    analyst = token(infra, "analyst")
    async with captured(infra, "analytics.anomaly.detected") as received:
        holiday = await scan_day(rt, date(2026, 10, 1), now=at_local(date(2026, 10, 2), 9), dimensions=["product_code"])
        assert holiday[0].opened == []
        workday = await scan_day(rt, date(2026, 10, 8), now=at_local(date(2026, 10, 9), 9),
                                 dimensions=["product_code"])
        [anomaly_id] = workday[0].opened

        async def events():
            return [e for e in await received() if e["data"]["key"] == code]

        [event] = await eventually(events, what="the drop's event")
    assert event["subject"] == anomaly_id and event["data"]["direction"] == "drop"
    assert event["data"]["day"] == "2026-10-08" and event["data"]["baseline"] == 25 and event["data"]["count"] == 3
    r = await client.get("/v1/anomalies", params={"key": code}, headers=analyst)
    [anomaly] = r.json()["items"]
    assert anomaly["direction_label"] == "突降" and anomaly["evidence"]["day_kind"] == "workday"
    assert "2026-10-01" not in [s["day"] for s in anomaly["evidence"]["samples"]]  # a holiday is no workday sample


@pytest.mark.parametrize("params,field", [
    ({"state": "closed"}, "state"), ({"dimension": "industry"}, "dimension"), ({"from": "2026-13-01"}, "from"),
    ({"to": "yesterday"}, "to"), ({"from": "2026-10-02", "to": "2026-10-01"}, "from"),
    ({"dimension": "city", "key": "北京"}, "key"), ({"limit": 0}, "query.limit"),
])
async def test_bad_listing_input_is_a_problem_naming_the_field(client, infra, params, field):
    r = await client.get("/v1/anomalies", params=params, headers=token(infra, "analyst"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == field


async def test_the_admin_scan_route(client, infra):
    admin = token(infra, "admin")
    r = await client.post("/v1/anomalies/scan", params={"day": "2026-02-30"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "day"
    r = await client.post("/v1/anomalies/scan", params={"day": "2999-01-01"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "day"
    r = await client.post("/v1/anomalies/scan", params={"day": "2026-01-05"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["day"] == "2026-01-05" and not r.json()["partial"]
    assert {report["day"] for report in r.json()["reports"]} == {"2026-01-05"}


async def test_pages_newest_first(rt, client, infra):
    code = product()
    for spike_day in (date(2026, 4, 14), date(2026, 5, 12)):  # two Tuesdays: two episodes of one product
        await history_and_spike(rt, code, "聊城", spike_day, spike=30)
        await scan_day(rt, spike_day, now=at_local(spike_day + timedelta(days=1), 8), dimensions=["product_code"])
    analyst = token(infra, "analyst")
    first = (await client.get("/v1/anomalies", params={"key": code, "limit": 1}, headers=analyst)).json()
    assert [a["start_day"] for a in first["items"]] == ["2026-05-12"] and first["next_cursor"]
    second = (await client.get("/v1/anomalies", params={"key": code, "limit": 1, "cursor": first["next_cursor"]},
                               headers=analyst)).json()
    assert [a["start_day"] for a in second["items"]] == ["2026-04-14"] and second["next_cursor"] is None
    within = (await client.get("/v1/anomalies", params={"key": code, "from": "2026-05-01", "to": "2026-05-31"},
                               headers=analyst)).json()
    assert [a["start_day"] for a in within["items"]] == ["2026-05-12"]
