"""ticketing learns the product catalog from lifecycle's events (it never asks lifecycle directly)."""

from __future__ import annotations

import structlog

from contracts.events import Envelope, ProductRegistered, ProductStageChanged
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.ticketing.store.collections import CATALOG

log = structlog.get_logger()


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_catalog_event(envelope: Envelope) -> None:
        if envelope.type == "lifecycle.product.registered":
            product = envelope.payload(ProductRegistered)
            changes = {"name": product.name, "kind": product.kind, "platform_code": product.platform_code,
                       "stage": product.stage.value, "product_managers": product.product_managers,
                       "vendor": product.vendor, "sample": product.sample}
            code = product.code
        else:
            moved = envelope.payload(ProductStageChanged)
            changes, code = {"stage": moved.to_stage.value}, moved.code
        await apply_if_newer(rt, code, envelope.sequence, changes)

    return [Subscription("ticketing.catalog",
                         ("lifecycle.product.registered", "lifecycle.product.stage_changed"), on_catalog_event)]


async def apply_if_newer(rt: Runtime, code: str, sequence: int, changes: dict) -> None:
    """Order-tolerant upsert: a product's state older than what we hold changes nothing."""
    def decide(current):
        if current is None:
            return {"_id": code, "sequence": sequence, **changes}, []
        if sequence < current.get("sequence", 0):
            return None
        return {**current, "sequence": sequence, **changes}, []

    await rt.store.change(CATALOG, code, decide)
