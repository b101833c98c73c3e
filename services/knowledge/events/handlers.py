"""What knowledge does with other services' events: `ticket.closed` grows candidates, counts reuses and the
month's KCS figures.

Each closed ticket that feeds knowledge gets one small `closures` record (_id = ticket id) holding what it was
(product, month, kind, cause, question, accepted answer) and what it was counted on (a candidate or an article):
it answers "already counted?" for redeliveries, and the monthly FAQ and the KCS measures read it. The candidate
or article and the month's figures keep counters only (kit/once.py says how the three writes stay exactly-once).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from contracts.events import CandidateUpdated, Envelope, KcsMeasured, TicketClosed
from services.kit import once
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.knowledge.domain import articles, candidates, kcs
from services.knowledge.events.matching import Matcher, stamp
from services.knowledge.store.collections import ARTICLES, CANDIDATES, CLOSURES, KCS_MEASURES

log = structlog.get_logger()
QUEUE = "knowledge.tickets"
CANDIDATE_UPDATED = "knowledge.candidate.updated"
KCS_MEASURED = "knowledge.kcs.measured"


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_closed(envelope: Envelope) -> None:
        ticket = envelope.payload(TicketClosed)  # a payload that does not validate is poison: dead-lettered
        await count_closure(rt, ticket)

    return [Subscription(QUEUE, ("ticket.closed",), on_ticket_closed)]


def matcher(rt: Runtime) -> Matcher:
    if "matcher" not in rt.extras:
        rt.extras["matcher"] = Matcher(rt.store)
    return rt.extras["matcher"]


def closure_record(ticket: TicketClosed, *, candidate_id: str | None = None, type: str | None = None,
                   article_id: str | None = None) -> dict[str, Any]:
    at = candidates.seen_at(ticket)
    return {
        "_id": ticket.ticket_id, "product_code": ticket.product_code, "month": kcs.month_of(at), "closed_at": at,
        "kind": ticket.kind.value, "cause": ticket.cause.value if ticket.cause else None, "city": ticket.city,
        "close_reason": ticket.close_reason, "question": candidates.question_of(ticket),
        "answer": candidates.accepted_answer(ticket), "type": type, "candidate_id": candidate_id,
        "article_id": article_id, "outcome": None,
    }


async def count_closure(rt: Runtime, ticket: TicketClosed) -> None:
    """Count one closed ticket once: on the article it named or on the candidate of its question, then on the
    month's figures."""
    if not candidates.answered(ticket):  # a merged duplicate: neither a reuse nor a candidate
        return
    if ticket.knowledge_article_id:
        if await rt.store[ARTICLES].find_one({"_id": ticket.knowledge_article_id}, {"_id": 1}) is None:
            # A mistyped or foreign id: retrying cannot make it exist, and the ticket itself is fine.
            log.warning("article.reuse_unknown_article", article_id=ticket.knowledge_article_id,
                        ticket_id=ticket.ticket_id)
            return
        record = closure_record(ticket, article_id=ticket.knowledge_article_id)
    else:
        type = candidates.feeds(ticket)
        if type is None:
            return
        chosen = await matcher(rt).match(ticket.product_code, type.value, candidates.question_of(ticket))
        record = closure_record(ticket, candidate_id=chosen, type=type.value)

    token = uuid.uuid4().hex
    held = await once.claim(rt.store, CLOSURES, record, token=token)
    if held is None:
        return  # counted before: a redelivery
    try:
        # A record that was already there (a failed or dead attempt) keeps the decision taken then.
        if held.get("article_id"):
            outcome = await _count_reuse(rt, ticket, held)
        else:
            outcome = await _grow_candidate(rt, ticket, held)
        await _count_month(rt, held, outcome)
        await once.finish(rt.store, CLOSURES, held["_id"], token=token, outcome=outcome)
    except Exception:
        await once.release(rt.store, CLOSURES, held["_id"], token=token)
        raise


