"""The merge of a duplicate when its target changes under it, against the real store and broker.

The target must be checked when it is written (services/ticketing/events/merges.py): these tests close or merge
the target between the merge's check and its write, through the API, at the step the service's own interleaving
hook (`rt.extras["merge_hooks"]`) stops at; run merges that race each other with no hook at all; and cut a merge
short where its process would die, then let the recovery job finish or give it up.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from services.ticketing.events import merges
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store.collections import TICKETS
from tests.support import captured, eventually, running, settings_for, token
from tests.ticketing.test_intake import register, ticket

SERVICE = "ticketing-merge"


class Crash(Exception):
    """Where the process would die: the request stops at this step and writes nothing more."""


async def merge_dying_after(env, hooks, step: str, source: str, target: str) -> None:
    """The merge request's process dies right after `step` (merges.py's test hooks): nothing after it runs."""
    async def die(source_id, into):
        raise Crash

    hooks[step] = die
    with pytest.raises(Crash):
        await post(env, source, "merge", {"into": target})
    hooks.clear()


@pytest.fixture(scope="module")
async def env(infra):
    app = create(settings_for(Settings, infra, SERVICE))
    async with running(app) as client:
        product = "p_" + uuid.uuid4().hex[:8]
        await register(infra, product)
        staff = token(infra, "agent", sub="agent-merge")

        async def knows():
            return (await client.post("/v1/tickets", json=ticket(product, title="probe"),
                                      headers=staff)).status_code == 201

        await eventually(knows, what="the catalog knows the product")
        yield {"client": client, "rt": app.state.runtime, "product": product, "staff": staff}


@pytest.fixture
def hooks(env):
    installed: dict = {}
    env["rt"].extras["merge_hooks"] = installed
    yield installed
    env["rt"].extras.pop("merge_hooks", None)


async def post(env, tid: str, action: str, body: dict, **headers):
    return await env["client"].post(f"/v1/tickets/{tid}/{action}", json=body, headers={**env["staff"], **headers})


async def get(env, tid: str) -> dict:
    r = await env["client"].get(f"/v1/tickets/{tid}", headers=env["staff"])
    assert r.status_code == 200, r.text
    return r.json()


async def stored(env, tid: str) -> dict:
    return await env["rt"].store[TICKETS].find_one({"_id": tid})


async def journal(env, tid: str) -> dict | None:
    return await env["rt"].store[merges.MERGE_INTENTS].find_one({"_id": tid})


async def open_ticket(env, name="王五") -> str:
    r = await env["client"].post("/v1/tickets", json=ticket(env["product"], customer={
        "name": name, "group_name": "青岛某公司"}), headers=env["staff"])
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert (await post(env, tid, "assign", {"assignee": "agent-merge"})).status_code == 200
    return tid


async def close(env, tid: str) -> None:
    r = await post(env, tid, "resolve", {"answer": "已答复", "cause": "usage_misunderstanding"})
    assert r.status_code == 200, r.text
    r = await post(env, tid, "feedback", {"satisfied": True, "score": 5})
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text


def refused_naming_into(r, into: str) -> dict:
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["into"] == into and body["errors"][0]["field"] == "into", body
    return body


async def untouched(env, source: str, source_before: dict, target: str, target_before: dict) -> None:
    """The refused merge left no trace: the source as it was (and free to act), the target without it, no
    journal entry."""
    source_now, target_now = await get(env, source), await get(env, target)
    assert (source_now["status"], source_now["version"]) == (source_before["status"], source_before["version"])
    assert (await stored(env, source))["merging"] is None and await journal(env, source) is None
    assert source not in target_now["merged_from"] and len(target_now["notes"]) == len(target_before["notes"])
    assert not any(r["ticket_id"] == source for r in target_now["related_requesters"])
    assert (await post(env, source, "notes", {"body": "合并未成，继续处理"})).status_code == 200


async def test_a_target_closed_between_the_check_and_the_write_refuses_the_merge(env, hooks):
    target, source = await open_ticket(env), await open_ticket(env)
    await post(env, source, "notes", {"body": "用户再次来电", "visibility": "requester"})
    source_before, target_before = await get(env, source), await get(env, target)
    seen: dict = {}

    async def close_the_target(source_id, into):
        # the source is reserved: it takes no other action, and nothing is merged into it
        seen["note"] = await post(env, source_id, "notes", {"body": "合并中"})
        third = await open_ticket(env)
        seen["into_source"] = await post(env, third, "merge", {"into": source_id})
        await close(env, into)

    hooks["reserved"] = close_the_target
    r = await post(env, source, "merge", {"into": target}, **{"If-Match": f'"{source_before["version"]}"'})
    body = refused_naming_into(r, target)
    assert body["target_status"] == "closed" and target in body["detail"]
    assert seen["note"].status_code == 409 and "being merged" in seen["note"].json()["detail"]
    refused_naming_into(seen["into_source"], source)
    hooks.clear()
    target_before["notes"] = (await get(env, target))["notes"]  # the close added none; the merge must add none
    await untouched(env, source, source_before, target, target_before)


async def test_a_target_merged_away_between_the_check_and_the_write_refuses_the_merge(env, hooks):
    target, source, third = await open_ticket(env), await open_ticket(env), await open_ticket(env)
    source_before, target_before = await get(env, source), await get(env, target)
    outcome: dict = {}

    async def merge_the_target_away(source_id, into):
        hooks.clear()  # the inner merge runs without the hook
        outcome["inner"] = await post(env, into, "merge", {"into": third})

    hooks["reserved"] = merge_the_target_away
    refused_naming_into(await post(env, source, "merge", {"into": target}), target)
    assert outcome["inner"].status_code == 200, outcome["inner"].text
    assert (await get(env, third))["merged_from"] == [target]
    await untouched(env, source, source_before, target, target_before)


async def test_a_target_that_closes_after_the_commit_keeps_what_it_took_in(env, hooks):
    target, source = await open_ticket(env), await open_ticket(env, name="赵六")
    hooks["committed"] = lambda source_id, into: close(env, into)
    r = await post(env, source, "merge", {"into": target})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["merged_into"]) == ("closed", target)
    closed = await get(env, target)
    assert closed["status"] == "closed" and closed["merged_from"] == [source]
    assert [r["customer"]["name"] for r in closed["related_requesters"]] == ["赵六"]
    history = [h["action"] for h in (await env["client"].get(f"/v1/tickets/{target}/history",
                                                               headers=env["staff"])).json()["items"]]
    assert history.index("merged_in") < history.index("resolve")  # taken in while it was being worked on
    assert await journal(env, source) is None


async def test_merges_racing_each_other_lose_no_requester(env):
    """A into B and B into C at once, with no hook: whichever lands, every closed duplicate's requester is on
    the ticket it ends up in, reached by following merged_into, and no reservation or journal entry is left."""
    outcomes = []
    for _ in range(6):
        a, b, c = await open_ticket(env, "甲"), await open_ticket(env, "乙"), await open_ticket(env, "丙")
        answers = await asyncio.gather(post(env, a, "merge", {"into": b}), post(env, b, "merge", {"into": c}))
        outcomes.append(tuple(r.status_code for r in answers))
        for r in answers:
            assert r.status_code in (200, 409), r.text
            if r.status_code == 409:
                assert r.json()["type"] == "/problems/illegal-transition" and "into" in r.json(), r.text
        tickets = {t: await get(env, t) for t in (a, b, c)}
        for tid, t in tickets.items():
            assert (await stored(env, tid))["merging"] is None and await journal(env, tid) is None
            if t["close_reason"] != "merged":
                continue
            end = tickets[t["merged_into"]]
            assert tid in end["merged_from"]
            while end["close_reason"] == "merged":
                end = tickets[end["merged_into"]]
            assert tid in {r["ticket_id"] for r in end["related_requesters"]}, (tid, end)
            assert end["status"] != "closed"
    assert all(o != (409, 409) for o in outcomes), outcomes  # one of the two always goes through


async def test_a_merge_cut_short_after_its_commit_is_finished_by_the_recovery(env, infra, hooks):
    target, source = await open_ticket(env), await open_ticket(env, name="孙七")
    await merge_dying_after(env, hooks, "committed", source, target)
    # between the two: the target holds the source, the source is reserved and waits
    assert (await get(env, target))["merged_from"] == [source]
    assert (await stored(env, source))["merging"]["into"] == target and await journal(env, source) is not None
    assert (await post(env, source, "notes", {"body": "x"})).status_code == 409
    assert await merges.recover(env["rt"]) == 0  # too young: its request may still be running

    async with captured(infra, "ticket.*") as received:
        assert await merges.recover(env["rt"], datetime.now(UTC) + timedelta(seconds=61)) == 1
        source_now = await get(env, source)
        assert (source_now["status"], source_now["close_reason"], source_now["merged_into"]) == (
            "closed", "merged", target)

        async def closing_events():
            types = [e["type"] for e in await received() if e["subject"] == source]
            return types if {"ticket.merged", "ticket.closed"} <= set(types) else None

        await eventually(closing_events, what="the recovered merge's events")
    assert await journal(env, source) is None and (await stored(env, source))["merging"] is None
    assert await merges.recover(env["rt"], datetime.now(UTC) + timedelta(seconds=61)) == 0
    assert (await get(env, target))["merged_from"] == [source]


async def test_a_merge_cut_short_before_its_commit_is_given_up_by_the_recovery(env, hooks):
    target, source = await open_ticket(env), await open_ticket(env)
    source_before, target_before = await get(env, source), await get(env, target)
    await merge_dying_after(env, hooks, "reserved", source, target)
    assert (await stored(env, source))["merging"]["into"] == target
    refused_naming_into(await post(env, await open_ticket(env), "merge", {"into": source}), source)
    assert await merges.recover(env["rt"], datetime.now(UTC) + timedelta(seconds=61)) == 1
    await untouched(env, source, source_before, target, target_before)


async def test_the_auto_close_job_passes_a_reserved_ticket_over_quietly_and_closes_it_once_released(env, hooks):
    """A resolved ticket without feedback, reserved for a merge that died before its commit: the job's passes
    leave it alone without a failure (the merge closes it, or gives up); given up, the next pass closes it."""
    from services.ticketing.store import scheduled
    from services.ticketing.store.collections import from_document
    from services.ticketing.store.listing import NEVER, instant_text
    from services.ticketing.store.sla_config import sla_of

    rt = env["rt"]
    target, source = await open_ticket(env), await open_ticket(env, name="周八")
    r = await post(env, source, "resolve", {"answer": "已答复", "cause": "usage_misunderstanding"})
    assert r.status_code == 200, r.text
    resolved_at = from_document(await stored(env, source)).resolved_at  # as stored (MongoDB keeps milliseconds)
    await merge_dying_after(env, hooks, "reserved", source, target)
    assert (await stored(env, source))["merging"]["into"] == target
    calendar, days = (await sla_of(rt).load()).calendar, rt.settings.auto_close_days
    due = calendar.add(resolved_at, days * calendar.day_length) + timedelta(minutes=1)

    async def auto_close_pass() -> list[dict]:
        """One pass at `due` (other tickets of this module it may close are no concern here): its log lines
        about the source."""
        with capture_logs() as logs:
            await scheduled.auto_close(rt, TICKETS, due, calendar, days)
        return [e for e in logs if e.get("ticket_id") == source]

    assert (await stored(env, source))[scheduled.AUTO_CLOSE_CHECK] == NEVER  # out of the job's range
    assert await auto_close_pass() == []
    # as a reservation written before the job skipped them left its key: the job finds the ticket and passes it
    # over quietly, writing the key it has now
    await rt.store[TICKETS].update_one({"_id": source},
                                       {"$set": {scheduled.AUTO_CLOSE_CHECK: instant_text(resolved_at)}})
    assert await auto_close_pass() == []
    doc = await stored(env, source)
    assert (doc["status"], doc[scheduled.AUTO_CLOSE_CHECK], doc["merging"]["into"]) == ("resolved", NEVER, target)

    # the merge is given up: the ticket is as it was, resolved since `resolved_at`, and the next pass closes it
    assert await merges.recover(rt, datetime.now(UTC) + timedelta(seconds=61)) == 1
    doc = await stored(env, source)
    assert doc["merging"] is None and doc[scheduled.AUTO_CLOSE_CHECK] == instant_text(resolved_at)
    assert await auto_close_pass() == []
    closed = await get(env, source)
    assert (closed["status"], closed["close_reason"]) == ("closed", "no_feedback")
