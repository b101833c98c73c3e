"""The optimisation loop's last step (建议收集 → 产品优化 → 告知): lifecycle announces a backlog item shipped in a
release (`lifecycle.backlog_item.shipped`, with the tickets that raised it); each ticket's channel is told through
its webhooks as a `ticket.improvement_shipped` callback, delivered like every other callback (events/webhooks.py:
signed, retried, in order per ticket).

Idempotent: a delivery's id is derived from (webhook, event, ticket), so the same announcement consumed twice
inserts nothing new. A ticket ticketing does not hold (another instance's, or purged) is skipped; so is a channel
without a webhook that wants the type."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from contracts.events import BacklogItemShipped, Envelope
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.ticketing.domain import webhooks as rules
from services.ticketing.events.webhooks import registry
from services.ticketing.store.collections import TICKETS
from services.ticketing.store.webhooks import insert_deliveries, new_delivery

log = structlog.get_logger()

QUEUE = "ticketing.improvements"
SHIPPED = "lifecycle.backlog_item.shipped"


def subscription(rt: Runtime) -> Subscription:
    async def handle(envelope: Envelope) -> None:
        await relay(rt, envelope)

    return Subscription(QUEUE, (SHIPPED,), handle)


async def relay(rt: Runtime, envelope: Envelope) -> int:
    """One delivery per listed ticket and webhook of its owner that wants the type; the number inserted."""
    shipped = envelope.payload(BacklogItemShipped)
    by_owner = await registry(rt).by_owner()
    if not by_owner or not shipped.ticket_ids:
        return 0
    tickets = await rt.store[TICKETS].find(
        {"_id": {"$in": sorted(set(shipped.ticket_ids))}},
        {"filed_by": 1, "kind": 1, "status": 1, "product_code": 1, "version": 1}).to_list()
    now = datetime.now(UTC)
    improvement = {"item_id": shipped.item_id, "title": shipped.title, "release": shipped.release,
                   "shipped_at": shipped.shipped_at.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    docs = []
    for ticket in tickets:
        hooks = [h for h in by_owner.get(ticket.get("filed_by") or "", [])
                 if rules.wanted(h.get("events"), rules.IMPROVEMENT_SHIPPED)]
        if not hooks:
            continue
        sequence = int(ticket.get("version") or envelope.sequence)
        body = rules.callback_body(rules.IMPROVEMENT_SHIPPED, envelope.time, sequence, {
            "ticket_id": ticket["_id"], "kind": ticket.get("kind"), "status": ticket.get("status"),
            "product_code": ticket.get("product_code") or shipped.product_code, "improvement": improvement})
        for hook in hooks:
            delivery = rules.delivery_id(hook["_id"], f"{envelope.id}:{ticket['_id']}")
            docs.append(new_delivery(webhook=hook, delivery=delivery, message=rules.message_id(delivery),
                                     event_id=envelope.id, event_type=rules.IMPROVEMENT_SHIPPED,
                                     ticket_id=ticket["_id"], sequence=sequence, body=body, now=now))
    if not docs:
        return 0
    inserted = await insert_deliveries(rt.store, docs)
    log.info("webhook.improvement_relayed", item_id=shipped.item_id, release=shipped.release, deliveries=inserted)
    return inserted
