"""Every anomaly route × every role × in scope / out of scope (SPEC §1), against the real store.

Written from SPEC §1 and the issue by hand: analysts and admins read and review every anomaly; a product manager
reads and reviews the product anomalies of their token's `products`; an account manager reads the anomalies of their
own city and reviews none; the scan is an admin's. Everyone else: 403.

Out of scope is 404, not 403: the anomaly is not there for that caller, exactly as an id that does not exist, so a
product manager cannot learn by probing ids which other products had sudden changes. City anomalies count every
product's tickets, so they are nobody's product: a product manager does not see them (404); product anomalies count
every city's tickets, so an account manager does not see them (404). A list is the caller's scope, filtered; a list
asked for a product or city outside it is a 403 (as analytics' metrics answer), not an empty page.

Each review case gets an anomaly of its own (a scan's episode document, written as the scan writes it), so that the
order of the cases does not matter (acknowledging an explained anomaly is a 409).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from services.analytics.domain.anomalies import evaluate
from services.analytics.main import create
from services.analytics.settings import Settings
from services.analytics.store.anomalies import ANOMALIES, detected_event, new_episode
from tests.support import running, settings_for, token, v1_routes

PRODUCT = "p_anroles_" + uuid.uuid4().hex[:6]
CITY = "济南"

SCOPES: dict[str, tuple[dict, dict] | None] = {
    "intake": ({"sub": "intake-1"}, {"sub": "intake-2"}),
    "account_manager": ({"city": CITY, "sub": "am-jn"}, {"city": "青岛", "sub": "am-qd"}),
    "product_manager": ({"products": [PRODUCT], "sub": "pm-1"}, {"products": ["another_product"], "sub": "pm-2"}),
    "vendor": ({"vendor": "vendor-a", "sub": "vendor-a-1"}, {"vendor": "vendor-b", "sub": "vendor-b-1"}),
    "agent": None, "complaint_handler": None, "ops_engineer": None, "analyst": None, "admin": None,
}
EVERYWHERE = ("analyst", "admin")  # every anomaly, no scope


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    target: str  # "product" | "city" | "none": which anomaly the call is about
    roles: tuple[str, ...]  # roles the route lets in at all (others: 403)
    scoped: dict[str, str] = field(default_factory=dict)  # role → "product"/"city": sees only that kind, in scope
    body: dict | None = None
    params: dict = field(default_factory=dict)
    fresh: bool = False  # the case changes the anomaly: give it its own
    outside: int = 404  # what a scoped role gets about an anomaly outside its scope


READERS = ("analyst", "admin", "product_manager", "account_manager")
REVIEWERS = ("analyst", "admin", "product_manager")
READ_SCOPE = {"product_manager": "product", "account_manager": "city"}
REVIEW_SCOPE = {"product_manager": "product"}

ROUTES = [
    Route("list", "GET", "/v1/anomalies", "none", READERS, READ_SCOPE),
    # a list asked for another scope's product or city is refused, not answered with an empty page
    Route("list-product", "GET", "/v1/anomalies", "product", READERS, READ_SCOPE,
          params={"dimension": "product_code", "key": PRODUCT}, outside=403),
    Route("list-city", "GET", "/v1/anomalies", "city", READERS, READ_SCOPE, params={"dimension": "city", "key": CITY},
          outside=403),
    Route("get-product", "GET", "/v1/anomalies/{anomaly_id}", "product", READERS, READ_SCOPE),
    Route("get-city", "GET", "/v1/anomalies/{anomaly_id}", "city", READERS, READ_SCOPE),
    Route("acknowledge-product", "POST", "/v1/anomalies/{anomaly_id}/acknowledge", "product", REVIEWERS,
          REVIEW_SCOPE, {"note": "角色测试：已确认"}, fresh=True),
    Route("acknowledge-city", "POST", "/v1/anomalies/{anomaly_id}/acknowledge", "city", REVIEWERS, REVIEW_SCOPE,
          {"note": "角色测试：已确认"}, fresh=True),
    Route("explain-product", "POST", "/v1/anomalies/{anomaly_id}/explain", "product", REVIEWERS, REVIEW_SCOPE,
          {"explanation": "营销活动"}, fresh=True),
    Route("explain-city", "POST", "/v1/anomalies/{anomaly_id}/explain", "city", REVIEWERS, REVIEW_SCOPE,
          {"explanation": "营销活动"}, fresh=True),
    Route("scan", "POST", "/v1/anomalies/scan", "none", ("admin",), params={"day": "2026-01-05"}),
]


def expected(route: Route, role: str, inside: bool) -> int:
    if role not in route.roles:
        return 403
    if role in EVERYWHERE or route.target == "none":
        return 200
    # a scoped role sees only its kind of anomaly, in its scope; anything else is not there for it
    return 200 if inside and route.scoped.get(role) == route.target else route.outside


def cases():
    for route in ROUTES:
        for role, claims in SCOPES.items():
            if claims is None:
                yield pytest.param(route, role, {}, True, id=f"{route.name}-{role}")
            else:
                yield pytest.param(route, role, claims[0], True, id=f"{route.name}-{role}-in")
                yield pytest.param(route, role, claims[1], False, id=f"{route.name}-{role}-out")


def test_the_table_covers_every_anomaly_route():
    served = {r for r in v1_routes(create(Settings(auth_secret="x"))) if r[1].startswith("/v1/anomalies")}
    assert len(served) == 5, served
    assert served == {(route.method, route.path) for route in ROUTES}


def test_the_table_says_what_the_scopes_mean():
    by_name = {route.name: route for route in ROUTES}
    assert expected(by_name["get-product"], "product_manager", True) == 200
    assert expected(by_name["get-product"], "product_manager", False) == 404
    assert expected(by_name["get-city"], "product_manager", True) == 404  # a city's anomaly is not a PM's
    assert expected(by_name["acknowledge-city"], "account_manager", True) == 403  # reads their city's, reviews none
    assert expected(by_name["get-product"], "account_manager", True) == 404  # a product's: not there for them
    assert expected(by_name["list-product"], "product_manager", False) == 403
    assert expected(by_name["list"], "agent", True) == 403


DAYS = itertools.count()


async def make(rt, dimension: str, key: str) -> str:
    """An open anomaly as the scan writes it, on a day of its own (so its id is its own)."""
    day = date(2025, 1, 1) + timedelta(days=next(DAYS))  # a counter: random days of a few thousand collide
    history = {day - timedelta(days=i): 2 for i in range(1, 60)} | {day: 40}
    verdict = evaluate(day, history)
    assert verdict.direction == "spike", verdict
    doc = new_episode(dimension, key, verdict, datetime.now(UTC))
    await rt.store.insert(ANOMALIES, doc, [detected_event(rt, doc, verdict)])
    return doc["id"]


@pytest.fixture(scope="module")
async def api(infra):
    app = create(settings_for(Settings, infra, "analytics-roles"))
    async with running(app) as client:
        rt = app.state.runtime
        client.rt = rt
        client.made = {"product": await make(rt, "product_code", PRODUCT), "city": await make(rt, "city", CITY)}
        yield client


@pytest.mark.parametrize("route,role,claims,inside", list(cases()))
async def test_route_role_scope(api, infra, route: Route, role: str, claims: dict, inside: bool):
    anomaly_id = None
    if route.target != "none":
        anomaly_id = (await make(api.rt, *(("product_code", PRODUCT) if route.target == "product" else
                                           ("city", CITY)))) if route.fresh else api.made[route.target]
    r = await api.request(route.method, route.path.format(anomaly_id=anomaly_id), json=route.body,
                          params=route.params, headers=token(infra, role, **claims))
    want = expected(route, role, inside)
    assert r.status_code == want, (r.status_code, r.text)
    if want != 200:
        assert r.headers["content-type"].startswith("application/problem+json")
    elif route.name.startswith("list-"):
        assert api.made[route.target] in {a["id"] for a in r.json()["items"]}
    elif route.name == "list":  # the scope filters the list
        ids = {a["id"] for a in r.json()["items"]}
        if role in EVERYWHERE:
            assert {api.made["product"], api.made["city"]} <= ids or len(ids) == 20
        else:
            sees = {"product_manager": "product", "account_manager": "city"}[role]
            hidden = "city" if sees == "product" else "product"
            assert (api.made[sees] in ids) == inside and api.made[hidden] not in ids, (role, inside, ids)
