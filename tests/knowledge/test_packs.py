"""A product entering trial opens the drafts of its trial-commercial pack in knowledge, once per entry."""

from __future__ import annotations

import uuid

import pytest

from contracts.events import Envelope, ProductStageChanged
from services.knowledge.main import create
from services.knowledge.settings import Settings
from tests.support import eventually, publish, running, settings_for, token


@pytest.fixture(scope="module")
async def client(infra):
    async with running(create(settings_for(Settings, infra, "knowledge"))) as client:
        yield client


def moved(code: str, to: str, sequence: int, kind: str = "product") -> Envelope:
    payload = ProductStageChanged(code=code, from_stage="testing", to_stage=to, actor="pm-9", name="智慧测试",
                                  kind=kind)
    return Envelope.wrap(payload, type="lifecycle.product.stage_changed", source="lifecycle", subject=code,
                         sequence=sequence, correlationid=str(uuid.uuid4()))


async def drafts(client, infra, code):
    response = await client.get("/v1/articles", params={"product_code": code, "state": "draft", "limit": 50},
                                headers=token(infra, "agent"))
    return response.json()["items"]


async def test_entering_trial_opens_the_pack_drafts_once(client, infra):
    code = f"pack_{uuid.uuid4().hex[:8]}"
    event = moved(code, "trial", 7)
    await publish(infra, event, event, moved(code, "testing", 6), moved(f"{code}_p", "trial", 3, kind="platform"))

    async def five():
        items = await drafts(client, infra, code)
        return items if len(items) >= 5 else None

    items = await eventually(five, what="the trial-commercial pack")
    assert sorted(i["title"] for i in items) == sorted(
        f"智慧测试{t}（试商用）" for t in ("操作手册", "流程说明", "功能介绍", "资费表", "地市培训材料"))
    assert {i["type"] for i in items} == {"manual", "tariff", "training"}
    await publish(infra, event)  # redelivered: nothing new
    again = moved(code, "trial", 9)  # went back to development and entered trial again: a new pack
    await publish(infra, again)

    async def ten():
        items = await drafts(client, infra, code)
        return items if len(items) >= 10 else None

    assert len(await eventually(ten, what="the second pack")) == 10
    assert await drafts(client, infra, f"{code}_p") == []
