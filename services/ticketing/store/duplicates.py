"""Possible duplicates of a ticket being filed: one index range of its product and customer group's key
(domain/duplicates.py), newest first, over the last WINDOW, of which the open ones count; the similarity is computed on
the words the candidates have stored for the search. No scan: the range reads at most `candidates` entries of the
(dup_key, sort_key) index, whatever the size of the store or of the group (on nx-27017 each document returned
costs ~0.45 ms, kit/store.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from contracts.vocabulary import TicketStatus
from services.kit.auth import Principal
from services.kit.store import eq
from services.ticketing.domain import duplicates, scope
from services.ticketing.store.listing import DUP_KEY, SEARCH_TEXT, SORT_KEY, instant_text

OPEN_STATUSES = [s.value for s in TicketStatus if s not in (TicketStatus.resolved, TicketStatus.closed)]
# what the similarity and the scope check read, and what the answer shows
PROJECTION = {"title": 1, "status": 1, "opened_at": 1, "product_code": 1, "customer": 1, "city": 1, "filed_by": 1,
              "escalated_to": 1, "related_requesters.filed_by": 1, SEARCH_TEXT: 1}


WINDOW = timedelta(days=14)  # a duplicate is reported within days; older open tickets are followed up, not refiled


def query(product_code: str, group: str, now: datetime) -> dict[str, Any]:
    # open statuses are picked out here, not by the query: a `$in` beside the index range costs nx-27017 a
    # correlated subquery per ticket (~0.13 ms of its CPU a query, a fifth of it)
    return {DUP_KEY: eq(duplicates.group_key(product_code, group)), SORT_KEY: {"$gt": instant_text(now - WINDOW)}}


async def possible_duplicates(collection, principal: Principal, *, product_code: str, group_name: str,
                              group_code: str | None, title: str, description: str, now: datetime,
                              threshold: float, candidates: int, limit: int) -> list[dict[str, Any]]:
    """The open tickets like this one that `principal` may see, as the intake's answer shows them."""
    group = duplicates.group_of(group_name, group_code)
    docs = await collection.find(query(product_code, group, now), PROJECTION) \
        .sort(SORT_KEY, -1).limit(candidates).to_list()
    words = duplicates.significant_words(title, description, group_name)
    found = duplicates.rank(words, (
        duplicates.Candidate(doc["_id"], doc["title"], doc["status"], doc["opened_at"],
                             duplicates.stored_words(doc.get(SEARCH_TEXT, ""), doc["customer"]["group_name"]))
        for doc in docs
        if doc["status"] in OPEN_STATUSES
        # the key is a hash: the stored fields decide, and the caller sees only what its scope lets it see
        if doc.get("product_code") == product_code
        and duplicates.group_of(doc["customer"]["group_name"], doc["customer"].get("group_code")) == group
        and scope.can_see(principal, visible_fields(doc))), threshold=threshold, limit=limit)
    return [{"id": d.ticket_id, "title": d.title, "status": d.status, "opened_at": d.opened_at,
             "similarity": d.similarity, "shared_words": list(d.shared_words)} for d in found]


def visible_fields(doc: dict[str, Any]) -> SimpleNamespace:
    """What scope.can_see reads of a ticket, from a projected document."""
    return SimpleNamespace(product_code=doc.get("product_code"), city=doc.get("city"), filed_by=doc.get("filed_by"),
                           escalated_to=doc.get("escalated_to") or [],
                           related_requesters=[SimpleNamespace(filed_by=r.get("filed_by"))
                                               for r in doc.get("related_requesters") or ()])
