"""knowledge learns the catalog's product names from lifecycle's events (it never calls lifecycle): they go into
the search dictionary, so that 外勤通 or 智慧工地 is one word to the segmenter (store/search_index.py); and each
product's vendor, which decides what a vendor reads (domain/articles.py `reach`)."""

from __future__ import annotations

import structlog

from services.kit.app import Runtime
from services.kit import catalog
from services.kit.catalog import SYNC_REQUESTED, product_names
from services.kit.consumer import Subscription
from services.knowledge.store.collections import PRODUCTS

log = structlog.get_logger()
QUEUE = "knowledge.catalog"


def subscriptions(rt: Runtime) -> list[Subscription]:
    return [product_names(rt, queue=QUEUE, collection=PRODUCTS)]


async def ask_if_incomplete(rt: Runtime) -> bool:
    """At start: a catalog not held yet, or held from before the vendor was kept (entries without `vendor`, so
    their vendors would read nothing), asks lifecycle to announce every entry again (kit/catalog.py)."""
    held = await rt.store[PRODUCTS].find({}, {"vendor": 1}).to_list()
    if held and all("vendor" in doc for doc in held):
        return False
    await catalog.ask_for_the_catalog(rt)
    log.info("catalog.sync_requested", held=len(held))
    return True
