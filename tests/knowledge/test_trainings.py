"""Training sessions (培训指导, issue 9 point 7) through the API against the real store and broker: recorded by
the product's manager, listed per product and city, validated field by field, announced with
`knowledge.training.recorded` for lifecycle's trial-commercial gate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.events import Envelope, TrainingRecorded
from services.knowledge.domain import trainings
from services.knowledge.domain.trainings import InvalidTraining
from services.knowledge.main import create
from services.knowledge.settings import Settings
from tests.knowledge.catalog import announce
from tests.knowledge.test_api import product
from tests.support import captured, eventually, running, settings_for, token


@pytest.fixture(scope="module")
async def client(infra):
    async with running(create(settings_for(Settings, infra, "knowledge"))) as client:
        yield client


async def material(client, infra, code, type="training") -> str:
    r = await client.post("/v1/articles", json={"type": type, "product_code": code, "title": "移动办公试商用培训材料",
                                                "body": "一、产品介绍\n二、开通流程\n三、常见问题"},
                          headers=token(infra, "agent"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def session(code, **overrides) -> dict:
    return {"product_code": code, "held_on": "2026-03-12", "cities": ["济南", "青岛"], "audience": "客户经理",
            "attendance": 46, **overrides}


async def test_a_recorded_training_is_listed_and_announced(client, infra):
    code = product()
    pm = token(infra, "product_manager", products=[code], sub="pm-7")
    kb = await material(client, infra, code)
    async with captured(infra, "knowledge.training.recorded") as received:
        r = await client.post("/v1/trainings", json=session(code, material_article_id=kb, note="试商用前培训",
                                                            cities=["济南", "青岛", "济南"]), headers=pm)
        assert r.status_code == 201, r.text
        recorded = r.json()
        assert r.headers["location"] == f"/v1/trainings/{recorded['id']}"

        async def ours():
            return [e for e in await received() if e["subject"] == recorded["id"]] or None

        [event] = await eventually(ours, what="knowledge.training.recorded")
    assert recorded["id"].startswith("PX-") and recorded["cities"] == ["济南", "青岛"]
    assert (recorded["held_on"], recorded["attendance"], recorded["material_article_id"], recorded["recorded_by"]) \
        == ("2026-03-12", 46, kb, "pm-7")
    data = Envelope.model_validate(event).payload(TrainingRecorded)
    assert (data.training_id, data.product_code, data.cities, data.held_on, data.attendance) == \
        (recorded["id"], code, ["济南", "青岛"], date(2026, 3, 12), 46)
    assert event["source"] == "knowledge" and event["sequence"] == 1

    later = await client.post("/v1/trainings", json=session(code, held_on="2026-04-01", cities=["烟台"],
                                                             attendance=0), headers=token(infra, "admin"))
    assert later.status_code == 201, later.text
    reader = token(infra, "analyst")
    listed = (await client.get("/v1/trainings", params={"product_code": code}, headers=reader)).json()
    assert [t["id"] for t in listed["items"]] == [later.json()["id"], recorded["id"]]  # latest held first
    in_qd = (await client.get("/v1/trainings", params={"product_code": code, "city": "青岛"}, headers=reader)).json()
    assert [t["id"] for t in in_qd["items"]] == [recorded["id"]]
    first = (await client.get("/v1/trainings", params={"product_code": code, "limit": 1}, headers=reader)).json()
    rest = (await client.get("/v1/trainings", params={"product_code": code, "limit": 1,
                                                      "cursor": first["next_cursor"]}, headers=reader)).json()
    assert [t["id"] for t in first["items"] + rest["items"]] == [t["id"] for t in listed["items"]]
    # a vendor reads the sessions of the products it supplies (lifecycle's catalog), not another vendor's
    await announce(infra, "knowledge", code, f"vendor-{code}")
    vendor = token(infra, "vendor", vendor=f"vendor-{code}")
    one = await client.get(f"/v1/trainings/{recorded['id']}", headers=vendor)
    assert one.status_code == 200 and one.json() == recorded
    own = (await client.get("/v1/trainings", params={"limit": 200}, headers=vendor)).json()["items"]
    assert [t["id"] for t in own] == [later.json()["id"], recorded["id"]]
    stranger = token(infra, "vendor", vendor="vendor-acme")
    assert (await client.get(f"/v1/trainings/{recorded['id']}", headers=stranger)).status_code == 404
    refused = await client.get("/v1/trainings", params={"product_code": code}, headers=stranger)
    assert refused.status_code == 403 and refused.json()["parameter"] == "product_code", refused.text
    assert code not in {t["product_code"] for t in (await client.get("/v1/trainings", params={"limit": 200},
                                                                     headers=stranger)).json()["items"]}
    assert (await client.get("/v1/trainings/PX-999999", headers=reader)).status_code == 404


@pytest.mark.parametrize("overrides, field", [
    ({"cities": ["北京"]}, "cities.0"),
    ({"cities": []}, "cities"),
    ({"attendance": -1}, "attendance"),
    ({"held_on": "2026-13-01"}, "held_on"),
    ({"held_on": (datetime.now(UTC) + timedelta(days=3)).date().isoformat()}, "held_on"),
    ({"audience": " "}, "audience"),
    ({"product_code": ""}, "product_code"),
    ({"material_article_id": "KB-999999"}, "material_article_id"),
    ({"material_article_id": "faq"}, "material_article_id"),
    ({"material_article_id": "other"}, "material_article_id"),
    ({"venue": "济南会议中心"}, "venue"),
])
async def test_bad_input_is_a_422_naming_the_field_and_records_nothing(client, infra, overrides, field):
    code = product()
    if overrides.get("material_article_id") == "faq":
        overrides = {"material_article_id": await material(client, infra, code, type="faq")}
    elif overrides.get("material_article_id") == "other":
        overrides = {"material_article_id": await material(client, infra, product())}
    pm = token(infra, "product_manager", products=[code])
    r = await client.post("/v1/trainings", json=session(code, **overrides), headers=pm)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]}
    listed = await client.get("/v1/trainings", params={"product_code": code}, headers=pm)
    assert listed.json()["items"] == []


async def test_only_the_products_manager_or_an_admin_records(client, infra):
    code = product()
    for headers in (token(infra, "product_manager", products=["another"]), token(infra, "agent"),
                    token(infra, "account_manager", city="济南")):
        r = await client.post("/v1/trainings", json=session(code), headers=headers)
        assert r.status_code == 403, r.text
    assert (await client.get("/v1/trainings", headers=token(infra, "intake"))).status_code == 403
    assert (await client.get("/v1/trainings")).status_code == 401


def test_the_domain_checks_dates_cities_and_material():
    now = datetime(2026, 3, 12, 17, 0, tzinfo=UTC)  # 01:00 on the 13th in Shanghai
    kw = dict(cities=["济南"], material=None, material_article_id=None, product_code="mobile_office", now=now)
    assert trainings.check(held_on=date(2026, 3, 13), **kw) == ["济南"]  # today, in Shanghai
    with pytest.raises(InvalidTraining) as error:
        trainings.check(held_on=date(2026, 3, 14), **kw)
    assert error.value.field == "held_on"
    general = {"type": "training", "product_code": None}
    assert trainings.check(held_on=date(2026, 3, 1), **{**kw, "material": general, "material_article_id": "KB-1"})
    with pytest.raises(InvalidTraining):
        trainings.check(held_on=date(2026, 3, 1), **{**kw, "cities": ["济南", "北京"]})
    assert trainings.list_key(date(2026, 3, 1), "PX-000002") == "20260301|PX-000002"
