"""One product from 需求提出 to 交付 through the public APIs of the running services, a refused transition at
every gate first (409 naming what is missing), then what the gate asked for, then the move. The pilot cities'
training is recorded in knowledge and reaches lifecycle's gate by event; entering trial opens the drafts of the
trial-commercial pack in knowledge. The centre enters the product's history: every step is dated in the past."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support import eventually, token

pytestmark = pytest.mark.e2e
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=240)


def day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


@pytest.fixture(scope="module")
async def http(stack):
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_a_product_from_demand_to_delivered(stack, http, infra):
    lc, kb = stack.urls["lifecycle"], stack.urls["knowledge"]
    code = f"walk_{uuid.uuid4().hex[:8]}"
    pm = token(infra, "product_manager", sub="pm-walk", products=[code])
    vendor = token(infra, "vendor", sub="vendor-walk-dev", vendor="vendor-walk")
    base = f"{lc}/v1/products/{code}"

    r = await http.post(f"{lc}/v1/products", headers=pm, json={"code": code, "name": "智慧巡河", "platform_code": "video"})
    assert r.status_code == 201, r.text
    refusals: dict[str, list[str]] = {}

    async def move(to: str, at: int, *, refused: list[str] | None = None):
        if refused is not None:
            r = await http.post(f"{base}/transitions", headers=pm, json={"to": to, "at": day(at)})
            assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json"), r.text
            refusals[to] = [m["code"] for m in r.json()["missing"]]
            assert refusals[to] == refused, r.json()
            return None
        r = await http.post(f"{base}/transitions", headers=pm, json={"to": to, "at": day(at)})
        assert r.status_code == 201, r.text
        return r.json()

    async def file(doc_type: str, at: int, headers=pm, approved: bool = True):
        r = await http.post(f"{base}/documents", headers=headers, json={
            "type": doc_type, "title": f"智慧巡河{doc_type}", "ref": f"files/{code}/{doc_type}.pdf",
            "approved": approved, "at": day(at)})
        assert r.status_code == 201, r.text
        return r.json()

    await move("research", 1)
    await move("review", 10, refused=["research_report"])
    await file("research_report", 9)
    await move("review", 10)

    await move("planning", 20, refused=["review_decision"])
    r = await http.post(f"{base}/decisions", headers=pm, json={"kind": "review", "outcome": "approved",
                                                               "participants": ["分管副总", "信息化中心主任"], "at": day(19)})
    assert r.status_code == 201, r.text
    await move("planning", 20)

    await move("initiation", 30, refused=["function_proposal", "schedule"])
    await file("function_proposal", 28)
    await file("schedule", 29)
    await move("initiation", 30)

    r = await http.patch(base, headers=pm, json={"budget_cny": 1_200_000, "note": "方案部确认预算"})
    assert r.status_code == 200, r.text
    await move("development", 60, refused=["initiation_request", "technical_spec", "contract", "vendor",
                                           "decision_meeting"])
    await file("initiation_request", 31)
    await file("technical_spec", 32)
    r = await http.post(f"{base}/decisions", headers=pm, json={"kind": "decision_meeting", "outcome": "approved",
                                                               "participants": ["决策会"], "at": day(33)})
    assert r.status_code == 201
    steps = ["procurement_request", "tender_preparation", "tender_issued", "bid_evaluation", "winner_confirmed",
             "contract_signed"]
    for n, step in enumerate(steps):
        body = {"step": step, "at": day(35 + n * 4), "document": {"title": f"智慧巡河{step}", "ref": f"files/{code}/{step}"}}
        if step == "winner_confirmed":
            body["vendor"] = "vendor-walk"
        r = await http.post(f"{base}/procurement/steps", headers=pm, json=body)
        assert r.status_code == 201, r.text
    assert (await http.get(base, headers=pm)).json()["vendor"] == "vendor-walk"
    await move("development", 60)

    r = await http.post(f"{base}/dev-reports", headers=vendor, json={"day": (START + timedelta(days=61)).date().isoformat(),
                                                                     "progress": "完成巡河轨迹模块", "percent": 40})
    assert r.status_code == 201, r.text
    await move("testing", 90, refused=["test_case_list", "om_manual"])
    cases = await file("test_case_list", 80, headers=vendor, approved=False)
    assert (await http.post(f"{base}/documents/{cases['id']}/approve", headers=pm)).status_code == 200
    await file("om_manual", 81)
    await move("testing", 90)

    r = await http.post(f"{base}/issues", headers=pm, json={"title": "移动端轨迹回放闪退", "terminal": "mobile",
                                                            "blocking": True})
    assert r.status_code == 201, r.text
    issue = r.json()
    await move("trial", 100, refused=["test_report", "blocking_issues"])
    await file("test_report", 98)
    await move("trial", 100, refused=["blocking_issues"])
    r = await http.post(f"{base}/issues/{issue['id']}/fix", headers=vendor, json={"note": "修复内存泄漏", "release": "1.0.1"})
    assert r.status_code == 200, r.text
    await move("trial", 100)

    async def pack():
        r = await http.get(f"{kb}/v1/articles", headers=token(infra, "agent"),
                           params={"product_code": code, "state": "draft", "limit": 50})
        items = r.json()["items"] if r.status_code == 200 else []
        return items if len(items) >= 5 else None

    drafts = await eventually(pack, timeout=30, what="the trial-commercial pack's drafts in knowledge")
    assert {d["type"] for d in drafts} == {"manual", "tariff", "training"}

    r = await http.put(f"{base}/trials/trial/pilots", headers=pm, json={"cities": ["济南", "临沂"], "customers": [
        {"name": "济南市水利局", "city": "济南", "industry": "government"}]})
    assert r.status_code == 200, r.text
    await move("trial_commercial", 140, refused=["min_duration", "trial_evaluation", "user_manual",
                                                 "process_description", "function_intro", "tariff_table", "training"])
    r = await http.put(f"{base}/trials/trial/tariff", headers=pm, json={"name": "智慧巡河试用资费", "ref": "files/tariff.pdf",
                                                                       "at": day(120)})
    assert r.status_code == 200, r.text
    r = await http.post(f"{base}/trials/trial/evaluation", headers=pm, json={
        "conclusion": "ready", "summary": "试点运行平稳", "evidence": ["files/survey.xlsx"], "ref": "files/eval.pdf",
        "at": day(160)})
    assert r.status_code in (200, 201), r.text
    for doc_type in ("user_manual", "process_description", "function_intro"):
        await file(doc_type, 161)
    r = await http.post(f"{kb}/v1/trainings", headers=pm, json={
        "product_code": code, "held_on": (START + timedelta(days=150)).date().isoformat(), "cities": ["济南"],
        "audience": "客户经理", "attendance": 30})
    assert r.status_code == 201, r.text

    async def training_gap():
        r = await http.post(f"{base}/transitions", headers=pm, json={"to": "trial_commercial", "at": day(165)})
        body = r.json()
        return body if r.status_code == 409 and any("临沂" in m["label"] for m in body.get("missing", [])) else None

    gap = await eventually(training_gap, timeout=30, what="lifecycle knows 济南 was trained, not 临沂")
    assert [m["code"] for m in gap["missing"]] == ["training"]
    r = await http.post(f"{kb}/v1/trainings", headers=pm, json={
        "product_code": code, "held_on": (START + timedelta(days=151)).date().isoformat(), "cities": ["临沂"],
        "audience": "客户经理", "attendance": 12})
    assert r.status_code == 201, r.text

    async def moved():
        r = await http.post(f"{base}/transitions", headers=pm, json={"to": "trial_commercial", "at": day(165)})
        return r.json() if r.status_code == 201 else None

    await eventually(moved, timeout=30, what="the trial-commercial gate passes once 临沂 is trained")

    await move("commercial", 200, refused=["min_duration", "trial_commercial_evaluation", "summary"])
    await file("trial_commercial_evaluation", 227)
    await file("summary", 228)
    await move("commercial", 228)

    await move("delivered", 235, refused=["training_material", "capability_catalog", "handover_record"])
    for doc_type in ("training_material", "capability_catalog", "handover_record"):
        await file(doc_type, 234)
    await move("delivered", 235)

    assert len(refusals) == 9  # every gate refused once first (需求提出 → 初步调研 has none)
    product = (await http.get(base, headers=pm)).json()
    assert product["stage"] == "delivered"
    timeline = (await http.get(f"{base}/timeline", headers=token(infra, "analyst"))).json()["entries"]
    kinds = {e["kind"] for e in timeline}
    assert {"registered", "transition", "document", "decision", "edit"} <= kinds, kinds
    assert sum(e["kind"] == "transition" for e in timeline) == 10
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
