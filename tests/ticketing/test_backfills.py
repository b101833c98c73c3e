"""Tickets stored in an older shape, written as such through the real store and reached once
(store/backfills.py): open tickets without `sla_open_revision` follow a calendar change (store/sla_recalc.py),
tickets reminded before they kept `update_reminded_at` show their `update_due` (store/scheduled.py), and tickets
stored before the list's keys or the breach check key get them (store/listing.py).
The service runs in the API role (no scheduler): the test runs each job's pass itself, and a backfill is done at its
first pass that finds nothing left (no settle time) except where a test says otherwise."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from services.ticketing.main import recalculation, scheduled_jobs
from services.ticketing.store import listing, scheduled, sla_recalc
from services.ticketing.store.backfills import BACKFILLS, OneTime
from services.ticketing.store.collections import TICKETS, from_document
from services.ticketing.store.sla_config import sla_of
from services.ticketing.store.sla_recalc import SLA_OPEN_REVISION
from tests.ticketing.test_intake import ticket
from tests.ticketing.test_sla_api import api_with_product, instant, sh

COMPLAINT = {"kind": "complaint", "title": "移动办公重复扣费", "description": "客户反映本月被重复扣费两次"}
RECEIVED = "2026-12-01T09:00:00+08:00"  # a Tuesday: resolve_by 2026-12-08 09:00 under the default calendar


@pytest.fixture(scope="module")
async def env(infra):
    async with api_with_product(infra, "ticketing-backfills", "admin-b", backfill_settle_seconds=0) as env:
        yield env


async def filed(env, assignee: str | None = None, **overrides) -> dict:
    client = env["client"]
    r = await client.post("/v1/tickets", json=ticket(env["product"], **COMPLAINT, **overrides), headers=env["admin"])
    assert r.status_code == 201, r.text
    if assignee:
        r = await client.post(f"/v1/tickets/{r.json()['id']}/assign", json={"assignee": assignee},
                              headers=env["admin"])
        assert r.status_code == 200, r.text
    return r.json()


async def without(env, ticket_id: str, *fields: str) -> dict:
    """The stored ticket rewritten whole without `fields`, as a document from before they existed."""
    tickets = env["rt"].store[TICKETS]
    for _ in range(20):  # guarded by the revision, as the relay may be clearing the outbox meanwhile
        doc = await tickets.find_one({"_id": ticket_id})
        old = {k: v for k, v in doc.items() if k not in fields}
        if (await tickets.replace_one({"_id": ticket_id, "_rev": doc["_rev"]}, old)).matched_count == 1:
            break
    else:
        raise AssertionError(f"{ticket_id} kept changing")
    stored = await tickets.find_one({"_id": ticket_id})
    assert not set(fields) & set(stored), stored
    return stored


async def stored(env, ticket_id: str) -> dict:
    return await env["rt"].store[TICKETS].find_one({"_id": ticket_id})


async def test_open_tickets_without_the_recalculation_field_follow_a_calendar_change_once_reached(env):
    rt, client, admin = env["rt"], env["client"], env["admin"]
    open_one = await filed(env, received_at=RECEIVED)
    answered = await filed(env, assignee="h1", received_at=RECEIVED)
    r = await client.post(f"/v1/tickets/{answered['id']}/resolve", headers=admin,
                          json={"answer": "已处理", "cause": "other"})
    assert r.status_code == 200, r.text
    assert instant(open_one["sla"]["resolve_by"]) == sh(2026, 12, 8, 9, 0)
    await without(env, open_one["id"], SLA_OPEN_REVISION)
    resolved_doc = await without(env, answered["id"], SLA_OPEN_REVISION)

    put = await client.put("/v1/calendar/2026", headers=admin,
                           json={"days": [{"date": "2026-12-03", "working": False, "note": "本地停电"}]})
    assert put.status_code == 200, put.text
    # the range of the recalculation does not see a document without the field: this is what was missed
    await sla_recalc.recalculate_open(rt.store, TICKETS, sla_of(rt).load)
    missed = await stored(env, open_one["id"])
    assert SLA_OPEN_REVISION not in missed and from_document(missed).resolve_by == sh(2026, 12, 8, 9, 0)

    recalculate = recalculation(rt)  # the job's pass: the one-time backfill, then the range
    await recalculate()
    doc = await stored(env, open_one["id"])
    assert doc[SLA_OPEN_REVISION] == put.json()["revision"]
    shown = (await client.get(f"/v1/tickets/{open_one['id']}", headers=admin)).json()
    assert instant(shown["sla"]["resolve_by"]) == sh(2026, 12, 9, 9, 0) and shown["version"] == open_one["version"] + 1
    history = (await client.get(f"/v1/tickets/{open_one['id']}/history", headers=admin)).json()["items"]
    assert history[-1]["action"] == "sla_recalculated" and history[-1]["actor"] == "system:sla"
    assert instant(history[-1]["details"]["before"]["resolve_by"]) == sh(2026, 12, 8, 9, 0)
    # a resolved ticket has no open deadlines to follow: left as it was (`_wrev`: the service's own writes, not
    # the relay clearing the outbox)
    assert (await stored(env, answered["id"]))["_wrev"] == resolved_doc["_wrev"]
    assert await rt.store[BACKFILLS].find_one({"_id": SLA_OPEN_REVISION}) is not None

    # from now on the range finds it like any other: the next change moves it again
    put = await client.put("/v1/calendar/2026", headers=admin, json={"days": [
        {"date": "2026-12-03", "working": False, "note": "本地停电"},
        {"date": "2026-12-04", "working": False, "note": "本地停电"}]})
    assert put.status_code == 200, put.text
    await recalculate()
    shown = (await client.get(f"/v1/tickets/{open_one['id']}", headers=admin)).json()
    assert instant(shown["sla"]["resolve_by"]) == sh(2026, 12, 10, 9, 0)


async def test_the_unmarked_query_finds_exactly_the_open_tickets_without_the_field(env):
    """`{field: None}` beside the open statuses, on this store: a missing field, not a closed ticket's None."""
    rt = env["rt"]
    unmarked = await filed(env)
    marked = await filed(env)
    await without(env, unmarked["id"], SLA_OPEN_REVISION)
    query = {SLA_OPEN_REVISION: None, "status": {"$in": [s.value for s in sla_recalc.OPEN]}}
    found = {d["_id"] for d in await rt.store[TICKETS].find(query, {"_id": 1}).to_list()}
    assert unmarked["id"] in found and marked["id"] not in found
    assert await sla_recalc.recalculate_unmarked(rt.store, TICKETS, sla_of(rt).load) is True
    assert (await stored(env, unmarked["id"]))[SLA_OPEN_REVISION] is not None
    assert not await rt.store[TICKETS].find(query, {"_id": 1}).to_list()


