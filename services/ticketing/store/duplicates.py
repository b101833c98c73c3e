"""Possible duplicates of a ticket being filed: one index range of its product and customer group's key
(domain/duplicates.py), newest first, over the last WINDOW, of which the open ones count; the similarity is computed on
the words the candidates have stored for the search. No scan: the range reads at most `candidates` entries of the
(dup_key, sort_key) index, whatever the size of the store or of the group (on nx-27017 each document returned
costs ~0.45 ms, kit/store.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from contracts.events import Envelope, TicketOpened
from services.kit.auth import Principal
from services.kit.store import Store, eq
from services.ticketing.domain import duplicates, scope
from services.ticketing.store.listing import DUP_KEY, SEARCH_TEXT, SORT_KEY, instant_text

# what the similarity and the scope check read, and what the answer shows
PROJECTION = {"title": 1, "status": 1, "opened_at": 1, "product_code": 1, "customer": 1, "city": 1, "filed_by": 1,
              "escalated_to": 1, "related_requesters.filed_by": 1, SEARCH_TEXT: 1}
# what the in-memory index keeps of each ticket of the window
LOAD_PROJECTION = {DUP_KEY: 1, "opened_at": 1, "status": 1, "version": 1, "customer": 1, SEARCH_TEXT: 1}


WINDOW = timedelta(days=14)  # a duplicate is reported within days; older open tickets are followed up, not refiled


def query(product_code: str, group: str, now: datetime) -> dict[str, Any]:
    # open statuses are picked out here, not by the query: a `$in` beside the index range costs nx-27017 a
    # correlated subquery per ticket (~0.13 ms of its CPU a query, a fifth of it)
    return {DUP_KEY: eq(duplicates.group_key(product_code, group)), SORT_KEY: {"$gt": instant_text(now - WINDOW)}}


class DuplicateFinder:
    """Possible duplicates for the intake, from the process's RecentTickets (domain/duplicates.py) when it can
    answer, else from the store's index range as before.

    The index is loaded in the background at start (the window's tickets, one index range of sort keys) and kept
    fresh by ticketing's own events on a queue of this process (`ticket.opened` with its customer group, and the
    changes that close or reopen a ticket), so a ticket filed through another replica is known a moment after it
    was stored; one filed here is known at once. Memory only ranks: a ticket it finds similar enough is read back
    from the store before it is shown (one read by ids, and only then), so its status, its text and the caller's
    scope are checked on the stored ticket, exactly as the store's path does. In the usual intake nothing is
    similar and the store is not asked at all; at most a ticket filed on another replica in the last moment is
    missed, which a possible duplicate, being advice, can afford.
    """

    def __init__(self, store: Store, collection: str, *, threshold: float, candidates: int, limit: int,
                 max_tickets: int, in_memory: bool = True):
        self.store, self.collection_name, self.in_memory = store, collection, in_memory
        self.threshold, self.candidates, self.limit = threshold, candidates, limit
        self.recent = duplicates.RecentTickets(WINDOW, max_tickets)

    @property
    def collection(self):
        return self.store[self.collection_name]

    async def load(self, now: datetime) -> int:
        """Add the window's tickets as the store holds them now; events that arrive meanwhile are kept too."""
        since = now - WINDOW
        docs = await self.collection.find({SORT_KEY: {"$gt": instant_text(since)}}, LOAD_PROJECTION).to_list()
        for doc in docs:
            if doc.get(DUP_KEY):
                self.recent.opened(doc["_id"], doc[DUP_KEY], doc["opened_at"], doc["status"], doc.get("version", 1),
                                   duplicates.stored_words(doc.get(SEARCH_TEXT, ""), doc["customer"]["group_name"]))
        self.recent.loaded(since)
        return len(docs)

    def remember(self, ticket_id: str, *, product_code: str, group_name: str, group_code: str | None,
                 opened_at: datetime, status: str, sequence: int, words: list[str]) -> None:
        if not self.in_memory:
            return
        key = duplicates.group_key(product_code, duplicates.group_of(group_name, group_code))
        self.recent.opened(ticket_id, key, opened_at, status, sequence, words)

    def status_changed(self, ticket_id: str, status: str, sequence: int, opened_at: datetime) -> None:
        if self.in_memory:
            self.recent.status_changed(ticket_id, status, sequence, opened_at)

    def learn(self, envelope: Envelope) -> None:
        """An event of ticketing's own that opens, closes or reopens a ticket (a queue of this process). Read
        from the envelope's data without validating the whole payload: each process gets every such event, and
        most are about tickets it already holds (its own intakes and actions)."""
        data = envelope.data
        if envelope.type == "ticket.opened" and not self.recent.holds_opening(envelope.subject):
            opened = envelope.payload(TicketOpened)
            if opened.group_name is not None:  # earlier producers did not send the group: not indexed
                self.remember(opened.ticket_id, product_code=opened.product_code, group_name=opened.group_name,
                              group_code=opened.group_code, opened_at=opened.opened_at, status=opened.status.value,
                              sequence=envelope.sequence,
                              words=duplicates.significant_words(opened.title, opened.description, opened.group_name))
            return
        self.status_changed(envelope.subject, data["status"], envelope.sequence,
                            datetime.fromisoformat(data["opened_at"]))

    async def find(self, principal: Principal, *, product_code: str, group_name: str, group_code: str | None,
                   words: list[str], now: datetime) -> list[dict[str, Any]]:
        """The open tickets like this one that `principal` may see, as the intake's answer shows them."""
        group = duplicates.group_of(group_name, group_code)
        held = self.recent.candidates(duplicates.group_key(product_code, group), now, self.candidates)
        if held is None:
            docs = await self.collection.find(query(product_code, group, now), PROJECTION) \
                .sort(SORT_KEY, -1).limit(self.candidates).to_list()
        else:
            similar = duplicates.rank(words, (duplicates.Candidate(r.ticket_id, "", r.status, r.opened_at, r.words)
                                              for r in held), threshold=self.threshold, limit=self.candidates)
            if not similar:
                return []
            docs = await self.collection.find({"_id": {"$in": [d.ticket_id for d in similar]}}, PROJECTION).to_list()
        return self._shown(principal, docs, product_code=product_code, group=group, words=words)

    def _shown(self, principal: Principal, docs: list[dict[str, Any]], *, product_code: str, group: str,
               words: list[str]) -> list[dict[str, Any]]:
        found = duplicates.rank(words, (
            duplicates.Candidate(doc["_id"], doc["title"], doc["status"], doc["opened_at"],
                                 duplicates.stored_words(doc.get(SEARCH_TEXT, ""), doc["customer"]["group_name"]))
            for doc in docs
            if doc["status"] in duplicates.OPEN_STATUSES
            # the key is a hash: the stored fields decide, and the caller sees only what its scope lets it see
            if doc.get("product_code") == product_code
            and duplicates.group_of(doc["customer"]["group_name"], doc["customer"].get("group_code")) == group
            and scope.can_see(principal, visible_fields(doc))), threshold=self.threshold, limit=self.limit)
        return [{"id": d.ticket_id, "title": d.title, "status": d.status, "opened_at": d.opened_at,
                 "similarity": d.similarity, "shared_words": list(d.shared_words)} for d in found]


def visible_fields(doc: dict[str, Any]) -> SimpleNamespace:
    """What scope.can_see reads of a ticket, from a projected document."""
    return SimpleNamespace(product_code=doc.get("product_code"), city=doc.get("city"), filed_by=doc.get("filed_by"),
                           escalated_to=doc.get("escalated_to") or [],
                           related_requesters=[SimpleNamespace(filed_by=r.get("filed_by"))
                                               for r in doc.get("related_requesters") or ()])
