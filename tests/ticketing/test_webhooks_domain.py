"""The pure rules of channel callbacks: signing (checked against the standardwebhooks package), the body, which
events leave, URLs, the retry schedule."""

import base64
import ipaddress
import json
import random
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.ticketing.domain import webhooks as rules

EVENT_DATA = {
    "ticket_id": "TS-20261125-00042", "kind": "complaint", "status": "resolved", "product_code": "mobile_office",
    "channel": "call_center", "city": "济南", "assignee": "agent-7", "escalation_target": "vendor-a",
    "cause": "billing_error", "actor": "agent-7", "answer": "已为您重置密码，请重新登录。",
}
WHEN = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)


def test_secret_is_whsec_and_base64_of_32_random_bytes():
    secret = rules.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != rules.new_secret()


def test_signature_verifies_with_the_standard_webhooks_library():
    secret = rules.new_secret()
    body = rules.callback_body("ticket.resolved", WHEN, 5, EVENT_DATA)
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {"webhook-id": "msg_abc", "webhook-timestamp": str(timestamp),
               "webhook-signature": rules.sign(secret, "msg_abc", timestamp, body)}
    assert Webhook(secret).verify(body.encode(), headers)["data"]["answer"] == "已为您重置密码，请重新登录。"
    with pytest.raises(WebhookVerificationError):  # another secret
        Webhook(rules.new_secret()).verify(body.encode(), headers)
    with pytest.raises(WebhookVerificationError):  # the body changed by one character
        Webhook(secret).verify(body.replace("重置", "重设").encode(), headers)
    with pytest.raises(WebhookVerificationError):  # the id is signed too
        Webhook(secret).verify(body.encode(), {**headers, "webhook-id": "msg_abd"})


def test_body_is_type_timestamp_data_with_only_requester_fields():
    body = json.loads(rules.callback_body("ticket.resolved", WHEN, 5, EVENT_DATA))
    assert body == {"type": "ticket.resolved", "timestamp": "2026-11-25T01:30:00Z",
                    "data": {"ticket_id": "TS-20261125-00042", "kind": "complaint", "status": "resolved",
                             "product_code": "mobile_office", "sequence": 5, "answer": "已为您重置密码，请重新登录。"}}
    text = rules.callback_body("ticket.resolved", WHEN, 5, EVENT_DATA)
    for internal in ("agent-7", "vendor-a", "billing_error"):
        assert internal not in text
    assert ", " not in text and '": ' not in text


def test_notes_leave_only_when_requester_visible_and_carry_their_body_when_the_event_has_it():
    internal = {**EVENT_DATA, "status": "in_progress", "visibility": "internal", "body": "内部：厂家说是计费bug"}
    assert rules.callback_body("ticket.progress_noted", WHEN, 3, internal) is None
    without_visibility = {k: v for k, v in internal.items() if k != "visibility"}
    assert rules.callback_body("ticket.progress_noted", WHEN, 3, without_visibility) is None
    shown = {**internal, "visibility": "requester", "body": "正在排查，明天上午答复您"}
    body = json.loads(rules.callback_body("ticket.progress_noted", WHEN, 3, shown))
    assert body["data"]["note"] == {"body": "正在排查，明天上午答复您"}
    older = {k: v for k, v in shown.items() if k != "body"}  # TicketProgressNoted before it carried the body
    assert json.loads(rules.callback_body("ticket.progress_noted", WHEN, 3, older))["data"]["note"] == {}


@pytest.mark.parametrize("event_type, extra, expected", [
    ("ticket.pending", {"needed": "请提供报错截图"}, {"needed": "请提供报错截图"}),
    ("ticket.reopened", {"reopen_count": 1, "comment": "还是登录不了"}, {"reopen_count": 1, "comment": "还是登录不了"}),
    ("ticket.closed", {"close_reason": "satisfied", "satisfied": True, "score": 5},
     {"close_reason": "satisfied", "satisfied": True, "score": 5}),
    ("ticket.requester_replied", {"body": "截图已发"}, {}),
])
def test_each_requester_event_adds_its_own_content(event_type, extra, expected):
    body = json.loads(rules.callback_body(event_type, WHEN, 4, {**EVENT_DATA, **extra}))
    assert {k: v for k, v in body["data"].items()
            if k not in ("ticket_id", "kind", "status", "product_code", "sequence")} == expected


@pytest.mark.parametrize("event_type", ["ticket.answered", "ticket.assigned", "ticket.escalated",
                                        "ticket.sla_breached", "ticket.opened", "ticket.merged"])
