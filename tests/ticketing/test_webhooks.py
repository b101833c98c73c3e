"""Channel callbacks against the real broker and store, delivered to a real HTTP receiver on 127.0.0.1.

Signatures are verified with the `standardwebhooks` package. Retry delays are shortened through the settings;
nothing sleeps for a delay or asserts on timing: every wait is `eventually` (a bound, not a measurement).
Where a test shows that something was NOT delivered, it first waits until the fan-out has consumed the event
in question (the consumer's `ops_events_consumed_total` of this process), and then reads what was stored.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from contracts.events import Envelope
from services.kit import metrics
from services.kit.store import Store
from services.ticketing.domain.webhooks import new_secret
from services.ticketing.events.webhooks import QUEUE, deliver_due, fan_out, registration_refusal
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store.collections import TICKETS
from services.ticketing.store.webhooks import DELIVERIES, WEBHOOKS
from services.ticketing.store.webhooks import INDEXES as WEBHOOK_INDEXES
from tests.support import catalog_learns, eventually, running, settings_for, token

PRODUCT = "mobile_office"
# The receiver listens on this machine: the apps here allow loopback's 127.0.0.1 for callbacks, as local
# development does (OPS_WEBHOOK_ALLOWED_NETWORKS); nothing else that is not public.
RECEIVER_NETWORK = "127.0.0.1/32"
CHANNEL_A, CHANNEL_B = "crm-callcenter", "portal-jinan"


@dataclass
class Endpoint:
    """One receiving URL: answers the statuses queued in `answers`, then `default`; keeps every request."""

    default: int = 200
    answers: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    decide: Callable[[dict], int | None] | None = None  # given the body, a status (None: as above)

    def delivered(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]


class Receiver:
    def __init__(self):
        self.endpoints: dict[str, Endpoint] = {}
        self.base = ""

    def endpoint(self, name: str, **kwargs) -> tuple[str, Endpoint]:
        self.endpoints[name] = Endpoint(**kwargs)
        return f"{self.base}/{name}", self.endpoints[name]

    async def handle(self, request: web.Request) -> web.Response:
        endpoint = self.endpoints.get(request.match_info["name"])
        if endpoint is None:
            return web.Response(status=404)
        body = await request.read()
        status = endpoint.decide(json.loads(body)) if endpoint.decide else None
        if status is None:
            status = endpoint.answers.pop(0) if endpoint.answers else endpoint.default
        endpoint.requests.append({"headers": dict(request.headers), "body": body, "status": status})
        return web.Response(status=status, text="ok" if status < 300 else "receiver down 接收方故障")


@pytest.fixture(scope="module")
async def receiver():
    rx = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", rx.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rx.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield rx
    await runner.cleanup()


@pytest.fixture(scope="module")
async def api(infra, receiver):
    # a database of its own: other modules' ticketing apps must not find these webhooks after this module
    settings = settings_for(Settings, infra, "ticketing_webhooks", webhook_retry_delays=[0.05, 0.05, 0.05],
                            webhook_retry_jitter=0.0, webhook_poll_seconds=0.1, webhook_timeout_seconds=5.0,
                            webhook_allowed_networks=RECEIVER_NETWORK)
    app = create(settings)
    async with running(app) as client:
        staff = token(infra, "agent")
        await catalog_learns(infra, client, PRODUCT, ticket_body("probe"), staff)
        client.queue_name = f"{infra.namespace}.{QUEUE}"
        yield client


def ticket_body(title="移动办公无法登录"):
    return {"kind": "complaint", "channel": "call_center", "product_code": PRODUCT, "city": "济南",
            "title": title, "description": "客户反映移动办公登录失败，提示密码错误",
            "customer": {"name": "张三", "contact": "13800000000", "group_name": "济南市某局"}}


def consumed(api, event_type: str) -> float:
    """Events of `event_type` the fan-out of this process has handled (acknowledged) so far."""
    return metrics.EVENTS_CONSUMED.labels("ticketing", api.queue_name, event_type, "ok")._value.get()


async def register(api, infra, url, sub=CHANNEL_A, **extra) -> dict:
    r = await api.post("/v1/webhooks", json={"url": url, "description": "测试回调", **extra},
                       headers=token(infra, "intake", sub=sub))
    assert r.status_code == 201, r.text
    return r.json()


async def file_ticket(api, infra, sub=CHANNEL_A, title="移动办公无法登录") -> str:
    r = await api.post("/v1/tickets", json=ticket_body(title), headers=token(infra, "intake", sub=sub))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def act(api, infra, ticket_id, action, body, roles=("agent",), sub=None):
    r = await api.post(f"/v1/tickets/{ticket_id}/{action}", json=body, headers=token(infra, *roles, sub=sub))
    assert r.status_code == 200, r.text
    return r.json()


def verified(secret: str, request: dict) -> dict:
    """The body of a received request, if its Standard Webhooks signature holds (raises otherwise)."""
    return Webhook(secret).verify(request["body"], request["headers"])


async def deliveries(api, infra, webhook_id, sub=CHANNEL_A, **params) -> list[dict]:
    r = await api.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params, headers=token(infra, "intake", sub=sub))
    assert r.status_code == 200, r.text
    return r.json()["items"]


# --- delivery ----------------------------------------------------------------------------------------------

async def test_a_channel_receives_its_tickets_requester_events_signed(api, infra, receiver):
    url, endpoint = receiver.endpoint("signed")
    hook = await register(api, infra, url)
    assert hook["secret"].startswith("whsec_") and hook["owner"] == CHANNEL_A
    ticket_id = await file_ticket(api, infra)
    noted_before = consumed(api, "ticket.progress_noted")
    await act(api, infra, ticket_id, "assign", {"assignee": "agent-7"})
    await act(api, infra, ticket_id, "notes", {"body": "内部：疑似计费系统问题", "visibility": "internal"})
    await act(api, infra, ticket_id, "notes", {"body": "正在排查，明天上午答复您", "visibility": "requester"})
    await act(api, infra, ticket_id, "resolve", {"answer": "已为您重置密码，请重新登录。", "cause": "usage_misunderstanding"})
    await act(api, infra, ticket_id, "feedback", {"satisfied": True, "score": 5}, roles=("intake",), sub=CHANNEL_A)

    await eventually(lambda: _async(len(endpoint.delivered()) >= 3), timeout=20, what="three deliveries")
    bodies = sorted((verified(hook["secret"], r) for r in endpoint.delivered()), key=lambda b: b["data"]["sequence"])
    assert [b["type"] for b in bodies] == ["ticket.progress_noted", "ticket.resolved", "ticket.closed"]
    assert all(b["data"]["ticket_id"] == ticket_id for b in bodies)
    assert bodies[1]["data"]["answer"] == "已为您重置密码，请重新登录。" and bodies[1]["data"]["status"] == "resolved"
    assert bodies[2]["data"]["close_reason"] == "satisfied" and bodies[2]["data"]["score"] == 5
    headers = endpoint.delivered()[0]["headers"]
    assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")
    assert headers["Content-Type"].startswith("application/json")

    # the internal note was consumed by the fan-out (both notes were), and nothing of it was stored or sent
    await eventually(lambda: _async(consumed(api, "ticket.progress_noted") >= noted_before + 2),
                     what="the fan-out consumed both note events")
    stored = await deliveries(api, infra, hook["id"])
    assert sorted(d["event_type"] for d in stored) == ["ticket.closed", "ticket.progress_noted", "ticket.resolved"]
    everything = json.dumps(stored, ensure_ascii=False) + "".join(r["body"].decode() for r in endpoint.requests)
    assert "内部" not in everything and "agent-7" not in everything
    assert all(d["status"] == "delivered" and d["attempts"][-1]["status_code"] == 200 for d in stored)


async def test_another_channels_tickets_are_not_delivered(api, infra, receiver):
    url_a, endpoint_a = receiver.endpoint("only-a")
    url_b, endpoint_b = receiver.endpoint("only-b")
    hook_a = await register(api, infra, url_a, sub=CHANNEL_A)
    hook_b = await register(api, infra, url_b, sub=CHANNEL_B)
    ticket_b = await file_ticket(api, infra, sub=CHANNEL_B, title="门户工单")
    await act(api, infra, ticket_b, "assign", {"assignee": "agent-7"})
    await act(api, infra, ticket_b, "resolve", {"answer": "已处理", "cause": "other"})

    await eventually(lambda: _async(endpoint_b.delivered()), timeout=20, what="B's callback got B's answer")
    assert verified(hook_b["secret"], endpoint_b.delivered()[0])["data"]["ticket_id"] == ticket_b
    # the event that reached B's webhook made every delivery it makes in one handler call: A has none of it
    assert [d for d in await deliveries(api, infra, hook_a["id"]) if d["ticket_id"] == ticket_b] == []
    assert not any(ticket_b in r["body"].decode() for r in endpoint_a.requests)


async def test_a_webhook_gets_only_the_events_it_names(api, infra, receiver):
    url, endpoint = receiver.endpoint("closed-only")
    hook = await register(api, infra, url, events=["ticket.closed"])
    assert hook["events"] == ["ticket.closed"]
    ticket_id = await file_ticket(api, infra)
    resolved_before = consumed(api, "ticket.resolved")
    await act(api, infra, ticket_id, "assign", {"assignee": "agent-7"})
    await act(api, infra, ticket_id, "resolve", {"answer": "已处理", "cause": "other"})
    await act(api, infra, ticket_id, "feedback", {"satisfied": True}, roles=("intake",), sub=CHANNEL_A)
    await eventually(lambda: _async(endpoint.delivered()), timeout=20, what="the closure delivered")
    assert [verified(hook["secret"], r)["type"] for r in endpoint.delivered()] == ["ticket.closed"]
    await eventually(lambda: _async(consumed(api, "ticket.resolved") > resolved_before),
                     what="the fan-out consumed the resolution")
    assert [d["event_type"] for d in await deliveries(api, infra, hook["id"])] == ["ticket.closed"]


async def test_a_failing_receiver_is_retried_and_the_ticket_keeps_its_order(api, infra, receiver):
    url, endpoint = receiver.endpoint("flaky", answers=[500, 503])
    hook = await register(api, infra, url)
    ticket_id = await file_ticket(api, infra)
    await act(api, infra, ticket_id, "assign", {"assignee": "agent-7"})
    await act(api, infra, ticket_id, "notes", {"body": "已转技术人员处理", "visibility": "requester"})

    async def note_delivery_exists():
        return [d for d in await deliveries(api, infra, hook["id"]) if d["ticket_id"] == ticket_id]

    await eventually(note_delivery_exists, timeout=20, what="the note's delivery was made")
    await act(api, infra, ticket_id, "resolve", {"answer": "已修复", "cause": "product_defect"})

    await eventually(lambda: _async(len(endpoint.delivered()) >= 2), timeout=20, what="both delivered")
    assert [r["status"] for r in endpoint.requests] == [500, 503, 200, 200]
    types = [json.loads(r["body"])["type"] for r in endpoint.requests]
    # the resolution waited for the note, which was retried until it got through
    assert types == ["ticket.progress_noted"] * 3 + ["ticket.resolved"]
    assert len({r["headers"]["webhook-id"] for r in endpoint.requests[:3]}) == 1  # one message, three attempts
    for r in endpoint.requests:
        verified(hook["secret"], r)  # every attempt is signed for its own timestamp
    note = next(d for d in await deliveries(api, infra, hook["id"]) if d["event_type"] == "ticket.progress_noted")
    assert note["status"] == "delivered" and [a["status_code"] for a in note["attempts"]] == [500, 503, 200]


async def test_a_delivery_that_keeps_failing_is_kept_listed_and_redelivered(api, infra, receiver):
    url, endpoint = receiver.endpoint("down", default=500)
    hook = await register(api, infra, url)
    ticket_id = await file_ticket(api, infra)
    await act(api, infra, ticket_id, "assign", {"assignee": "agent-7"})
    await act(api, infra, ticket_id, "resolve", {"answer": "已处理", "cause": "other"})

    async def failed():
        return await deliveries(api, infra, hook["id"], status="failed")

    [dead] = await eventually(failed, timeout=20, what="the delivery failed for good")
    # 1 + 3 retries (the test's schedule), each kept with its status code and time
    assert [a["status_code"] for a in dead["attempts"]] == [500] * 4 and all(a["at"] for a in dead["attempts"])
    assert dead["attempts"][0]["response"].startswith("receiver down")
    assert dead["next_attempt_at"] is None and dead["failed_at"]
    assert len(endpoint.requests) == 4
    assert await deliveries(api, infra, hook["id"], status="delivered") == []

    stranger = token(infra, "intake", sub=CHANNEL_B)
    r = await api.post(f"/v1/webhooks/deliveries/{dead['id']}/redeliver", headers=stranger)
    assert r.status_code == 403
    r = await api.post("/v1/webhooks/deliveries/no-such-delivery/redeliver", headers=token(infra, "admin"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")

    endpoint.default = 200  # the receiver recovers
    r = await api.post(f"/v1/webhooks/deliveries/{dead['id']}/redeliver", headers=token(infra, "intake", sub=CHANNEL_A))
    assert r.status_code == 202 and r.json()["status"] == "pending"

    async def delivered():
        return await deliveries(api, infra, hook["id"], status="delivered")

    [done] = await eventually(delivered, timeout=20, what="the redelivery got through")
    assert [a["status_code"] for a in done["attempts"]] == [500] * 4 + [200] and done["redelivered_at"]
    assert verified(hook["secret"], endpoint.delivered()[0])["data"]["answer"] == "已处理"
    assert endpoint.requests[0]["headers"]["webhook-id"] == endpoint.requests[-1]["headers"]["webhook-id"]
    r = await api.post(f"/v1/webhooks/deliveries/{dead['id']}/redeliver", headers=token(infra, "admin"))
    assert r.status_code == 202  # a delivered one may be sent again (the receiver lost it)
    r = await api.post(f"/v1/webhooks/deliveries/{dead['id']}/redeliver", headers=token(infra, "admin"))
    assert r.status_code in (202, 409)  # 409 while still pending; 202 if the pass sent it in between


# --- registration: who, what -------------------------------------------------------------------------------

async def test_only_a_channel_or_an_admin_manages_webhooks(api, infra, receiver):
    url, _ = receiver.endpoint("roles")
    for role in ("agent", "complaint_handler", "product_manager", "vendor", "account_manager", "analyst"):
        r = await api.post("/v1/webhooks", json={"url": url}, headers=token(infra, role))
        assert r.status_code == 403, role
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (await api.get("/v1/webhooks", headers=token(infra, role))).status_code == 403
    assert (await api.post("/v1/webhooks", json={"url": url})).status_code == 401

    r = await api.post("/v1/webhooks", json={"url": url, "owner": CHANNEL_B}, headers=token(infra, "intake", sub=CHANNEL_A))
    assert r.status_code == 403  # a channel registers for its own tickets only
    r = await api.post("/v1/webhooks", json={"url": url}, headers=token(infra, "admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "owner"
    r = await api.post("/v1/webhooks", json={"url": url, "owner": CHANNEL_B}, headers=token(infra, "admin"))
    assert r.status_code == 201 and r.json()["owner"] == CHANNEL_B and r.json()["created_by"] == "admin-test"
    on_behalf = r.json()

    mine = await register(api, infra, url, sub=CHANNEL_A)
    as_a, as_b = token(infra, "intake", sub=CHANNEL_A), token(infra, "intake", sub=CHANNEL_B)
    listed_a = (await api.get("/v1/webhooks", params={"limit": 200}, headers=as_a)).json()["items"]
    assert mine["id"] in {w["id"] for w in listed_a} and {w["owner"] for w in listed_a} == {CHANNEL_A}
    assert all("secret" not in w for w in listed_a)
    assert (await api.get("/v1/webhooks", params={"owner": CHANNEL_B}, headers=as_a)).json()["items"] == []
    listed_b = (await api.get("/v1/webhooks", params={"limit": 200}, headers=as_b)).json()["items"]
    assert on_behalf["id"] in {w["id"] for w in listed_b} and {w["owner"] for w in listed_b} == {CHANNEL_B}
    everyone = (await api.get("/v1/webhooks", params={"limit": 200}, headers=token(infra, "admin"))).json()["items"]
    assert {mine["id"], on_behalf["id"]} <= {w["id"] for w in everyone}
    only_b = (await api.get("/v1/webhooks", params={"owner": CHANNEL_B, "limit": 200},
                            headers=token(infra, "admin"))).json()["items"]
    assert {w["owner"] for w in only_b} == {CHANNEL_B}

    assert (await api.get(f"/v1/webhooks/{mine['id']}", headers=as_b)).status_code == 403
    assert "secret" not in (await api.get(f"/v1/webhooks/{mine['id']}", headers=as_a)).json()
    assert (await api.get(f"/v1/webhooks/{mine['id']}/deliveries", headers=as_b)).status_code == 403
    assert (await api.delete(f"/v1/webhooks/{mine['id']}", headers=as_b)).status_code == 403
    assert (await api.delete(f"/v1/webhooks/{mine['id']}", headers=token(infra, "agent"))).status_code == 403
    assert (await api.delete(f"/v1/webhooks/{mine['id']}", headers=as_a)).status_code == 204
    assert (await api.get(f"/v1/webhooks/{mine['id']}", headers=as_a)).status_code == 404
    assert (await api.delete(f"/v1/webhooks/{mine['id']}", headers=as_a)).status_code == 404
    assert (await api.delete(f"/v1/webhooks/{on_behalf['id']}", headers=token(infra, "admin"))).status_code == 204


@pytest.mark.parametrize("url", ["ftp://crm.example.com/hooks", "crm.example.com/hooks",
                                 "https://user:secret@crm.example.com/hooks", "https:///hooks",
                                 "https://crm.example.com/" + "x" * 2000, ""])
async def test_a_url_that_will_not_be_called_is_a_422_naming_url(api, infra, url):
    r = await api.post("/v1/webhooks", json={"url": url}, headers=token(infra, "intake", sub=CHANNEL_A))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "url"


async def test_unknown_or_internal_event_types_are_a_422_naming_events(api, infra, receiver):
    url, _ = receiver.endpoint("events")
    for events in (["ticket.answered"], ["ticket.assigned", "ticket.closed"], [], "ticket.closed"):
        r = await api.post("/v1/webhooks", json={"url": url, "events": events},
                           headers=token(infra, "intake", sub=CHANNEL_A))
        assert r.status_code == 422, events
        assert r.json()["errors"][0]["field"].startswith("events")
    r = await api.post("/v1/webhooks", json={"url": url, "secret": "whsec_mine"},
                       headers=token(infra, "intake", sub=CHANNEL_A))
    assert r.status_code == 422  # the secret is ours to make


async def _async(value):
    return value


# --- where a callback may go (server-side request forgery) ------------------------------------------------

@pytest.fixture(scope="module")
async def guarded_api(infra):
    """ticketing as deployed: no network allowed beyond the public ones (the default)."""
    async with running(create(settings_for(Settings, infra, "ticketing_webhooks_guarded"))) as client:
        yield client


def loopback_name() -> str:
    """A name other than localhost that resolves to loopback only: this machine's own name, where /etc/hosts
    says so (Debian's 127.0.1.1, this box's 127.0.0.1)."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except socket.gaierror:
        addresses = set()
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        pytest.skip(f"{name} does not resolve to loopback only here ({sorted(addresses)})")
    return name


