"""An assignee's due reminders (`GET /v1/reminders`) against the real store: raised by the scheduled work (its
passes called with the clock the test chooses), cleared by the note that restarts the update clock, by the first
response, by the resolution and by reassignment; one's own only, an admin anyone's, within the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ticketing.store import scheduled
from services.ticketing.store.collections import TICKETS
from tests.support import token
from tests.ticketing.test_intake import ticket
from tests.ticketing.test_sla_api import api_with_product, instant

COMPLAINT = {"kind": "complaint", "title": "移动办公重复扣费", "description": "客户反映本月被重复扣费两次"}
LEAD = timedelta(hours=1)


@pytest.fixture(scope="module")
async def env(infra):
    async with api_with_product(infra, "ticketing-reminders", "admin-r") as env:
        yield env


def as_(infra, sub: str, role: str = "complaint_handler", **claims) -> dict:
    return token(infra, role, sub=sub, **claims)


async def filed(env, assignee: str, **overrides) -> dict:
    client = env["client"]
    r = await client.post("/v1/tickets", json=ticket(env["product"], **COMPLAINT, **overrides), headers=env["admin"])
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/tickets/{r.json()['id']}/assign", json={"assignee": assignee}, headers=env["admin"])
    assert r.status_code == 200, r.text
    return r.json()


async def act(env, tid: str, action: str, body: dict) -> dict:
    r = await env["client"].post(f"/v1/tickets/{tid}/{action}", json=body, headers=env["admin"])
    assert r.status_code == 200, r.text
    return r.json()


async def reminders(env, headers: dict, **params) -> list[tuple[str, str, str]]:
    r = await env["client"].get("/v1/reminders", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def of(items: list[dict], tid: str) -> list[tuple[str, str]]:
    return [(i["kind"], i["deadline"]) for i in items if i["ticket_id"] == tid]


async def test_an_update_reminder_shows_until_the_note_that_restarts_the_update_clock(env, infra):
    t = await filed(env, "handler-r1")
    tid, update_by = t["id"], instant(t["sla"]["update_by"])
    mine = as_(infra, "handler-r1")
    assert of(await reminders(env, mine), tid) == []  # nothing raised yet

    assert await scheduled.remind_updates(env["rt"], TICKETS, update_by - timedelta(minutes=30), LEAD) >= 1
    [row] = [i for i in await reminders(env, mine) if i["ticket_id"] == tid]
    assert (row["kind"], row["deadline"], instant(row["due_at"])) == ("update_due", "update", update_by)
    assert (row["title"], row["ticket_kind"], row["assignee"]) == (COMPLAINT["title"], "complaint", "handler-r1")
    assert of(await reminders(env, as_(infra, "handler-r2")), tid) == []  # not someone else's
    assert of(await reminders(env, env["admin"], assignee="handler-r1"), tid) == [("update_due", "update")]

    await act(env, tid, "notes", {"body": "内部核实中", "visibility": "internal"})
    assert of(await reminders(env, mine), tid) == [("update_due", "update")]  # internal: the requester heard nothing
    # the report itself clears it, whether or not it moved update_by (written out of hours it restarts the clock
    # at the next working period: the same instant)
    await act(env, tid, "notes", {"body": "已联系计费部门核查，明日答复", "visibility": "requester"})
    assert of(await reminders(env, mine), tid) == []


async def test_missed_deadlines_show_until_met_follow_the_ticket_to_its_new_assignee_and_end_with_it(env, infra):
    # received ten days ago (a channel relaying late): respond, update and resolve deadlines have passed, and the
    # first action on the ticket raises them (routes.act: a deadline the breach job has not seen yet)
    received = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    t = await filed(env, "handler-r3", received_at=received)
    tid = t["id"]
    mine, next_one = as_(infra, "handler-r3"), as_(infra, "handler-r4")
    rows = [i for i in await reminders(env, mine) if i["ticket_id"] == tid]
    assert [(r["kind"], r["deadline"]) for r in rows] == [
        ("sla_breached", "respond"), ("sla_breached", "update"), ("sla_breached", "resolve")]
    assert all(r["raised_at"] and r["late_seconds"] > 0 for r in rows)
    assert [instant(r["due_at"]) for r in rows] == sorted(instant(r["due_at"]) for r in rows)

    await act(env, tid, "assign", {"assignee": "handler-r4"})
    assert of(await reminders(env, mine), tid) == []
    assert len(of(await reminders(env, next_one), tid)) == 3

    # a requester-visible note is the first response and the progress report: those two are met
    await act(env, tid, "notes", {"body": "已为您登记，正在处理", "visibility": "requester"})
    assert of(await reminders(env, next_one), tid) == [("sla_breached", "resolve")]
    await act(env, tid, "resolve", {"answer": "已退还重复扣费", "cause": "billing_error"})
    assert of(await reminders(env, next_one), tid) == []


async def test_a_product_manager_sees_the_reminders_of_its_own_products_only(env, infra):
    t = await filed(env, "pm-r1")
    tid, update_by = t["id"], instant(t["sla"]["update_by"])
    await scheduled.remind_updates(env["rt"], TICKETS, update_by - timedelta(minutes=30), LEAD)
    own = as_(infra, "pm-r1", "product_manager", products=[env["product"]])
    other = as_(infra, "pm-r1", "product_manager", products=["another_product"])
    assert of(await reminders(env, own), tid) == [("update_due", "update")]
    assert of(await reminders(env, other), tid) == []


async def test_pages_hold_whole_tickets_and_bad_input_is_a_problem(env, infra):
    tickets = [await filed(env, "handler-r5") for _ in range(3)]
    for t in tickets:
        await scheduled.remind_updates(env["rt"], TICKETS, instant(t["sla"]["update_by"]) - timedelta(minutes=30),
                                       LEAD)
    mine = as_(infra, "handler-r5")
    seen, cursor = [], None
    for _ in range(5):
        r = await env["client"].get("/v1/reminders", params={"limit": 1, **({"cursor": cursor} if cursor else {})},
                                    headers=mine)
        assert r.status_code == 200, r.text
        seen += [i["ticket_id"] for i in r.json()["items"]]
        assert len(r.json()["items"]) <= 1
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(t["id"] for t in tickets)
    for params, status in (({"cursor": "not-a-cursor"}, 400), ({"limit": 0}, 422), ({"limit": 201}, 422),
                           ({"assignee": ""}, 422)):
        r = await env["client"].get("/v1/reminders", params=params, headers=mine)
        assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), params
    r = await env["client"].get("/v1/reminders", params={"assignee": "handler-r1"}, headers=mine)
    assert r.status_code == 403 and r.json()["type"] == "/problems/out-of-scope"
