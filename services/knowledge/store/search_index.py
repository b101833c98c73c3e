"""Each API replica's search index: derived from the store, rebuilt from it at start, kept fresh by polling.

What is indexed: articles that can be found (draft and published; archived ones never are) and open candidates,
with the synonyms document and the catalog's product names (the `products` collection, which knowledge's worker
fills from lifecycle's `lifecycle.product.registered`) as the analyzer's dictionary.

Freshness: every write to those collections carries kit.store.CHANGED, the instant of the write as fixed-width
text (`Store(stamped=...)`), whoever made it — a request on any replica, an event handler, the candidate worker.
Every `POLL_SECONDS` (0.5 s) each replica asks each collection for `{_changed: {$gte: previous poll − OVERLAP}}`:
one range query on an index, answered from SQL on nx-27017 and from the index on MongoDB, that returns nothing
most of the time (candidates are asked every 2 s). So an article published or edited through one replica is found through the other within
0.5 s plus one poll (tests/knowledge/test_search_api.py measures it with two app instances on one store).

Why polling and not an event on a per-replica exclusive queue: knowledge publishes events only for publication,
archiving and candidate growth, not for edits, drafts, the synonyms or the catalog copy, and an event arrives only
after the outbox relay's pass; the stamp covers every writer with no event to add and no broker in the path, and
a replica that was partitioned away catches up from the store by itself. The OVERLAP (2 s) of each poll
tolerates that clock skew between replicas and the time between a write's stamp and its commit; a document
seen again with the same `_rev` is skipped. As a safety net for what a stamp cannot tell (a document deleted
by hand), everything is read again every `RELOAD_SECONDS`.

When the dictionary changes (a new product name, a synonym added or removed) both indexes are rebuilt with a new
analyzer in a worker thread from the documents they hold, and the changes that arrived meanwhile are applied to
the new ones before they replace the old.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo.errors
import structlog

from services.kit.store import CHANGED, REVISION, Store, change_stamp, stamp_time
from services.knowledge.domain.articles import ArticleState, audience_of
from services.knowledge.domain.candidates import OPEN
from services.knowledge.domain.search import Analyzer, Doc, SearchIndex, Synonyms
from services.knowledge.domain.synonyms import SYNONYMS_ID, default_document
from services.knowledge.store.collections import ARTICLES, CANDIDATES, PRODUCTS, SYNONYMS

log = structlog.get_logger()

POLL_SECONDS = 0.5
OVERLAP = timedelta(seconds=2)
RELOAD_SECONDS = 600.0
# Candidates every 4th poll (2 s): suggestions can wait that long, and many closes a second touch many candidates,
# each read again for OVERLAP by every poll.
CANDIDATE_EVERY = 4
SEARCHABLE_STATES = (ArticleState.draft.value, ArticleState.published.value)
ARTICLE_FIELDS = {f: 1 for f in ("type", "product_code", "title", "body", "tags", "state", "version", "audience",
                                 CHANGED, REVISION)}
CANDIDATE_FIELDS = {f: 1 for f in ("product_code", "type", "question", "occurrences", "state", CHANGED, REVISION)}
PRODUCT_FIELDS = {f: 1 for f in ("name", CHANGED, REVISION)}


def article_doc(doc: Mapping[str, Any]) -> Doc:
    """An article as the index holds it, its audience as the articles' rules read it (`audience_of`: an article
    stored before audiences existed is internal)."""
    return Doc(doc["_id"], doc.get("title") or "", doc.get("body") or "", tuple(doc.get("tags") or ()),
               {"type": doc.get("type"), "product_code": doc.get("product_code"), "state": doc.get("state"),
                "version": doc.get("version"), "audience": audience_of(doc)})


def candidate_doc(doc: Mapping[str, Any]) -> Doc:
    """A candidate is found by its question (what the front line typed when filing the ticket)."""
    return Doc(doc["_id"], doc.get("question") or "", "", (),
               {"product_code": doc.get("product_code"), "type": doc.get("type"), "state": doc.get("state"),
                "occurrences": int(doc.get("occurrences") or 0)})


class LiveSearch:
    def __init__(self, store: Store, *, poll_seconds: float = POLL_SECONDS):
        self.store, self.poll_seconds = store, poll_seconds
        self.synonyms = Synonyms()
        self.synonyms_doc: dict[str, Any] | None = None
        self.product_names: dict[str, str] = {}
        self.articles = SearchIndex(Analyzer())
        self.candidates = SearchIndex(Analyzer(), weights={"title": 1.0})
        self._revs: dict[tuple[str, str], int] = {}
        self._watermarks: dict[str, str] = {}
        self._pending: dict[str, dict[str, Doc | None]] | None = None  # changes that arrive during a rebuild
        self._task: asyncio.Task | None = None
        self._rebuild_task: asyncio.Task | None = None
        self._loaded_at = 0.0
        self.polls = 0

    # --- life -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.seed_synonyms()
        await self.load()
        self._task = asyncio.create_task(self._run(), name="knowledge-search-poll")

    async def stop(self) -> None:
        for task in (self._task, self._rebuild_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def seed_synonyms(self) -> None:
        """The default synonyms, unless an admin's (or another replica's seeding) is there already."""
        if await self.store[SYNONYMS].find_one({"_id": SYNONYMS_ID}, {"_id": 1}) is None:
            with contextlib.suppress(pymongo.errors.DuplicateKeyError):
                await self.store.insert(SYNONYMS, default_document(datetime.now(UTC)))

    async def load(self) -> None:
        """Everything from the store: the dictionary, then both indexes built at once."""
        self._loaded_at = time.monotonic()
        started = change_stamp()
        synonyms = await self.store[SYNONYMS].find_one({"_id": SYNONYMS_ID})
        products = await self.store[PRODUCTS].find({}, PRODUCT_FIELDS).to_list()
        articles = await self.store[ARTICLES].find({"state": {"$in": list(SEARCHABLE_STATES)}},
                                                  ARTICLE_FIELDS).to_list()
        candidates = await self.store[CANDIDATES].find({"state": {"$in": [OPEN]}}, CANDIDATE_FIELDS).to_list()
        self._take_synonyms(synonyms)
        self.product_names = {p["_id"]: p["name"] for p in products if p.get("name")}
        analyzer = Analyzer(self._words())
        self.articles = await asyncio.to_thread(SearchIndex(analyzer).build, [article_doc(d) for d in articles])
        self.candidates = await asyncio.to_thread(SearchIndex(analyzer, weights={"title": 1.0}).build,
                                                  [candidate_doc(d) for d in candidates])
        self._revs = {(ARTICLES, d["_id"]): d.get(REVISION, 0) for d in articles}
        self._revs.update({(CANDIDATES, d["_id"]): d.get(REVISION, 0) for d in candidates})
        for name in (ARTICLES, CANDIDATES, PRODUCTS, SYNONYMS):
            self._watermarks[name] = _minus(started, OVERLAP)
        _freeze()
        log.info("search.loaded", articles=len(self.articles), candidates=len(self.candidates),
                 products=len(self.product_names), synonym_groups=len(self.synonyms.groups))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                if time.monotonic() - self._loaded_at > RELOAD_SECONDS and self._rebuild_task is None:
                    await self.load()
                else:
                    await self.refresh(candidates=self.polls % CANDIDATE_EVERY == 0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a store outage must not end the poller; the next poll catches up
                log.exception("search.poll_failed")

    # --- freshness ------------------------------------------------------------------------------------

    async def _changed(self, collection: str, fields: dict[str, int] | None) -> list[dict[str, Any]]:
        """What was written to `collection` since the previous poll of it began, less OVERLAP. The watermark
        follows this replica's clock, not the newest stamp seen, so a quiet collection costs an empty answer
        and a burst of writes is read again only for OVERLAP."""
        began = change_stamp()
        docs = await self.store[collection].find({CHANGED: {"$gte": self._watermarks.get(collection, "")}},
                                                 fields).to_list()
        self._watermarks[collection] = _minus(began, OVERLAP)
        return docs

    async def refresh(self, *, candidates: bool = True) -> None:
        """One poll: apply what changed in the store since the last one."""
        self.polls += 1
        words_before = self._words()
        for doc in await self._changed(SYNONYMS, None):
            if doc["_id"] == SYNONYMS_ID and doc.get("version") != (self.synonyms_doc or {}).get("version"):
                self._take_synonyms(doc)
        for doc in await self._changed(PRODUCTS, PRODUCT_FIELDS):
            if doc.get("name"):
                self.product_names[doc["_id"]] = doc["name"]
        for doc in await self._changed(ARTICLES, ARTICLE_FIELDS):
            self._apply(ARTICLES, doc, doc.get("state") in SEARCHABLE_STATES, article_doc)
        if candidates:
            for doc in await self._changed(CANDIDATES, CANDIDATE_FIELDS):
                self._apply(CANDIDATES, doc, doc.get("state") == OPEN, candidate_doc)
        if self._words() != words_before and self._rebuild_task is None:
            self._rebuild_task = asyncio.create_task(self._rebuild(), name="knowledge-search-rebuild")

    def _apply(self, collection: str, doc: dict[str, Any], searchable: bool, to_doc) -> None:
        key = (collection, doc["_id"])
        rev = doc.get(REVISION, 0)
        if self._revs.get(key) == rev:
            return  # seen by an earlier poll (the overlap)
        self._revs[key] = rev
        index = self.articles if collection == ARTICLES else self.candidates
        found = to_doc(doc) if searchable else None
        if found is None:
            index.remove(doc["_id"])
        else:
            index.upsert(found)
        if self._pending is not None:
            self._pending[collection][doc["_id"]] = found

    async def _rebuild(self) -> None:
        """New analyzer, new indexes from the documents held; what changes meanwhile is applied after."""
        try:
            while True:
                words = self._words()
                self._pending = {ARTICLES: {}, CANDIDATES: {}}
                analyzer = Analyzer(words)
                articles, candidates = list(self.articles.documents()), list(self.candidates.documents())
                new_articles = await asyncio.to_thread(SearchIndex(analyzer).build, articles)
                new_candidates = await asyncio.to_thread(SearchIndex(analyzer, weights={"title": 1.0}).build,
                                                         candidates)
                for collection, index in ((ARTICLES, new_articles), (CANDIDATES, new_candidates)):
                    for doc_id, doc in self._pending[collection].items():
                        index.remove(doc_id) if doc is None else index.upsert(doc)
                self.articles, self.candidates, self._pending = new_articles, new_candidates, None
                _freeze()
                log.info("search.rebuilt", articles=len(new_articles), words=len(analyzer.words))
                if self._words() == words:
                    return
        finally:
            self._pending, self._rebuild_task = None, None

    # --- the dictionary -------------------------------------------------------------------------------

    def _take_synonyms(self, doc: dict[str, Any] | None) -> None:
        self.synonyms_doc = doc
        self.synonyms = Synonyms.of(doc.get("groups", ()) if doc else ())

    def _words(self) -> frozenset[str]:
        return frozenset((*self.product_names.values(), *self.synonyms.words))

    async def settled(self) -> None:
        """Wait for a rebuild in progress (tests and the benchmark)."""
        while self._rebuild_task is not None:
            await asyncio.sleep(0.01)


def _freeze() -> None:
    """Move what exists now (the index: ~100,000 objects at 20,000 articles) out of the cyclic collector's sight:
    otherwise every full collection walks all of it, a pause of several ms in some request. Safe to repeat: the
    index has no reference cycles, so an old one is freed by reference counting when it is replaced."""
    gc.collect()
    gc.freeze()


def _minus(stamp: str, delta: timedelta) -> str:
    return change_stamp(stamp_time(stamp) - delta)
