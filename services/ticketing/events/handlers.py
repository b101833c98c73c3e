"""ticketing learns the product catalog from lifecycle's events (it never asks lifecycle directly)."""

from __future__ import annotations

import pymongo.errors
import structlog

from contracts.events import Envelope, ProductRegistered, ProductStageChanged
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.kit.store import ConcurrencyConflict
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
    for _ in range(5):
        current = await rt.store[CATALOG].find_one({"_id": code})
        try:
            if current is None:
                await rt.store.insert(CATALOG, {"_id": code, "sequence": sequence, **changes})
            elif sequence >= current.get("sequence", 0):
                await rt.store.replace(CATALOG, {**current, "sequence": sequence, **changes})
            return
        except (pymongo.errors.DuplicateKeyError, ConcurrencyConflict):
            continue  # another consumer wrote it meanwhile: read again and decide again
    raise ConcurrencyConflict(f"catalog/{code} kept changing")
