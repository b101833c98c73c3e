"""The scheduled work against the real store and broker (store/scheduled.py): two replicas running the breach
job at once over the same tickets raise each breach exactly once; deadlines that passed while the service was
down are raised by the next run after a restart; a late note raises the missed update itself; reminders and
auto-close once each. The jobs' passes are called with the `now` the test chooses: no sleeping, no timing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store import scheduled
from services.ticketing.store.collections import TICKETS
from services.ticketing.store.sla_config import sla_of
from tests.support import captured, database, eventually, running, settings_for, token
from tests.ticketing.test_intake import ticket
from tests.ticketing.test_sla_api import instant, product_known

COMPLAINT = {"kind": "complaint", "title": "移动办公重复扣费", "description": "客户反映本月被重复扣费两次"}


def replica(infra, name: str):
    # API role: no scheduler of its own, so the test alone decides when a pass runs and with which clock
    return create(settings_for(Settings, infra, name, role="api"))


def rt_of(client) -> object:
    return client._transport.app.state.runtime


async def drained(infra, name: str, ids: list[str]) -> None:
    """Every event the tickets owe was published (the relay empties a document's outbox once confirmed)."""
    async with database(infra, name) as db:
        async def empty():
            docs = await db.tickets.find({"_id": {"$in": ids}}, {"_outbox": 1}).to_list()
            return len(docs) == len(ids) and all(not d.get("_outbox") for d in docs)

        await eventually(empty, timeout=20, what="the outbox relayed")


def of(events: list[dict], ids: list[str], type_: str) -> list[dict]:
    return [e for e in events if e["type"] == type_ and e["subject"] in ids]


async def test_two_replicas_running_the_breach_job_at_once_raise_each_breach_exactly_once(infra):
    name = "ticketing-sched-replicas"
    async with running(replica(infra, name)) as one, running(replica(infra, name)) as two:
        staff = token(infra, "complaint_handler")
        product = await product_known(infra, one, staff)
        await product_known(infra, two, staff)
        now = datetime.now(UTC)
        received = (now - timedelta(days=20)).isoformat()  # past respond, update and the 15-day limit
        ids = []
        for client in (one, two, one, two):
            r = await client.post("/v1/tickets", json=ticket(product, **COMPLAINT, received_at=received),
                                  headers=staff)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        async with captured(infra, "ticket.sla_breached") as received_events:
            results = await asyncio.gather(scheduled.raise_breaches(rt_of(one), TICKETS, now),
                                           scheduled.raise_breaches(rt_of(two), TICKETS, now),
                                           scheduled.raise_breaches(rt_of(one), TICKETS, now))
            assert sum(results) >= len(ids)
            await drained(infra, name, ids)
            breaches = of(await received_events(), ids, "ticket.sla_breached")
            raised = Counter((e["subject"], e["data"]["deadline"]) for e in breaches)
            assert raised == Counter({(i, d): 1 for i in ids for d in ("respond", "resolve", "update")})
            assert {e["dataversion"] for e in breaches} == {"2"}
            assert all(e["data"]["late_seconds"] > 0 and e["data"]["deadline_at"] for e in breaches)

            # a later run, on either replica, finds nothing to raise
            assert await scheduled.raise_breaches(rt_of(two), TICKETS, now + timedelta(minutes=1)) == 0
            await drained(infra, name, ids)
            assert len(of(await received_events(), ids, "ticket.sla_breached")) == len(breaches)
        shown = (await one.get(f"/v1/tickets/{ids[0]}", headers=staff)).json()
        assert shown["sla"]["breached"] is True
        assert sorted(b["deadline"] for b in shown["sla"]["breaches"]) == ["resolve", "respond", "update"]
        history = (await one.get(f"/v1/tickets/{ids[0]}/history", headers=staff)).json()["items"]
        assert [h["actor"] for h in history if h["action"] == "sla_breached"] == ["system:sla"]


async def test_deadlines_passed_while_the_service_was_down_are_raised_by_the_next_run(infra):
    name = "ticketing-sched-downtime"
    staff = token(infra, "complaint_handler")
    async with running(replica(infra, name)) as before:
        product = await product_known(infra, before, staff)
        filed = (await before.post("/v1/tickets", json=ticket(product, **COMPLAINT), headers=staff)).json()
        consultation = (await before.post("/v1/tickets", json=ticket(product), headers=staff)).json()
        # nothing is due yet
        assert await scheduled.raise_breaches(rt_of(before), TICKETS, datetime.now(UTC)) == 0
    # ... the service is down for two weeks ...
    later = instant(filed["sla"]["resolve_by"]) + timedelta(days=1)
    ids = [filed["id"], consultation["id"]]
    async with running(replica(infra, name)) as after, captured(infra, "ticket.sla_breached") as received_events:
        # ours and the probe ticket product_known filed
        assert await scheduled.raise_breaches(rt_of(after), TICKETS, later) == 3
        await drained(infra, name, ids)
        breaches = of(await received_events(), ids, "ticket.sla_breached")
        by = {(e["subject"], e["data"]["deadline"]): e["data"] for e in breaches}
        assert set(by) == {(filed["id"], "respond"), (filed["id"], "resolve"), (filed["id"], "update"),
                           (consultation["id"], "respond"), (consultation["id"], "resolve")}
        respond = by[(filed["id"], "respond")]
        assert instant(respond["deadline_at"]) == instant(filed["sla"]["respond_by"])
        assert respond["late_seconds"] == (later - instant(filed["sla"]["respond_by"])).total_seconds()
        assert by[(filed["id"], "resolve")]["late_seconds"] == 86400


async def test_a_late_note_raises_the_missed_update_itself_and_it_stays_on_the_ticket(infra):
    name = "ticketing-sched-late-note"
    async with running(replica(infra, name)) as client, captured(infra, "ticket.sla_breached") as received_events:
        staff = token(infra, "complaint_handler")
        product = await product_known(infra, client, staff)
        received = (datetime.now(UTC) - timedelta(days=4)).isoformat()  # no job has run since
        filed = (await client.post("/v1/tickets", json=ticket(product, **COMPLAINT, received_at=received),
                                   headers=staff)).json()
        noted = await client.post(f"/v1/tickets/{filed['id']}/notes", headers=staff,
                                  json={"body": "正在核实扣费记录", "visibility": "requester"})
        assert noted.status_code == 200, noted.text
        after = noted.json()
        missed = [b for b in after["sla"]["breaches"] if b["deadline"] == "update"]
        assert [instant(b["deadline_at"]) for b in missed] == [instant(filed["sla"]["update_by"])]
        assert instant(after["sla"]["update_by"]) > datetime.now(UTC) and after["sla"]["breached"] is True
        assert after["version"] == filed["version"] + 2  # the breaches, then the note
        # the job, running afterwards, raises nothing again
        assert await scheduled.raise_breaches(rt_of(client), TICKETS, datetime.now(UTC)) == 0
        await drained(infra, name, [filed["id"]])
        raised = Counter(e["data"]["deadline"] for e in of(await received_events(), [filed["id"]],
                                                            "ticket.sla_breached"))
        assert raised["update"] == 1 and raised["respond"] == 1
        history = [h["action"] for h in (await client.get(f"/v1/tickets/{filed['id']}/history",
                                                          headers=staff)).json()["items"]]
        assert history[-2:] == ["sla_breached", "notes"]


async def test_the_assignee_is_reminded_once_and_a_resolved_ticket_without_feedback_closes_once(infra):
    name = "ticketing-sched-remind-close"
    async with running(replica(infra, name)) as one, running(replica(infra, name)) as two, \
            captured(infra, "ticket.update_due") as reminders, captured(infra, "ticket.closed") as closures:
        staff = token(infra, "complaint_handler", sub="handler-wang")
        product = await product_known(infra, one, staff)
        await product_known(infra, two, staff)
        filed = (await one.post("/v1/tickets", json=ticket(product, **COMPLAINT), headers=staff)).json()
        await one.post(f"/v1/tickets/{filed['id']}/assign", json={"assignee": "handler-wang"}, headers=staff)
        update_by = instant(filed["sla"]["update_by"])
        lead = timedelta(hours=1)
        assert await scheduled.remind_updates(rt_of(one), TICKETS, update_by - timedelta(hours=2), lead) == 0
        at = update_by - timedelta(minutes=30)
        await asyncio.gather(scheduled.remind_updates(rt_of(one), TICKETS, at, lead),
                             scheduled.remind_updates(rt_of(two), TICKETS, at, lead))
        assert await scheduled.remind_updates(rt_of(two), TICKETS, at + timedelta(minutes=5), lead) == 0

        answered = (await one.post(f"/v1/tickets/{filed['id']}/resolve", headers=staff,
                                   json={"answer": "已核实并退还重复扣费", "cause": "billing_error"})).json()
        calendar = (await sla_of(rt_of(one)).load()).calendar
        resolved_at = instant(answered["resolved_at"])
        days = Settings().auto_close_days
        assert await scheduled.auto_close(rt_of(one), TICKETS, resolved_at + timedelta(hours=1), calendar, days) == 0
        due = calendar.add(resolved_at, days * calendar.day_length)
        await asyncio.gather(scheduled.auto_close(rt_of(one), TICKETS, due, calendar, days),
                             scheduled.auto_close(rt_of(two), TICKETS, due, calendar, days))
        await drained(infra, name, [filed["id"]])

        reminded = of(await reminders(), [filed["id"]], "ticket.update_due")
        assert len(reminded) == 1 and reminded[0]["data"]["assignee"] == "handler-wang"
        assert reminded[0]["data"]["due_in_seconds"] == 1800
        closed = of(await closures(), [filed["id"]], "ticket.closed")
        assert len(closed) == 1
        assert closed[0]["data"]["close_reason"] == "no_feedback" and closed[0]["data"]["satisfied"] is None
        shown = (await one.get(f"/v1/tickets/{filed['id']}", headers=staff)).json()
        assert shown["status"] == "closed" and shown["feedback"] is None
        history = (await one.get(f"/v1/tickets/{filed['id']}/history", headers=staff)).json()["items"]
        assert [h["actor"] for h in history if h["action"] == "auto_close"] == ["system:auto-close"]
        assert [h["actor"] for h in history if h["action"] == "update_reminded"] == ["system:reminder"]
        late = await one.post(f"/v1/tickets/{filed['id']}/feedback", json={"satisfied": True}, headers=staff)
        assert late.status_code == 409
