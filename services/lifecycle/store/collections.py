"""Collections of the lifecycle database and their indexes."""

import re

from pymongo import ASCENDING, DESCENDING, IndexModel

PRODUCTS = "products"    # _id = product code; carries its events in the outbox
PLATFORMS = "platforms"  # _id = platform code; carries its events in the outbox
BACKLOG = "backlog"      # _id = "<product_code>:<hash of the normalised title>"

# Records of the lifecycle, each with `product_code` (a product's or a platform's code) and `at` (when it happened).
DOCUMENTS = "documents"    # _id = "<code>:<type>:v<version>" (domain/documents.py)
DECISIONS = "decisions"    # review / decision_meeting outcomes
ISSUES = "test_issues"     # issues found in testing: {product_code, blocking, state: open | fixed} (api/development.py)
TRIALS = "trials"          # _id = "<code>:<stage>": the trial's pilot cities and customers, tariff, evaluation (api/trials.py)
TRAININGS = "trainings"    # _id = training id, from knowledge.training.recorded: {product_code, cities, held_on}

CATALOG = (PLATFORMS, PRODUCTS)

INDEXES = {
    PRODUCTS: [IndexModel([("platform_code", ASCENDING)]), IndexModel([("stage", ASCENDING)])],
    # No `_id` in a compound index: nx-27017 then fails every insert ("JSON path error near '_id'").
    BACKLOG: [IndexModel([("product_code", ASCENDING), ("count", DESCENDING)])],
    DOCUMENTS: [IndexModel([("product_code", ASCENDING), ("type", ASCENDING), ("version", DESCENDING)])],
    DECISIONS: [IndexModel([("product_code", ASCENDING), ("at", ASCENDING)])],
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
