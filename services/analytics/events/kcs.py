"""knowledge's KCS figures (`knowledge.kcs.measured`, one event per change of a product's month) kept in `kcs`, one
document per product and month, for the monthly reports' KCS table.

Each event carries the whole figures of its product-month and `sequence` = their version, so the newest version
alone is the answer: an older or repeated event changes nothing (idempotent, order-tolerant).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import structlog

from contracts.events import Envelope, KcsMeasured
from services.analytics.store.reports import KCS
from services.kit.app import Runtime
from services.kit.consumer import PoisonMessage, Subscription

log = structlog.get_logger()

KCS_MEASURED = "knowledge.kcs.measured"
FIGURES = ("closed", "linked", "reuses", "link_rate", "new", "known", "promoted", "dismissed")


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_kcs_measured(envelope: Envelope) -> None:
        await apply_kcs_event(rt, envelope)

    return [Subscription("analytics.kcs", (KCS_MEASURED,), on_kcs_measured)]


def kcs_document(current: dict[str, Any] | None, event: KcsMeasured, *, sequence: int,
                 envelope: Envelope) -> dict[str, Any] | None:
    """The stored figures after this event, or None when it is not newer than what is stored."""
    if current is not None and current.get("version", 0) >= sequence:
        return None
    event_time = envelope.time if envelope.time.tzinfo else envelope.time.replace(tzinfo=UTC)
    return {**(current or {}), "_id": envelope.subject, "product_code": event.product_code, "month": event.month,
            **{f: getattr(event, f) for f in FIGURES}, "version": sequence, "event_time": event_time}


async def apply_kcs_event(rt: Runtime, envelope: Envelope) -> None:
    event = envelope.payload(KcsMeasured)  # a ValidationError sends the message to the DLQ
    if envelope.subject != f"{event.product_code}:{event.month}":
        raise PoisonMessage(f"subject {envelope.subject!r} is not the product-month "
                            f"{event.product_code}:{event.month} it carries")

    def decide(current):
        doc = kcs_document(current, event, sequence=envelope.sequence, envelope=envelope)
        if doc is None:
            log.debug("kcs.event_ignored", subject=envelope.subject, sequence=envelope.sequence)
            return None
        return doc, []

    await rt.store.change(KCS, envelope.subject, decide)
