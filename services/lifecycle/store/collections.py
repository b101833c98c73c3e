"""Collections of the lifecycle database and their indexes."""

import re

from pymongo import ASCENDING, DESCENDING, IndexModel

PRODUCTS = "products"    # _id = product code; carries its events in the outbox
PLATFORMS = "platforms"  # _id = platform code; carries its events in the outbox
BACKLOG = "backlog"      # _id = "<product_code>:<hash of the normalised title>"

CATALOG = (PLATFORMS, PRODUCTS)

INDEXES = {
    PRODUCTS: [IndexModel([("platform_code", ASCENDING)]), IndexModel([("stage", ASCENDING)])],
    # No `_id` in a compound index: nx-27017 then fails every insert ("JSON path error near '_id'").
    BACKLOG: [IndexModel([("product_code", ASCENDING), ("count", DESCENDING)])],
}


def product_query(platform_code: str | None = None, stage: str | None = None, q: str | None = None) -> dict:
    query: dict = {}
    if platform_code:
        query["platform_code"] = platform_code
    if stage:
        query["stage"] = stage
    if q:
        pattern = {"$regex": re.escape(q.strip()), "$options": "i"}
        query["$or"] = [{"code": pattern}, {"name": pattern}, {"name_en": pattern}]
    return query
