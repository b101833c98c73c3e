"""Every ticketing route × every role × in scope / out of scope (SPEC §1, issue 8 §8), against the real store.

The matrix below is written from SPEC §1 by hand, not read from services/ticketing/domain/scope.py, so that a
change of the code's rules that the specification does not make fails here. Each case gets a fresh ticket in the
status its route needs (prepared by an admin), then calls the route as the role: an allowed role gets a 2xx,
anyone else a 403 problem. A role without a scope (the front line, analysts, admins) is asked once; a scoped role
is asked with a token whose scope covers the ticket and with one whose scope does not.

The ticket: filed by `intake-1` for 济南, product PRODUCT, and (where the route needs it) escalated to tier 3
vendor `vendor-a`, or to tier 2 product manager `pm-1`, pending, resolved, with an attachment; webhooks belong to
`intake-1`. `test_the_table_covers_every_route_of_the_app` keeps the table complete: a new /v1 route without a row
fails it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from services.ticketing.main import create
from services.ticketing.settings import Settings
from tests.support import eventually, role_cases, running, served_routes, settings_for, token
from tests.ticketing import samples
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


STAFF_BUT_CHANNELS = ("account_manager", *FRONT_LINE, "product_manager", "analyst", "admin")
HOOK_URL = "http://127.0.0.1:9/roles"  # the discard port: nothing listens, every attempt fails at once
LOOPBACK = "127.0.0.1/32"
CALENDAR_YEAR = 2099  # a year no other test reads: the override changes no deadline anywhere


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # the app's own path template, filled from what `prepare` made (ticket_id, webhook_id, ...)
    state: str  # what must exist before the call (see prepare)
    allowed: tuple[str, ...]  # roles that may, in scope
    body: dict | Callable[[dict], dict] | None = None  # str values are templates over what prepare made
    # roles that may even out of their scope: filing concerns no existing ticket, so only the account manager's
    # city limits it; lists answer everyone they admit, with what the caller may see (tested apart below);
    # the calendar and the SLA policies belong to no city, product, vendor or channel
    unscoped: tuple[str, ...] = ()
    upload: bool = False  # a multipart file instead of a JSON body
    params: dict | None = None  # the query string


def policies_as_they_are(made: dict) -> dict:
    return {"rules": made["rules"], "note": "角色测试：原样重存"}


ROUTES = [
    Route("open", "POST", "/v1/tickets", "none", ("intake", "account_manager", *FRONT_LINE, "admin"), ticket_body(),
          unscoped=("intake",)),
    Route("list", "GET", "/v1/tickets", "none", EVERYONE, unscoped=("intake", "account_manager", "product_manager",
                                                                    "vendor")),
    Route("read", "GET", "/v1/tickets/{ticket_id}", "at_vendor", EVERYONE),
    Route("history", "GET", "/v1/tickets/{ticket_id}/history", "at_vendor", EVERYONE),
    Route("assign", "POST", "/v1/tickets/{ticket_id}/assign", "new", (*FRONT_LINE, "product_manager", "admin"),
          {"assignee": "agent-7"}),
    Route("escalate", "POST", "/v1/tickets/{ticket_id}/escalate", "new", (*FRONT_LINE, "product_manager", "admin"),
          {"tier": 2, "target": "pm-1", "reason": "需要产品经理确认"}),
    Route("notes", "POST", "/v1/tickets/{ticket_id}/notes", "at_vendor",
          (*FRONT_LINE, "product_manager", "vendor", "account_manager", "admin"), {"body": "已联系客户，正在核实"}),
    # SPEC §1 and issue 8 §3: a vendor reads, notes and answers back; it does not resolve
    Route("resolve", "POST", "/v1/tickets/{ticket_id}/resolve", "at_vendor",
          (*FRONT_LINE, "product_manager", "admin"), {"answer": "已为客户重置密码", "cause": "usage_misunderstanding"}),
    Route("feedback", "POST", "/v1/tickets/{ticket_id}/feedback", "resolved",
          ("intake", "account_manager", *FRONT_LINE, "admin"), {"satisfied": True, "score": 5}),
    # issue 8 §2: whoever works the ticket asks for what is missing; a vendor may only read, note and answer
    Route("pending", "POST", "/v1/tickets/{ticket_id}/pending", "at_vendor",
          (*FRONT_LINE, "product_manager", "admin"), {"needed": "请提供登录失败时的截图"}),
    # "by the channel or the account manager"; and the front line, which the requester calls directly
    # (channel `customer`, SPEC §3)
    Route("requester-reply", "POST", "/v1/tickets/{ticket_id}/requester-reply", "pending",
          ("intake", "account_manager", *FRONT_LINE, "admin"), {"body": "截图已上传，手机号13800000000"}),
    # issue 8 §3: tier 2 or 3 hands back; the vendor only while the ticket is at it, the product manager for its
    # products at either upper tier; the front line resolves instead
    Route("answer-at-vendor", "POST", "/v1/tickets/{ticket_id}/answer", "at_vendor",
          ("product_manager", "vendor", "admin"), {"answer": "厂家已修复登录缺陷", "cause": "product_defect"}),
    Route("answer-at-pm", "POST", "/v1/tickets/{ticket_id}/answer", "at_pm", ("product_manager", "admin"),
          {"answer": "集团账号已停用，请管理员重新启用", "cause": "usage_misunderstanding"}),
    # issue 8 §5: those who work tickets close a duplicate into another; not a channel, a city or a vendor
    Route("merge", "POST", "/v1/tickets/{ticket_id}/merge", "duplicate", (*FRONT_LINE, "product_manager", "admin"),
          {"into": "{into}"}),
    # issue 8 §6: list and download by whoever may read the ticket; upload by whoever writes on it, and by the
    # channel that filed it, which relays the requester's screenshots
    Route("attach", "POST", "/v1/tickets/{ticket_id}/attachments", "at_vendor",
          ("intake", "account_manager", *FRONT_LINE, "product_manager", "vendor", "admin"), upload=True),
    Route("attachments", "GET", "/v1/tickets/{ticket_id}/attachments", "with_attachment", EVERYONE),
    Route("download", "GET", "/v1/tickets/{ticket_id}/attachments/{attachment_id}", "with_attachment", EVERYONE),
    # issue 8 §7: "admin or the channel itself"; a channel's own webhooks only (its list is tested apart below)
    Route("webhook-register", "POST", "/v1/webhooks", "none", ("intake", "admin"),
          {"url": HOOK_URL, "owner": "intake-1", "events": ["ticket.reopened"], "description": "角色测试"}),
    Route("webhooks", "GET", "/v1/webhooks", "none", ("intake", "admin"), unscoped=("intake",)),
    Route("webhook", "GET", "/v1/webhooks/{webhook_id}", "webhook", ("intake", "admin")),
    Route("webhook-delete", "DELETE", "/v1/webhooks/{webhook_id}", "webhook", ("intake", "admin")),
    Route("deliveries", "GET", "/v1/webhooks/{webhook_id}/deliveries", "webhook", ("intake", "admin")),
    Route("redeliver", "POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver", "failed_delivery",
          ("intake", "admin")),
    # issue 8 §1: admins change the calendar and the policies; the operator's staff read them (what the deadlines
    # they work to are made of), not the channel systems nor the vendors
    Route("calendar", "GET", "/v1/calendar/{year}", "none", STAFF_BUT_CHANNELS,
          unscoped=("account_manager", "product_manager")),
    Route("calendar-put", "PUT", "/v1/calendar/{year}", "none", ("admin",),
          {"days": [{"date": f"{CALENDAR_YEAR}-06-01", "working": False, "note": "角色测试：本地停电"}]}),
    Route("sla-policies", "GET", "/v1/sla-policies", "none", STAFF_BUT_CHANNELS,
          unscoped=("account_manager", "product_manager")),
    Route("sla-policies-put", "PUT", "/v1/sla-policies", "sla_rules", ("admin",), policies_as_they_are),
    # issue 8 §4's reminder for the assignee: one's own reminders, for those tickets are assigned to (whatever
    # their scope: the list holds what they may see, tested in test_reminders.py); another's, the admin only
    Route("reminders", "GET", "/v1/reminders", "none", (*FRONT_LINE, "product_manager", "admin"),
          unscoped=("product_manager",)),
    Route("reminders-of-another", "GET", "/v1/reminders", "none", ("admin",), params={"assignee": "agent-1"}),
]


def cases():
    # out of scope a scoped role may do nothing with the ticket, not even read it
    return role_cases(ROUTES, SCOPES, lambda route, role: role in route.unscoped)


def app_settings(infra) -> Settings:
    # one quick retry: a delivery to the discard port is `failed` (redeliverable) a moment after its event
    # the discard port is on this machine: loopback is allowed for this app, as for local development
    return settings_for(Settings, infra, "ticketing-roles", webhook_retry_delays=[0.05], webhook_retry_jitter=0.0,
                        webhook_poll_seconds=0.1, webhook_timeout_seconds=2.0,
                        webhook_allowed_networks=LOOPBACK)


def test_the_table_covers_every_route_of_the_app():
    """A /v1 route added to ticketing without a row here fails this test, so none escapes the matrix. The routes
    are taken from the app's routing and from its OpenAPI (either alone could miss one a FastAPI upgrade hides)."""
    app = create(Settings(auth_secret="x"))
    documented = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
                  for method in operations}
    served = {(method, path) for method, path in served_routes(app.routes) | documented if path.startswith("/v1/")}
    assert len(served) > len({route.name for route in ROUTES}) // 2, "the app's routes were not found"
    tabled = {(route.method, route.path) for route in ROUTES}
    assert served - tabled == set(), "routes without a row in the role matrix"
    assert tabled - served == set(), "rows of the role matrix for routes the app does not serve"


