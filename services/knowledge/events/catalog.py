"""knowledge learns the catalog's product names from lifecycle's events (it never calls lifecycle): they go into
the search dictionary, so that 外勤通 or 智慧工地 is one word to the segmenter (store/search_index.py)."""

from __future__ import annotations

from services.kit.app import Runtime
from services.kit.catalog import product_names
from services.kit.consumer import Subscription
from services.knowledge.store.collections import PRODUCTS

QUEUE = "knowledge.catalog"


def subscriptions(rt: Runtime) -> list[Subscription]:
    return [product_names(rt, queue=QUEUE, collection=PRODUCTS)]
