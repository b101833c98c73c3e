"""A service that names products in what it shows (knowledge's search dictionary, analytics' breakdown labels)
learns the catalog's names from lifecycle's events; it never calls lifecycle. One document per product code,
`{_id: code, name, vendor, sequence}`, kept order-tolerant by the entry's `sequence` (kit/cache.py
`merge_if_newer`). `vendor` is the product's vendor id (厂家) as lifecycle last announced it (None: none chosen
yet): knowledge lets a vendor read the knowledge of its own products only (domain/articles.py). A document
written before the vendor was kept has no `vendor` key: the next announcement of the product (lifecycle
announces every entry at each start, and with every change of its vendor) fills it in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable

import structlog

from contracts.events import CatalogSyncRequested, Envelope, ProductRegistered
from services.kit.app import Runtime
from services.kit.cache import merge_if_newer
from services.kit.consumer import Subscription
from services.kit.store import Store, eq


log = structlog.get_logger()

SYNC_REQUESTED = "catalog.sync_requested"
ASKING = "catalog_asking"  # rt.extras: the task of keep_asking
ASKS = "catalog_asks"  # rt.extras: Asks, this process's asks and whether one was answered


async def ask_for_the_catalog(rt: Runtime) -> None:
    """Ask lifecycle to announce every catalog entry again (what a service does at start when its copy is missing
    or incomplete: on a fresh broker lifecycle may have announced it before our queue existed). Published directly,
    no state goes with it (`keep_asking` asks again until the answer is in). The ask's correlation id is new and
    this process's own: lifecycle's announcements in answer carry it, which tells `note_answer` that they came.
    The service lists SYNC_REQUESTED among what it publishes."""
    ask_id = f"catalog-ask-{uuid.uuid4()}"
    asks_of(rt).sent.add(ask_id)
    request = Envelope.wrap(CatalogSyncRequested(requested_by=rt.settings.service_name), type=SYNC_REQUESTED,
                            source=rt.settings.service_name, subject="catalog", sequence=0, correlationid=ask_id)
    await rt.bus.publish(request.model_dump(mode="json"))


class Asks:
    """This process's asks for the catalog: their correlation ids, and whether an answer to one came."""

    def __init__(self) -> None:
        self.sent: set[str] = set()
        self.answered = False


def asks_of(rt: Runtime) -> Asks:
    return rt.extras.setdefault(ASKS, Asks())


def note_answer(rt: Runtime, envelope: Envelope) -> None:
    """For every catalog announcement this process consumes: one carrying an ask's correlation id is lifecycle's
    answer to it, so the whole catalog as lifecycle held it when it read the ask is on its way to our queues
    (they existed before we asked), and every later change follows it."""
    asks = asks_of(rt)
    if not asks.answered and envelope.correlationid in asks.sent:
        asks.answered = True


async def keep_asking(rt: Runtime, held: Callable[[], Awaitable[bool]], *, first_wait: float = 2.0,
                      longest_wait: float = 60.0, trust_held_after: int = 1) -> None:
    """Ask for the catalog now, then again in the background, waiting twice as long after each ask, up to
    `longest_wait`, until an answer to one of this process's asks came (`note_answer`) or, after
    `trust_held_after` asks, `held()` says a copy is there; `stop_asking` at the service's stop ends it.

    One ask is not enough on a fresh broker, where every service starts at once: lifecycle's announcements can go
    out before our queue exists, and our ask before lifecycle's queue for it exists, and the broker drops a message
    that no queue is bound to. Seen as a ticketing that refused every ticket ("unknown product") after `make run`
    had said it was ready, until it was restarted. A copy that is there is not proof either: the announcements
    that came after our queue existed make a part that looks like a whole (seen as a ticketing that knew some
    products and refused the rest), hence the answer. `held()` ends it without one where the answer may never
    reach this process: another replica's consumer of a shared queue took it, or this role consumes no catalog."""
    await _ask(rt, first_wait)
    asks = asks_of(rt)

    async def again() -> None:
        wait = first_wait
        while True:
            await asyncio.sleep(wait)
            if asks.answered or (len(asks.sent) >= trust_held_after and await held()):
                return
            wait = min(wait * 2, longest_wait)
            await _ask(rt, wait)

    rt.extras[ASKING] = asyncio.create_task(again())


def stop_asking(rt: Runtime) -> None:
    if (asking := rt.extras.get(ASKING)) is not None:
        asking.cancel()


async def _ask(rt: Runtime, next_look_in: float) -> None:
    try:
        await ask_for_the_catalog(rt)
        log.info("catalog.sync_requested", next_look_in_seconds=next_look_in)
    except Exception as error:  # noqa: BLE001 - the broker is away: the next round asks again
        log.warning("catalog.sync_request_failed", error=repr(error)[:300])


def product_names(rt: Runtime, *, queue: str, collection: str) -> Subscription:
    async def on_product_registered(envelope: Envelope) -> None:
        product = envelope.payload(ProductRegistered)  # a payload that does not validate is poison: dead-lettered
        note_answer(rt, envelope)

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
