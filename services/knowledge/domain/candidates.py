"""Candidates: unvalidated FAQ / handbook / service-script entries grown from closed tickets (SPEC §3, §5).

A candidate gathers the closed tickets of one product whose questions are the same once normalised, with the
distinct answers they were given, so that a product manager can see which questions keep coming back (共性问题)
and turn them into an article. Everything here is pure: the event handler reads the document, calls `grow`,
and writes the result whole.

Which words make the question: the ticket's **title only**. The description is the requester's own account,
full of ticket-specific detail (names, numbers, dates, 集团 names), so two tickets asking the same thing almost
never share it and grouping on it would give one candidate per ticket. The title is the front line's summary
of the question (受理/建档), which is what repeats.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from typing import Any

from contracts.events import TicketClosed
from contracts.vocabulary import ArticleType, Cause, Kind

OPEN = "open"
MAX_ANSWERS = 10  # distinct answers kept per candidate; later tickets are still counted

_COMPLAINT_RULES: dict[Cause, ArticleType] = {
    Cause.usage_misunderstanding: ArticleType.faq,          # 理解偏差 → FAQ for account managers
    Cause.billing_error: ArticleType.complaint_guide,       # 计费问题 → 投诉指导手册
    Cause.product_defect: ArticleType.complaint_guide,      # 产品缺陷 → 投诉指导手册
}

_SPACES = re.compile(r"\s+")
# A space next to a non-ASCII character (Chinese) separates nothing: Chinese is written without spaces.
_SPACE_BY_CJK = re.compile(r" (?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) ")


def candidate_type(kind: Kind | str, cause: Cause | str | None) -> ArticleType | None:
    """Which kind of article a closed ticket feeds (SPEC §5), or None when it feeds none.

    Consultations feed 客服口径 whatever their cause; complaints feed FAQ or 投诉指导手册 by cause; suggestions,
    faults and complaints with other causes feed lifecycle's backlog or nothing, not the knowledge base.
    """
    if kind == Kind.consultation:
        return ArticleType.service_script
    if kind == Kind.complaint and cause is not None:
        return _COMPLAINT_RULES.get(Cause(cause))
    return None


def normalise(question: str) -> str:
    """The comparable form of a question: width-folded (NFKC), lower case, punctuation (ASCII and Chinese) and
    symbols removed, runs of whitespace collapsed, and no space next to a Chinese character."""
    folded = unicodedata.normalize("NFKC", question).lower()
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded)
    return _SPACE_BY_CJK.sub("", _SPACES.sub(" ", cleaned).strip())


def question_of(ticket: TicketClosed) -> str:
    return ticket.title  # see the module docstring for why the description is left out


def candidate_id(product_code: str, type: ArticleType | str, normalised_question: str) -> str:
    """Deterministic, so that every replica and every redelivery lands on the same document."""
    digest = hashlib.sha1(normalised_question.encode()).hexdigest()[:12]
    return f"{product_code}:{ArticleType(type).value}:{digest}"


def answered(ticket: TicketClosed) -> bool:
    """Whether the closure carries an answer the knowledge base learns from: a duplicate closed into another
    ticket (close_reason `merged`) answered nothing itself; the ticket it was merged into counts when it closes."""
    return ticket.close_reason != "merged"


def key_of(ticket: TicketClosed) -> str | None:
    """The id of the candidate a closed ticket feeds, or None when it feeds none."""
    if not answered(ticket):
        return None
    type = candidate_type(ticket.kind, ticket.cause)
    normalised = normalise(question_of(ticket))
    if type is None or not normalised:  # a title of punctuation only asks nothing that could be grouped
        return None
    return candidate_id(ticket.product_code, type, normalised)


def _seen_at(ticket: TicketClosed) -> datetime:
    return ticket.closed_at or ticket.resolved_at or ticket.opened_at


def _with_answer(answers: list[dict[str, Any]], answer: str, ticket_id: str) -> list[dict[str, Any]]:
    key = normalise(answer)
    if not key:
        return answers
    for i, entry in enumerate(answers):
        if normalise(entry["answer"]) == key:
            return [*answers[:i], {**entry, "ticket_ids": [*entry["ticket_ids"], ticket_id]}, *answers[i + 1:]]
    if len(answers) >= MAX_ANSWERS:
        return answers
    return [*answers, {"answer": answer, "ticket_ids": [ticket_id]}]


def grow(candidate: dict[str, Any] | None, ticket: TicketClosed) -> dict[str, Any] | None:
    """The candidate document after `ticket`, or None when the ticket changes nothing (it feeds no candidate,
    or it is already counted: redelivery). `candidate` is the stored document of `key_of(ticket)` or None;
    keys this function does not know (the store's bookkeeping) are kept. The document's `_id` is the candidate id.
    """
    type = candidate_type(ticket.kind, ticket.cause)
    question = question_of(ticket)
    normalised = normalise(question)
    if type is None or not normalised or ticket.knowledge_article_id or not answered(ticket):
        return None
    seen = _seen_at(ticket)
    # Until auto-close, every close was a satisfied requester's, so every answer kept was one they accepted. A
    # ticket closed for want of feedback (`no_feedback`) still shows its question recurring, but nobody accepted
    # its answer: it counts as an occurrence and its answer is not kept.
    answer = ticket.answer if getattr(ticket, "close_reason", "satisfied") != "no_feedback" else ""
    if candidate is None:
        return {
            "_id": candidate_id(ticket.product_code, type, normalised),
            "product_code": ticket.product_code,
            "type": type.value,
            "question": question,
            "normalised_question": normalised,
            "answers": _with_answer([], answer, ticket.ticket_id),
            "occurrences": 1,
            "ticket_ids": [ticket.ticket_id],
            "first_seen": seen,
            "last_seen": seen,
            "state": OPEN,
            "version": 1,
        }
    if ticket.ticket_id in candidate["ticket_ids"]:
        return None
    return {
        **candidate,
        "answers": _with_answer(candidate["answers"], answer, ticket.ticket_id),
        "occurrences": candidate["occurrences"] + 1,
        "ticket_ids": [*candidate["ticket_ids"], ticket.ticket_id],
        # Tickets may arrive out of order: the window is the earliest and latest close, not the arrival order.
        "first_seen": min(candidate["first_seen"], seen),
        "last_seen": max(candidate["last_seen"], seen),
        "version": candidate["version"] + 1,
    }
