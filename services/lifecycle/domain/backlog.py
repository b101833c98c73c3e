"""The optimisation backlog (产品优化): closed suggestions and closed tickets caused by a product defect or a
missing feature, grouped per product by their normalised title, so that the same issue raised in several
tickets is one item with a count (建议收集 → 产品优化, and 投诉分析 "投诉较集中和普遍的问题…帮助产品经理进行产品优化")."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from contracts.events import TicketClosed
from contracts.vocabulary import Cause, Kind

BACKLOG_CAUSES = frozenset({Cause.product_defect, Cause.feature_request})
_SPACES = re.compile(r"\s+")
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A space next to a CJK character carries no meaning (Chinese is written without spaces).
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}]) | (?=[{_CJK}])")


def normalise(text: str) -> str:
    """The grouping key of a title: NFKC (full-width → half-width), case-folded, punctuation and symbols
    (Chinese ones included) dropped, whitespace collapsed, and no spaces around Chinese characters."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_NEXT_TO_CJK.sub("", text)


def qualifies(ticket: TicketClosed) -> bool:
    """Whether a closed ticket belongs in its product's optimisation backlog. A duplicate merged into another
    ticket does not: the ticket it was merged into is counted when it closes (once for the same issue)."""
    if ticket.close_reason == "merged":
        return False
    return ticket.kind == Kind.suggestion or ticket.cause in BACKLOG_CAUSES


def grouping_key(ticket: TicketClosed) -> str:
    """The normalised title, else the normalised question, else the ticket itself (nothing to group by)."""
    return normalise(ticket.title) or normalise(ticket.description) or f"ticket {ticket.ticket_id}"


def item_id(product_code: str, key: str) -> str:
    return f"{product_code}:{hashlib.sha1(key.encode()).hexdigest()[:16]}"


def add_ticket(item: dict | None, ticket: TicketClosed, *, seen_at: datetime) -> dict | None:
    """The backlog item after counting `ticket` (a new item when `item` is None), or None when the ticket is
    already counted (the same event delivered twice changes nothing)."""
    key = grouping_key(ticket)
    if item is None:
        item = {"_id": item_id(ticket.product_code, key), "product_code": ticket.product_code, "key": key,
                "title": ticket.title, "question": ticket.description, "count": 0, "ticket_ids": [],
                "kinds": [], "causes": [], "first_seen": seen_at, "last_seen": seen_at}
    if ticket.ticket_id in item["ticket_ids"]:
        return None
    kinds = set(item["kinds"]) | {ticket.kind.value}
    causes = set(item["causes"]) | ({ticket.cause.value} if ticket.cause else set())
    return {**item,
            "ticket_ids": [*item["ticket_ids"], ticket.ticket_id],
            "count": len(item["ticket_ids"]) + 1,
            "kinds": sorted(kinds),
            "causes": sorted(causes),
            "first_seen": min(item["first_seen"], seen_at),
            "last_seen": max(item["last_seen"], seen_at)}
