"""Production sign-in in the browser: the stack runs with OPS_OIDC_ISSUER pointing at an identity provider this test
runs itself (tests/console/idp.py). The console sends the agent to its 登录 page with the authorization-code flow and
PKCE, comes back to the page the agent asked for, and the services accept the issuer's RS256 token for reads and
writes; the development sign-in is gone; 退出 ends the session at the identity provider too."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from services.kit.auth import mint_token
from tests.console.helpers import file_ticket, shot
from tests.console.idp import IdentityProvider
from tests.console.test_complaint_loop import act, status_is

pytestmark = pytest.mark.browser
AUDIENCE, CLIENT_ID = "ops-api", "ops-console"
AGENT = {"sub": "u-1001", "preferred_username": "王客服", "realm_access": {"roles": ["offline_access", "ops-agents"]}}


@pytest.fixture(scope="module")
def idp():
    provider = IdentityProvider(AUDIENCE, CLIENT_ID).start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def console_env(idp) -> dict[str, str]:
    """The services verify the issuer's tokens; the gateway tells the console to sign in there (conftest.py)."""
    return {"OPS_OIDC_ISSUER": idp.issuer, "OPS_OIDC_AUDIENCE": AUDIENCE, "OPS_OIDC_CLIENT_ID": CLIENT_ID,
            "OPS_OIDC_ROLES_CLAIM": "realm_access.roles", "OPS_OIDC_NAME_CLAIM": "preferred_username",
            "OPS_OIDC_ROLE_MAP": json.dumps({"ops-agents": "agent", "ops-intake": "intake"})}


@pytest.fixture(scope="module")
def complaint(console, idp) -> str:
    """Filed by an intake channel with a token of the issuer's, through the gateway."""
    intake = idp.access_token(sub="crm-callcenter", realm_access={"roles": ["ops-intake"]}, channel="call_center")
    body = {"kind": "complaint", "channel": "call_center", "product_code": "mobile_office", "city": "青岛",
            "industry": "government", "title": "移动办公审批待办不刷新", "description": "客户反映审批待办数量一直不变",
            "customer": {"name": "李四", "contact": "13900000000", "group_name": "青岛市某局"}}
    headers = {"Authorization": f"Bearer {intake}", "Idempotency-Key": uuid.uuid4().hex}
    with httpx.Client(timeout=10) as http:
        return file_ticket(http, console, body, headers)["id"]


def test_development_sign_in_is_off_and_development_tokens_are_refused(console, console_stack):
    r = httpx.post(f"{console}/dev/token", json={"sub": "x", "roles": ["admin"]}, timeout=10)
    assert r.status_code == 404 and "OIDC" in r.json()["detail"]
    config = httpx.get(f"{console}/console-config.json", timeout=10).json()
    assert config["client_id"] == CLIENT_ID and config["roles_claim"] == "realm_access.roles"
    forged = mint_token(console_stack.secret, sub="x", roles=["admin"], ttl_seconds=600)
    r = httpx.get(f"{console}/api/ticketing/v1/tickets", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert r.status_code == 401, r.text


def test_an_agent_signs_in_at_the_identity_provider_works_a_ticket_and_signs_out_there(page, console, idp, complaint):
    idp.user = AGENT
    page.goto(f"{console}/tickets/{complaint}")
    expect(page.get_by_test_id("oidc-sign-in-card")).to_be_visible()
    expect(page.get_by_role("textbox", name="工号", exact=True)).to_have_count(0)  # no development sign-in
    shot(page, "sign-in-oidc")
    page.get_by_test_id("oidc-sign-in").click()

    page.wait_for_url(re.compile(re.escape(idp.issuer) + r"/protocol/openid-connect/auth\?"))
    assert "code_challenge_method=S256" in page.url
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_test_id("current-user")).to_contain_text("王客服（agent）")
    page.wait_for_url(f"{console}/tickets/{complaint}")  # back where the agent was going
    assert [e["verdict"] for e in idp.exchanges] == ["ok"]  # one code, exchanged once, with the right verifier
    status_is(page, "new")  # read with the issuer's token
    act(page, "action-assign", choose=("assign-to-me",))  # and written with it
    status_is(page, "in_progress")
    expect(page.get_by_test_id("ticket-assignee")).to_contain_text("u-1001")

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("oidc-sign-in-card")).to_be_visible()
    assert idp.sign_outs == 1
    page.goto(f"{console}/tickets/{complaint}")  # the stored session is gone too
    expect(page.get_by_test_id("oidc-sign-in-card")).to_be_visible()