@pytest.fixture(scope="module")
async def api(infra):
    app = create(app_settings(infra))
    async with running(app) as client:
        await register(infra, PRODUCT)
        admin = token(infra, "admin", sub="admin-1")

        async def catalog_knows_product():
            r = await client.post("/v1/tickets", json=ticket_body(), headers=admin)
            return r.status_code == 201

        await eventually(catalog_knows_product, what="the catalog learnt the product")
        # the callback whose deliveries to the discard port fail: what `redeliver` is asked to send again
        r = await client.post("/v1/webhooks", json={"url": HOOK_URL, "owner": "intake-1",
                                                    "events": ["ticket.reopened"]}, headers=admin)
        assert r.status_code == 201, r.text
        client.failing_hook = r.json()["id"]
        yield client


async def prepare(client, infra, state: str) -> dict:
    """What the call needs, made by an admin, as the values of the route's path and body templates: a fresh
    ticket filed by intake-1 and moved into `state` (new; resolved; pending from in_progress; escalated to tier 3
    vendor-a or tier 2 pm-1; with an attachment; a duplicate with the ticket it goes into), a webhook of intake-1,
    a failed delivery, the SLA rules in force."""
    made: dict = {"year": CALENDAR_YEAR}
    admin = token(infra, "admin", sub="admin-1")
    filer = token(infra, "intake", sub="intake-1")
    if state == "none":
        return made
    if state == "webhook":
        r = await client.post("/v1/webhooks", json={"url": HOOK_URL, "owner": "intake-1",
                                                    "events": ["ticket.reopened"]}, headers=admin)
        assert r.status_code == 201, r.text
        return {**made, "webhook_id": r.json()["id"]}
    if state == "sla_rules":
        r = await client.get("/v1/sla-policies", headers=admin)
        assert r.status_code == 200, r.text
        return {**made, "rules": r.json()["rules"]}

    async def file() -> str:
        r = await client.post("/v1/tickets", json=ticket_body(), headers=filer)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    ticket_id = await file()

    async def step(action: str, body: dict) -> None:
        answer = await client.post(f"/v1/tickets/{ticket_id}/{action}", json=body, headers=admin)
        assert answer.status_code == 200, (action, answer.text)

    if state in ("at_vendor", "at_pm", "resolved", "pending", "with_attachment", "failed_delivery"):
        await step("assign", {"assignee": "agent-1"})
    if state in ("at_vendor", "with_attachment"):
        await step("escalate", {"tier": 3, "target": "vendor-a", "reason": "平台缺陷，需厂家处理"})
    if state == "at_pm":
        await step("escalate", {"tier": 2, "target": "pm-1", "reason": "需要产品经理确认"})
    if state == "pending":
        await step("pending", {"needed": "请提供登录失败时的截图"})
    if state in ("resolved", "failed_delivery"):
        await step("resolve", {"answer": "已处理", "cause": "other"})
    if state == "with_attachment":
        r = await client.post(f"/v1/tickets/{ticket_id}/attachments", headers=admin,
                              files={"file": ("登录失败截图.png", samples.png(), "image/png")})
        assert r.status_code == 201, r.text
        made["attachment_id"] = r.json()["id"]
    if state == "duplicate":
        made["into"] = await file()
    if state == "failed_delivery":
        await step("feedback", {"satisfied": False, "comment": "仍无法登录"})  # ticket.reopened: a callback

        async def failed_for_this_ticket():
            r = await client.get(f"/v1/webhooks/{client.failing_hook}/deliveries",
                                 params={"status": "failed", "limit": 200}, headers=admin)
            assert r.status_code == 200, r.text
            return [d for d in r.json()["items"] if d["ticket_id"] == ticket_id]

        [delivery] = await eventually(failed_for_this_ticket, timeout=20, what="the callback failed for good")
        made["delivery_id"] = delivery["id"]
    return {**made, "ticket_id": ticket_id}


