"""Procurement (立项招标): the six tendering steps of a product in initiation, against the real broker and store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.vocabulary import Stage
from services.lifecycle.domain import gates, procurement
from services.lifecycle.domain.procurement import STEPS, OutOfOrder, Step
from services.lifecycle.main import create
from services.lifecycle.settings import Settings
from services.lifecycle.store import gates as gate_facts
from services.lifecycle.store.timeline import timeline
from tests.lifecycle.stages import new_product, put_in_stage
from tests.support import captured, database, eventually, running, settings_for, token

DAY = timedelta(days=1)


@pytest.fixture
def app(infra):
    return create(settings_for(Settings, infra, "lifecycle"))


def steps_path(code: str) -> str:
    return f"/v1/products/{code}/procurement/steps"


def body(step: Step, at: datetime, **extra) -> dict:
    if step == Step.winner_confirmed:
        extra.setdefault("vendor", "vendor-77")
    if step == Step.contract_signed:
        extra.setdefault("document", {"title": "开发合同", "ref": "oa://contracts/77"})
    return {"step": step.value, "at": at.isoformat(), **extra}


# --- domain ------------------------------------------------------------------------------------------------------

def test_steps_come_in_order_and_dates_never_go_back():
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    assert procurement.check_step(Step.procurement_request, {}, t0) is None
    with pytest.raises(OutOfOrder) as refused:
        procurement.check_step(Step.bid_evaluation, {Step.procurement_request: t0}, t0)
    assert refused.value.missing == Step.tender_preparation
    with pytest.raises(OutOfOrder):
        procurement.check_step(Step.procurement_request, {Step.procurement_request: t0}, t0)
    done = {s: t0 for s in STEPS[:2]}
    assert "tender_preparation" in procurement.check_step(Step.tender_issued, done, t0 - DAY)
    assert procurement.check_step(Step.tender_issued, done, t0) is None  # the same day is fine
    assert procurement.next_step(set(STEPS[:4])) == Step.winner_confirmed
    assert procurement.next_step(set(STEPS)) is None


def test_the_overview_lists_six_steps_with_chinese_labels():
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    record = procurement.record("p", {"step": "procurement_request", "note": "提交"}, at=t0, by="pm-1", recorded_at=t0)
    rows = procurement.overview([record])
    assert [r["step"] for r in rows] == [s.value for s in STEPS]
    assert [r["step_label"] for r in rows] == ["采购申请", "标书制作", "发标", "评标", "确认中标商", "合同签订"]
    assert (rows[0]["status"], rows[0]["by"], rows[1]["status"]) == ("done", "pm-1", "pending")
    assert procurement.summary(record) == "立项招标：采购申请"


# --- routes --------------------------------------------------------------------------------------------------------

async def test_the_routes_need_a_token(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-p1", stage="initiation")
        assert (await client.get(f"/v1/products/{code}/procurement")).status_code == 401
        response = await client.post(steps_path(code), json={"step": "procurement_request"})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_whole_tender_sets_the_vendor_files_the_contract_and_opens_the_gate(app, infra):
    pm = token(infra, "product_manager", sub="pm-p2")
    t0 = datetime.now(UTC) - 10 * DAY
    async with running(app) as client, captured(infra, "lifecycle.product.registered") as events:
        code = await new_product(client, infra, pm="pm-p2", vendor=None, stage="initiation")
        empty = (await client.get(f"/v1/products/{code}/procurement", headers=token(infra, "agent"))).json()
        assert empty["next_step"] == "procurement_request" and empty["next_step_label"] == "采购申请"
        assert [s["status"] for s in empty["steps"]] == ["pending"] * 6 and empty["vendor"] is None

        for i, step in enumerate(STEPS):
            extra = {"amount_cny": 760000} if step == Step.winner_confirmed else {}
            if step == Step.procurement_request:
                extra["document"] = {"title": "采购申请函", "ref": "oa://procurement/1"}
            response = await client.post(steps_path(code), headers=pm, json=body(step, t0 + i * DAY, **extra))
            assert response.status_code == 201, response.text
        done = response.json()
        assert done["next_step"] is None and done["vendor"] == "vendor-77"
        assert all(s["status"] == "done" and s["by"] == "pm-p2" for s in done["steps"])
        winner = done["steps"][4]
        assert (winner["vendor"], winner["amount_cny"], winner["step_label"]) == ("vendor-77", 760000, "确认中标商")
        assert datetime.fromisoformat(done["steps"][0]["at"]) == t0.replace(microsecond=t0.microsecond // 1000 * 1000)

        product = (await client.get(f"/v1/products/{code}", headers=pm)).json()
        assert product["vendor"] == "vendor-77" and product["version"] == 2
        announced = await eventually(lambda: _for(events, code, "vendor-77"))
        assert announced["data"]["vendor"] == "vendor-77" and announced["sequence"] == 2

        async with database(infra, "lifecycle") as db:
            contract = await db["documents"].find_one({"_id": f"{code}:contract:v1"})
            request = await db["documents"].find_one({"_id": f"{code}:procurement_request:v1"})
        assert contract["approved"] and contract["title"] == "开发合同" and contract["approved_by"] == "pm-p2"
        assert request["type"] == "procurement_request" and request["approved"]

        rt = app.state.runtime
        facts = await gate_facts.gather(rt, await rt.store["products"].find_one({"_id": code}))
        lacking = {m.code for m in gates.missing(facts, Stage.development, datetime.now(UTC))}
        assert lacking == {"initiation_request", "technical_spec"}  # the tender gave the vendor and the contract

        entries = [e for e in (await timeline(rt, code, [], limit=1000))[0] if e["kind"] == "procurement_step"]
        assert [e["summary"] for e in entries][4] == "立项招标：确认中标商，中标商 vendor-77，金额 760000 元"
        assert entries[5]["kind_label"] == "立项招标" and entries[0]["by"] == "pm-p2"


async def _for(events, code: str, vendor: str):
    return next((e for e in await events() if e["subject"] == code and e["data"]["vendor"] == vendor), None)


async def test_steps_out_of_order_twice_or_misdated_are_refused_without_writing(app, infra):
    pm = token(infra, "product_manager", sub="pm-p3")
    t0 = datetime.now(UTC) - 5 * DAY
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-p3", stage="initiation")
        skipped = await client.post(steps_path(code), headers=pm, json=body(Step.tender_issued, t0))
        assert skipped.status_code == 409, skipped.text
        problem = skipped.json()
        assert problem["type"] == "/problems/procurement-step-out-of-order"
        assert (problem["missing_step"], problem["missing_step_label"]) == ("procurement_request", "采购申请")

        assert (await client.post(steps_path(code), headers=pm, json=body(Step.procurement_request, t0))).status_code == 201
        twice = await client.post(steps_path(code), headers=pm, json=body(Step.procurement_request, t0))
        assert twice.status_code == 409 and "already recorded" in twice.json()["detail"]

        for payload, field in [
            (body(Step.tender_preparation, t0 - DAY), "at"),                         # before its predecessor
            (body(Step.tender_preparation, datetime.now(UTC) + DAY), "at"),          # in the future
            ({"step": "tender_preparation", "at": "2026-11-02T09:00:00"}, "at"),    # no time zone
            ({"step": "tender_preparation", "at": "0001-01-01T00:00:00+08:00"}, "at"),
            ({"step": "tender_designing"}, "step"),
            ({"step": "tender_preparation", "colour": "red"}, "colour"),
            ({"step": "tender_preparation", "vendor": "vendor-9"}, "vendor"),        # only the winner names one
            ({"step": "tender_preparation", "amount_cny": -1}, "amount_cny"),
            ({"step": "tender_preparation", "document": {"title": "标书"}}, "document.ref"),
        ]:
            response = await client.post(steps_path(code), headers=pm, json=payload)
            assert response.status_code == 422, (payload, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"][0]["field"] == field, (payload, response.json())

        for step in STEPS[1:4]:
            assert (await client.post(steps_path(code), headers=pm, json=body(step, t0))).status_code == 201
        no_vendor = await client.post(steps_path(code), headers=pm, json={"step": "winner_confirmed"})
        assert no_vendor.status_code == 422 and no_vendor.json()["errors"][0]["field"] == "vendor"
        assert (await client.post(steps_path(code), headers=pm, json=body(Step.winner_confirmed, t0))).status_code == 201
        no_contract = await client.post(steps_path(code), headers=pm, json={"step": "contract_signed"})
        assert no_contract.status_code == 422 and no_contract.json()["errors"][0]["field"] == "document"

        state = (await client.get(f"/v1/products/{code}/procurement", headers=pm)).json()
        assert [s["status"] for s in state["steps"]] == ["done"] * 5 + ["pending"]
        async with database(infra, "lifecycle") as db:
            assert await db["documents"].count_documents({"product_code": code}) == 0


async def test_only_the_products_manager_or_an_admin_records_and_only_in_initiation(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-p4", vendor="vendor-44", stage="initiation")
        first = body(Step.procurement_request, datetime.now(UTC) - DAY)
        for headers in (token(infra, "product_manager", sub="pm-other"), token(infra, "vendor", vendor="vendor-44"),
                        token(infra, "agent"), token(infra, "analyst")):
            response = await client.post(steps_path(code), headers=headers, json=first)
            assert response.status_code == 403, response.text
        assert (await client.get(f"/v1/products/{code}/procurement", headers=token(infra, "intake"))).status_code == 403
        scoped = token(infra, "product_manager", sub="pm-scoped", products=[code])
        assert (await client.post(steps_path(code), headers=scoped, json=first)).status_code == 201
        admin = token(infra, "admin")
        assert (await client.post(steps_path(code), headers=admin,
                                  json=body(Step.tender_preparation, datetime.now(UTC)))).status_code == 201

        await put_in_stage(infra, code, "development")
        late = await client.post(steps_path(code), headers=admin, json=body(Step.tender_issued, datetime.now(UTC)))
        assert late.status_code == 409 and late.json()["type"] == "/problems/wrong-stage"
        assert late.json()["allowed_stages"] == ["initiation"]
        # the record stays readable in every stage
        assert (await client.get(f"/v1/products/{code}/procurement", headers=token(infra, "vendor"))).status_code == 200
        missing = await client.get("/v1/products/no_such_product/procurement", headers=admin)
        assert missing.status_code == 404