def test_staff_events_never_leave(event_type):
    assert rules.callback_body(event_type, WHEN, 2, {**EVENT_DATA, "visibility": "requester"}) is None
    assert not rules.wanted(None, event_type)


def test_a_webhook_gets_every_requester_event_or_the_ones_it_names():
    assert all(rules.wanted(None, t) for t in rules.REQUESTER_EVENTS)
    assert rules.wanted(["ticket.closed"], "ticket.closed") and not rules.wanted(["ticket.closed"], "ticket.resolved")


@pytest.mark.parametrize("url", ["https://crm.example.com/hooks", "http://127.0.0.1:8099/cb?x=1",
                                 "https://[::1]:443/p"])
def test_callable_urls(url):
    assert rules.check_url(url) == url


@pytest.mark.parametrize("url, why", [
    ("ftp://example.com/x", "http"), ("example.com/hooks", "http"), ("https:///path", "host"),
    ("https://user:pw@example.com/", "password"), ("https://token@example.com/", "password"),
    ("https://example.com/" + "a" * 2000, "2000"), ("https://exa mple.com/", "spaces"),
    ("https://example.com:port/", "URL"), ("https://example.com/#frag", "fragment"),
])
def test_refused_urls(url, why):
    with pytest.raises(rules.InvalidUrl, match=why):
        rules.check_url(url)


@pytest.mark.parametrize("address, kind", [
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd12:3456::1", "private"),
    ("127.0.0.1", "loopback"), ("127.8.8.8", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("169.254.169.254", "metadata"), ("169.254.10.1", "link-local"), ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "reserved"),
    ("100.64.0.1", "not a public"), ("192.0.2.10", "not a public"),
])
def test_addresses_a_callback_may_not_go_to(address, kind):
    assert kind in rules.address_refusal(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "203.119.1.1", "2001:4860:4860::8888"])
def test_public_addresses_are_callable(address):
    assert rules.address_refusal(address) is None


def test_an_allowed_network_lets_exactly_its_addresses_through():
    allowed = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.20.0.0/16")]
    assert rules.address_refusal("127.0.0.1", allowed) is None and rules.address_refusal("10.20.3.4", allowed) is None
    assert "loopback" in rules.address_refusal("127.0.0.2", allowed)
    assert "private" in rules.address_refusal("10.21.0.1", allowed)
    assert "loopback" in rules.address_refusal("::1", allowed)  # another family is another address


def test_a_name_is_refused_when_any_of_its_addresses_is():
    assert rules.host_refusal("crm.example.com", ["93.184.216.34"]) is None
    reason = rules.host_refusal("crm.example.com", ["93.184.216.34", "10.0.0.5"])
    assert reason == "crm.example.com resolves to 10.0.0.5, a private address"
    assert rules.host_refusal("169.254.169.254", []) == "169.254.169.254 is the cloud instance metadata address"
    assert rules.literal_address("example.com") is None and str(rules.literal_address("::1")) == "::1"


def test_delivery_ids_are_the_same_for_the_same_event_and_webhook_only():
    one = rules.delivery_id("wh_1", "e-1")
    assert one == rules.delivery_id("wh_1", "e-1")
    assert one != rules.delivery_id("wh_2", "e-1") and one != rules.delivery_id("wh_1", "e-2")
    assert "." not in rules.message_id(one)


def test_outcomes_follow_the_schedule_and_the_status_code():
    delays = [5, 30, 120]
    assert rules.outcome(200, 1, delays) == "delivered" and rules.outcome(204, 4, delays) == "delivered"
    assert rules.outcome(500, 1, delays) == "retry" and rules.outcome(None, 3, delays) == "retry"
    assert rules.outcome(302, 1, delays) == "retry"  # redirects are not followed
    assert rules.outcome(500, 4, delays) == "failed"  # 1 + len(delays) attempts, then failed
    assert rules.outcome(410, 1, delays) == "failed"  # Gone: the receiver wants no more


def test_retry_delays_grow_with_the_schedule_and_jitter_stays_within_its_spread():
    delays = [5, 30, 120]
    assert [rules.retry_delay(n, delays, 0.0) for n in (1, 2, 3)] == [5, 30, 120]
    rand = random.Random(7)
    spread = [rules.retry_delay(2, delays, 0.2, rand) for _ in range(200)]
    assert all(24 <= d <= 36 for d in spread) and len(set(spread)) > 100