async def reminders_of(env, sub: str, ticket_id: str) -> list[tuple[str, str]]:
    r = await env["client"].get("/v1/reminders", params={"assignee": sub}, headers=env["admin"])
    assert r.status_code == 200, r.text
    return [(i["kind"], i["deadline"]) for i in r.json()["items"] if i["ticket_id"] == ticket_id]


async def test_a_ticket_reminded_before_it_kept_when_shows_its_update_due_once_reached(env):
    rt = env["rt"]
    reminded = await filed(env, assignee="handler-old")
    never = await filed(env, assignee="handler-old")
    update_by = instant(reminded["sla"]["update_by"])
    at = update_by - timedelta(minutes=30)
    assert await scheduled.remind_updates(rt, TICKETS, at, timedelta(hours=1)) >= 2  # both are due
    assert await reminders_of(env, "handler-old", reminded["id"]) == [("update_due", "update")]
    before = await without(env, reminded["id"], "update_reminded_at")
    assert before[scheduled.REMIND_CHECK] == "never"
    assert await reminders_of(env, "handler-old", reminded["id"]) == []  # what was shown until the next reminder
    # reminded too, then a report to the requester: the old shape of that has no reminder to show
    r = await env["client"].post(f"/v1/tickets/{never['id']}/notes", headers=env["admin"],
                                 json={"body": "正在核实扣费记录", "visibility": "requester"})
    assert r.status_code == 200, r.text
    never_before = await without(env, never["id"], "update_reminded_at")

    [job] = [j for j in scheduled_jobs(rt) if j.name == "update-reminders"]
    await job.run()  # the one-time backfill, then the reminder pass (at the real now: nothing due)
    doc = await stored(env, reminded["id"])
    assert abs(from_document(doc).update_reminded_at - at) < timedelta(milliseconds=1), doc["update_reminded_at"]
    assert await reminders_of(env, "handler-old", reminded["id"]) == [("update_due", "update")]
    assert (await stored(env, never["id"]))["_wrev"] == never_before["_wrev"]  # nothing to write for it
    assert await reminders_of(env, "handler-old", never["id"]) == []
    assert await rt.store[BACKFILLS].find_one({"_id": "update_reminded_at"}) is not None

    # done once: a later start reads the record and walks nothing (a document made old now is not reached)
    await without(env, reminded["id"], "update_reminded_at")
    [job] = [j for j in scheduled_jobs(rt) if j.name == "update-reminders"]
    await job.run()
    assert "update_reminded_at" not in await stored(env, reminded["id"])


