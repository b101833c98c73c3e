"""Start-up: seed the catalog (missing entries only) and announce every entry.

Each entry announces itself with `lifecycle.product.registered` through its own document's outbox. A freshly
seeded entry carries the event in its insert; every other entry gets a fresh event at every start, so that a
consumer started later (e.g. a new ticketing instance) learns the whole catalog. `sequence` is the entry's
`version`, so a consumer that already holds this state recognises it."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from pymongo.errors import DuplicateKeyError

from services.kit.app import Runtime
from services.kit.store import ConcurrencyConflict
from services.lifecycle.domain import catalog, seed
from services.lifecycle.store.collections import PLATFORMS, PRODUCTS

log = structlog.get_logger()


def registered_event(rt: Runtime, doc: dict):
    return rt.event(catalog.registered(doc), type=catalog.REGISTERED, subject=doc["code"], sequence=doc["version"])


async def seed_catalog(rt: Runtime) -> set[str]:
    """Insert the seed entries that are missing; returns the codes inserted. Existing entries are left as they
    are, whatever changed since they were seeded."""
    now = datetime.now(UTC)
    inserted: set[str] = set()
    for collection, kind, entries in ((PLATFORMS, "platform", seed.PLATFORMS), (PRODUCTS, "product", seed.PRODUCTS)):
        existing = {d["_id"] for d in await rt.store[collection].find({}, {"_id": 1}).to_list()}
        for data in entries:
            if data["code"] in existing:
                continue
            doc = catalog.entry(data, kind=kind, now=now)
            try:
                await rt.store.insert(collection, doc, [registered_event(rt, doc)])
                inserted.add(doc["code"])
            except DuplicateKeyError:  # another replica seeded it meanwhile
                pass
    if inserted:
        log.info("catalog.seeded", count=len(inserted))
    return inserted


async def republish_catalog(rt: Runtime, skip: set[str] = frozenset()) -> int:
    """Put a fresh `lifecycle.product.registered` in the outbox of every catalog entry not in `skip`."""
    count = 0
    for collection in (PLATFORMS, PRODUCTS):
        for doc in await rt.store[collection].find({}).to_list():
            if doc["code"] in skip:
                continue
            try:
                await rt.store.replace(collection, doc, [registered_event(rt, doc)])
                count += 1
            except ConcurrencyConflict:
                pass  # changed meanwhile: that change carries its own event with the newer state
    log.info("catalog.republished", count=count)
    return count


async def on_start(rt: Runtime) -> None:
    inserted = await seed_catalog(rt)
    await republish_catalog(rt, skip=inserted)
