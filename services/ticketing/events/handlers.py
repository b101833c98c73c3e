"""ticketing learns the product catalog from lifecycle's events (it never asks lifecycle directly), and each of its
processes keeps its possible-duplicate index fresh from ticketing's own events (store/duplicates.py)."""

from __future__ import annotations

import structlog

from contracts.events import Envelope, ProductRegistered, ProductStageChanged
from services.kit.app import Runtime
from services.kit.cache import merge_if_newer
from services.kit.catalog import note_answer
from services.kit.consumer import Subscription
from services.ticketing.events import webhooks
from services.ticketing.store.collections import CATALOG, catalog_of, duplicates_of

log = structlog.get_logger()


CATALOG_EVENTS = ("lifecycle.product.registered", "lifecycle.product.stage_changed")
# what opens a ticket or moves it in or out of the open statuses, for each process's possible-duplicate index
DUPLICATE_INDEX_EVENTS = ("ticket.opened", "ticket.resolved", "ticket.reopened", "ticket.closed", "ticket.merged")


def product_changes(envelope: Envelope) -> tuple[str, dict]:
    """The product an event is about and what it says of it."""
    if envelope.type == "lifecycle.product.registered":
        product = envelope.payload(ProductRegistered)
        return product.code, {"name": product.name, "kind": product.kind, "platform_code": product.platform_code,
                              "stage": product.stage.value, "product_managers": product.product_managers,
                              "vendor": product.vendor, "sample": product.sample}
    moved = envelope.payload(ProductStageChanged)
    return moved.code, {"stage": moved.to_stage.value}


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def store_catalog_event(envelope: Envelope) -> None:
        code, changes = product_changes(envelope)
        await apply_if_newer(rt, code, envelope.sequence, changes)

    async def cache_catalog_event(envelope: Envelope) -> None:
        code, changes = product_changes(envelope)
        note_answer(rt, envelope)  # every process has this queue: the answer to its ask comes here (main.learn_catalog)
        catalog_of(rt).apply(code, envelope.sequence, changes)

    async def index_for_duplicates(envelope: Envelope) -> None:
        duplicates_of(rt).learn(envelope)

    indexes_duplicates = duplicates_of(rt).in_memory and rt.settings.duplicate_index_events \
        and rt.settings.role in ("all", "api")  # the intake's
    return [Subscription("ticketing.catalog", CATALOG_EVENTS, store_catalog_event),
            Subscription("ticketing.catalog-cache", CATALOG_EVENTS, cache_catalog_event, per_process=True),
            *([Subscription("ticketing.duplicates-index", DUPLICATE_INDEX_EVENTS, index_for_duplicates,
                            per_process=True)] if indexes_duplicates else []),
            webhooks.subscription(rt)]  # channel callbacks: requester events → deliveries


async def apply_if_newer(rt: Runtime, code: str, sequence: int, changes: dict) -> None:
    """Order-tolerant upsert: a product's state older than what we hold changes nothing."""
    def decide(current):
        merged = merge_if_newer(current, code, sequence, changes)
        return None if merged is None else (merged, [])

    await rt.store.change(CATALOG, code, decide)
