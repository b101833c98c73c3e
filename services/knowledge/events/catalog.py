"""knowledge learns the catalog's product names from lifecycle's events (it never calls lifecycle): they go into
the search dictionary, so that 外勤通 or 智慧工地 is one word to the segmenter (store/search_index.py)."""

from __future__ import annotations

from contracts.events import Envelope, ProductRegistered
from services.kit.app import Runtime
from services.kit.cache import merge_if_newer
from services.kit.consumer import Subscription
from services.knowledge.store.collections import PRODUCTS

QUEUE = "knowledge.catalog"


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_product_registered(envelope: Envelope) -> None:
        product = envelope.payload(ProductRegistered)  # a payload that does not validate is poison: dead-lettered

        def decide(current):
            if current is not None and current.get("name") == product.name and \
                    envelope.sequence <= current.get("sequence", 0):
                return None  # redelivered or already known: no write, no stamp, nothing for the indexes to read
            merged = merge_if_newer(current, product.code, envelope.sequence, {"name": product.name})
            return None if merged is None else (merged, [])

        await rt.store.change(PRODUCTS, product.code, decide)

    return [Subscription(QUEUE, ("lifecycle.product.registered",), on_product_registered)]
