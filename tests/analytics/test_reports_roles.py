"""Who reads which monthly report (SPEC §1; services/analytics/api/reports.py), route by route: analysts, admins,
agents and complaint handlers any; a product manager only one of their products (403 without product_code); an
account manager only their city's (the answer is the city's report); everyone else 403; no token 401."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from services.analytics.domain.report import month_of
from tests.analytics.test_reports import _closed
from tests.support import running, token, v1_routes

MONTH = "2026-03"


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    allowed: tuple[str, ...]


ROUTES = [Route("monthly_report", "GET", "/v1/reports/monthly/{month}",
                ("analyst", "admin", "agent", "complaint_handler", "product_manager", "account_manager"))]
EVERY_ROLE = ("analyst", "admin", "agent", "complaint_handler", "product_manager", "account_manager",
              "ops_engineer", "vendor", "intake")
CODE = "P-roles-" + datetime.now(UTC).strftime("%H%M%S%f")


@pytest.fixture(scope="module")
async def client(app):
    async with running(app) as client:
        await _closed_tickets(app.state.runtime)
        yield client


async def _closed_tickets(rt) -> None:
    from services.analytics.events.handlers import apply_ticket_event

    for ticket_id, city in (("ZX-1", "济南"), ("ZX-2", "青岛"), ("ZX-3", "青岛")):
        await apply_ticket_event(rt, _closed(CODE, ticket_id, city, "通讯录同步失败", kind="consultation"))


def claims_for(role: str) -> dict:
    return {"product_manager": {"products": [CODE]}, "account_manager": {"city": "青岛"},
            "vendor": {"vendor": "v1"}, "intake": {"channel": "call_center"}}.get(role, {})


def test_the_table_lists_every_reports_route(app):
    served = {(m, p) for m, p in v1_routes(app) if p.startswith("/v1/reports")}
    assert served == {(r.method, r.path) for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("role", EVERY_ROLE)
async def test_a_products_report_by_role(client, infra, route, role):
    response = await client.get(route.path.format(month=MONTH), params={"product_code": CODE},
                                headers=token(infra, role, **claims_for(role)))
    assert response.status_code == (200 if role in route.allowed else 403), response.text
    if response.status_code == 403:
        assert response.headers["content-type"].startswith("application/problem+json")
        return
    body = response.json()
    assert body["product_code"] == CODE
    opened = body["tables"][0]["rows"][0]["opened"]
    if role == "account_manager":  # only 青岛's two tickets, in a report of the city that is not kept
        assert body["city"] == "青岛" and opened == 2 and body["kept"] is False
        assert [row["city"] for row in body["tables"][1]["rows"]] == ["青岛"]
        assert "kcs" not in [t["name"] for t in body["tables"]]
    else:
        assert body["city"] is None and opened == 3


@pytest.mark.parametrize("role", ["analyst", "admin", "agent", "complaint_handler"])
async def test_readers_of_everything_read_the_province_wide_report(client, infra, role):
    response = await client.get(f"/v1/reports/monthly/{month_of(datetime.now(UTC))}", headers=token(infra, role))
    assert response.status_code == 200 and response.json()["product_code"] is None


async def test_a_product_manager_needs_one_of_their_products(client, infra):
    mine = token(infra, "product_manager", products=[CODE])
    response = await client.get(f"/v1/reports/monthly/{MONTH}", headers=mine)
    assert response.status_code == 403 and "product_code" in response.json()["detail"]
    response = await client.get(f"/v1/reports/monthly/{MONTH}", params={"product_code": "P-other"}, headers=mine)
    assert response.status_code == 403 and "not one of your products" in response.json()["detail"]
    response = await client.get(f"/v1/reports/monthly/{MONTH}", params={"product_code": CODE, "format": "csv",
                                                                          "table": "top_questions"}, headers=mine)
    assert response.status_code == 200 and "通讯录同步失败" in response.content.decode("utf-8-sig")


async def test_an_account_managers_report_is_their_citys_and_needs_a_city(client, infra):
    response = await client.get(f"/v1/reports/monthly/{MONTH}", headers=token(infra, "account_manager", city="济南"))
    assert response.status_code == 200
    body = response.json()
    assert body["city"] == "济南" and body["product_code"] is None and body["kept"] is False
    assert {row["city"] for row in body["tables"][1]["rows"]} <= {"济南"}
    response = await client.get(f"/v1/reports/monthly/{MONTH}", params={"table": "kcs"},
                                headers=token(infra, "account_manager", city="济南"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "table"
    response = await client.get(f"/v1/reports/monthly/{MONTH}", headers=token(infra, "account_manager"))
    assert response.status_code == 403


async def test_without_a_token_401(client):
    response = await client.get(f"/v1/reports/monthly/{MONTH}")
    assert response.status_code == 401 and response.headers["content-type"].startswith("application/problem+json")
