"""The vendor scope end to end: lifecycle (in-process, its own store) registers a product with its vendor and later
PATCHes another one; knowledge learns each from `lifecycle.product.registered` on the real broker, and the vendor
that reads the product's articles is always the one lifecycle last named (issue 9)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.knowledge.main import create as create_knowledge
from services.knowledge.settings import Settings as KnowledgeSettings
from services.lifecycle.main import create as create_lifecycle
from services.lifecycle.settings import Settings as LifecycleSettings
from tests.support import captured, database, eventually, running, settings_for, token


@pytest.fixture(scope="module")
async def services(infra):
    async with running(create_knowledge(settings_for(KnowledgeSettings, infra, "knowledge-vendors"))) as knowledge, \
            running(create_lifecycle(settings_for(LifecycleSettings, infra, "lifecycle-vendors"))) as lifecycle:
        yield knowledge, lifecycle


async def test_the_vendor_lifecycle_names_reads_the_products_knowledge(services, infra):
    knowledge, lifecycle = services
    code = f"p_{uuid.uuid4().hex[:10]}"
    first, second = f"vendor-{uuid.uuid4().hex[:6]}", f"vendor-{uuid.uuid4().hex[:6]}"
    pm = token(infra, "product_manager", sub="pm-kv", products=[code])
    r = await lifecycle.post("/v1/products", headers=pm, json={
        "code": code, "name": f"测试产品{code[-4:]}", "platform_code": "cloud", "product_managers": ["pm-kv"],
        "vendor": first})
    assert r.status_code == 201, r.text
    r = await knowledge.post("/v1/articles", headers=token(infra, "agent"), json={
        "type": "service_script", "product_code": code, "title": "签到定位不准的答复口径", "body": "请开启高精度定位。"})
    assert r.status_code == 201, r.text
    article = r.json()["id"]
    r = await knowledge.post(f"/v1/articles/{article}/publish", headers={**pm, "If-Match": '"1"'})
    assert r.status_code == 200, r.text

    async def reads(vendor: str) -> int:
        return (await knowledge.get(f"/v1/articles/{article}", headers=token(infra, "vendor", vendor=vendor))).status_code

    async def named(vendor: str, other: str):
        return await reads(vendor) == 200 and await reads(other) == 404

    await eventually(lambda: named(first, second), timeout=15, what="the registered vendor reading its article")
    r = await lifecycle.patch(f"/v1/products/{code}", headers=pm, json={"vendor": second, "note": "更换厂家"})
    assert r.status_code == 200, r.text
    await eventually(lambda: named(second, first), timeout=15, what="the new vendor reading it, the old one not")
    search = await knowledge.get("/v1/search", params={"q": "签到定位不准", "product_code": code},
                                 headers=token(infra, "vendor", vendor=first))
    assert search.status_code == 403 and search.json()["parameter"] == "product_code", search.text


async def test_a_catalog_cached_before_vendors_were_kept_asks_lifecycle_to_announce_it_again(infra):
    """Entries cached without `vendor` (knowledge before vendors were kept) would let their vendors read nothing
    until lifecycle's next start: knowledge asks for the catalog at its own start instead — and not when every
    entry it holds has its vendor."""
    service = f"knowledge-old-catalog-{uuid.uuid4().hex[:6]}"
    settings = settings_for(KnowledgeSettings, infra, service)
    async with database(infra, service) as db:
        await db["products"].insert_one({"_id": "mobile_office", "name": "移动办公", "sequence": 3})
    async with captured(infra, "catalog.sync_requested") as received:
        async with running(create_knowledge(settings)):
            pass

        async def asked():
            return [e for e in await received() if e["source"] == "knowledge"]

        [request] = await eventually(asked, what="knowledge asking for the catalog")
        assert request["data"]["requested_by"] == "knowledge"
    async with database(infra, service) as db:
        await db["products"].update_one({"_id": "mobile_office"}, {"$set": {"vendor": None}})
    async with captured(infra, "catalog.sync_requested") as received:
        async with running(create_knowledge(settings)):
            pass
        await asyncio.sleep(1.0)
        assert [e for e in await received() if e["source"] == "knowledge"] == []
