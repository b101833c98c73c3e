"""Collections of the knowledge database, their indexes and the few query helpers the service needs."""

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

ARTICLES = "articles"
CANDIDATES = "candidates"
COUNTERS = "counters"   # readable article ids: {_id: "article", value: n}

INDEXES = {
    ARTICLES: [
        IndexModel([("product_code", ASCENDING), ("type", ASCENDING), ("state", ASCENDING)]),
        IndexModel([("state", ASCENDING)]),
    ],
    CANDIDATES: [
        IndexModel([("product_code", ASCENDING), ("type", ASCENDING), ("occurrences", DESCENDING)]),
        # Not ("occurrences", "_id"): nx-27017 fails every write to a collection with `_id` in a compound index.
        IndexModel([("occurrences", DESCENDING)]),
    ],
}

ARTICLE_ORDER = [("_id", DESCENDING)]  # newest first: ids grow with creation
CANDIDATE_ORDER = [("occurrences", DESCENDING), ("_id", ASCENDING)]


async def next_number(db: AsyncDatabase, counter: str) -> int:
    """The next value of a counter; a scalar `$inc` with upsert behaves the same on MongoDB and nx-27017."""
    for _ in range(5):  # two first-ever upserts can race: one of them loses with a duplicate key, then retries
        try:
            doc = await db[COUNTERS].find_one_and_update({"_id": counter}, {"$inc": {"value": 1}}, upsert=True,
                                                         return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            continue
        if doc is not None:
            return int(doc["value"])
    raise RuntimeError(f"counter {counter!r} could not be incremented")


def filters(**fields) -> dict:
    """A query on the given fields, leaving out those not asked for."""
    return {name: (value.value if hasattr(value, "value") else value)
            for name, value in fields.items() if value is not None}
