"""What knowledge does with other services' events: `ticket.closed` grows candidates and counts reuses.

Each handler changes one document (a candidate or an article) and is idempotent through the ticket ids that
document already lists; a write that loses a race with another writer re-reads and decides again.
"""

from __future__ import annotations

import structlog

from contracts.events import CandidateUpdated, Envelope, TicketClosed
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.knowledge.domain import articles, candidates
from services.knowledge.store.collections import ARTICLES, CANDIDATES

log = structlog.get_logger()
QUEUE = "knowledge.tickets"
CANDIDATE_UPDATED = "knowledge.candidate.updated"


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_closed(envelope: Envelope) -> None:
        ticket = envelope.payload(TicketClosed)  # a payload that does not validate is poison: dead-lettered
        if not candidates.answered(ticket):  # a merged duplicate: neither a reuse nor a candidate
            return
        if ticket.knowledge_article_id:
            await count_reuse(rt, ticket)
        else:
            await grow_candidate(rt, ticket)

    return [Subscription(QUEUE, ("ticket.closed",), on_ticket_closed)]


async def grow_candidate(rt: Runtime, ticket: TicketClosed) -> None:
    key = candidates.key_of(ticket)
    if key is None:
        return

    def decide(current):
        grown = candidates.grow(current, ticket)
        if grown is None:
            return None
        event = rt.event(CandidateUpdated(candidate_id=grown["_id"], product_code=grown["product_code"],
                                          type=grown["type"], question=grown["question"],
                                          occurrences=grown["occurrences"], ticket_ids=grown["ticket_ids"]),
                         type=CANDIDATE_UPDATED, subject=grown["_id"], sequence=grown["version"])
        return grown, [event]

    grown = await rt.store.change(CANDIDATES, key, decide)
    if grown is not None:
        log.info("candidate.grown", candidate_id=key, ticket_id=ticket.ticket_id, occurrences=grown["occurrences"])


async def count_reuse(rt: Runtime, ticket: TicketClosed) -> None:
    article_id = ticket.knowledge_article_id
    if await rt.store[ARTICLES].find_one({"_id": article_id}, {"_id": 1}) is None:
        # A mistyped or foreign id: retrying cannot make it exist, and the ticket itself is fine.
        log.warning("article.reuse_unknown_article", article_id=article_id, ticket_id=ticket.ticket_id)
        return
    at = ticket.closed_at or ticket.resolved_at or ticket.opened_at

    def decide(article):
        reused = articles.count_reuse(article, ticket.ticket_id, at) if article else None
        return None if reused is None else (reused, [])

    reused = await rt.store.change(ARTICLES, article_id, decide)
    if reused is not None:
        log.info("article.reused", article_id=article_id, ticket_id=ticket.ticket_id, reuse_count=reused["reuse_count"])
