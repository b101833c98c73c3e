"""Test set-up for lifecycle records: put a product in a stage without walking every gate before it (the gates
have their own tests; a test of trials need not file a research report first)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from tests.support import token


async def put_in_stage(infra, code: str, stage: str, *, entered_at: datetime | None = None, **fields) -> None:
    """Write the product's `stage` and `stage_entered_at` (and any other `fields`, e.g. vendor) directly."""
    client = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    try:
        # Read and replaced whole: nx-27017's `$set` stores a datetime as text (services/kit/store.py).
        products = client[infra.db_name("lifecycle")]["products"]
        doc = await products.find_one({"_id": code})
        entered_at = (entered_at or datetime.now(UTC)).astimezone(UTC)
        doc |= {"stage": stage, "stage_entered_at": entered_at.replace(microsecond=entered_at.microsecond // 1000 * 1000),
                **fields}
        await products.replace_one({"_id": code}, doc)
    finally:
        await client.close()


async def new_product(client, infra, *, pm: str = "pm-test", vendor: str | None = "vendor-test",
                      stage: str | None = None, **fields) -> str:
    """Register a fresh product managed by `pm` (optionally put in `stage`); returns its code."""
    code = f"p_{uuid.uuid4().hex[:10]}"
    body = {"code": code, "name": f"测试产品{code[-4:]}", "platform_code": "cloud", "product_managers": [pm],
            **({"vendor": vendor} if vendor else {})}
    response = await client.post("/v1/products", json=body, headers=token(infra, "product_manager", sub=pm))
    assert response.status_code == 201, response.text
    if stage:
        await put_in_stage(infra, code, stage, **fields)
    return code
