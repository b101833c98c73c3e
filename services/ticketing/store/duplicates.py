"""Possible duplicates of a ticket being filed: one text query for the key of its product, customer group and week
(domain/duplicates.py), which matches the group's tickets of this week and the previous one, restricted to open
statuses; the similarity is computed on the words the candidates have stored. No scan: the query costs what the
group's recent tickets cost (a few on most days), whatever the size of the store.

The status filter is written as `$in`, beside `$text` (kit.store.membership says why), and the candidates come
newest first, at most `candidates` of them: on nx-27017 each document returned costs ~0.45 ms (kit/store.py), so
a group filing hundreds of tickets a week costs at most that many."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from contracts.vocabulary import TicketStatus
from services.kit.auth import Principal
from services.kit.text import phrase_search
from services.ticketing.domain import duplicates, scope
from services.ticketing.store.listing import SEARCH_TEXT, SORT_KEY, period_name, week_of

OPEN_STATUSES = [s.value for s in TicketStatus if s not in (TicketStatus.resolved, TicketStatus.closed)]
# what the similarity and the scope check read, and what the answer shows
PROJECTION = {"title": 1, "status": 1, "opened_at": 1, "product_code": 1, "customer": 1, "city": 1, "filed_by": 1,
              "escalated_to": 1, SEARCH_TEXT: 1}


def query(product_code: str, group: str, now: datetime) -> dict[str, Any]:
    key = duplicates.key_word(product_code, group, period_name(week_of(now)))
    return {"$text": {"$search": phrase_search([key])}, "status": {"$in": OPEN_STATUSES}}


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
        # the key is a hash: the stored fields decide, and the caller sees only what its scope lets it see
        if doc.get("product_code") == product_code
        and duplicates.group_of(doc["customer"]["group_name"], doc["customer"].get("group_code")) == group
        and scope.can_see(principal, visible_fields(doc))), threshold=threshold, limit=limit)
    return [{"id": d.ticket_id, "title": d.title, "status": d.status, "opened_at": d.opened_at,
             "similarity": d.similarity, "shared_words": list(d.shared_words)} for d in found]


def visible_fields(doc: dict[str, Any]) -> SimpleNamespace:
    """What scope.can_see reads of a ticket, from a projected document."""
    return SimpleNamespace(product_code=doc.get("product_code"), city=doc.get("city"), filed_by=doc.get("filed_by"),
                           escalated_to=doc.get("escalated_to") or [])
