"""Channel callbacks, delivered from events: never in the request that caused them, never lost.

1. Fan-out (`fan_out`, the subscription `ticketing.webhooks`): ticketing's worker consumes its own requester
   events from a durable quorum queue (kit/consumer.py: acknowledged after the handler, retried, then
   dead-lettered). For each event it reads who filed the ticket and inserts one delivery document per matching
   webhook of that owner, with the body to send. The delivery's id is derived from (webhook, event), so an
   event consumed twice inserts nothing new (the duplicate key is the answer); a failure before the insert
   leaves the message unacknowledged and it comes again. The request that changed the ticket only wrote the
   ticket and its event (the outbox), as before.
2. Delivery (`deliver_due`, the scheduled job `webhook-delivery`): kit/scheduler.py runs it on one replica at a
   time (the job's lease), every `webhook_poll_seconds`. A pass takes the pending deliveries that are due,
   POSTs each, signed, with a timeout, and writes the attempt back. A failed attempt is due again after the
   next delay of `webhook_retry_delays` with jitter; past the last one the delivery is `failed` and stays
   listed until someone redelivers it (api/webhooks.py).
   Order per ticket: of the pending deliveries of one ticket to one webhook only the one of the lowest
   `sequence` (the ticket's version after the change) is sent; the next waits until it is delivered or has
   failed for good (a retrying delivery holds back the later ones of its ticket, not those of other tickets).
   One more indexed read per pass buys it. Not covered: an event consumed late (after a retry of its
   message) whose successor was delivered already; the body's `sequence` lets the receiver see that.
   At least once: a replica that stalls past its lease may overlap with the next holder once, and a receiver
   that answered 2xx after our timeout gets the delivery again. The `webhook-id` header is the same on every
   attempt, so the receiver can drop what it already has (the convention says to).
3. Where a callback may go (domain/webhooks.py, server-side request forgery): checked at registration
   (`registration_refusal`) and again at every attempt, since a name may resolve elsewhere by then. Without an
   egress proxy the connection itself resolves through `GuardedResolver`, which refuses a name with any
   address not allowed, so what is checked is what is connected to (no second lookup to rebind in between);
   a literal address is checked before the attempt. With a proxy (OPS_WEBHOOK_PROXY) the proxy resolves and
   connects: we check the literal address or what our resolver says the name is, and the proxy must refuse
   the same networks (deploy/README.md). A refused attempt is recorded with its reason and the delivery is
   `failed` at once: retrying will not change where the URL points, and an admin can redeliver it.
4. Nothing here waits on the event loop: names are looked up on threads (`address_infos`: a pool of its own,
   given up after `webhook_resolve_timeout_seconds`, so a slow DNS server answers a registration with a 422
   within that bound, and holds an attempt straight out, whose connection resolves through the same lookup, for
   that bound too, and none of the loop's default executor), the attempts are aiohttp's, and what is computed
   per attempt (the signature over a body of a few hundred bytes) is small.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiohttp.abc
import structlog

from contracts.events import Envelope
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.kit.store import eq
from services.ticketing.domain import webhooks as rules
from services.ticketing.store.collections import TICKETS
from services.ticketing.store.webhooks import (
    DELIVERIES, MAX_KEPT_ATTEMPTS, WEBHOOKS, insert_deliveries, new_delivery, replace_guarded,
)

log = structlog.get_logger()

QUEUE = "ticketing.webhooks"
USER_AGENT = "ops-support-ticketing-webhooks/1"
RESPONSE_EXCERPT = 200   # characters of a failing receiver's answer kept with the attempt, for whoever debugs it
DUE_BATCH = 500          # due deliveries one pass reads


class WebhookRegistry:
    """The registered webhooks by owner, as one process last read them: every requester-visible event asks
    which webhooks its ticket's owner has, and a store read per event cost the close loop ~7 % of the store's
    CPU when nobody had registered any. Read again at most every `ttl` seconds, and at once after this process
    registered or deleted one (the API calls `invalidate`); a worker in another process sees a new webhook
    within `ttl` (OPS_WEBHOOK_REGISTRY_SECONDS), which the registration's answer documents."""

    def __init__(self, rt: Runtime, ttl: float):
        self.rt, self.ttl = rt, ttl
        self._by_owner: dict[str, list[dict[str, Any]]] | None = None
        self._read_at = 0.0
        self._reading = asyncio.Lock()

    def _stale(self) -> bool:
        return self._by_owner is None or time.monotonic() - self._read_at >= self.ttl

    async def by_owner(self) -> dict[str, list[dict[str, Any]]]:
        # One read when the period ends, not one per handler: the consumer runs a prefetch's worth of handlers at
        # once, and each of them found the copy stale (about 15 reads every period in the close loop)
        if self._stale():
            async with self._reading:
                if self._stale():
                    read_at = time.monotonic()
                    by_owner: dict[str, list[dict[str, Any]]] = {}
                    for hook in await self.rt.store[WEBHOOKS].find({}, {"secret": 0}).to_list():
                        by_owner.setdefault(hook["owner"], []).append(hook)
                    self._by_owner, self._read_at = by_owner, read_at
        return self._by_owner

    def invalidate(self) -> None:
        self._by_owner = None


