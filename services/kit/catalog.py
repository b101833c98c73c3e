"""A service that names products in what it shows (knowledge's search dictionary, analytics' breakdown labels)
learns the catalog's names from lifecycle's events; it never calls lifecycle. One document per product code,
`{_id: code, name, vendor, sequence}`, kept order-tolerant by the entry's `sequence` (kit/cache.py
`merge_if_newer`). `vendor` is the product's vendor id (厂家) as lifecycle last announced it (None: none chosen
yet): knowledge lets a vendor read the knowledge of its own products only (domain/articles.py). A document
written before the vendor was kept has no `vendor` key: the next announcement of the product (lifecycle
announces every entry at each start, and with every change of its vendor) fills it in."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.events import CatalogSyncRequested, Envelope, ProductRegistered
from services.kit.app import Runtime
from services.kit.cache import merge_if_newer
from services.kit.consumer import Subscription
from services.kit.store import Store, eq


SYNC_REQUESTED = "catalog.sync_requested"


async def ask_for_the_catalog(rt: Runtime) -> None:
    """Ask lifecycle to announce every catalog entry again (what a service does at start when its copy is missing
    or incomplete: on a fresh broker lifecycle may have announced it before our queue existed). Published directly,
    no state goes with it: the next start asks again if it is still needed. The service lists SYNC_REQUESTED among
    what it publishes."""
    request = rt.event(CatalogSyncRequested(requested_by=rt.settings.service_name), type=SYNC_REQUESTED,
                       subject="catalog", sequence=0)
    await rt.bus.publish(request.model_dump(mode="json"))


def product_names(rt: Runtime, *, queue: str, collection: str) -> Subscription:
    async def on_product_registered(envelope: Envelope) -> None:
        product = envelope.payload(ProductRegistered)  # a payload that does not validate is poison: dead-lettered

        def decide(current):
            if current is not None and current.get("name") == product.name and "vendor" in current and \
                    current["vendor"] == product.vendor and envelope.sequence <= current.get("sequence", 0):
                return None  # redelivered or already known: no write, no stamp, nothing for the indexes to read
            merged = merge_if_newer(current, product.code, envelope.sequence,
                                    {"name": product.name, "vendor": product.vendor})
            return None if merged is None else (merged, [])

        await rt.store.change(collection, product.code, decide)

    return Subscription(queue, ("lifecycle.product.registered",), on_product_registered)


async def names_of(store: Store, collection: str, codes: Iterable[str]) -> dict[str, str]:
    codes = list(codes)
    if not codes:
        return {}
    return {d["_id"]: d["name"] for d in await store[collection].find({"_id": {"$in": codes}}, {"name": 1}).to_list()
            if d.get("name")}


async def supplied_by(store: Store, collection: str, vendor: str | None) -> frozenset[str]:
    """The codes of the products whose vendor is `vendor`, as the catalog last announced them (none for None)."""
    if not vendor:
        return frozenset()
    return frozenset(d["_id"] for d in await store[collection].find({"vendor": eq(vendor)}, {"_id": 1}).to_list())
