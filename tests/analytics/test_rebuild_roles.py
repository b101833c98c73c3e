"""Who may rebuild analytics' read model: admins only. Every other role is refused (403) asking for a rebuild and
reading one's progress, and nothing is asked of ticketing for them; no token at all is a 401."""

from __future__ import annotations

import pytest

from contracts.vocabulary import Role
from services.analytics.main import create
from services.analytics.settings import Settings
from tests.support import database, running, settings_for, token, v1_routes

OTHERS = [role.value for role in Role if role != Role.admin]
REBUILD_ROUTES = {("POST", "/v1/rebuilds"), ("GET", "/v1/rebuilds/{rebuild_id}")}


@pytest.fixture(scope="module")
async def client(infra):
    async with running(create(settings_for(Settings, infra, "analytics-rebuild-roles"))) as client:
        yield client


def test_the_table_covers_every_rebuild_route():
    routes = {route for route in v1_routes(create()) if route[1].startswith("/v1/rebuilds")}
    assert routes == REBUILD_ROUTES


@pytest.mark.parametrize("role", OTHERS)
async def test_every_other_role_is_refused(infra, client, role):
    headers = token(infra, role, city="济南", products=["P1"], vendor="vendor-a")
    asked = await client.post("/v1/rebuilds", json={"note": "重建"}, headers=headers)
    assert asked.status_code == 403, asked.text
    assert asked.headers["content-type"].startswith("application/problem+json")
    read = await client.get("/v1/rebuilds/any", headers=headers)
    assert read.status_code == 403, read.text


async def test_an_admin_asks_and_reads(infra, client):
    admin = token(infra, "admin")
    asked = await client.post("/v1/rebuilds", json={}, headers=admin)
    assert asked.status_code == 202, asked.text
    read = await client.get(asked.headers["Location"], headers=admin)
    assert read.status_code == 200 and read.json()["id"] == asked.json()["id"]
    assert (await client.get("/v1/rebuilds/none-such", headers=admin)).status_code == 404


async def test_without_a_token_it_is_401(client):
    assert (await client.post("/v1/rebuilds", json={})).status_code == 401
    assert (await client.get("/v1/rebuilds/any")).status_code == 401


async def test_nothing_was_asked_for_the_refused(infra, client):
    async with database(infra, "analytics-rebuild-roles") as db:
        asked = await db.rebuilds.find({}, {"requested_by": 1}).to_list()
    assert all(doc["requested_by"] == "admin-test" for doc in asked)