def registry(rt: Runtime) -> WebhookRegistry:
    if "webhooks" not in rt.extras:
        rt.extras["webhooks"] = WebhookRegistry(rt, rt.settings.webhook_registry_seconds)
    return rt.extras["webhooks"]


def subscription(rt: Runtime) -> Subscription:
    async def handle(envelope: Envelope) -> None:
        await fan_out(rt, envelope)

    return Subscription(QUEUE, rules.REQUESTER_EVENTS, handle)


async def fan_out(rt: Runtime, envelope: Envelope) -> int:
    """One delivery per webhook of the ticket's owner that wants this event; the number inserted."""
    body = rules.callback_body(envelope.type, envelope.time, envelope.sequence, envelope.data)
    if body is None:
        return 0
    by_owner = await registry(rt).by_owner()
    if not by_owner:
        return 0  # no channel registered a callback: the ticket is not read at all
    ticket = await rt.store[TICKETS].find_one({"_id": envelope.subject}, {"filed_by": 1})
    if ticket is None or not ticket.get("filed_by"):
        log.warning("webhook.ticket_unknown", ticket_id=envelope.subject)
        return 0
    owned = by_owner.get(ticket["filed_by"], [])
    now = datetime.now(UTC)
    docs = []
    for hook in owned:
        if not rules.wanted(hook.get("events"), envelope.type):
            continue
        delivery = rules.delivery_id(hook["_id"], envelope.id)
        docs.append(new_delivery(webhook=hook, delivery=delivery, message=rules.message_id(delivery),
                                 event_id=envelope.id, event_type=envelope.type, ticket_id=envelope.subject,
                                 sequence=envelope.sequence, body=body, now=now))
    return await insert_deliveries(rt.store, docs)


# --- where a callback may go -------------------------------------------------------------------------------

class AddressRefused(OSError):
    """A callback's host is, or resolves to, an address callbacks may not go to (domain/webhooks.py)."""


# Names are looked up on threads of their own, never on the event loop (socket.getaddrinfo blocks) and not on the
# loop's default executor: a slow DNS server then holds at most LOOKUP_THREADS threads of this pool, and the
# lookups of aiohttp's resolver (deliveries) or anything else on the default executor are not queued behind it.
# A lookup that has not answered within its bound is given up (the caller hears NameTimeout at the bound); its
# thread finishes when the system resolver gives up, and a lookup still queued for a thread is dropped.
LOOKUP_THREADS = 4
_lookups: ThreadPoolExecutor | None = None


class NameTimeout(OSError):
    """A name whose lookup did not answer within its bound."""


def lookup_pool() -> ThreadPoolExecutor:
    global _lookups
    if _lookups is None:
        _lookups = ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="webhook-dns")
    return _lookups


