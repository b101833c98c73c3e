"""Channel callbacks (渠道回调): the pure rules of webhooks, signed the Standard Webhooks way. No I/O.

Who owns a webhook: the intake principal (接入渠道) that files the tickets, by its token's `sub`. A ticket records
who filed it (`filed_by`), never changes it, and an intake principal sees exactly the tickets it filed
(domain/scope.py); so "the callbacks of `sub`" receive "the requester-visible events of the tickets `sub` filed",
and the channel's webhook sees nothing its token could not read. The `channel` claim and the ticket's `channel`
field are not the owner: `channel` is a coarse enum (call_center, customer, …) that several systems share (two
city portals are both `customer`), so keying on it would leak one system's tickets to another's callback. An
admin registers a callback on behalf of an intake principal by naming its `sub` as `owner`.

What is delivered (REQUESTER_EVENTS): what the requester may see of their ticket: requester-visible notes
(进度通报), pending requests (待补充, with what is `needed`), the requester's reply having been taken, the answer
(答复, `ticket.resolved`), reopening after unsatisfied feedback and closure. Not delivered: internal notes, the
hand-back of an upper tier to the front line (`ticket.answered`: a proposed answer, not yet the answer),
assignment, escalation, SLA breaches, the assignee's reminder of a report due (`ticket.update_due`: staff read
it in GET /v1/reminders; the requester gets the report itself). The body is built from an explicit list of
fields per event type (`callback_body`), never by copying the event, so that a field added to an event later (an
assignee, an internal note's text) does not leave through a callback by accident.

The body (Standard Webhooks' payload structure: `type`, `timestamp`, `data`), compact JSON in UTF-8:

    {"type": "ticket.resolved", "timestamp": "2026-11-25T09:30:00.123456Z",
     "data": {"ticket_id": "TS-20261125-00042", "kind": "complaint", "status": "resolved",
              "product_code": "mobile_office", "sequence": 5, "answer": "已为您重置密码，请重新登录。"}}

`timestamp` is when the change happened (the event's time), `sequence` the ticket's version after it: a receiver
that got a newer state of a ticket may drop an older one arriving later (deliveries of one ticket to one webhook
are sent in the order the events were consumed, but events may be consumed out of order after a retry). Per type,
`data` adds: `ticket.progress_noted` → `note` {`body`} (`body` when the event carries it), `ticket.pending` →
`needed`, `ticket.resolved` → `answer`, `ticket.reopened` → `reopen_count` and the requester's `comment`,
`ticket.closed` → `close_reason`, `satisfied`, `score`; `ticket.improvement_shipped` → `improvement` {`item_id`,
`title`, `release`, `shipped_at`} (the optimisation the ticket asked for, shipped in `release`).

Where a callback may go (server-side request forgery): a registered URL is someone else's input that makes us
send requests, so its host may not be, or resolve to, an address of our own side: loopback, private (RFC 1918,
fc00::/7), link-local (169.254.0.0/16 with the cloud metadata address 169.254.169.254, fe80::/10), unspecified,
multicast, reserved or otherwise not globally routable (`address_refusal`), unless an operator allowed that
network (OPS_WEBHOOK_ALLOWED_NETWORKS: local development, the tests' receiver on 127.0.0.1). The API checks at
registration and the delivery job before every attempt (events/webhooks.py: DNS can change in between).

Signing (Standard Webhooks 1.0, symmetric): headers `webhook-id` (the delivery's message id, the same on every
retry: the receiver's idempotency key), `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
= `v1,` + base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")); the secret is shown once as `whsec_` +
base64 of 32 random bytes. Signed here with the standard library (a few lines, no dependency at run time); the
tests verify with the `standardwebhooks` package, an implementation that is not ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32          # the convention asks for 24 to 64
URL_MAX_LENGTH = 2000

REQUESTER_EVENTS: tuple[str, ...] = (
    "ticket.progress_noted",      # only with visibility `requester`
    "ticket.pending",
    "ticket.requester_replied",
    "ticket.resolved",
    "ticket.reopened",
    "ticket.closed",
    # not a ticketing event: lifecycle's `lifecycle.backlog_item.shipped` relayed per ticket that raised the
    # item (events/improvements.py): the requester's suggestion or complaint shipped in a release (产品优化已上线)
    "ticket.improvement_shipped",
)
IMPROVEMENT_SHIPPED = "ticket.improvement_shipped"

# A delivery id is derived from (webhook, event): the same event consumed twice makes the same delivery.
_DELIVERY_NAMESPACE = uuid.UUID("6f1d3c8e-4b7a-4c2e-9a51-0c8e2f4d7b19")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# the instance metadata services of the clouds (AWS, GCP, Azure, OpenStack …; AWS's IPv6 one): credentials live there
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class InvalidUrl(ValueError):
    """A callback URL the service will not call."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header value for one attempt."""
    digest = hmac.new(secret_bytes(secret), f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_url(url: str) -> str:
    """The URL as given, if it is an absolute http(s) URL with a host, no credentials and at most URL_MAX_LENGTH
    characters. Credentials in a URL end up in logs and listings; the secret is what authenticates us."""
    if len(url) > URL_MAX_LENGTH:
        raise InvalidUrl(f"at most {URL_MAX_LENGTH} characters")
    if any(c.isspace() for c in url):
        raise InvalidUrl("no spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise InvalidUrl(f"not a URL ({error})") from error
    if parts.scheme not in ("http", "https"):
        raise InvalidUrl("http:// or https:// only")
    if not parts.hostname:
        raise InvalidUrl("needs a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("no user name or password in the URL; deliveries are signed with the webhook's secret")
    if parts.fragment:
        raise InvalidUrl("no #fragment (it is never sent)")
    return url


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host names literally (`10.0.0.5`, `[::1]` as urlsplit gives it: `::1`), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) names no other address
    except ValueError:
        return None


def address_refusal(address: str | IPAddress, allowed: Sequence[Network] = ()) -> str | None:
    """What kind of address `address` is, when callbacks may not be sent to it ("a private address"), or None
    when they may: a globally routable unicast address, or one inside a network of `allowed`."""
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip.version == network.version and ip in network for network in allowed):
        return None
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip in METADATA_ADDRESSES:
        return "the cloud instance metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if any(ip.version == n.version and ip in n for n in PRIVATE_NETWORKS):
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def host_refusal(host: str, addresses: Sequence[str], allowed: Sequence[Network] = ()) -> str | None:
    """Why a URL whose host is `host` may not be called, given the addresses it stands for (itself when it is
    one, what it resolves to when it is a name: every one of them must be allowed), or None."""
    literal = literal_address(host)
    for address in [str(literal)] if literal is not None else addresses:
        kind = address_refusal(address, allowed)
        if kind is not None:
            return f"{address} is {kind}" if literal is not None else f"{host} resolves to {address}, {kind}"
    return None


# RFC 1918 and the IPv6 unique local addresses (RFC 4193)
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                           "fc00::/7"))


