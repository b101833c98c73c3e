"""Announce a product as lifecycle does (`lifecycle.product.registered`, with its vendor) and wait until knowledge's
catalog holds it: what a vendor reads depends on it (domain/articles.py `reach`)."""

from __future__ import annotations

import uuid

from contracts.events import Envelope, ProductRegistered
from tests.support import database, eventually, publish


async def announce(infra, service: str, code: str, vendor: str | None, *, sequence: int = 1,
                   name: str | None = None) -> None:
    """`service`: the name the test gave settings_for (its knowledge database)."""
    payload = ProductRegistered(code=code, name=name or f"示例产品{code[-4:]}", stage="commercial", vendor=vendor)
    await publish(infra, Envelope.wrap(payload, type="lifecycle.product.registered", source="lifecycle",
                                       subject=code, sequence=sequence, correlationid=str(uuid.uuid4())))
    async with database(infra, service) as db:
        async def known():
            doc = await db["products"].find_one({"_id": code})
            return doc is not None and doc.get("sequence") == sequence and "vendor" in doc \
                and doc["vendor"] == vendor

        await eventually(known, what=f"knowledge's catalog holding {code} of vendor {vendor}")
