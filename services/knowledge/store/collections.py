"""Collections of the knowledge database, their indexes and the few query helpers the service needs."""

from pymongo import ASCENDING, DESCENDING, IndexModel

from services.kit.ids import Sequences
from services.kit.store import Store

ARTICLES = "articles"
CANDIDATES = "candidates"
TRAININGS = "trainings"  # training sessions held (培训指导)
COUNTERS = "counters"   # readable ids: {_id: "article" | "training", value: n}
PRODUCTS = "products"   # the catalog's names, from lifecycle's events: the search dictionary (store/search_index.py)
SYNONYMS = "synonyms"   # one document, the search synonyms an admin edits (domain/synonyms.py)
# Every write to these carries kit.store.CHANGED: how each API replica's search index learns what changed.
STAMPED = (ARTICLES, CANDIDATES, PRODUCTS, SYNONYMS)
CLOSURES = "closures"   # one small record per closed ticket that feeds knowledge (_id = ticket id): kit/once.py
PACKS = "stage_packs"   # the trial-commercial pack opened per entry into trial: reserved article ids (events/packs.py)
KCS_MEASURES = "kcs_measures"  # KCS figures per product and month (_id = "<product_code>:<YYYY-MM>")
# the candidates started, as the replicas agreed under the start lease: {_id: candidate id, product_code, type,
# signature, at} (events/matching.py)
CANDIDATE_STARTS = "candidate_starts"

INDEXES = {
    ARTICLES: [
        IndexModel([("product_code", ASCENDING), ("type", ASCENDING), ("state", ASCENDING)]),
        IndexModel([("state", ASCENDING)]),
    ],
    CANDIDATES: [
        IndexModel([("product_code", ASCENDING), ("type", ASCENDING), ("occurrences", DESCENDING)]),
        # Not ("occurrences", "_id"): nx-27017 fails every write to a collection with `_id` in a compound index.
        IndexModel([("occurrences", DESCENDING)]),
        # what a replica reads to learn the phrasings other replicas added (events/matching.py)
        IndexModel([("product_code", ASCENDING), ("type", ASCENDING), ("signed_at", ASCENDING)]),
        IndexModel([("product_code", ASCENDING), ("decided_month", ASCENDING)]),
    ],
    TRAININGS: [
        # the listing's key, unique; with and without the product filter (cities are a $in over an array)
        IndexModel([("list_key", DESCENDING)], unique=True),
        IndexModel([("product_code", ASCENDING), ("list_key", DESCENDING)]),
    ],
    CLOSURES: [IndexModel([("product_code", ASCENDING), ("month", ASCENDING)])],
    CANDIDATE_STARTS: [IndexModel([("product_code", ASCENDING), ("type", ASCENDING), ("at", ASCENDING)])],
    KCS_MEASURES: [IndexModel([("product_code", ASCENDING), ("month", ASCENDING)]), IndexModel([("month", ASCENDING)])],
}

ARTICLE_ORDER = [("_id", DESCENDING)]  # newest first: ids grow with creation
CANDIDATE_ORDER = [("occurrences", DESCENDING), ("_id", ASCENDING)]
MEASURES_ORDER = [("_id", ASCENDING)]  # "<product_code>:<YYYY-MM>": by product, then month


async def next_article_number(store: Store) -> int:
    """One number at a time (block 1): articles are few, and a restart should not skip a block of them."""
    return await Sequences(store, block=1, field="value", collection=COUNTERS).next("article")


async def next_training_number(store: Store) -> int:
    return await Sequences(store, block=1, field="value", collection=COUNTERS).next("training")


def filters(**fields) -> dict:
    """A query on the given fields, leaving out those not asked for."""
    return {name: (value.value if hasattr(value, "value") else value)
            for name, value in fields.items() if value is not None}