def wanted(webhook_events: Sequence[str] | None, event_type: str) -> bool:
    """Whether a webhook subscribed to `webhook_events` (None: every requester event) gets `event_type`."""
    return event_type in REQUESTER_EVENTS and (not webhook_events or event_type in webhook_events)


def delivery_id(webhook_id: str, event_id: str) -> str:
    return uuid.uuid5(_DELIVERY_NAMESPACE, f"{webhook_id}:{event_id}").hex


def message_id(delivery: str) -> str:
    """The `webhook-id` header: no `.` in it (the convention forbids it, the signed text is dot-delimited)."""
    return f"msg_{delivery}"


def _instant(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def callback_body(event_type: str, time: datetime | str, sequence: int, data: Mapping[str, Any]) -> str | None:
    """The JSON text POSTed for one ticket event, or None when the event is not for the requester's eyes.

    `data` is the event's payload as a dict (events added on other branches are read by field name)."""
    if event_type not in REQUESTER_EVENTS:
        return None
    if event_type == "ticket.progress_noted" and data.get("visibility") != "requester":
        return None  # internal notes never leave
    content: dict[str, Any] = {
        "ticket_id": data.get("ticket_id"), "kind": data.get("kind"), "status": data.get("status"),
        "product_code": data.get("product_code"), "sequence": sequence,
    }
    if event_type == "ticket.progress_noted":
        content["note"] = {k: data[k] for k in ("body",) if data.get(k) is not None}
    elif event_type == "ticket.pending":
        content["needed"] = data.get("needed")
    elif event_type == "ticket.resolved":
        content["answer"] = data.get("answer")
    elif event_type == "ticket.reopened":
        content["reopen_count"] = data.get("reopen_count")
        content["comment"] = data.get("comment")
    elif event_type == IMPROVEMENT_SHIPPED:
        improvement = data.get("improvement") or {}
        content["improvement"] = {k: improvement.get(k) for k in ("item_id", "title", "release", "shipped_at")}
    elif event_type == "ticket.closed":
        content["close_reason"] = data.get("close_reason")
        content["satisfied"] = data.get("satisfied")
        content["score"] = data.get("score")
    body = {"type": event_type, "timestamp": _instant(time), "data": content}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# --- attempts and retries -----------------------------------------------------------------------------------

Outcome = Literal["delivered", "retry", "failed"]


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def outcome(status_code: int | None, attempts_made: int, retry_delays: Sequence[float]) -> Outcome:
    """After an attempt (`attempts_made` of this round, this one included): 2xx is delivered; 410 Gone is the
    receiver saying it wants no more (the convention), failed at once; anything else (another status, a timeout,
    a refused connection; redirects are not followed) is retried while the schedule has a delay left."""
    if succeeded(status_code):
        return "delivered"
    if status_code == 410 or attempts_made > len(retry_delays):
        return "failed"
    return "retry"


def retry_delay(attempts_made: int, retry_delays: Sequence[float], jitter: float,
                rand: random.Random | None = None) -> float:
    """Seconds before the next attempt after `attempts_made` attempts (≥ 1): the schedule's delay, spread by
    ±`jitter` (a fraction) so that deliveries failed together by one outage do not come back together."""
    base = retry_delays[min(attempts_made, len(retry_delays)) - 1]
    spread = (rand or random).uniform(-jitter, jitter) if jitter else 0.0
    return max(0.0, base * (1 + spread))
