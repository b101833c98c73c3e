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


# --- the closed loop (建议收集 → 产品优化 → 告知): prioritised, planned into vendor work, shipped, told ---------------

STATES: tuple[str, ...] = ("new", "prioritised", "planned", "done", "declined")
STATE_LABELS = {"new": "待评估", "prioritised": "已定优先级", "planned": "已排期", "done": "已上线", "declined": "不采纳"}
PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
PRIORITY_LABELS = {"P1": "紧急", "P2": "高", "P3": "中", "P4": "低"}
ACTION_LABELS = {"prioritise": "定优先级", "plan": "排入厂家开发", "done": "随版本上线", "decline": "不采纳"}
# Which states each action may start from. A declined item may be reconsidered (prioritised again); a shipped one
# is finished: a ticket closed about it afterwards still counts in the item (`ticket_ids`) but is not among
# `told_ticket_ids`, the tickets whose requesters were told of the release.
ALLOWED_FROM = {
    "prioritise": frozenset({"new", "prioritised", "planned", "declined"}),
    "plan": frozenset({"prioritised", "planned"}),
    "done": frozenset({"planned"}),
    "decline": frozenset({"new", "prioritised", "planned"}),
}
TO_STATE = {"plan": "planned", "done": "done", "decline": "declined"}


class NotAllowed(ValueError):
    """The action does not apply to the item in its current state (a 409 for the route)."""

    def __init__(self, action: str, state: str):
        allowed = ", ".join(sorted(ALLOWED_FROM[action]))
        super().__init__(f"{action} is not possible while the item is {state!r} ({STATE_LABELS[state]}); "
                         f"it needs one of: {allowed}")
        self.action, self.state = action, state


def state_of(item: dict) -> str:
    """Items grown before the loop existed carry no state: they are new."""
    return item.get("state") or "new"


def act(item: dict, action: str, *, by: str, at: datetime, note: str | None = None, **fields) -> dict:
    """The item after `action` (prioritise / plan / done / decline) with its fields, its history growing by one
    entry, or NotAllowed. Re-prioritising a planned item keeps it planned (the plan still stands)."""
    state = state_of(item)
    if state not in ALLOWED_FROM[action]:
        raise NotAllowed(action, state)
    to_state = TO_STATE.get(action) or ("prioritised" if state in ("new", "declined") else state)
    entry = {"at": at, "by": by, "action": action, "action_label": ACTION_LABELS[action], "from_state": state,
             "to_state": to_state, "note": note, **fields}
    new = {**item, **fields, "state": to_state, "state_changed_at": at,
           "history": [*item.get("history", []), entry]}
    new["declined_reason"] = fields.get("reason") if action == "decline" else None
    return new


def loop_sequence(item: dict) -> int:
    """The item's version in the loop (its history's length): the `sequence` of the events it publishes."""
    return len(item.get("history", []))


def loop_counts(items: list[dict]) -> dict:
    """Counts by state, and the tickets raised vs told of a shipped release (the loop closed for them)."""
    by_state = {s: 0 for s in STATES}
    raised = told = 0
    for item in items:
        by_state[state_of(item)] += 1
        raised += len(item.get("ticket_ids", []))
        if state_of(item) == "done":
            told += len(item.get("told_ticket_ids", item.get("ticket_ids", [])))
    return {"by_state": by_state, "tickets_raised": raised, "tickets_told": told}
