"""Two paraphrases of a brand-new question closed at the same instant on two replicas converge on one candidate
(events/matching.py: the start lease). The race is run for real: two app instances (two replicas, each with its
own matcher and its own cache of the candidates) on one store, their `ticket.closed` handlers called at once.
Each replica's cache is read just before, so each believes the question is new: without the lease both start a
candidate of their own."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contracts.events import TicketClosed
from services.knowledge.events import handlers
from services.knowledge.main import create
from services.knowledge.settings import Settings
from tests.knowledge.test_api import closed_event
from tests.support import running, settings_for, token

ROUNDS = 6


@pytest.fixture(scope="module")
async def replicas(infra):
    # role api: no consumer of their own, so the handlers below are the only writers of these products
    async with running(create(settings_for(Settings, infra, "knowledge-race", role="api"))) as one, \
            running(create(settings_for(Settings, infra, "knowledge-race", role="api"))) as two:
        yield one, two


def runtime(client):
    return client._transport.app.state.runtime


def closed(code: str, title: str) -> TicketClosed:
    return closed_event(code, title=title).payload(TicketClosed)


async def test_paraphrases_closed_at_once_on_two_replicas_start_one_candidate(replicas, infra):
    one, two = replicas
    first, second = runtime(one), runtime(two)
    assert handlers.matcher(first) is not handlers.matcher(second)
    codes = ["r" + uuid.uuid4().hex[:8] for _ in range(ROUNDS)]
    for code in codes:  # each replica has just read the product's candidates: none, for the next 2 s
        for rt in (first, second):
            await handlers.matcher(rt)._current(code, "service_script")
    closes = []
    for code in codes:
        closes += [handlers.count_closure(first, closed(code, "移动办公怎么登录")),
                   handlers.count_closure(second, closed(code, "请问如何登陆移动办公")),
                   # a different question at the same moment still starts its own
                   handlers.count_closure(second, closed(code, "移动办公忘记密码怎么重置"))]
    await asyncio.gather(*closes)

    analyst = token(infra, "analyst")
    for code in codes:
        r = await one.get("/v1/candidates", params={"product_code": code}, headers=analyst)
        assert r.status_code == 200, r.text
        found = sorted((c["occurrences"], sorted(q["question"] for q in c["questions"])) for c in r.json()["items"])
        assert found == [(1, ["移动办公忘记密码怎么重置"]), (2, ["移动办公怎么登录", "请问如何登陆移动办公"])], code
