"""ticketing's collections for channel callbacks: `webhooks` (registrations, with their secret) and
`webhook_deliveries` (one document per event and webhook, with its attempts).

Written as whole documents (insert, or a replace guarded by `rev`), never `$push`/`$set` of sub-documents or
datetimes, which nx-27017 stores as strings (services/kit/store.py). What a query ranges over or sorts on is a
float (`due_at`, epoch seconds) or a fixed-width text (`list_key`), both of which nx-27017 serves from an index;
equalities go through `eq`.

A delivery document:
    _id          uuid5 of (webhook id, event id): the same event consumed twice makes the same delivery
    message_id   `msg_<_id>`, the `webhook-id` header, the same on every attempt
    webhook_id, owner, event_id, event_type, ticket_id, sequence
    body         the exact JSON text that is signed and POSTed (kept as text: a re-serialisation could differ)
    status       pending | delivered | failed
    due_at       epoch seconds of the next attempt (pending only)
    round_attempts  attempts since it was created or last redelivered (the retry schedule counts these)
    attempts     every attempt: at, status_code or error, duration_ms (the latest MAX_KEPT_ATTEMPTS)
    created_at, delivered_at, failed_at, redelivered_at; list_key (newest first in listings); rev
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pymongo.errors
from pymongo import ASCENDING, DESCENDING, IndexModel

from services.kit.store import Store, eq
from services.ticketing.store.listing import instant_text

WEBHOOKS, DELIVERIES = "webhooks", "webhook_deliveries"
MAX_KEPT_ATTEMPTS = 50
LIST_KEY = "list_key"

INDEXES = {
    WEBHOOKS: [
        IndexModel([("owner", ASCENDING), (LIST_KEY, DESCENDING)]),
        IndexModel([(LIST_KEY, DESCENDING)]),
    ],
    DELIVERIES: [
        # the delivery job: pending and due, oldest first
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
        # the order per ticket: the pending deliveries of the tickets a pass sends
        IndexModel([("ticket_id", ASCENDING), ("status", ASCENDING)]),
        # listings per webhook, newest first, optionally by status
        IndexModel([("webhook_id", ASCENDING), (LIST_KEY, DESCENDING)]),
        IndexModel([("webhook_id", ASCENDING), ("status", ASCENDING), (LIST_KEY, DESCENDING)]),
    ],
}


def list_key(moment: datetime, doc_id: str) -> str:
    """Unique, and ordered as the creation times: the keyed pagination's sort key (kit/pagination.keyed_page)."""
    return f"{instant_text(moment)}|{doc_id}"


def new_delivery(*, webhook: dict[str, Any], delivery: str, message: str, event_id: str, event_type: str,
                 ticket_id: str, sequence: int, body: str, now: datetime) -> dict[str, Any]:
    return {
        "_id": delivery, "message_id": message, "webhook_id": webhook["_id"], "owner": webhook["owner"],
        "event_id": event_id, "event_type": event_type, "ticket_id": ticket_id, "sequence": sequence,
        "body": body, "status": "pending", "due_at": now.timestamp(), "round_attempts": 0, "attempts": [],
        "created_at": now, "delivered_at": None, "failed_at": None, "redelivered_at": None,
        LIST_KEY: list_key(now, delivery), "rev": 1,
    }


async def replace_guarded(collection, doc: dict[str, Any]) -> bool:
    """Write `doc` (as read, then changed) unless another writer changed it since; True if it landed."""
    new = {**doc, "rev": doc.get("rev", 0) + 1}
    result = await collection.replace_one({"_id": doc["_id"], "rev": eq(doc.get("rev", 0))}, new)
    return bool(result.matched_count)


async def insert_deliveries(store: Store, docs: list[dict[str, Any]]) -> int:
    """Insert new deliveries; those already there (the event consumed again: their ids derive from it) stay as
    they are. The number inserted."""
    if not docs:
        return 0
    try:
        await store[DELIVERIES].insert_many(docs, ordered=False)
        return len(docs)
    except pymongo.errors.BulkWriteError as error:
        if any(e.get("code") != 11000 for e in error.details.get("writeErrors", ())):
            raise
        return error.details.get("nInserted", 0)