async def test_the_walk_of_the_reminder_backfill_goes_on_where_a_pass_stopped(env, monkeypatch):
    rt = env["rt"]
    tickets = [await filed(env, assignee="handler-walk") for _ in range(3)]
    at = instant(tickets[0]["sla"]["update_by"]) - timedelta(minutes=30)
    await scheduled.remind_updates(rt, TICKETS, at, timedelta(hours=1))
    for t in tickets:
        await without(env, t["id"], "update_reminded_at")
    monkeypatch.setattr(scheduled, "BATCH", 1)  # a page of one ticket, one page a pass
    walk: dict = {}
    passes = 0
    while not await scheduled.backfill_reminded_at(rt.store, TICKETS, walk, max_batches=1):
        passes += 1
        assert passes < 1000
    assert passes >= 3
    for t in tickets:
        assert (await stored(env, t["id"])).get("update_reminded_at") is not None, t["id"]


def breach_job(rt):
    """The breach job as a start builds it: a fresh one is a later start, which knows nothing done yet."""
    [job] = [j for j in scheduled_jobs(rt) if j.name == "sla-breaches"]
    return job


async def test_tickets_stored_before_the_list_keys_or_the_check_key_get_them_once_from_the_breach_job(env):
    rt = env["rt"]
    tickets = rt.store[TICKETS]
    list_old, check_old = await filed(env), await filed(env)
    list_doc, check_doc = await stored(env, list_old["id"]), await stored(env, check_old["id"])
    await without(env, list_old["id"], *listing.BACKFILLED)
    await without(env, check_old["id"], scheduled.BREACH_CHECK)
    # every other ticket has text there, never null, so `{key: None}` is "lacks it" on MongoDB and nx-27017 alike
    for key, old in [*((k, list_old) for k in listing.BACKFILLED), (scheduled.BREACH_CHECK, check_old)]:
        assert {d["_id"] for d in await tickets.find({key: None}, {"_id": 1}).to_list()} == {old["id"]}, key

    await breach_job(rt).run()  # the two one-time backfills, then the breach pass
    # as derived from the stored ticket (its stored instants keep milliseconds, the intake's sort key microseconds)
    for ticket_id, doc, keys in (list_old["id"], list_doc, listing.BACKFILLED), \
            (check_old["id"], check_doc, (scheduled.BREACH_CHECK,)):
        derived = listing.derived_fields(from_document(doc))
        assert {k: (await stored(env, ticket_id))[k] for k in keys} == {k: derived[k] for k in keys}
    for name in listing.LIST_BACKFILL, scheduled.CHECKS_BACKFILL:
        assert await rt.store[BACKFILLS].find_one({"_id": name}) is not None, name

    # done once: a later start reads the records and looks for nothing (a document made old now is not reached)
    await without(env, list_old["id"], *listing.BACKFILLED)
    await without(env, check_old["id"], scheduled.BREACH_CHECK)
    await breach_job(rt).run()
    assert not set(listing.BACKFILLED) & set(await stored(env, list_old["id"]))
    assert scheduled.BREACH_CHECK not in await stored(env, check_old["id"])
    # put back, for the tests after
    assert await listing.backfill(rt.store, TICKETS, keys=(*listing.BACKFILLED, scheduled.BREACH_CHECK)) == 2


async def passes_before_done(step) -> int:
    passes = 0
    while not await step():
        passes += 1
        assert passes < 1000
    return passes


