"""The SLA through the public API, against the real broker and store: the calendar and policy admin APIs, their
roles and validation, received_at at intake, and open tickets following a change (in the background, on the
other replica's copy too)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from services.ticketing.domain.calendar import SHANGHAI
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store.sla_recalc import SLA_OPEN_REVISION
from tests.support import captured, database, eventually, running, settings_for, token
from tests.ticketing.test_intake import product_known, ticket  # noqa: F401 (product_known: others import it from here)

ADMIN_RULES = [
    {"kind": "consultation", "clock": "business", "respond": {"amount": 1, "unit": "hours"},
     "resolve": {"amount": 2, "unit": "days"}},
    {"kind": "complaint", "clock": "business", "respond": {"amount": 4, "unit": "hours"},
     "resolve": {"amount": 5, "unit": "days"}, "update": {"amount": 1, "unit": "days"}},
    {"kind": "suggestion", "clock": "business", "respond": {"amount": 2, "unit": "days"},
     "resolve": {"amount": 15, "unit": "days"}},
    {"kind": "fault", "clock": "wall", "respond": {"amount": 2, "unit": "hours"},
     "resolve": {"amount": 48, "unit": "hours"}},
]


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def service(infra, name: str, **overrides):
    return create(settings_for(Settings, infra, name, sla_recalculate_seconds=0.3, **overrides))


@contextlib.asynccontextmanager
async def api_with_product(infra, name: str, admin_sub: str, **settings):
    """An API-role ticketing (no scheduler of its own: a test runs the passes, with its own clock), an admin's
    headers and a product its catalog knows."""
    app = create(settings_for(Settings, infra, name, role="api", **settings))
    async with running(app) as client:
        admin = token(infra, "admin", sub=admin_sub)
        product = await product_known(infra, client, admin)
        yield {"client": client, "rt": app.state.runtime, "product": product, "admin": admin}


async def test_the_calendar_is_read_by_staff_and_overridden_by_admins_only_with_valid_days(infra):
    async with running(service(infra, "ticketing-sla-calendar")) as client:
        agent, admin = token(infra, "agent"), token(infra, "admin", sub="admin-zhang")
        year = (await client.get("/v1/calendar/2026", headers=agent)).json()
        days = {d["date"]: d for d in year["days"]}
        assert days["2026-02-16"] == {**days["2026-02-16"], "working": False, "source": "library",
                                      "name": "Spring Festival"}
        assert days["2026-02-14"]["working"] is True and days["2026-02-14"]["weekday"] == 6  # 调休 Saturday
        assert year["working_hours"]["start"] == "08:30" and year["working_hours"]["business_day_hours"] == 9
        unknown = (await client.get("/v1/calendar/2027", headers=agent)).json()
        assert unknown["library"]["knows_year"] is False and unknown["days"] == []

        for who in (token(infra, "intake"), token(infra, "vendor", vendor="vendor-a")):
            assert (await client.get("/v1/calendar/2026", headers=who)).status_code == 403
        body = {"days": [{"date": "2027-02-08", "working": False, "note": "春节"}]}
        refused = await client.put("/v1/calendar/2027", json=body, headers=agent)
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"

        outside = await client.put("/v1/calendar/2027", headers=admin, json={"days": [
            {"date": "2027-02-08", "working": False}, {"date": "2028-01-03", "working": False}]})
        assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "days.1.date"
        twice = await client.put("/v1/calendar/2027", headers=admin, json={"days": [
            {"date": "2027-02-08", "working": False}, {"date": "2027-02-08", "working": True}]})
        assert twice.status_code == 422 and "twice" in twice.json()["detail"]
        assert (await client.put("/v1/calendar/1999", json=body, headers=admin)).status_code == 422
        assert (await client.get("/v1/calendar/2027", headers=agent)).json()["days"] == []  # nothing stored

        stored = await client.put("/v1/calendar/2027", json=body, headers=admin)
        assert stored.status_code == 200
        [day] = stored.json()["days"]
        assert (day["date"], day["working"], day["source"], day["by"], day["note"]) == (
            "2027-02-08", False, "admin", "admin-zhang", "春节")
        again = await client.put("/v1/calendar/2027", headers=token(infra, "admin", sub="admin-li"), json={"days": [
            *body["days"], {"date": "2027-02-20", "working": True, "note": "调休"}]})
        by_day = {d["date"]: d for d in again.json()["days"]}
        assert by_day["2027-02-08"]["by"] == "admin-zhang" and by_day["2027-02-08"]["at"] == day["at"]  # kept
        assert by_day["2027-02-20"]["by"] == "admin-li"
        assert again.json()["revision"] == stored.json()["revision"] + 1


async def test_received_at_runs_the_clocks_and_a_future_one_is_refused(infra):
    async with running(service(infra, "ticketing-sla-intake")) as client, \
            captured(infra, "ticket.opened") as opened_events:
        intake = token(infra, "intake", sub="crm-sla")
        product = await product_known(infra, client, intake)
        future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        refused = await client.post("/v1/tickets", json=ticket(product, received_at=future), headers=intake)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "received_at"
        naive = await client.post("/v1/tickets", json=ticket(product, received_at="2026-11-25T09:00:00"), headers=intake)
        assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "received_at"
        skewed = await client.post("/v1/tickets", headers=intake, json=ticket(
            product, received_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat()))
        assert skewed.status_code == 201  # a channel's clock a second fast

        relayed_late = await client.post("/v1/tickets", headers=intake, json=ticket(
            product, kind="complaint", received_at="2026-11-27T17:29:00+08:00"))  # a Friday, a minute to closing
        assert relayed_late.status_code == 201
        got = relayed_late.json()
        assert instant(got["received_at"]) == sh(2026, 11, 27, 17, 29)
        assert instant(got["sla"]["respond_by"]) == sh(2026, 11, 30, 12, 29)  # Monday
        assert instant(got["sla"]["update_by"]) == sh(2026, 11, 30, 17, 29)   # one business day
        assert got["sla"]["policy_version"] == 1 and got["sla"]["breached"] is True  # long past by now

        async def its_event():
            return [e for e in await opened_events() if e["subject"] == got["id"]]

        [event] = await eventually(its_event, what="ticket.opened with the SLA fields")
        assert instant(event["data"]["received_at"]) == sh(2026, 11, 27, 17, 29)
        assert instant(event["data"]["update_by"]) == sh(2026, 11, 30, 17, 29)


async def test_a_calendar_change_moves_open_tickets_deadlines_in_the_background_and_their_history_says_so(infra):
    # the breach job would raise the complaint's passed update deadline (a version more) whenever its pass falls
    # inside the test, which a slow box makes likely: this test counts the recalculation's write alone
    async with running(service(infra, "ticketing-sla-follow", sla_breach_scan_seconds=3600)) as client:
        staff, admin = token(infra, "agent"), token(infra, "admin", sub="admin-wang")
        product = await product_known(infra, client, staff)
        received = "2026-12-01T09:00:00+08:00"  # a Tuesday
        open_one = (await client.post("/v1/tickets", headers=staff,
                                      json=ticket(product, kind="complaint", received_at=received))).json()
        assert instant(open_one["sla"]["resolve_by"]) == sh(2026, 12, 8, 9, 0)
        answered = (await client.post("/v1/tickets", headers=staff,
                                      json=ticket(product, kind="complaint", received_at=received))).json()
        await client.post(f"/v1/tickets/{answered['id']}/assign", json={"assignee": "h1"}, headers=staff)
        await client.post(f"/v1/tickets/{answered['id']}/resolve", headers=staff,
                          json={"answer": "已处理", "cause": "other"})

        put = await client.put("/v1/calendar/2026", headers=admin,
                               json={"days": [{"date": "2026-12-03", "working": False, "note": "本地停电"}]})
        assert put.status_code == 200

        async def moved():
            r = (await client.get(f"/v1/tickets/{open_one['id']}", headers=staff)).json()
            return r if instant(r["sla"]["resolve_by"]) == sh(2026, 12, 9, 9, 0) else None

        after = await eventually(moved, what="the open complaint's deadline followed the calendar")
        assert after["version"] > open_one["version"]
        history = (await client.get(f"/v1/tickets/{open_one['id']}/history", headers=staff)).json()["items"]
        # one recalculation for the one change, found by its action rather than by the version: the breach job's
        # first pass, at start, raises this complaint's passed deadlines (a version more) when a slow box runs it
        # only after the filing (seen in a fresh-clone run)
        recalculations = [h for h in history if h["action"] == "sla_recalculated"]
        assert len(recalculations) == 1, history
        entry = recalculations[0]
        assert entry["action"] == "sla_recalculated" and entry["actor"] == "system:sla"
        assert instant(entry["details"]["before"]["resolve_by"]) == sh(2026, 12, 8, 9, 0)
        assert instant(entry["details"]["after"]["resolve_by"]) == sh(2026, 12, 9, 9, 0)

        async with database(infra, "ticketing-sla-follow") as db:
            resolved_doc = await db.tickets.find_one({"_id": answered["id"]})
            assert resolved_doc[SLA_OPEN_REVISION] is None
            still = (await client.get(f"/v1/tickets/{answered['id']}/history", headers=staff)).json()["items"]
            assert "sla_recalculated" not in [h["action"] for h in still]
            # later runs of the job leave both alone: nothing is selected again
            await client.put("/v1/calendar/2027", headers=admin, json={"days": []})

            async def caught_up():
                doc = await db.tickets.find_one({"_id": open_one["id"]})
                return doc[SLA_OPEN_REVISION] == put.json()["revision"] + 1

            await eventually(caught_up, what="the open ticket stamped with the newer revision")
            assert (await db.tickets.find_one({"_id": answered["id"]}))["_rev"] == resolved_doc["_rev"]


async def test_policies_are_versioned_tickets_keep_theirs_and_another_replica_follows_at_once(infra):
    name = "ticketing-sla-policies"
    async with running(service(infra, name)) as client, \
            running(service(infra, name, role="api")) as replica:
        staff, admin = token(infra, "agent"), token(infra, "admin", sub="admin-zhao")
        product = await product_known(infra, client, staff)
        await product_known(infra, replica, staff)
        before = (await client.post("/v1/tickets", json=ticket(product), headers=staff)).json()
        assert before["sla"]["policy_version"] == 1

        current = (await client.get("/v1/sla-policies", headers=token(infra, "analyst"))).json()
        assert current["version"] == 1 and current["versions"] == [1] and len(current["rules"]) == 6
        assert (await client.put("/v1/sla-policies", json={"rules": ADMIN_RULES}, headers=staff)).status_code == 403
        assert (await client.get("/v1/sla-policies", headers=token(infra, "intake"))).status_code == 403
        missing = await client.put("/v1/sla-policies", headers=admin,
                                   json={"rules": [r for r in ADMIN_RULES if r["kind"] != "suggestion"]})
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "rules"
        bad_unit = await client.put("/v1/sla-policies", headers=admin, json={"rules": [
            {**ADMIN_RULES[0], "respond": {"amount": 1, "unit": "weeks"}}, *ADMIN_RULES[1:]]})
        assert bad_unit.status_code == 422 and bad_unit.json()["errors"][0]["field"].startswith("rules.0.respond")
        assert (await client.get("/v1/sla-policies", headers=staff)).json()["versions"] == [1]  # nothing stored

        v2 = await client.put("/v1/sla-policies", headers=admin, json={"rules": ADMIN_RULES, "note": "咨询1小时响应"})
        assert v2.status_code == 200 and v2.json()["version"] == 2 and v2.json()["by"] == "admin-zhao"
        assert (await client.get("/v1/sla-policies", params={"version": 1}, headers=staff)).json()["rules"] == \
            current["rules"]
        assert (await client.get("/v1/sla-policies", params={"version": 9}, headers=staff)).status_code == 404
        new = (await client.post("/v1/tickets", json=ticket(product), headers=staff)).json()
        assert new["sla"]["policy_version"] == 2

        async def replica_follows():
            r = (await replica.post("/v1/tickets", json=ticket(product), headers=staff)).json()
            return r["sla"]["policy_version"] == 2

        await eventually(replica_follows, what="the API-only replica took version 2 from its own queue")
        kept = (await client.get(f"/v1/tickets/{before['id']}", headers=staff)).json()
        assert kept["sla"]["policy_version"] == 1 and kept["sla"]["respond_by"] == before["sla"]["respond_by"]

        v3 = await client.put("/v1/sla-policies", headers=admin,
                              json={"rules": ADMIN_RULES, "apply_to_open_tickets": True, "note": "更正"})
        assert v3.json()["minimum_policy_version"] == 3

        async def moved():
            r = (await client.get(f"/v1/tickets/{before['id']}", headers=staff)).json()
            return r if r["sla"]["policy_version"] == 3 else None

        moved_ticket = await eventually(moved, what="the open ticket follows a version applied to open tickets")
        # 1 business hour instead of 4: three working hours earlier whenever it was received
        assert instant(moved_ticket["sla"]["respond_by"]) < instant(before["sla"]["respond_by"])
        history = (await client.get(f"/v1/tickets/{before['id']}/history", headers=staff)).json()["items"]
        assert history[-1]["details"]["before"]["sla_policy_version"] == 1
        assert history[-1]["details"]["after"]["sla_policy_version"] == 3
