"""Rebuilding analytics' ticket read model from scratch (issue 10, point 6; docs/analytics-rebuild.md), on the real
broker and store, no mocks: ticketing and a live analytics run in-process; a few thousand tickets are made through
ticketing's own domain and store (each with the events its actions owe, in its outbox: the relay publishes them)
and a few through the API (with breaches, escalations, reopens); once the live analytics has applied every
event, a second analytics on an empty database asks for a rebuild and ends with the very same read model.

The second instance is another deployment of analytics: its own database and its own queues (`Deployment`), on
the same exchange, as a new instance built beside the live one would run; sharing the live one's queue would
split the live events between the two. `REBUILD_TICKETS` sets how many tickets are made (docs/analytics-rebuild.md
quotes the times of larger runs).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import DEAD_LETTER_EXCHANGE, EXCHANGE
from contracts.vocabulary import Cause, Channel, Kind
from services.analytics.main import create as create_analytics
from services.analytics.settings import Settings as AnalyticsSettings
from services.analytics.store.counters import DIRTY
from services.kit.store import BOOKKEEPING
from services.ticketing.domain.ticket import Actor, Customer, Ticket, event_type
from services.ticketing.main import create as create_ticketing
from services.ticketing.settings import Settings as TicketingSettings
from services.ticketing.store.collections import TICKETS, to_document
from tests.support import captured, database, eventually, running, settings_for, token
from tests.ticketing.test_intake import ticket as ticket_body
from tests.ticketing.test_sla_api import product_known

COUNT = int(os.environ.get("REBUILD_TICKETS", "3000"))
PAGE = int(os.environ.get("REBUILD_PAGE", "100"))  # small: a replay takes pages enough to act in between
CITIES = ("济南", "青岛", "烟台", "潍坊", "临沂")
# What may legitimately differ between a live document and its rebuilt twin:
# - the store's bookkeeping (_rev, _wrev, _wid, _outbox, _outbox_pending, _changed): how many writes made the
#   document, which the live one got once per event and the rebuilt one once or twice;
# - event_time: live, the time of the newest event applied (stamped when ticketing wrote the change, a few
#   milliseconds after the change's own instant); rebuilt, the snapshot's time, which is the ticket's last
#   change itself (`updated_at`). Checked apart: never later than the live one, and within a few seconds.
# `_dirty`: whether the counters job has counted the ticket's last change yet, a matter of timing
IGNORED = (*BOOKKEEPING, "event_time", "_dirty")


class Deployment(AnalyticsSettings):
    """analytics with queues of its own (`<deployment>.<queue>`) on the shared exchanges."""

    deployment: str = "live"

    def name(self, base: str) -> str:
        if base in (EXCHANGE, DEAD_LETTER_EXCHANGE):
            return super().name(base)
        return super().name(f"{self.deployment}.{base}")


def analytics(infra, deployment: str):
    return create_analytics(settings_for(Deployment, infra, f"analytics-rebuild-{deployment}",
                                         deployment=f"rebuild-{deployment}"))


def made(index: int, now: datetime) -> tuple[Ticket, list]:
    """A ticket opened `index` seconds before `now`, taken by the domain through the actions its index picks,
    with the (event type, event, version, instant) of each action."""
    opened = now - timedelta(seconds=COUNT - index + 60)
    kind = (Kind.consultation, Kind.complaint, Kind.fault, Kind.suggestion)[index % 4]
    staff, requester = Actor(sub=f"agent-{index % 7}", name="客服"), Actor(sub="crm-callcenter")
    ticket, opened_event = Ticket.open(
        id=f"RB-{index:07d}", kind=kind, channel=Channel.call_center, product_code=f"P-RB{index % 5}",
        city=CITIES[index % len(CITIES)], title="集团通讯录同步失败", description="客户反映手机端通讯录无法同步",
        customer=Customer(name="张三", group_name="济南某公司"), actor=requester, now=opened)
    events = [("ticket.opened", opened_event, ticket.version, opened)]
    moment = opened

    def step(action):
        nonlocal moment
        moment += timedelta(milliseconds=10)
        event = action(moment)
        events.append((event_type(event), event, ticket.version, moment))

    stage = index % 6
    if stage >= 1:
        step(lambda at: ticket.assign(staff.sub, staff, at))
    if stage >= 2 and index % 3 == 0:
        step(lambda at: ticket.escalate(2, "pm-01", "需产品经理确认", staff, at))
    if stage >= 3:
        step(lambda at: ticket.resolve("已按处理口径答复客户。", Cause.usage_misunderstanding, None, staff, at))
    if stage == 4 and index % 4 == 0:
        step(lambda at: ticket.give_feedback(False, 2, "问题没有解决", requester, at))  # reopened
    if stage == 5:
        step(lambda at: ticket.give_feedback(True, 5, None, requester, at))
    return ticket, events


async def make_tickets(rt, count: int) -> None:
    """`count` tickets stored as the API stores them, each with every event its actions owe in its outbox."""
    now = datetime.now(UTC)

    async def store(index: int) -> None:
        ticket, events = made(index, now)
        # each event at the instant of its action, as the API's events are (a few ms after it)
        envelopes = [rt.event(e, type=t, subject=ticket.id, sequence=v).model_copy(update={"time": at})
                     for t, e, v, at in events]
        doc = to_document(ticket, {"idempotency_key": f"none:{ticket.id}", "request_fingerprint": "rebuild-test",
                                   "responded_late": ticket.responded_timely is False,
                                   "resolved_late": ticket.timely is False})
        await rt.store.insert(TICKETS, doc, envelopes)

    for start in range(0, count, 500):
        await asyncio.gather(*(store(i) for i in range(start, min(start + 500, count))))


async def through_the_api(infra, client) -> list[str]:
    """A few tickets through the API with changes: notes, escalations, a reopen, and complaints received three
    weeks ago whose deadlines the next action finds passed (their ticket.sla_breached raised with it)."""
    staff = token(infra, "admin", sub="admin-rebuild")
    product = await product_known(infra, client, staff)
    ids = []
    late = (datetime.now(UTC) - timedelta(days=21)).isoformat()
    for n in range(8):
        body = ticket_body(product, kind="complaint", received_at=late) if n % 2 else ticket_body(product)
        response = await client.post("/v1/tickets", json=body, headers=staff)
        assert response.status_code == 201, response.text
        ticket_id = response.json()["id"]
        ids.append(ticket_id)
        actions = [("assign", {"assignee": "agent-jinan-07"}),
                   ("notes", {"body": "您好，问题已转产品经理核查。", "visibility": "requester"}),
                   ("escalate", {"tier": 2, "target": "pm-01", "reason": "需产品经理确认"}),
                   ("resolve", {"answer": "请升级客户端后重试。", "cause": "product_defect"}),
                   ("feedback", {"satisfied": n % 3 == 0, "score": 5 if n % 3 == 0 else 2})]
        for action, payload in actions[:n % len(actions) + 1]:
            response = await client.post(f"/v1/tickets/{ticket_id}/{action}", json=payload, headers=staff)
            assert response.status_code == 200, (action, response.text)
    return ids


async def versions(db) -> dict[str, int]:
    return {d["_id"]: d["version"] for d in await db.tickets.find({}, {"version": 1}).to_list()}


async def read_model(db) -> dict[str, dict]:
    return {d["_id"]: d for d in await db.tickets.find({}).to_list()}


async def caught_up(infra, deployment: str, expected: dict[str, int], *, timeout: float) -> dict[str, dict]:
    """The read model once it holds every ticket at its stored version, each counted by the counters job (`_counted`
    is compared: a document read before the job's next pass would differ by that alone)."""
    async with database(infra, f"analytics-rebuild-{deployment}") as db:
        async def probe():
            docs = await db.tickets.find({}, {"sequence": 1, DIRTY: 1}).to_list()
            return {d["_id"]: d.get("sequence") for d in docs} == expected and not any(d.get(DIRTY) for d in docs)

        await eventually(probe, timeout=timeout, interval=1.0, what=f"{deployment} holds every ticket's version")
        return await read_model(db)


def comparable(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in IGNORED}


def assert_equal(live: dict[str, dict], rebuilt: dict[str, dict]) -> None:
    assert set(rebuilt) == set(live)
    different = [i for i in live if comparable(live[i]) != comparable(rebuilt[i])]
    assert not different, (f"{len(different)} documents differ, e.g. {different[0]}:\n"
                           f"live    {comparable(live[different[0]])}\nrebuilt {comparable(rebuilt[different[0]])}")
    for ticket_id, doc in live.items():
        lag = (doc["event_time"] - rebuilt[ticket_id]["event_time"]).total_seconds()
        assert 0 <= lag < 5, (ticket_id, lag)


async def rebuild(infra, client, *, note: str = "新分析库上线，重建工单读模型") -> str:
    admin = token(infra, "admin", sub="admin-rebuild")
    response = await client.post("/v1/rebuilds", json={"note": note}, headers=admin)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "requested" and body["received"] == 0 and body["completed_at"] is None
    assert response.headers["Location"] == f"/v1/rebuilds/{body['id']}"
    return body["id"]


async def progress(infra, client, request_id: str) -> dict:
    response = await client.get(f"/v1/rebuilds/{request_id}", headers=token(infra, "admin"))
    assert response.status_code == 200, response.text
    return response.json()


async def completed(infra, client, request_id: str, *, timeout: float) -> dict:
    async def probe():
        body = await progress(infra, client, request_id)
        return body if body["state"] == "completed" else None

    return await eventually(probe, timeout=timeout, interval=0.5, what="the rebuild completed")


@pytest.fixture(scope="module")
async def world(infra):
    """ticketing and the live analytics, with every ticket's events applied."""
    settings = settings_for(TicketingSettings, infra, "ticketing-rebuild", replay_page=PAGE,
                            # the scheduled passes would move tickets on while the test compares
                            sla_breach_scan_seconds=3600, auto_close_scan_seconds=3600)
    async with running(create_ticketing(settings)) as ticketing, running(analytics(infra, "live")) as live:
        rt = ticketing._transport.app.state.runtime
        started = time.perf_counter()
        await make_tickets(rt, COUNT)
        made_in = time.perf_counter() - started
        api_ids = await through_the_api(infra, ticketing)
        async with database(infra, "ticketing-rebuild") as db:
            expected = await versions(db)
        assert len(expected) >= COUNT + 8  # and the probe tickets of product_known
        await caught_up(infra, "live", expected, timeout=60 + COUNT / 50)
        print(f"\n{COUNT} tickets made in {made_in:.1f} s; live model caught up "
              f"{time.perf_counter() - started:.1f} s after the start")
        yield {"ticketing": ticketing, "live": live, "expected": expected, "api_ids": api_ids, "rt": rt}


async def test_a_fresh_analytics_rebuilds_a_read_model_equal_to_the_live_one(infra, world):
    async with running(analytics(infra, "fresh")) as fresh:
        async with database(infra, "analytics-rebuild-fresh") as db:
            assert await db.tickets.count_documents({}) == 0  # from scratch
        started = time.perf_counter()
        async with captured(infra, "ticket.*") as subscriber:  # what any subscriber of ticket events gets
            request_id = await rebuild(infra, fresh)
            done = await completed(infra, fresh, request_id, timeout=60 + COUNT / 50)
            seconds = time.perf_counter() - started
            assert not [e for e in await subscriber() if e["type"] == "ticket.snapshot"]
        print(f"\nrebuild of {len(world['expected'])} tickets: {seconds:.1f} s "
              f"({len(world['expected']) / seconds:.0f} tickets/s)")
        assert done["received"] == done["expected"] == len(world["expected"])
        assert done["aggregate"] == "ticket" and done["note"] == "新分析库上线，重建工单读模型"

        live = await caught_up(infra, "live", world["expected"], timeout=30)
        rebuilt = await caught_up(infra, "fresh", world["expected"], timeout=30)
        assert_equal(live, rebuilt)
        # the history a snapshot carries beside the state: the breaches the API tickets had raised
        breached = [i for i in world["api_ids"] if live[i]["breached_deadlines"]]
        assert breached and all(rebuilt[i]["breached_deadlines"] == live[i]["breached_deadlines"] for i in breached)
        assert any(d.get("close_reason") == "satisfied" for d in rebuilt.values())


async def test_a_ticket_changed_during_the_replay_ends_at_its_newest_state(infra, world):
    ticketing, staff = world["ticketing"], token(infra, "admin", sub="admin-rebuild")
    # still new (no action taken), sent in the first page and in the last
    first, last = "RB-0000000", f"RB-{(COUNT - 1) // 6 * 6:07d}"
    async with running(analytics(infra, "during")) as during:
        request_id = await rebuild(infra, during, note="变更期间重建")

        async def receiving():
            body = await progress(infra, during, request_id)
            return body["state"] == "receiving"

        await eventually(receiving, timeout=30, interval=0.05, what="the first snapshots arrived")
        for ticket_id in (first, last):  # a note: a change whose event the read model applies
            response = await ticketing.post(f"/v1/tickets/{ticket_id}/notes", headers=staff,
                                            json={"body": "您好，正在为您处理。", "visibility": "requester"})
            assert response.status_code == 200, response.text
        assert (await progress(infra, during, request_id))["state"] != "completed", \
            "the replay ended before the changes: nothing here was changed during it"
        await completed(infra, during, request_id, timeout=60 + COUNT / 50)

        async with database(infra, "ticketing-rebuild") as db:
            expected = await versions(db)
        assert expected[first] == world["expected"][first] + 1
        live = await caught_up(infra, "live", expected, timeout=30)
        rebuilt = await caught_up(infra, "during", expected, timeout=30)
        assert rebuilt[first]["first_response_at"] is not None
        assert_equal(live, rebuilt)
