"""Trials and trial-commercial against the real broker and store: pilots, tariff, evaluation, plan, summary;
feedback tickets and trainings arriving by event; who may do what."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.events import Envelope, TicketClosed, TicketOpened, TrainingRecorded
from contracts.vocabulary import Kind
from services.lifecycle.domain import trials
from services.lifecycle.main import create
from services.lifecycle.settings import Settings
from services.lifecycle.store.trials import ProductStages, stages_of
from tests.lifecycle.stages import new_product, put_in_stage
from tests.support import database, eventually, publish, running, settings_for, token

PM = "pm-trials"


@pytest.fixture
def app(infra):
    return create(settings_for(Settings, infra, "lifecycle"))


def pm(infra, sub=PM):
    return token(infra, "product_manager", sub=sub)


PILOTS = {"cities": ["济南", "青岛"], "customers": [{"name": "济南市某局", "city": "济南", "industry": "government"}]}
EVALUATION = {"conclusion": "ready", "summary": "试点运行平稳", "evidence": ["files/survey.xlsx"], "ref": "files/eval.pdf"}
SUMMARY = {"cases": [{"title": "济南市某局上线", "city": "济南"}],
           "industry_solutions": [{"industry": "finance", "title": "金融行业方案"}], "ref": "files/summary.pdf"}


def ticket_event(model, event_type, ticket_id, code, *, kind=Kind.suggestion, sequence=1, opened_at=None, **extra):
    opened_at = opened_at or datetime.now(UTC)
    data = dict(ticket_id=ticket_id, kind=kind, status="closed" if event_type == "ticket.closed" else "new",
                channel="call_center", product_code=code, city="青岛", priority="normal", tier=1, tier_reached=1,
                opened_at=opened_at, respond_by=opened_at, resolve_by=opened_at + timedelta(days=2),
                title="试用中希望增加批量导入", description="客户原话：希望批量导入党员信息", **extra)
    if event_type == "ticket.closed":
        data.update(closed_at=opened_at + timedelta(hours=3), answer="已纳入优化计划")
    return Envelope.wrap(model(**data), type=event_type, source="ticketing", subject=ticket_id, sequence=sequence,
                         correlationid=str(uuid.uuid4()))


async def test_trial_routes_need_a_token_and_the_right_role(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, stage="trial")
        base = f"/v1/products/{code}/trials/trial"
        writes = [("put", f"{base}/pilots", PILOTS),
                  ("put", f"{base}/tariff", {"name": "试用资费", "ref": "files/t.pdf"}),
                  ("post", f"{base}/evaluation", EVALUATION),
                  ("post", f"{base}/optimisation-plan", {"summary": "优化登录"}),
                  ("post", f"/v1/products/{code}/trials/trial_commercial/summary", SUMMARY)]
        for method, path, body in [*writes, ("get", base, None), ("get", f"{base}/feedback", None)]:
            response = await client.request(method.upper(), path, json=body)
            assert response.status_code == 401, path
            assert response.headers["content-type"].startswith("application/problem+json")
        for method, path, body in writes:
            for headers in (token(infra, "agent"), token(infra, "vendor", vendor="vendor-test"),
                            pm(infra, sub="pm-someone-else")):
                response = await client.request(method.upper(), path, json=body, headers=headers)
                assert response.status_code == 403, (path, response.text)
        for path in (base, f"{base}/feedback"):
            assert (await client.get(path, headers=token(infra, "intake"))).status_code == 403
            assert (await client.get(path, headers=token(infra, "agent"))).status_code == 200
        assert (await client.get(f"/v1/products/{code}/trials/launch", headers=token(infra, "agent"))).status_code == 422
        assert (await client.get("/v1/products/no_such/trials/trial", headers=token(infra, "agent"))).status_code == 404
        # nothing was written by the refused requests
        view = (await client.get(base, headers=token(infra, "agent"))).json()
        assert view["pilot_cities"] == [] and view["tariff"] is None and view["evaluation"] is None


async def test_bad_input_is_a_422_naming_the_field(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, stage="trial")
        base = f"/v1/products/{code}/trials/trial"

        async def field_of(method, path, body):
            response = await client.request(method, path, json=body, headers=pm(infra))
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            return response.json()["errors"][0]["field"]

        assert await field_of("PUT", f"{base}/pilots", {"cities": ["北京"]}) == "cities"
        assert await field_of("PUT", f"{base}/pilots", {"cities": ["济南", "济南"]}) == "cities"
        assert await field_of("PUT", f"{base}/pilots", {"cities": ["济南"], "extra": 1}) == "extra"
        assert await field_of("PUT", f"{base}/pilots", {"cities": ["济南"],
                                                        "customers": [{"name": "青岛港", "city": "青岛"}]}) \
            == "customers.0.city"
        future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        assert await field_of("PUT", f"{base}/tariff", {"name": "资费", "ref": "r", "at": future}) == "at"
        assert await field_of("PUT", f"{base}/tariff", {"name": "资费", "ref": "r", "agreed_with": "市场部"}) \
            == "agreed_with"
        assert await field_of("POST", f"{base}/evaluation", {**EVALUATION, "conclusion": "maybe"}) == "conclusion"
        assert await field_of("POST", f"{base}/evaluation", {**EVALUATION, "evidence": []}) == "evidence"
        assert await field_of("POST", f"{base}/optimisation-plan",
                              {"summary": "方案", "backlog_item_ids": ["other:abc"]}) == "backlog_item_ids.0"
        view = (await client.get(base, headers=pm(infra))).json()
        assert view["pilot_cities"] == [] and view["tariff"] is None and view["optimisation_plan"] is None


async def test_a_trial_is_planned_evaluated_and_files_its_gate_documents(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, stage="testing")
        base = f"/v1/products/{code}/trials/trial"
        # pilots and tariff may be planned while testing ends; the evaluation waits for the trial itself
        response = await client.put(f"{base}/pilots", json=PILOTS, headers=pm(infra))
        assert response.status_code == 200, response.text
        assert response.json()["pilot_cities"] == ["济南", "青岛"] and response.json()["current"] is False
        early = await client.post(f"{base}/evaluation", json=EVALUATION, headers=pm(infra))
        assert early.status_code == 409 and early.json()["type"] == "/problems/wrong-stage"
        too_early = await client.put(f"/v1/products/{code}/trials/trial_commercial/pilots", json=PILOTS,
                                     headers=pm(infra))
        assert too_early.status_code == 409

        await put_in_stage(infra, code, "trial", entered_at=datetime.now(UTC) - timedelta(days=70))
        tariff = await client.put(f"{base}/tariff", json={"name": "试用免费三个月", "ref": "files/tariff.pdf"},
                                  headers=pm(infra))
        assert tariff.status_code == 200, tariff.text
        assert tariff.json()["tariff"]["agreed_with"] == "信息化推进室"
        not_ready = await client.post(f"{base}/evaluation", json={**EVALUATION, "conclusion": "not_ready"},
                                      headers=pm(infra))
        assert not_ready.status_code == 200
        ready = await client.post(f"{base}/evaluation", json=EVALUATION, headers=pm(infra))
        assert ready.json()["evaluation"]["conclusion_label"] == "可进入下一阶段"
        plan = await client.post(f"{base}/optimisation-plan", json={"summary": "优化登录流程", "ref": "files/plan.docx"},
                                 headers=token(infra, "admin"))
        assert plan.status_code == 200 and plan.json()["optimisation_plan"]["summary"] == "优化登录流程"
        summary_now = await client.post(f"/v1/products/{code}/trials/trial_commercial/summary", json=SUMMARY,
                                        headers=pm(infra))
        assert summary_now.status_code == 409

        async with database(infra, "lifecycle") as db:
            docs = {(d["type"], d["version"]): d["approved"]
                    for d in await db["documents"].find({"product_code": code}).to_list()}
            trial = await db["trials"].find_one({"_id": f"{code}:trial"})
        assert docs == {("tariff_table", 1): True, ("trial_evaluation", 1): False, ("trial_evaluation", 2): True,
                        ("optimisation_plan", 1): True}
        assert trial["pilot_cities"] == ["济南", "青岛"]  # what store/gates.py reads

        from services.lifecycle.store.timeline import SOURCES
        assert {"trial", "training", "trial_feedback"} <= {source.kind for source in SOURCES}


async def test_trial_commercial_summary_files_the_summary_document(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, stage="trial_commercial")
        response = await client.post(f"/v1/products/{code}/trials/trial_commercial/summary", json=SUMMARY,
                                     headers=pm(infra))
        assert response.status_code == 200, response.text
        assert response.json()["summary"]["industry_solutions"][0]["industry"] == "finance"
        evaluation = await client.post(f"/v1/products/{code}/trials/trial_commercial/evaluation", json=EVALUATION,
                                       headers=pm(infra))
        assert evaluation.status_code == 200
        async with database(infra, "lifecycle") as db:
            types = {d["type"] for d in await db["documents"].find({"product_code": code, "approved": True}).to_list()}
        assert types == {"summary", "trial_commercial_evaluation"}


async def test_trainings_arrive_by_event_once_and_show_trained_pilot_cities(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, stage="trial")
        await put_in_stage(infra, code, "trial", entered_at=datetime(2026, 9, 1, tzinfo=UTC))
        await client.put(f"/v1/products/{code}/trials/trial/pilots", json={"cities": ["济南", "青岛", "烟台"]},
                         headers=pm(infra))

        def training(tid, cities, held_on):
            return Envelope.wrap(TrainingRecorded(training_id=tid, product_code=code, cities=cities, held_on=held_on,
                                                  attendance=20, audience="客户经理"),
                                 type="knowledge.training.recorded", source="knowledge", subject=tid, sequence=1,
                                 correlationid="t")

        before = training(f"tr-{uuid.uuid4().hex[:6]}", ["烟台"], date(2026, 8, 1))  # before the trial began
        during = training(f"tr-{uuid.uuid4().hex[:6]}", ["济南", "青岛"], date(2026, 9, 15))
        await publish(infra, before, during, during)

        async def trained():
            view = (await client.get(f"/v1/products/{code}/trials/trial", headers=token(infra, "agent"))).json()
            return view if view["trainings"]["trained_cities"] else None

        view = await eventually(trained, what="training recorded")
        assert view["trainings"]["trained_cities"] == ["济南", "青岛"]
        assert view["trainings"]["untrained_pilot_cities"] == ["烟台"]
        async with database(infra, "lifecycle") as db:
            assert await db["trainings"].count_documents({"product_code": code}) == 2


async def test_feedback_during_the_stage_is_linked_once_and_closed(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm=PM, stage="trial")
        other = await new_product(client, infra, pm=PM, stage="commercial")
        suggestion = ticket_event(TicketOpened, "ticket.opened", f"JY-{uuid.uuid4().hex[:6]}", code)
        complaint = ticket_event(TicketOpened, "ticket.opened", f"TS-{uuid.uuid4().hex[:6]}", code, kind=Kind.complaint)
        fault = ticket_event(TicketOpened, "ticket.opened", f"GZ-{uuid.uuid4().hex[:6]}", code, kind=Kind.fault)
        elsewhere = ticket_event(TicketOpened, "ticket.opened", f"JY-{uuid.uuid4().hex[:6]}", other)
        old = ticket_event(TicketOpened, "ticket.opened", f"JY-{uuid.uuid4().hex[:6]}", code,
                           opened_at=datetime.now(UTC) - timedelta(days=30))  # before the stage began
        await publish(infra, suggestion, suggestion, complaint, fault, elsewhere, old)
        closed = ticket_event(TicketClosed, "ticket.closed", suggestion.subject, code, sequence=5,
                              opened_at=suggestion.data["opened_at"] if isinstance(suggestion.data["opened_at"], datetime)
                              else datetime.fromisoformat(suggestion.data["opened_at"]))
        await publish(infra, closed, suggestion)  # the older opened after the closure changes nothing

        async def linked():
            body = (await client.get(f"/v1/products/{code}/trials/trial/feedback", headers=token(infra, "agent"))).json()
            states = {i["ticket_id"]: i["state"] for i in body["items"]}
            return body if states.get(suggestion.subject) == "closed" and complaint.subject in states else None

        body = await eventually(linked, what="feedback linked and closed")
        items = {i["ticket_id"]: i for i in body["items"]}
        assert set(items) == {suggestion.subject, complaint.subject}
        assert items[suggestion.subject]["answer"] == "已纳入优化计划"
        assert items[complaint.subject]["kind_label"] == "投诉"
        view = (await client.get(f"/v1/products/{code}/trials/trial", headers=token(infra, "agent"))).json()
        assert view["feedback"]["suggestion"] == 1 and view["feedback"]["complaint"] == 1


def test_merge_feedback_is_idempotent_and_order_tolerant():
    now = datetime.now(UTC)
    opened = TicketOpened(ticket_id="JY-1", kind=Kind.suggestion, status="new", channel="call_center",
                          product_code="p", city="济南", priority="normal", tier=1, tier_reached=1, opened_at=now,
                          respond_by=now, resolve_by=now, title="标题", description="描述")
    first = trials.merge_feedback(None, opened, stage="trial", event_type="ticket.opened", sequence=1)
    assert first["state"] == "open" and first["trial_id"] == "p:trial"
    assert trials.merge_feedback(first, opened, stage="trial", event_type="ticket.opened", sequence=1) is None
    product = {"code": "p", "stage": "trial"}
    assert trials.feedback_stage(opened, product, now - timedelta(days=1)) == "trial"
    assert trials.feedback_stage(opened, {**product, "stage": "commercial"}, None) is None
    assert trials.feedback_stage(opened, product, now + timedelta(days=1)) is None


async def test_a_products_stage_is_held_for_its_ttl_and_a_transition_here_is_seen_at_once(app, infra):
    """Trial feedback reads a product's stage from memory for a moment (store/trials.ProductStages): a change
    written elsewhere is seen once the moment is over, one made through this process's API at once."""
    async with running(app) as client:
        rt = app.state.runtime
        code = await new_product(client, infra, pm=PM, stage="trial")
        stages = ProductStages(rt, ttl=0.3)
        assert (await stages.get(code))["stage"] == "trial"
        await put_in_stage(infra, code, "trial_commercial")  # another replica's write
        assert (await stages.get(code))["stage"] == "trial"  # held
        await asyncio.sleep(0.35)
        assert (await stages.get(code))["stage"] == "trial_commercial"
        assert await stages.get("p_unknown") is None

        held = stages_of(rt)
        assert (await held.get(code))["stage"] == "trial_commercial"
        staged = await client.post(f"/v1/products/{code}/transitions", headers=token(infra, "admin"), json={
            "to": "commercial", "override_reason": "测试：跳过门禁"})
        assert staged.status_code in (200, 201), staged.text
        assert (await held.get(code))["stage"] == "commercial"  # forgotten by the transition, read again