def filled(template, made: dict):
    if isinstance(template, str):
        return template.format(**made)
    if isinstance(template, dict):
        return {key: filled(value, made) for key, value in template.items()}
    if isinstance(template, list):
        return [filled(value, made) for value in template]
    return template


@pytest.mark.parametrize("route,role,claims,allowed", list(cases()))
async def test_route_role_scope(api, infra, route: Route, role: str, claims: dict, allowed: bool):
    made = await prepare(api, infra, route.state)
    headers = token(infra, role, **claims)
    path = route.path.format(**made)
    if route.upload:
        r = await api.post(path, headers=headers, files={"file": ("截图.png", samples.png(), "image/png")})
    else:
        body = route.body(made) if callable(route.body) else filled(route.body, made)
        r = await api.request(route.method, path, json=body, headers=headers, params=route.params)
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
    inside_id = (await prepare(api, infra, "at_vendor"))["ticket_id"]
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


async def test_a_channel_lists_only_its_own_webhooks(api, infra):
    made = await prepare(api, infra, "webhook")
    own = await api.get("/v1/webhooks", params={"limit": 200}, headers=token(infra, "intake", sub="intake-1"))
    other = await api.get("/v1/webhooks", params={"limit": 200}, headers=token(infra, "intake", sub="intake-2"))
    asked_for = await api.get("/v1/webhooks", params={"owner": "intake-1"},
                              headers=token(infra, "intake", sub="intake-2"))
    assert own.status_code == other.status_code == asked_for.status_code == 200
    assert made["webhook_id"] in {w["id"] for w in own.json()["items"]}
    assert other.json()["items"] == [] and asked_for.json()["items"] == []
