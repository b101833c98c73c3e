"""Every ticketing route × every role × in scope / out of scope (SPEC §1, issue 8 §8), against the real store.

The matrix below is written from SPEC §1 by hand, not read from services/ticketing/domain/scope.py, so that a
change of the code's rules that the specification does not make fails here. Each case gets a fresh ticket in the
status its route needs (prepared by an admin), then calls the route as the role: an allowed role gets a 2xx,
anyone else a 403 problem. A role without a scope (the front line, analysts, admins) is asked once; a scoped role
is asked with a token whose scope covers the ticket and with one whose scope does not.

The ticket: filed by `intake-1` for 济南, product PRODUCT, and (where the route needs it) escalated to tier 3
vendor `vendor-a`, or to tier 2 product manager `pm-1`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from services.ticketing.main import create
from services.ticketing.settings import Settings
from tests.support import eventually, running, settings_for, token
from tests.ticketing.test_intake import register

PRODUCT = "p_roles_" + uuid.uuid4().hex[:6]
CITY, OTHER_CITY = "济南", "青岛"
FRONT_LINE = ("agent", "complaint_handler", "ops_engineer")

# role → (claims in scope, claims out of scope); None: the role has no scope
SCOPES: dict[str, tuple[dict, dict] | None] = {
    "intake": ({"sub": "intake-1"}, {"sub": "intake-2"}),
    "account_manager": ({"city": CITY, "sub": "am-jn"}, {"city": OTHER_CITY, "sub": "am-qd"}),
    "product_manager": ({"products": [PRODUCT], "sub": "pm-1"}, {"products": ["another_product"], "sub": "pm-2"}),
    "vendor": ({"vendor": "vendor-a", "sub": "vendor-a-1"}, {"vendor": "vendor-b", "sub": "vendor-b-1"}),
    "agent": None, "complaint_handler": None, "ops_engineer": None, "analyst": None, "admin": None,
}
EVERYONE = tuple(SCOPES)


def ticket_body(**overrides) -> dict:
    return {"kind": "complaint", "channel": "account_manager", "product_code": PRODUCT, "city": CITY,
            "title": "移动办公登录失败", "description": "客户反映登录时提示密码错误",
            "customer": {"name": "张三", "group_name": "济南市某局"}, **overrides}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # {id}: the prepared ticket
    state: str  # what the ticket must be before the call (see Prepare)
    allowed: tuple[str, ...]  # roles that may, in scope
    body: dict | None = None
    # roles that may even out of their scope: filing concerns no existing ticket, so only the account manager's
    # city limits it
    unscoped: tuple[str, ...] = ()


ROUTES = [
    Route("open", "POST", "/v1/tickets", "none", ("intake", "account_manager", *FRONT_LINE, "admin"), ticket_body(),
          unscoped=("intake",)),
    Route("read", "GET", "/v1/tickets/{id}", "at_vendor", EVERYONE),
    Route("history", "GET", "/v1/tickets/{id}/history", "at_vendor", EVERYONE),
    Route("assign", "POST", "/v1/tickets/{id}/assign", "new", (*FRONT_LINE, "product_manager", "admin"),
          {"assignee": "agent-7"}),
    Route("escalate", "POST", "/v1/tickets/{id}/escalate", "new", (*FRONT_LINE, "product_manager", "admin"),
          {"tier": 2, "target": "pm-1", "reason": "需要产品经理确认"}),
    Route("notes", "POST", "/v1/tickets/{id}/notes", "at_vendor",
          (*FRONT_LINE, "product_manager", "vendor", "account_manager", "admin"), {"body": "已联系客户，正在核实"}),
    # SPEC §1 and issue 8 §3: a vendor reads, notes and answers back; it does not resolve
    Route("resolve", "POST", "/v1/tickets/{id}/resolve", "at_vendor", (*FRONT_LINE, "product_manager", "admin"),
          {"answer": "已为客户重置密码", "cause": "usage_misunderstanding"}),
    Route("feedback", "POST", "/v1/tickets/{id}/feedback", "resolved",
          ("intake", "account_manager", *FRONT_LINE, "admin"), {"satisfied": True, "score": 5}),
]


def cases():
    for route in ROUTES:
        for role, scopes in SCOPES.items():
            if scopes is None:
                yield pytest.param(route, role, {}, role in route.allowed, id=f"{route.name}-{role}")
            else:
                inside, outside = scopes
                yield pytest.param(route, role, inside, role in route.allowed, id=f"{route.name}-{role}-in")
                # out of scope a scoped role may do nothing with the ticket, not even read it
                yield pytest.param(route, role, outside, role in route.unscoped, id=f"{route.name}-{role}-out")


@pytest.fixture(scope="module")
async def api(infra):
    app = create(settings_for(Settings, infra, "ticketing-roles"))
    async with running(app) as client:
        await register(infra, PRODUCT)
        admin = token(infra, "admin", sub="admin-1")

        async def catalog_knows_product():
            r = await client.post("/v1/tickets", json=ticket_body(), headers=admin)
            return r.status_code == 201

        await eventually(catalog_knows_product, what="the catalog learnt the product")
        yield client


async def prepare(client, infra, state: str) -> str | None:
    """A fresh ticket in `state`, filed by intake-1 and moved there by an admin; its id."""
    if state == "none":
        return None
    admin = token(infra, "admin", sub="admin-1")
    filer = token(infra, "intake", sub="intake-1")
    r = await client.post("/v1/tickets", json=ticket_body(), headers=filer)
    assert r.status_code == 201, r.text
    ticket_id = r.json()["id"]

    async def step(action: str, body: dict) -> None:
        answer = await client.post(f"/v1/tickets/{ticket_id}/{action}", json=body, headers=admin)
        assert answer.status_code == 200, (action, answer.text)

    if state in ("at_vendor", "resolved"):
        await step("assign", {"assignee": "agent-1"})
    if state == "at_vendor":
        await step("escalate", {"tier": 3, "target": "vendor-a", "reason": "平台缺陷，需厂家处理"})
    if state == "resolved":
        await step("resolve", {"answer": "已处理", "cause": "other"})
    return ticket_id


@pytest.mark.parametrize("route,role,claims,allowed", list(cases()))
async def test_route_role_scope(api, infra, route: Route, role: str, claims: dict, allowed: bool):
    ticket_id = await prepare(api, infra, route.state)
    headers = token(infra, role, **claims)
    r = await api.request(route.method, route.path.format(id=ticket_id), json=route.body, headers=headers)
    if allowed:
        assert 200 <= r.status_code < 300, (r.status_code, r.text)
    else:
        assert r.status_code == 403, (r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_an_account_manager_files_only_for_its_own_city(api, infra):
    manager = token(infra, "account_manager", city=CITY, sub="am-jn")
    r = await api.post("/v1/tickets", json=ticket_body(city=OTHER_CITY), headers=manager)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", list(SCOPES))
async def test_a_list_shows_only_what_the_caller_may_see(api, infra, role):
    inside_id = await prepare(api, infra, "at_vendor")
    scopes = SCOPES[role]
    claims_in, claims_out = scopes if scopes else ({}, None)
    r = await api.get("/v1/tickets", params={"product_code": PRODUCT, "limit": 200},
                      headers=token(infra, role, **claims_in))
    assert r.status_code == 200, r.text
    assert inside_id in {t["id"] for t in r.json()["items"]}
    if claims_out is not None:
        r = await api.get("/v1/tickets", params={"product_code": PRODUCT, "limit": 200},
                          headers=token(infra, role, **claims_out))
        assert r.status_code == 200 and inside_id not in {t["id"] for t in r.json()["items"]}