async def address_infos(host: str, port: int, timeout: float, lookup: Callable[..., list] = socket.getaddrinfo,
                        family: int = socket.AF_UNSPEC) -> list[tuple]:
    """getaddrinfo's answer for `host`, asked on the lookup threads and given up after `timeout` seconds (waiting
    for a free thread included): raises NameTimeout then, socket.gaierror when the name does not resolve.
    `lookup` is socket.getaddrinfo's signature (tests pass a slow one)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            return await loop.run_in_executor(
                lookup_pool(), partial(lookup, host, port, family=family, type=socket.SOCK_STREAM))
    except TimeoutError:
        raise NameTimeout(f"no answer within {timeout:g} s") from None


async def addresses_of(host: str, port: int, timeout: float,
                       lookup: Callable[..., list] = socket.getaddrinfo) -> list[str]:
    """The addresses `host` resolves to (address_infos says how it is asked)."""
    return list(dict.fromkeys(info[4][0] for info in await address_infos(host, port, timeout, lookup)))


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


async def registration_refusal(rt: Runtime, url: str, lookup: Callable[..., list] = socket.getaddrinfo) -> str | None:
    """Why `url` (valid as domain/webhooks.check_url has it) may not be registered, or None. A name is resolved
    here, within `webhook_resolve_timeout_seconds`; one that does not resolve in that time, or at all, is refused
    too, unless an egress proxy resolves the names (then the delivery finds out, and the proxy decides)."""
    host, port = _host_port(url)
    allowed = rt.settings.webhook_allowed_networks
    if rules.literal_address(host) is not None:
        return rules.host_refusal(host, [], allowed)
    try:
        addresses = await addresses_of(host, port, rt.settings.webhook_resolve_timeout_seconds, lookup)
    except (OSError, UnicodeError) as error:  # gaierror, NameTimeout; a name IDNA cannot encode
        return None if rt.settings.webhook_proxy else \
            f"{host} does not resolve ({getattr(error, 'strerror', None) or error})"
    return rules.host_refusal(host, addresses, allowed)


async def attempt_refusal(rt: Runtime, url: str, lookup: Callable[..., list] = socket.getaddrinfo) -> str | None:
    """Before an attempt: a literal address not allowed; with a proxy, also a name our resolver puts on one.
    Without a proxy a name is checked by the connection's own resolution (`GuardedResolver`)."""
    host, port = _host_port(url)
    allowed = rt.settings.webhook_allowed_networks
    if rules.literal_address(host) is not None:
        return rules.host_refusal(host, [], allowed)
    if not rt.settings.webhook_proxy:
        return None
    try:
        addresses = await addresses_of(host, port, rt.settings.webhook_resolve_timeout_seconds, lookup)
    except (OSError, UnicodeError):
        return None  # not resolved (in time): the proxy resolves it, or the attempt fails and is retried
    return rules.host_refusal(host, addresses, allowed)


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolution for callbacks sent straight out: a name any of whose addresses is not allowed
    raises AddressRefused instead of connecting. Names are asked like a registration's (`address_infos`: the
    lookup threads, `timeout`), so a slow DNS server holds an attempt for that bound, not for the attempt's whole
    timeout, and none of the threads aiohttp's own resolver would take from the loop's default executor."""

    def __init__(self, allowed: Sequence[rules.Network], timeout: float,
                 lookup: Callable[..., list] = socket.getaddrinfo):
        self.allowed, self.timeout, self.lookup = tuple(allowed), timeout, lookup

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        infos = await address_infos(host, port, self.timeout, self.lookup, family)
        found = [{"hostname": host, "host": address[0], "port": address[1], "family": info_family, "proto": proto,
                  "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                 for info_family, _, proto, _, address in infos]
        reason = rules.host_refusal(host, [entry["host"] for entry in found], self.allowed)
        if reason is not None:
            raise AddressRefused(reason)
        return found

    async def close(self) -> None:
        pass  # the lookup threads are shared by the process


def refused_in(error: BaseException) -> AddressRefused | None:
    """The AddressRefused behind an aiohttp connection error, if that is what it was."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AddressRefused):
            return current
        stack += [current.__cause__, current.__context__, getattr(current, "os_error", None)]
    return None


# --- the delivery job ---------------------------------------------------------------------------------------