@pytest.mark.parametrize("url, why", [
    ("http://10.1.2.3/hooks", "10.1.2.3 is a private address"),
    ("https://192.168.0.10:8443/hooks", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud instance metadata"),
    ("http://localhost:8080/hooks", "localhost resolves to"),
    ("http://[::1]:8080/hooks", "::1 is a loopback address"),
    ("http://127.0.0.1:8080/hooks", "loopback"),
    ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("http://2130706433/hooks", "resolves to 127.0.0.1"),  # 127.0.0.1 written as one number
    ("http://0.0.0.0/hooks", "unspecified"),
    ("http://[fe80::1]/hooks", "link-local"),
    ("http://224.0.0.251/hooks", "multicast"),
    ("http://does-not-exist.invalid/hooks", "does not resolve"),
])
async def test_a_url_to_a_non_public_address_is_refused_at_registration(guarded_api, infra, url, why):
    as_channel = token(infra, "intake", sub="ssrf-channel")
    r = await guarded_api.post("/v1/webhooks", json={"url": url}, headers=as_channel)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    [error] = r.json()["errors"]
    assert error["field"] == "url" and why in error["message"], error
    assert (await guarded_api.get("/v1/webhooks", headers=as_channel)).json()["items"] == []


async def test_a_name_resolving_to_loopback_is_refused_at_registration(guarded_api, infra, receiver):
    name = loopback_name()
    port = receiver.base.rsplit(":", 1)[1]
    r = await guarded_api.post("/v1/webhooks", json={"url": f"http://{name}:{port}/named"},
                               headers=token(infra, "intake", sub="ssrf-channel"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
    assert f"{name} resolves to 127." in r.json()["errors"][0]["message"]


async def test_the_allowance_is_exactly_the_networks_it_names(api, infra, receiver):
    url, _ = receiver.endpoint("allowed")
    assert (await api.post("/v1/webhooks", json={"url": url}, headers=token(infra, "intake", sub="ssrf-2"))
            ).status_code == 201  # 127.0.0.1/32 is allowed here
    r = await api.post("/v1/webhooks", json={"url": url.replace("127.0.0.1", "127.0.0.2")},
                       headers=token(infra, "intake", sub="ssrf-2"))
    assert r.status_code == 422 and "127.0.0.2 is a loopback address" in r.json()["errors"][0]["message"]
    r = await api.post("/v1/webhooks", json={"url": "http://10.0.0.1/x"}, headers=token(infra, "intake", sub="ssrf-2"))
    assert r.status_code == 422


async def refused_delivery(rt, url: str, ticket_id: str) -> dict:
    """A webhook registered while its address was allowed, one event for it, one pass of the delivery job
    under the settings the test has set by then: the delivery as stored."""
    await rt.store[TICKETS].insert_one({"_id": ticket_id, "filed_by": CHANNEL_A})
    await rt.store[WEBHOOKS].insert_one({"_id": f"wh_{ticket_id}", "owner": CHANNEL_A, "url": url, "events": None,
                                         "secret": new_secret()})
    await fan_out(rt, ticket_envelope(ticket_id, "ticket.closed", 3, status="closed"))
    assert await deliver_due(rt) == 1
    return await rt.store[DELIVERIES].find_one({"ticket_id": ticket_id})


def allowing_nothing(rt, **more) -> None:
    """The address no longer allowed: as when the name now resolves elsewhere, or the allowance was removed."""
    rt.settings = rt.settings.model_copy(update={"webhook_allowed_networks": [], **more})


async def test_a_delivery_to_an_address_no_longer_allowed_is_refused_and_failed_at_once(job_runtime, receiver):
    rt = job_runtime
    url, endpoint = receiver.endpoint("moved")
    assert await registration_refusal(rt, url) is None  # what the registration found
    allowing_nothing(rt)
    delivery = await refused_delivery(rt, url, "TS-ssrf-1")
    # the schedule has an hour's retry left, but where the URL points does not change by retrying
    assert delivery["status"] == "failed" and delivery["round_attempts"] == 1 and delivery["failed_at"]
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: 127.0.0.1 is a loopback address"), attempt
    assert endpoint.requests == []  # nothing was sent


async def test_a_name_that_resolves_to_a_refused_address_at_delivery_is_refused_by_the_connection(
        job_runtime, receiver):
    rt = job_runtime
    url, endpoint = receiver.endpoint("named")
    named = url.replace("127.0.0.1", "localhost")
    allowing_nothing(rt)
    delivery = await refused_delivery(rt, named, "TS-ssrf-2")
    assert delivery["status"] == "failed", delivery
    assert delivery["attempts"][0]["error"].startswith("refused: localhost resolves to"), delivery
    assert "loopback" in delivery["attempts"][0]["error"] and endpoint.requests == []


async def test_through_a_proxy_the_name_is_resolved_and_refused_before_the_attempt(job_runtime, receiver):
    rt = job_runtime
    url, endpoint = receiver.endpoint("proxied")
    allowing_nothing(rt, webhook_proxy="http://127.0.0.1:9")  # never reached: the refusal comes first
    delivery = await refused_delivery(rt, url.replace("127.0.0.1", "localhost"), "TS-ssrf-3")
    assert delivery["status"] == "failed"
    assert delivery["attempts"][0]["error"].startswith("refused: localhost resolves to"), delivery
    assert "loopback" in delivery["attempts"][0]["error"] and endpoint.requests == []




# --- the delivery job and the fan-out, pass by pass (no scheduler: each pass is called here) --------------------

@pytest.fixture
async def job_runtime(infra):
    """What the fan-out and the delivery job reach (store and settings), on a database of its own; retries are
    far apart, so that a retrying delivery stays pending until the test says it is due."""
    settings = settings_for(Settings, infra, f"ticketing_webhook_job_{uuid.uuid4().hex[:6]}",
                            webhook_retry_delays=[3600.0], webhook_retry_jitter=0.0, webhook_timeout_seconds=5.0,
                            webhook_allowed_networks=RECEIVER_NETWORK)
    store = Store(settings, indexes=WEBHOOK_INDEXES)
    await store.start()
    yield SimpleNamespace(settings=settings, store=store, extras={})
    await store.client.drop_database(settings.database)
    await store.close()


def ticket_envelope(ticket_id: str, event_type: str, sequence: int, **data) -> Envelope:
    return Envelope(type=event_type, source="ticketing", subject=ticket_id, correlationid="test", sequence=sequence,
                    data={"ticket_id": ticket_id, "kind": "complaint", "status": "in_progress",
                          "product_code": PRODUCT, **data})


async def test_fan_out_makes_one_delivery_per_event_and_webhook_however_often_it_comes(job_runtime, receiver):
    rt = job_runtime
    url, _ = receiver.endpoint("fan-out")
    await rt.store[TICKETS].insert_many([{"_id": "TS-1", "filed_by": CHANNEL_A}, {"_id": "TS-2", "filed_by": CHANNEL_B}])
    await rt.store[WEBHOOKS].insert_many([
        {"_id": "wh_a1", "owner": CHANNEL_A, "url": url, "events": None, "secret": new_secret()},
        {"_id": "wh_a2", "owner": CHANNEL_A, "url": url, "events": ["ticket.closed"], "secret": new_secret()},
        {"_id": "wh_b", "owner": CHANNEL_B, "url": url, "events": None, "secret": new_secret()}])
    resolved = ticket_envelope("TS-1", "ticket.resolved", 4, status="resolved", answer="已处理")
    assert await fan_out(rt, resolved) == 1  # wh_a1 only: wh_a2 wants closures, wh_b is another channel's
    assert await fan_out(rt, resolved) == 0  # the same event again (a redelivered message) makes nothing
    internal = ticket_envelope("TS-1", "ticket.progress_noted", 5, visibility="internal", body="内部备注")
    assert await fan_out(rt, internal) == 0
    handed_back = ticket_envelope("TS-1", "ticket.answered", 6, answer="建议答复")
    assert await fan_out(rt, handed_back) == 0
    stored = await rt.store[DELIVERIES].find({}).to_list()
    assert [(d["webhook_id"], d["event_type"], d["status"]) for d in stored] == [("wh_a1", "ticket.resolved", "pending")]


async def test_a_retrying_delivery_holds_back_the_later_ones_of_its_ticket_only(job_runtime, receiver):
    rt = job_runtime
    notes_seen = []

    def fail_the_first_note(body):
        if body["type"] == "ticket.progress_noted":
            notes_seen.append(body)
            return 500 if len(notes_seen) == 1 else 200
        return None

    url, endpoint = receiver.endpoint("ordered", decide=fail_the_first_note)
    secret = new_secret()
    await rt.store[TICKETS].insert_many([{"_id": "TS-9", "filed_by": CHANNEL_A}, {"_id": "TS-8", "filed_by": CHANNEL_A}])
    await rt.store[WEBHOOKS].insert_one({"_id": "wh_o", "owner": CHANNEL_A, "url": url, "events": None,
                                         "secret": secret})
    # consumed out of order: the resolution's delivery is made before the note's; the note goes first anyway
    await fan_out(rt, ticket_envelope("TS-9", "ticket.resolved", 7, status="resolved", answer="已修复"))
    await fan_out(rt, ticket_envelope("TS-9", "ticket.progress_noted", 6, visibility="requester", body="处理中"))
    await fan_out(rt, ticket_envelope("TS-8", "ticket.closed", 3, status="closed", close_reason="satisfied"))

    async def stored(ticket_id, event_type):
        return await rt.store[DELIVERIES].find_one({"ticket_id": ticket_id, "event_type": event_type})

    assert await deliver_due(rt) == 2   # the note (answered 500) and the other ticket's closure
    order = sorted((json.loads(r["body"])["data"]["ticket_id"], json.loads(r["body"])["type"], r["status"])
                   for r in endpoint.requests)
    assert order == [("TS-8", "ticket.closed", 200), ("TS-9", "ticket.progress_noted", 500)]
    assert (await stored("TS-9", "ticket.resolved"))["attempts"] == []  # due, but held back by the note
    assert await deliver_due(rt) == 0   # the note retries in an hour; the resolution still waits for it

    note = await stored("TS-9", "ticket.progress_noted")
    await rt.store[DELIVERIES].update_one({"_id": note["_id"]}, {"$set": {"due_at": 0.0}})  # the hour has passed
    assert await deliver_due(rt) == 2   # the note, then the resolution, in one pass
    sent = [(json.loads(r["body"])["type"], r["status"]) for r in endpoint.requests[2:]]
    assert sent == [("ticket.progress_noted", 200), ("ticket.resolved", 200)]
    for request in endpoint.requests:
        Webhook(secret).verify(request["body"], request["headers"])
    assert (await stored("TS-9", "ticket.resolved"))["status"] == "delivered"
    assert await deliver_due(rt) == 0


async def test_an_unreachable_receiver_is_a_failed_attempt_with_its_error(job_runtime, receiver):
    rt = job_runtime
    await rt.store[TICKETS].insert_one({"_id": "TS-7", "filed_by": CHANNEL_A})
    # a port nobody listens on: connection refused
    await rt.store[WEBHOOKS].insert_one({"_id": "wh_x", "owner": CHANNEL_A, "url": "http://127.0.0.1:9/none",
                                         "events": None, "secret": new_secret()})
    await fan_out(rt, ticket_envelope("TS-7", "ticket.closed", 3, status="closed"))
    assert await deliver_due(rt) == 1
    delivery = await rt.store[DELIVERIES].find_one({"ticket_id": "TS-7"})
    assert delivery["status"] == "pending" and delivery["round_attempts"] == 1
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and attempt["error"]
    await rt.store[DELIVERIES].update_one({"_id": delivery["_id"]}, {"$set": {"due_at": 0.0}})
    assert await deliver_due(rt) == 1  # the schedule has one delay: the second failure is final
    delivery = await rt.store[DELIVERIES].find_one({"ticket_id": "TS-7"})
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 2


async def test_the_registry_reads_the_webhooks_once_per_period_and_again_after_a_change_here(job_runtime):
    from services.ticketing.events.webhooks import WebhookRegistry

    rt = job_runtime
    cached = WebhookRegistry(rt, ttl=3600.0)
    assert await cached.by_owner() == {}
    await rt.store[WEBHOOKS].insert_one({"_id": "wh_r", "owner": CHANNEL_A, "url": "http://127.0.0.1:9/x",
                                         "events": None, "secret": new_secret()})
    assert await cached.by_owner() == {}  # within its period: as read
    cached.invalidate()  # what this process's registration route does
    [hook] = (await cached.by_owner())[CHANNEL_A]
    assert hook["_id"] == "wh_r" and "secret" not in hook
    fresh = WebhookRegistry(rt, ttl=0.0)  # another process's worker, once its period is over
    await rt.store[WEBHOOKS].delete_one({"_id": "wh_r"})
    assert await fresh.by_owner() == {}


async def test_handlers_that_find_the_registry_stale_at_once_read_it_once(job_runtime):
    import asyncio

    from prometheus_client import REGISTRY, generate_latest

    from services.ticketing.events.webhooks import WebhookRegistry
    from tests.ticketing.test_intake import store_commands

    def reads() -> float:
        return store_commands(generate_latest(REGISTRY).decode(), "find", WEBHOOKS)

    registry = WebhookRegistry(job_runtime, ttl=3600.0)
    before = reads()
    answers = await asyncio.gather(*(registry.by_owner() for _ in range(20)))  # a prefetch's worth of handlers
    assert reads() - before == 1 and all(answer is answers[0] for answer in answers)
    registry.invalidate()
    await asyncio.gather(*(registry.by_owner() for _ in range(20)))
    assert reads() - before == 2
