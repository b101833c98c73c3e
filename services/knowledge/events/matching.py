"""Which candidate a closed question joins: the most similar one of its product and type (domain/candidates.py).

Comparing a question with every candidate of its product and type by reading them all per close would cost the
store a document read per candidate per close (kit/store.py: ~0.45 ms each on nx-27017). So each process keeps
the phrasings' signatures per product and type in memory: loaded on first use, then topped up at most every
`REFRESH_SECONDS` with the candidates whose phrasings changed since (`signed_at`, written as fixed-width text so
that the range runs from an index on nx-27017), and told at once about the candidates this process writes.

What another replica started in the last moment may be missed: two paraphrases of a brand-new question closed at
the same instant on two replicas can start two candidates (identical titles cannot: their id is deterministic;
within one process a new question is known to the next close at once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.kit.store import Store, eq
from services.knowledge.domain import candidates
from services.knowledge.store.collections import CANDIDATES

REFRESH_SECONDS = 2.0
CLOCK_MARGIN = timedelta(seconds=30)  # replicas' clocks and in-flight writes: re-read a little of the past


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
            # Known at once to this process's next closes, before the candidate is written: paraphrases of a new
            # question that arrive together join it instead of each starting one.
            known.phrasings[own] = [signature]
        return chosen or own

    def learn(self, doc: dict[str, Any]) -> None:
        """A candidate this process just wrote."""
        known = self._known.get((doc["product_code"], doc["type"]))
        if known is not None:
            known.phrasings[doc["_id"]] = candidates.phrasings(doc)

    async def _current(self, product_code: str, type: str) -> _Known:
        known = self._known.setdefault((product_code, type), _Known())
        if time.monotonic() - known.read_at < REFRESH_SECONDS:
            return known
        started = datetime.now(UTC)
        query: dict[str, Any] = {"product_code": eq(product_code), "type": eq(type)}
        if known.since:
            query["signed_at"] = {"$gte": known.since}
        async for doc in self.store[CANDIDATES].find(query, {"signatures": 1}):
            known.phrasings[doc["_id"]] = candidates.phrasings(doc)
        known.read_at, known.since = time.monotonic(), stamp(started - CLOCK_MARGIN)
        return known
