"""The stage machine through the API: every gate refuses first with every missing item, then passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from contracts.events import TrainingRecorded
from services.lifecycle.domain import trials
from services.lifecycle.main import create
from services.lifecycle.settings import Settings
from tests.lifecycle.stages import new_product
from tests.support import running, settings_for, token

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=200)


@pytest.fixture
def app(infra):
    return create(settings_for(Settings, infra, "lifecycle"))


def day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


async def record_training(infra, code: str, cities: list[str], held_on: str) -> None:
    client = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    try:
        event = TrainingRecorded(training_id=f"tr-{code}", product_code=code, cities=cities, held_on=held_on,
                                 attendance=20)
        await client[infra.db_name("lifecycle")]["trainings"].insert_one(trials.training_record(event))
    finally:
        await client.close()


async def test_a_product_walks_from_demand_to_delivered_refused_at_every_gate_first(app, infra):
    pm = token(infra, "product_manager", sub="pm-walk")
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-walk", vendor=None)
        base = f"/v1/products/{code}"

        async def move(to: str, at: int, expect: int = 201, **extra):
            response = await client.post(f"{base}/transitions", json={"to": to, "at": day(at), **extra}, headers=pm)
            assert response.status_code == expect, response.text
            return response.json()

        async def refused(to: str, at: int) -> list[str]:
            body = await move(to, at, expect=409)
            assert body["type"] == "/problems/gate-blocked"
            assert all(item["label"] for item in body["missing"])
            return [item["code"] for item in body["missing"]]

        async def file(doc_type: str, at: int, approved: bool = True):
            response = await client.post(f"{base}/documents", headers=pm, json={
                "type": doc_type, "title": f"{doc_type} of {code}", "ref": f"oa://{doc_type}", "approved": approved,
                "at": day(at)})
            assert response.status_code == 201, response.text
            return response.json()

        await move("research", 0)  # 需求提出 → 初步调研 needs nothing
        assert await refused("review", 10) == ["research_report"]
        draft = await file("research_report", 9, approved=False)
        assert await refused("review", 10) == ["research_report"]
        approved = await client.post(f"{base}/documents/{draft['id']}/approve", headers=pm)
        assert approved.json()["approved"] is True and approved.json()["approved_by"] == "pm-walk"
        await move("review", 10)

        assert await refused("planning", 20) == ["review_decision"]
        decision = await client.post(f"{base}/decisions", headers=pm, json={
            "kind": "review", "outcome": "approved", "participants": ["总经理"], "at": day(19)})
        assert decision.status_code == 201 and decision.json()["outcome_label"] == "通过"
        await move("planning", 20)

        assert await refused("initiation", 30) == ["function_proposal", "schedule"]
        await file("function_proposal", 28)
        await file("schedule", 29)
        await move("initiation", 30)

        patched = await client.patch(base, headers=pm, json={"budget_cny": 2_000_000})
        assert patched.status_code == 200 and patched.json()["budget_cny"] == 2_000_000
        assert await refused("development", 40) == ["initiation_request", "technical_spec", "contract", "vendor",
                                                    "decision_meeting"]
        for doc_type in ("initiation_request", "technical_spec", "contract"):
            await file(doc_type, 38)
        await client.patch(base, headers=pm, json={"vendor": "vendor-07"})
        await client.post(f"{base}/decisions", headers=pm, json={
            "kind": "decision_meeting", "outcome": "approved", "participants": ["决策会"], "at": day(39)})
        await move("development", 40)

        assert await refused("testing", 50) == ["test_case_list", "om_manual"]
        vendor = token(infra, "vendor", sub="v7", vendor="vendor-07")
        by_vendor = await client.post(f"{base}/documents", headers=vendor, json={
            "type": "test_case_list", "title": "功能测试列表", "ref": "oa://tc"})
        assert by_vendor.status_code == 201 and by_vendor.json()["approved"] is False
        await client.post(f"{base}/documents/{by_vendor.json()['id']}/approve", headers=pm)
        await file("om_manual", 48)
        await move("testing", 50)

        assert await refused("trial", 60) == ["test_report"]
        await file("test_report", 59)
        await move("trial", 60)

        trial_pack = ["trial_evaluation", "user_manual", "process_description", "function_intro", "tariff_table"]
        assert await refused("trial_commercial", 100) == ["min_duration", *trial_pack, "training"]
        for doc_type in trial_pack:
            await file(doc_type, 110)
        await record_training(infra, code, ["济南"], (START + timedelta(days=111)).date().isoformat())
        await move("trial_commercial", 125)

        assert await refused("commercial", 150) == ["min_duration", "trial_commercial_evaluation", "summary"]
        await file("trial_commercial_evaluation", 180)
        await file("summary", 181)
        await move("commercial", 186)

        assert await refused("delivered", 190) == ["training_material", "capability_catalog", "handover_record"]
        for doc_type in ("training_material", "capability_catalog", "handover_record"):
            await file(doc_type, 190)
        await move("delivered", 191)

        product = (await client.get(base, headers=pm)).json()
        assert product["stage"] == "delivered" and product["stage_label"] == "交付"
        steps = (await client.get(f"{base}/transitions", headers=pm)).json()
        assert [s["to_stage"] for s in steps] == ["research", "review", "planning", "initiation", "development",
                                                 "testing", "trial", "trial_commercial", "commercial", "delivered"]

        timeline = (await client.get(f"{base}/timeline", headers=token(infra, "agent"))).json()
        entries = timeline["entries"]
        assert timeline["next_cursor"] is None
        paged, cursor = [], None
        while True:  # pages of 3 give the same entries in the same order, none twice
            page = (await client.get(f"{base}/timeline", headers=pm,
                                     params={"limit": 3, **({"cursor": cursor} if cursor else {})})).json()
            paged += page["entries"]
            if not (cursor := page["next_cursor"]):
                break
        assert [(e["kind"], e["id"]) for e in paged] == [(e["kind"], e["id"]) for e in entries]
        bad = await client.get(f"{base}/timeline", headers=pm, params={"cursor": "WzFd"})
        assert bad.status_code == 400 and bad.json()["type"] == "/problems/bad-cursor"
        assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
        assert {e["kind"] for e in entries} >= {"registered", "transition", "document", "decision"}
        assert sum(e["kind"] == "transition" for e in entries) == 10
        assert any(e["summary"] == "评审决策：通过（总经理）" and e["by"] == "pm-walk" for e in entries)
        assert any(e["kind"] == "document" and e["summary"].startswith("功能测试列表 v1") and e["by"] == "v7"
                   for e in entries)


async def test_transitions_are_dated_checked_and_overridden_only_by_an_admin(app, infra):
    pm = token(infra, "product_manager", sub="pm-dates")
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-dates")
        url = f"/v1/products/{code}/transitions"
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        response = await client.post(url, json={"to": "research", "at": future}, headers=pm)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "at"
        assert (await client.post(url, json={"to": "research", "at": day(5)}, headers=pm)).status_code == 201
        response = await client.post(url, json={"to": "review", "at": day(4)}, headers=pm)
        assert response.status_code == 422 and "previous transition" in response.json()["errors"][0]["message"]

        response = await client.post(url, json={"to": "planning"}, headers=pm)
        assert response.status_code == 409 and response.json()["type"] == "/problems/transition-not-allowed"
        assert response.json()["allowed"] == ["review", "retired"]

        response = await client.post(url, json={"to": "review", "override_reason": "领导特批"}, headers=pm)
        assert response.status_code == 403
        admin = token(infra, "admin", sub="root")
        response = await client.post(url, json={"to": "review", "override_reason": "领导特批"}, headers=admin)
        assert response.status_code == 201, response.text
        assert response.json()["overridden"] == [{"code": "research_report", "label": "调研报告（未提交）"}]
        assert response.json()["override_reason"] == "领导特批"

        response = await client.post(url, json={"to": "retired"}, headers=pm)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "note"
        response = await client.post(url, json={"to": "sideways"}, headers=pm)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "to"


async def test_who_may_drive_a_product(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-own", vendor="vendor-07")
        base = f"/v1/products/{code}"
        doc = {"type": "research_report", "title": "t", "ref": "r"}
        others = {"another product manager": token(infra, "product_manager", sub="pm-other", products=["cloud_fax"]),
                  "an agent": token(infra, "agent"), "an analyst": token(infra, "analyst"),
                  "the vendor": token(infra, "vendor", vendor="vendor-07")}
        for who, headers in others.items():
            for method, path, body in (("POST", f"{base}/transitions", {"to": "research"}),
                                       ("POST", f"{base}/decisions", {"kind": "review", "outcome": "approved",
                                                                       "participants": ["x"]}),
                                       ("PATCH", base, {"budget_cny": 1})):
                response = await client.request(method, path, json=body, headers=headers)
                assert response.status_code == 403, (who, path)
            if who != "the vendor":
                assert (await client.post(f"{base}/documents", json=doc, headers=headers)).status_code == 403, who
        vendor = others["the vendor"]
        assert (await client.post(f"{base}/documents", json=doc, headers=vendor)).status_code == 403  # not a vendor document
        assert (await client.post(f"{base}/documents", json={**doc, "type": "om_manual", "approved": True},
                                  headers=vendor)).status_code == 403
        scoped = token(infra, "product_manager", sub="pm-scope", products=[code])
        assert (await client.patch(base, json={"budget_cny": 10}, headers=scoped)).status_code == 200
        intake = token(infra, "intake")
        filed = await client.post(f"{base}/documents", json={**doc, "type": "om_manual"}, headers=vendor)
        assert filed.status_code == 201 and filed.json()["approved"] is False
        approve = f"{base}/documents/{filed.json()['id']}/approve"
        for who, headers in others.items():
            assert (await client.post(approve, headers=headers)).status_code == 403, who
        assert (await client.post(approve)).status_code == 401
        assert (await client.post(approve, headers=scoped)).json()["approved"] is True
        for path in (f"{base}/documents", f"{base}/decisions", f"{base}/transitions", f"{base}/gate",
                     f"{base}/timeline"):
            assert (await client.get(path, headers=intake)).status_code == 403, path
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, headers=token(infra, "agent"))).status_code == 200, path
        response = await client.post(f"{base}/documents", json={"type": "nope", "title": "t", "ref": "r"},
                                     headers=token(infra, "admin"))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "type"
        assert (await client.post("/v1/products/no_such/transitions", json={"to": "research"},
                                  headers=token(infra, "admin"))).status_code == 404


async def test_the_portfolio_shows_stages_blocked_gates_and_trials_ending(app, infra):
    from tests.lifecycle.stages import put_in_stage
    async with running(app) as client:
        blocked = await new_product(client, infra, pm="pm-port", stage="research")
        now = datetime.now(UTC)
        ending = await new_product(client, infra, pm="pm-port", stage="trial",
                                   entered_at=now.replace(day=1, hour=4) - timedelta(days=50))
        await put_in_stage(infra, ending, "trial", entered_at=(now.replace(day=1, hour=4) - timedelta(days=40)))
        plan = await client.post("/v1/maintenance/inspection-plans", headers=token(infra, "ops_engineer"), json={
            "target": blocked, "name": "周巡检", "every": "weekly", "checklist": [{"item": "服务进程"}],
            "starts_on": (now - timedelta(days=3)).date().isoformat()})
        assert plan.status_code == 201, plan.text
        response = await client.get("/v1/portfolio", headers=token(infra, "analyst"))
        assert response.status_code == 200, response.text
        body = response.json()
        stages = {s["stage"]: s for s in body["by_stage"]}
        assert blocked in stages["research"]["codes"] and stages["research"]["stage_label"] == "初步调研"
        assert sum(s["count"] for s in body["by_stage"]) >= 39
        [mine] = [b for b in body["blocked"] if b["code"] == blocked]
        assert mine["next_stage"] == "review" and mine["missing"] == [
            {"code": "research_report", "label": "调研报告（未提交）"}]
        [trial] = [t for t in body["trials_ending"] if t["code"] == ending]
        assert trial["stage_label"] == "试用" and trial["overdue"] is False
        assert not any(b["code"] == "mobile_office" for b in body["blocked"])  # delivered: daily operation
        [overdue] = [o for o in body["overdue_inspections"] if o["target"] == blocked]
        assert overdue["name"] == "周巡检" and overdue["plan_id"] == plan.json()["id"]
        assert (await client.get("/v1/portfolio", headers=token(infra, "intake"))).status_code == 403
        assert (await client.get("/v1/portfolio")).status_code == 401
        only_video = (await client.get("/v1/portfolio", params={"platform_code": "video"},
                                       headers=token(infra, "agent"))).json()
        assert {c for s in only_video["by_stage"] for c in s["codes"]} >= {"video", "remote_eye"}
        assert blocked not in {c for s in only_video["by_stage"] for c in s["codes"]}
