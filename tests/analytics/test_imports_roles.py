"""The subscription routes × every role, in and out of scope (SPEC §1: analysts 数据提取员 import; analysts, product
managers for their own products and account managers for their own city read), against the real store.

The table is written from SPEC §1 and issue 10 point 3 by hand, not read from the routes' dependencies. An
allowed role gets its 2xx, anyone else 403. The imports of this module use the years 2050–2051, which no other
test touches (an import replaces whole months)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from services.analytics.main import create
from services.analytics.settings import Settings
from tests.support import role_cases, running, settings_for, token, v1_routes

MINE, THEIRS = "p_mine_" + uuid.uuid4().hex[:6], "p_theirs_" + uuid.uuid4().hex[:6]
HEADER = "month,product_code,city,industry,subscribers,revenue_cny\n"
DATA = (HEADER + f"2051-01,{MINE},济南,government,100,1000\n"
                 f"2051-01,{MINE},青岛,government,200,2000\n"
                 f"2051-01,{THEIRS},济南,education,300,3000\n"
                 f"2051-01,{THEIRS},青岛,education,400,4000\n").encode()
SMALL = (HEADER + f"2050-01,{MINE},济南,government,1,1\n").encode()

SCOPES: dict[str, tuple[dict, dict] | None] = {
    "intake": ({"sub": "intake-1"}, {"sub": "intake-2"}),
    "account_manager": ({"city": "济南", "sub": "am-jn"}, {"city": "青岛", "sub": "am-qd"}),
    "product_manager": ({"products": [MINE], "sub": "pm-1"}, {"products": ["another_product"], "sub": "pm-2"}),
    "vendor": ({"vendor": "vendor-a", "sub": "vendor-a-1"}, {"vendor": "vendor-b", "sub": "vendor-b-1"}),
    "agent": None, "complaint_handler": None, "ops_engineer": None, "analyst": None, "admin": None,
}
IMPORTERS = ("analyst", "admin")
READERS = ("analyst", "admin", "product_manager", "account_manager")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    allowed: tuple[str, ...]
    params: dict = field(default_factory=dict)
    upload: bool = False
    unscoped: tuple[str, ...] = ()  # roles that may even out of their scope


ROUTES = [
    Route("import", "POST", "/v1/imports/subscriptions", IMPORTERS, upload=True, unscoped=IMPORTERS),
    # the record of imports holds no figure of a product or city: every reader sees it whole
    Route("imports", "GET", "/v1/imports/subscriptions", READERS, unscoped=READERS),
    # the product manager asks about MINE, the account manager about 济南: out of scope that is someone else's
    Route("metrics", "GET", "/v1/metrics/subscriptions", READERS,
          params={"from": "2051-01", "to": "2051-01", "product_code": MINE, "city": "济南"},
          unscoped=("analyst", "admin")),
]


@pytest.fixture(scope="module")
async def client(infra):
    async with running(create(settings_for(Settings, infra, "analytics"))) as client:
        response = await client.post("/v1/imports/subscriptions", headers=token(infra, "admin"),
                                     files={"file": ("2051年1月.csv", DATA, "text/csv")})
        assert response.status_code == 201, response.text
        yield client


def test_the_table_covers_the_subscription_routes():
    served = v1_routes(create())
    mine = {(m, p) for m, p in served if "subscriptions" in p}
    assert mine == {(r.method, r.path) for r in ROUTES}


@pytest.mark.parametrize("route, role, claims, allowed",
                         list(role_cases(ROUTES, SCOPES, lambda route, role: role in route.unscoped)))
async def test_route_by_role(client, infra, route, role, claims, allowed):
    headers = token(infra, role, **claims)
    if route.upload:
        response = await client.post(route.path, headers=headers, files={"file": ("2050年1月.csv", SMALL, "text/csv")})
    else:
        response = await client.request(route.method, route.path, headers=headers, params=route.params)
    if allowed:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_without_a_token_401(client):
    for route in ROUTES:
        response = await client.request(route.method, route.path)
        assert response.status_code == 401


async def figures(client, headers, **params) -> list[tuple]:
    response = await client.get("/v1/metrics/subscriptions", headers=headers,
                                params={"from": "2051-01", "to": "2051-01", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return sorted((c["product_code"], c["city"], c["subscribers"]) for c in body["items"]) + \
        sorted(("trend", t["product_code"], t["months"][0]["revenue_cny"]) for t in body["revenue_trend"])


async def test_a_product_manager_sees_only_their_products(client, infra):
    pm = token(infra, "product_manager", products=[MINE])
    assert await figures(client, pm) == [(MINE, "济南", 100), (MINE, "青岛", 200), ("trend", MINE, "3000.00")]
    assert (await client.get("/v1/metrics/subscriptions", headers=pm, params={"product_code": THEIRS})).status_code \
        == 403
    nothing = token(infra, "product_manager", products=[])
    assert await figures(client, nothing) == []


async def test_an_account_manager_sees_only_their_city(client, infra):
    am = token(infra, "account_manager", city="济南")
    # the revenue trend too is of their city alone
    assert await figures(client, am, product_code=THEIRS) == [(THEIRS, "济南", 300), ("trend", THEIRS, "3000.00")]
    assert sorted(c[:2] for c in await figures(client, am) if c[0] != "trend") == [(MINE, "济南"), (THEIRS, "济南")]
    assert (await client.get("/v1/metrics/subscriptions", headers=am, params={"city": "青岛"})).status_code == 403
    cityless = token(infra, "account_manager")
    assert (await client.get("/v1/metrics/subscriptions", headers=cityless)).status_code == 403


async def test_a_product_manager_who_is_also_an_account_manager_gets_both_limits(client, infra):
    both = token(infra, "product_manager", "account_manager", products=[MINE], city="青岛")
    assert await figures(client, both) == [(MINE, "青岛", 200), ("trend", MINE, "2000.00")]


async def test_analysts_see_everything(client, infra):
    analyst = token(infra, "analyst")
    rows = await figures(client, analyst, product_code=THEIRS)
    assert rows == [(THEIRS, "济南", 300), (THEIRS, "青岛", 400), ("trend", THEIRS, "7000.00")]