async def _grow_candidate(rt: Runtime, ticket: TicketClosed, record: dict[str, Any]) -> str:
    key, tid = record["candidate_id"], record["_id"]
    outcome = kcs.KNOWN

    def decide(current):
        nonlocal outcome
        done, note = once.counted(current, tid)
        if done:
            outcome = note
            return None
        outcome = kcs.NEW if current is None else kcs.KNOWN
        base = current or candidates.new_candidate(key, ticket, record["type"])
        grown = candidates.grow(base, ticket)
        if grown["signatures"] != base.get("signatures"):
            grown["signed_at"] = stamp(datetime.now(UTC))
        grown = once.mark(grown, tid, outcome)
        event = rt.event(CandidateUpdated(candidate_id=key, product_code=grown["product_code"], type=grown["type"],
                                          question=grown["question"], occurrences=grown["occurrences"],
                                          ticket_ids=grown["ticket_ids"], state=grown["state"]),
                         type=CANDIDATE_UPDATED, subject=key, sequence=grown["version"])
        return grown, [event]

    grown = await rt.store.change(CANDIDATES, key, decide)
    if grown is not None:
        matcher(rt).learn(grown)
        log.info("candidate.grown", candidate_id=key, ticket_id=tid, occurrences=grown["occurrences"])
    if once.needs_settling(grown):
        await once.settle(rt.store, CANDIDATES, key, CLOSURES)
    return outcome


async def _count_reuse(rt: Runtime, ticket: TicketClosed, record: dict[str, Any]) -> str:
    article_id, tid = record["article_id"], record["_id"]

    def decide(article):
        if article is None or once.counted(article, tid)[0]:
            return None
        return once.mark(articles.count_reuse(article, record["month"], record["closed_at"]), tid, kcs.REUSE), []

    reused = await rt.store.change(ARTICLES, article_id, decide)
    if reused is not None:
        log.info("article.reused", article_id=article_id, ticket_id=tid, reuse_count=reused["reuse_count"])
    if once.needs_settling(reused):
        await once.settle(rt.store, ARTICLES, article_id, CLOSURES)
    return kcs.REUSE


async def _count_month(rt: Runtime, record: dict[str, Any], outcome: str) -> None:
    key, tid = kcs.measures_id(record["product_code"], record["month"]), record["_id"]

    def decide(current):
        if once.counted(current, tid)[0]:
            return None
        base = current or kcs.empty(record["product_code"], record["month"])
        changed = once.mark(kcs.count_close(base, outcome), tid, outcome)
        return changed, [measured_event(rt, changed)]

    changed = await rt.store.change(KCS_MEASURES, key, decide)
    if once.needs_settling(changed):
        await once.settle(rt.store, KCS_MEASURES, key, CLOSURES)


async def count_decisions(rt: Runtime, product_code: str, month: str) -> None:
    """Recount the month's promoted and dismissed candidates of a product into its figures (after a promote or a
    dismiss). A recount, not an increment, so a repeated or lost call is made good by the next one."""
    decided = await rt.store[CANDIDATES].find({"product_code": product_code, "decided_month": month},
                                              {"state": 1}).to_list()
    promoted = sum(1 for d in decided if d["state"] == candidates.PROMOTED)
    dismissed = sum(1 for d in decided if d["state"] == candidates.DISMISSED)

    def decide(current):
        changed = kcs.with_decisions(current or kcs.empty(product_code, month), promoted=promoted,
                                     dismissed=dismissed)
        return None if changed is None else (changed, [measured_event(rt, changed)])

    await rt.store.change(KCS_MEASURES, kcs.measures_id(product_code, month), decide)


def measured_event(rt: Runtime, measures: dict[str, Any]) -> Envelope:
    return rt.event(KcsMeasured(**kcs.view(measures)), type=KCS_MEASURED, subject=measures["_id"],
                    sequence=measures["version"])
