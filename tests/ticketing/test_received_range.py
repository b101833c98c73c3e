"""`GET /v1/tickets?received_from=&received_to=` (issue 8 §8) against the real store: a range over when the
requester contacted the channel, both ends inclusive, given as ISO 8601 with an offset; narrowed by the caller's
scope like every list; malformed or reversed bounds are a 422 naming the field."""

from __future__ import annotations

import uuid

import pytest

from services.ticketing.main import create
from services.ticketing.store import listing
from services.ticketing.store.collections import TICKETS
from services.ticketing.settings import Settings
from tests.support import eventually, running, settings_for, token
from tests.ticketing.test_intake import register

PRODUCT = "p_received_" + uuid.uuid4().hex[:6]
# when each requester called (Shanghai time), and from which city
RECEIVED = {"a": ("2026-01-05T09:00:00+08:00", "济南"), "b": ("2026-01-06T09:00:00+08:00", "青岛"),
            "c": ("2026-01-07T09:00:00+08:00", "济南"), "d": ("2026-01-08T09:00:00+08:00", "济南")}


def ticket_body(received_at: str, city: str) -> dict:
    return {"kind": "consultation", "channel": "call_center", "product_code": PRODUCT, "city": city,
            "title": "集团通讯录同步咨询", "description": "客户询问通讯录多久同步一次", "received_at": received_at,
            "customer": {"name": "李四", "group_name": f"{city}某集团"}}


@pytest.fixture(scope="module")
async def filed(infra):
    app = create(settings_for(Settings, infra, "ticketing-received"))
    async with running(app) as client:
        await register(infra, PRODUCT)
        agent = token(infra, "agent")

        async def file_first():
            r = await client.post("/v1/tickets", json=ticket_body(*RECEIVED["a"]), headers=agent)
            return r.json()["id"] if r.status_code == 201 else None

        ids = {"a": await eventually(file_first, what="the catalog learnt the product")}
        for name in ("b", "c", "d"):
            r = await client.post("/v1/tickets", json=ticket_body(*RECEIVED[name]), headers=agent)
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        client.runtime = app.state.runtime
        yield client, ids


async def listed(client, headers, **params) -> list[str]:
    """Every id the list gives for `params`, one ticket a page: the range holds across cursor pages."""
    found, cursor = [], None
    while True:
        r = await client.get("/v1/tickets", params={"product_code": PRODUCT, "limit": 1, **params,
                                                    **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert r.status_code == 200, r.text
        found += [t["id"] for t in r.json()["items"]]
        if not (cursor := r.json()["next_cursor"]):
            return found


async def test_a_range_lists_the_tickets_received_within_it_both_ends_included(filed, infra):
    client, ids = filed
    agent = token(infra, "agent")
    # newest first (by filing); the upper bound is exactly c's instant
    assert await listed(client, agent, received_from="2026-01-06T00:00:00+08:00",
                        received_to="2026-01-07T09:00:00+08:00") == [ids["c"], ids["b"]]
    # the same instant as c's, written in UTC: an offset is an instant, not a wall-clock text
    assert await listed(client, agent, received_from="2026-01-07T01:00:00Z") == [ids["d"], ids["c"]]
    assert await listed(client, agent, received_to="2026-01-07T00:59:59.999+00:00") == [ids["b"], ids["a"]]
    assert await listed(client, agent, received_from="2026-01-09T00:00:00+08:00") == []
    # with another filter of the list
    assert await listed(client, agent, received_to="2026-01-07T09:00:00+08:00", city="济南") == [ids["c"], ids["a"]]


async def test_an_account_managers_range_shows_only_its_city(filed, infra):
    client, ids = filed
    window = {"received_from": "2026-01-05T00:00:00+08:00", "received_to": "2026-01-08T23:59:59+08:00"}
    assert await listed(client, token(infra, "account_manager", city="济南"), **window) == [ids["d"], ids["c"],
                                                                                          ids["a"]]
    assert await listed(client, token(infra, "account_manager", city="青岛"), **window) == [ids["b"]]
    assert await listed(client, token(infra, "account_manager", city="烟台"), **window) == []


@pytest.mark.parametrize("params,field", [
    ({"received_from": "2026-01-06"}, "received_from"),  # a date, not an instant
    ({"received_from": "2026-01-06T09:00:00"}, "received_from"),  # no offset: which 09:00?
    ({"received_to": "昨天"}, "received_to"),
    ({"received_from": "2026-01-07T09:00:00+08:00", "received_to": "2026-01-06T09:00:00+08:00"}, "received_from"),
])
async def test_a_malformed_or_reversed_range_is_a_422_naming_the_field(filed, infra, params, field):
    client, _ = filed
    r = await client.get("/v1/tickets", params=params, headers=token(infra, "agent"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert [e["field"].removeprefix("query.") for e in r.json()["errors"]] == [field]


async def test_a_ticket_stored_before_the_received_key_existed_gets_it_from_the_backfill(filed, infra):
    client, ids = filed
    store = client.runtime.store
    doc = await store[TICKETS].find_one({"_id": ids["b"]})
    await store[TICKETS].update_one({"_id": ids["b"]}, {"$unset": {listing.RECEIVED_KEY: ""}})
    window = {"received_from": "2026-01-06T09:00:00+08:00", "received_to": "2026-01-06T09:00:00+08:00"}
    agent = token(infra, "agent")
    assert await listed(client, agent, **window) == []  # the sort key is there: only the second pass finds it
    assert await listing.backfill(store, TICKETS) >= 1
    assert await listing.backfill(store, TICKETS) == 0
    assert (await store[TICKETS].find_one({"_id": ids["b"]}))[listing.RECEIVED_KEY] == doc[listing.RECEIVED_KEY]
    assert await listed(client, agent, **window) == [ids["b"]]