async def deliver_due(rt: Runtime) -> int:
    """One pass: send what is due, in order per ticket and webhook. The number of attempts made."""
    settings = rt.settings
    deliveries = rt.store[DELIVERIES]
    due = await deliveries.find({"status": eq("pending"), "due_at": {"$lte": time.time()}}) \
        .sort("due_at", 1).limit(DUE_BATCH).to_list()
    if not due:
        return 0
    queues = await _pending_in_order(rt, {d["ticket_id"] for d in due})
    groups: dict[tuple[str, str], list[dict]] = {}
    for doc in sorted(due, key=_order):
        groups.setdefault((doc["webhook_id"], doc["ticket_id"]), []).append(doc)
    hooks = {h["_id"]: h for h in await rt.store[WEBHOOKS].find(
        {"_id": {"$in": sorted({d["webhook_id"] for d in due})}}).to_list()}
    stop_starting = time.monotonic() + settings.webhook_pass_seconds
    gate = asyncio.Semaphore(settings.webhook_concurrency)
    made = 0

    async def run(key: tuple[str, str], docs: list[dict]) -> None:
        nonlocal made
        waiting = queues.get(key, [])
        for doc in docs:
            # an older pending delivery of this ticket to this webhook (retrying, not due yet) goes first
            if not waiting or waiting[0] != _order(doc) or time.monotonic() > stop_starting:
                return
            hook = hooks.get(doc["webhook_id"])
            if hook is None:  # the webhook was deleted after the delivery was made
                await deliveries.delete_one({"_id": doc["_id"]})
            else:
                async with gate:
                    doc = await attempt(rt, session, hook, doc)
                made += 1
                if doc["status"] == "pending":
                    return  # retrying: the later deliveries of this ticket wait for it
            waiting.pop(0)

    # straight out, the connection resolves through the guard; through a proxy, the proxy resolves (its own
    # address is ours to choose, and usually a private one)
    resolver = None if settings.webhook_proxy else \
        GuardedResolver(settings.webhook_allowed_networks, settings.webhook_resolve_timeout_seconds)
    connector = aiohttp.TCPConnector(limit=settings.webhook_concurrency, resolver=resolver)
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT}) as session:
        results = await asyncio.gather(*(run(k, g) for k, g in groups.items()), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.error("webhook.pass_failed", error=repr(result)[:500])
    return made


def _order(doc: Mapping[str, Any]) -> tuple[int, str]:
    """The order of one ticket's deliveries: its version after each change, then when the delivery was made."""
    return doc["sequence"], doc["list_key"]


async def _pending_in_order(rt: Runtime, ticket_ids: set[str]) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """For each (webhook, ticket) with pending deliveries, their order keys, first first: the order they go in."""
    pending = await rt.store[DELIVERIES].find(
        {"ticket_id": {"$in": sorted(ticket_ids)}, "status": eq("pending")},
        {"webhook_id": 1, "ticket_id": 1, "sequence": 1, "list_key": 1}).to_list()
    queues: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for doc in pending:
        queues.setdefault((doc["webhook_id"], doc["ticket_id"]), []).append(_order(doc))
    for keys in queues.values():
        keys.sort()
    return queues


async def attempt(rt: Runtime, session: aiohttp.ClientSession, hook: Mapping[str, Any],
                  doc: dict[str, Any]) -> dict[str, Any]:
    """POST one delivery, signed for this attempt, and store what happened; the delivery as written."""
    settings = rt.settings
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json; charset=utf-8", "webhook-id": doc["message_id"],
               "webhook-timestamp": str(timestamp),
               "webhook-signature": rules.sign(hook["secret"], doc["message_id"], timestamp, doc["body"])}
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    refused = await attempt_refusal(rt, hook["url"])
    if refused is None:
        try:
            async with session.post(hook["url"], data=doc["body"].encode(), headers=headers, allow_redirects=False,
                                    proxy=settings.webhook_proxy,
                                    timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)) as response:
                status_code = response.status
                if not rules.succeeded(status_code):
                    excerpt = (await response.content.read(RESPONSE_EXCERPT * 4)).decode("utf-8", "replace")[
                        :RESPONSE_EXCERPT]
        except TimeoutError:
            error = f"timeout after {settings.webhook_timeout_seconds:g} s"
        except Exception as exc:  # noqa: BLE001 - refused, reset, bad certificate…: a failed attempt, recorded
            found = refused_in(exc)
            if found is not None:
                refused = str(found)
            else:
                error = f"{type(exc).__name__}: {exc}"[:300]
    if refused is not None:
        error = (f"refused: {refused}; callbacks go to public addresses only "
                 "(OPS_WEBHOOK_ALLOWED_NETWORKS)")[:300]
    now = datetime.now(UTC)
    record = {"at": now, "status_code": status_code, "error": error, "response": excerpt,
              "duration_ms": round((time.monotonic() - started) * 1000, 1)}
    made = doc.get("round_attempts", 0) + 1
    # refused: trying again goes to the same place; failed at once, listed, redeliverable
    result = "failed" if refused is not None else rules.outcome(status_code, made, settings.webhook_retry_delays)
    new = {**doc, "round_attempts": made, "attempts": [*doc.get("attempts", []), record][-MAX_KEPT_ATTEMPTS:]}
    if result == "delivered":
        new.update(status="delivered", delivered_at=now, due_at=None)
    elif result == "failed":
        new.update(status="failed", failed_at=now, due_at=None)
    else:
        delay = rules.retry_delay(made, settings.webhook_retry_delays, settings.webhook_retry_jitter)
        new["due_at"] = now.timestamp() + delay
    if not await replace_guarded(rt.store[DELIVERIES], new):
        # another writer (a replica that overlapped, a delete) got there first; its state stands
        log.warning("webhook.attempt_not_recorded", delivery=doc["_id"])
        return {**doc, "status": "pending"}
    (log.warning if refused else log.info)("webhook.attempt", delivery=doc["_id"], webhook=hook["_id"],
                                           event_type=doc["event_type"], status_code=status_code, error=error,
                                           outcome=result)
    new["rev"] = doc.get("rev", 0) + 1
    return new
