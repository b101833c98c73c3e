"""knowledge learns the catalog's product names from lifecycle's events (it never calls lifecycle): they go into
the search dictionary, so that 外勤通 or 智慧工地 is one word to the segmenter (store/search_index.py); and each
product's vendor, which decides what a vendor reads (domain/articles.py `reach`)."""

from __future__ import annotations

from services.kit.app import Runtime
from services.kit import catalog
from services.kit.catalog import SYNC_REQUESTED, product_names
from services.kit.consumer import Subscription
from services.knowledge.store.collections import PRODUCTS

QUEUE = "knowledge.catalog"


def subscriptions(rt: Runtime) -> list[Subscription]:
    return [product_names(rt, queue=QUEUE, collection=PRODUCTS)]


async def complete(rt: Runtime) -> bool:
    """Whether the catalog is held, and not from before the vendor was kept (entries without `vendor`, whose
    vendors would read nothing)."""
    held = await rt.store[PRODUCTS].find({}, {"vendor": 1}).to_list()
    return bool(held) and all("vendor" in doc for doc in held)


async def ask_if_incomplete(rt: Runtime) -> bool:
    """At start: an incomplete catalog asks lifecycle to announce every entry again, in the background until it is
    complete (kit/catalog.keep_asking); whether it had to ask."""
    if await complete(rt):
        return False
    await catalog.keep_asking(rt, lambda: complete(rt))
    return True
