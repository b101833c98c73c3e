"""Which candidate a closed question joins: the most similar one of its product and type (domain/candidates.py).

Comparing a question with every candidate of its product and type by reading them all per close would cost the
store a document read per candidate per close (kit/store.py: ~0.45 ms each on nx-27017). So each process keeps
the phrasings' signatures per product and type in memory: loaded on first use, then topped up at most every
`REFRESH_SECONDS` with the candidates whose phrasings changed since (`signed_at`, written as fixed-width text so
that the range runs from an index on nx-27017), and told at once about the candidates this process writes.

A question that matches nothing this process knows starts a candidate only under a short lease per product and
type (`_leases`, kit/lease.py), taken by every replica that is about to start one: holding it, the process reads
the store again (the candidates and the *starts*) and records its start (`candidate_starts`: the new candidate's
id and the question's signature) before letting go. So of two paraphrases of a brand-new question closed at the
same instant on two replicas, the second to hold the lease finds the first one's start and joins it: they
converge on one candidate (tests/knowledge/test_candidate_race.py runs that race). Identical titles need no lease:
their id is deterministic. A start is one small document per candidate ever started, read like the candidates
(by `at`, fixed-width text); the candidate itself is written by the handler, with the closure, as before. Costs
about five store commands per new question; a known question costs nothing more.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo.errors
import structlog

from services.kit.lease import Lease
from services.kit.store import Store, eq
from services.knowledge.domain import candidates
from services.knowledge.store.collections import CANDIDATE_STARTS, CANDIDATES

log = structlog.get_logger()

REFRESH_SECONDS = 2.0
CLOCK_MARGIN = timedelta(seconds=30)  # replicas' clocks and in-flight writes: re-read a little of the past
START_LEASE_SECONDS = 5.0  # how long a replica that died holding the start lease keeps the others waiting
START_WAIT_SECONDS = 10.0  # then a start goes ahead without the lease (as before the lease), with a warning


def stamp(moment: datetime) -> str:
    """Sortable instant text without dashes (kit/store.py: a date-like value sends nx-27017 down a slow path)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


@dataclass
class _Known:
    phrasings: dict[str, list[frozenset[str]]] = field(default_factory=dict)
    read_at: float = 0.0
    since: str = ""


class Matcher:
    def __init__(self, store: Store):
        self.store = store
        self._known: dict[tuple[str, str], _Known] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def match(self, product_code: str, type: str, question: str) -> str:
        """The id of the candidate `question` joins: the exact one (same normalised question), else the most
        similar at or above the threshold, else the id of the candidate it starts."""
        own = candidates.candidate_id(product_code, type, candidates.normalise(question))
        known = await self._current(product_code, type)
        if own in known.phrasings:
            return own
        signature = candidates.signature(question)
        chosen = candidates.best_match(signature, known.phrasings)
        if chosen is None:
            chosen = await self._start(product_code, type, own, signature)
        return chosen

    async def _start(self, product_code: str, type: str, own: str, signature: frozenset[str]) -> str:
        """Start the candidate `own`, unless a replica started a similar one meanwhile: under the start lease of
        the product and type, read the store again, and record the start before letting the lease go."""
        # One start at a time per product and type in this process (the others wait here, not polling the store),
        # and one across the replicas (the lease).
        async with self._locks.setdefault((product_code, type), asyncio.Lock()):
            known = self._known[(product_code, type)]  # what the starts this process just waited for added
            chosen = own if own in known.phrasings else candidates.best_match(signature, known.phrasings)
            return chosen or await self._start_leased(product_code, type, own, signature)

    async def _start_leased(self, product_code: str, type: str, own: str, signature: frozenset[str]) -> str:
        lease = Lease(self.store, f"knowledge.candidate-start:{product_code}:{type}", START_LEASE_SECONDS)
        waited, pause = time.monotonic(), 0.01
        while not await lease.acquire():
            if time.monotonic() - waited > START_WAIT_SECONDS:
                log.warning("candidate.start_without_lease", product_code=product_code, type=type)
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        try:
            known = await self._current(product_code, type, fresh=True)
            chosen = own if own in known.phrasings else candidates.best_match(signature, known.phrasings)
            if chosen is None:
                chosen = own
                try:
                    await self.store[CANDIDATE_STARTS].insert_one({
                        "_id": own, "product_code": product_code, "type": type,
                        "signature": " ".join(sorted(signature)), "at": stamp(datetime.now(UTC))})
                except pymongo.errors.DuplicateKeyError:
                    pass  # started before (a redelivery, or the same question elsewhere): the same id
            # Known at once to this process's next closes, before the candidate is written: paraphrases of a new
            # question that arrive together join it instead of each starting one.
            known.phrasings.setdefault(chosen, [signature])
            return chosen
        finally:
            await lease.release()

    def learn(self, doc: dict[str, Any]) -> None:
        """A candidate this process just wrote."""
        known = self._known.get((doc["product_code"], doc["type"]))
        if known is not None:
            known.phrasings[doc["_id"]] = candidates.phrasings(doc)

    async def _current(self, product_code: str, type: str, *, fresh: bool = False) -> _Known:
        """The phrasings known for a product and type: the candidates' and the starts' (a start's candidate may not
        be written yet), read again from the store when `fresh` or at most every REFRESH_SECONDS."""
        known = self._known.setdefault((product_code, type), _Known())
        if not fresh and time.monotonic() - known.read_at < REFRESH_SECONDS:
            return known
        started = datetime.now(UTC)
        query: dict[str, Any] = {"product_code": eq(product_code), "type": eq(type)}
        since = {"$gte": known.since} if known.since else None
        async for doc in self.store[CANDIDATE_STARTS].find({**query, **({"at": since} if since else {})},
                                                           {"signature": 1}):
            known.phrasings.setdefault(doc["_id"], [frozenset(doc["signature"].split())])
        async for doc in self.store[CANDIDATES].find({**query, **({"signed_at": since} if since else {})},
                                                     {"signatures": 1}):
            known.phrasings[doc["_id"]] = candidates.phrasings(doc)
        known.read_at, known.since = time.monotonic(), stamp(started - CLOCK_MARGIN)
        return known