async def test_a_store_with_more_old_tickets_than_a_pass_finishes_over_several_passes(env, monkeypatch):
    """Each pass says whether it found none left, so OneTime records it done only after the last ticket, however
    many passes that takes (a pass here is one ticket)."""
    rt = env["rt"]
    old = [(await filed(env))["id"] for _ in range(3)]
    for ticket_id in old:
        await without(env, ticket_id, listing.SORT_KEY, scheduled.BREACH_CHECK)
    assert await passes_before_done(lambda: listing.backfill_pass(rt.store, TICKETS, batch=1, max_batches=1)) >= 3
    for ticket_id in old:
        await without(env, ticket_id, scheduled.BREACH_CHECK)
    monkeypatch.setattr(scheduled, "BATCH", 1)
    assert await passes_before_done(lambda: scheduled.backfill_checks(rt.store, TICKETS, max_batches=1)) >= 3
    for ticket_id in old:
        assert {listing.SORT_KEY, scheduled.BREACH_CHECK} <= set(await stored(env, ticket_id)), ticket_id


async def test_a_missing_field_is_found_as_none_on_both_stores_and_exists_false_is_not_the_same_on_both(env):
    """Why the backfills ask `{field: None}` beside a narrower condition, never `{field: {$exists: false}}`:
    `None` matches a missing field and a null one on MongoDB and on nx-27017 alike; `$exists: false` matches only
    the missing one on MongoDB, but the null one as well on nx-27017 (kit/store.py)."""
    probes = env["rt"].store["backfill_probes"]
    await probes.insert_many([{"_id": "missing", "k": 1}, {"_id": "null", "k": 1, "f": None},
                              {"_id": "set", "k": 1, "f": 3}])
    as_none = {d["_id"] for d in await probes.find({"f": None}, {"_id": 1}).to_list()}
    assert as_none == {"missing", "null"}
    exists_false = {d["_id"] for d in await probes.find({"f": {"$exists": False}}, {"_id": 1}).to_list()}
    nx = (await env["rt"].store.client.admin.command("serverStatus")).get("process") == "nx_27017"
    assert exists_false == ({"missing", "null"} if nx else {"missing"}), exists_false


async def test_a_backfill_is_done_only_when_its_passes_found_nothing_left_for_the_settle_time(env):
    """A rolling deploy: after the new version's first pass that finds nothing left, a replica of the version before
    still writes a ticket in the old shape; the passes within the settle time reach it, the first clean pass after it
    records the backfill done, and a later start then runs no pass at all."""
    rt, name, passes = env["rt"], f"settle-probe-{uuid.uuid4().hex[:8]}", []

    async def step() -> bool:
        passes.append(1)
        return await listing.backfill_pass(rt.store, TICKETS)

    backfill = OneTime(rt.store, name, step, settle=timedelta(seconds=1.5))
    await backfill()
    record = await rt.store[BACKFILLS].find_one({"_id": name})
    assert record is not None and record.get("clean_since") and "done_at" not in record, record
    assert not backfill.done

    old = await filed(env)
    await without(env, old["id"], *listing.BACKFILLED)  # written by an older replica, after the first clean pass
    await backfill()
    assert set(listing.BACKFILLED) <= set(await stored(env, old["id"]))
    assert not backfill.done and "done_at" not in await rt.store[BACKFILLS].find_one({"_id": name})

    await asyncio.sleep(1.6)
    await backfill()
    assert backfill.done and (await rt.store[BACKFILLS].find_one({"_id": name})).get("done_at")
    later_start, count = OneTime(rt.store, name, step, settle=timedelta(seconds=1.5)), len(passes)
    await later_start()
    assert later_start.done and len(passes) == count


async def test_a_backfill_recorded_done_before_backfills_settled_stays_done(env):
    """A record of the earlier form (`done_at` alone) is done: no pass runs for it again."""
    rt, name, passes = env["rt"], f"settle-old-{uuid.uuid4().hex[:8]}", []
    await rt.store[BACKFILLS].insert_one({"_id": name, "done_at": "20261201T000000.000000Z"})

    async def step() -> bool:
        passes.append(1)
        return True

    backfill = OneTime(rt.store, name, step, settle=timedelta(hours=1))
    await backfill()
    assert backfill.done and passes == []
