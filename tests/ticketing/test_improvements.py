"""lifecycle's `lifecycle.backlog_item.shipped` reaches the channel of every ticket that raised the item, as a
signed `ticket.improvement_shipped` callback, once however often the announcement comes (real broker, store and
HTTP receiver)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from contracts.events import BacklogItemShipped, Envelope
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store.webhooks import DELIVERIES
from tests.support import catalog_learns, database, eventually, publish, running, settings_for, token
from tests.ticketing.test_webhooks import (  # noqa: F401 - the receiver fixture and the helpers of the webhooks tests
    CHANNEL_A, CHANNEL_B, PRODUCT, RECEIVER_NETWORK, file_ticket, receiver, register, ticket_body, verified,
)

DB = "ticketing_improvements"


@pytest.fixture(scope="module")
async def api(infra, receiver):  # noqa: F811
    settings = settings_for(Settings, infra, DB, webhook_retry_delays=[0.05], webhook_retry_jitter=0.0,
                            webhook_poll_seconds=0.1, webhook_timeout_seconds=5.0,
                            webhook_allowed_networks=RECEIVER_NETWORK)
    app = create(settings)
    async with running(app) as client:
        await catalog_learns(infra, client, PRODUCT, ticket_body("probe"), token(infra, "agent"))
        yield client


def shipped(ticket_ids: list[str], item_id: str | None = None) -> Envelope:
    item_id = item_id or f"{PRODUCT}:{uuid.uuid4().hex[:16]}"
    return Envelope.wrap(BacklogItemShipped(product_code=PRODUCT, item_id=item_id, title="希望支持批量导入",
                                            release="v2.3.0", shipped_at=datetime(2026, 11, 20, 2, tzinfo=UTC),
                                            ticket_ids=ticket_ids),
                         type="lifecycle.backlog_item.shipped", source="lifecycle", subject=item_id, sequence=4,
                         correlationid="test")


async def test_each_tickets_channel_is_told_once_of_the_shipped_release(api, infra, receiver):  # noqa: F811
    url_a, endpoint_a = receiver.endpoint(f"improve-a-{uuid.uuid4().hex[:6]}")
    url_b, endpoint_b = receiver.endpoint(f"improve-b-{uuid.uuid4().hex[:6]}")
    url_closed, endpoint_closed = receiver.endpoint(f"improve-c-{uuid.uuid4().hex[:6]}")
    hook_a = await register(api, infra, url_a, sub=CHANNEL_A)
    await register(api, infra, url_closed, sub=CHANNEL_A, events=["ticket.closed"])
    await register(api, infra, url_b, sub=CHANNEL_B, events=["ticket.improvement_shipped"])
    ticket_a = await file_ticket(api, infra, sub=CHANNEL_A, title="希望支持批量导入")
    ticket_b = await file_ticket(api, infra, sub=CHANNEL_B, title="能否批量导入")
    unrelated = await file_ticket(api, infra, sub=CHANNEL_B, title="登录失败")

    event = shipped([ticket_a, ticket_b, "JY-not-ours"])
    await publish(infra, event, event)

    def improvements(endpoint):
        return [json.loads(r["body"]) for r in endpoint.delivered()
                if json.loads(r["body"])["type"] == "ticket.improvement_shipped"]

    await eventually(lambda: _async(improvements(endpoint_a) and improvements(endpoint_b)),
                     what="both channels told")
    body = verified(hook_a["secret"], endpoint_a.delivered()[-1])
    assert body["type"] == "ticket.improvement_shipped"
    assert body["data"]["ticket_id"] == ticket_a and body["data"]["product_code"] == PRODUCT
    assert body["data"]["improvement"] == {"item_id": event.subject, "title": "希望支持批量导入",
                                           "release": "v2.3.0", "shipped_at": "2026-11-20T02:00:00Z"}
    assert [b["data"]["ticket_id"] for b in improvements(endpoint_b)] == [ticket_b]
    async with database(infra, DB) as db:
        made = await db[DELIVERIES].find({"event_type": "ticket.improvement_shipped",
                                          "event_id": event.id}).to_list()
    # one per ticket and wanting webhook, however often the announcement came; none for the unrelated ticket,
    # none for the webhook that wants closures only
    assert sorted(d["ticket_id"] for d in made) == sorted([ticket_a, ticket_b])
    assert unrelated not in {d["ticket_id"] for d in made}
    assert not [r for r in endpoint_closed.requests if json.loads(r["body"])["type"] == "ticket.improvement_shipped"]


async def test_a_channel_may_subscribe_to_improvements_only(api, infra, receiver):  # noqa: F811
    url, _ = receiver.endpoint(f"improve-only-{uuid.uuid4().hex[:6]}")
    hook = await register(api, infra, url, sub=CHANNEL_A, events=["ticket.improvement_shipped"])
    assert hook["events"] == ["ticket.improvement_shipped"]


async def _async(value):
    return value
