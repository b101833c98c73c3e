"""The per-ticket read model (工单读模型): one document per ticket holding the newest state seen.

Every ticket event carries the ticket's whole state and `sequence` = the ticket's version after the change, so
the newest event alone rebuilds the document (order tolerance: the highest `sequence` wins) and the same event
twice changes nothing (idempotence). One fact is not a state but a history: an SLA breach (超时). It stays true
once seen, whatever order the events arrive in, so it is kept as the OR of everything seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

SLA_BREACHED = "ticket.sla_breached"

# Fields beyond TicketEvent's that some events carry and the read model keeps.
EXTRA_FIELDS = ("close_reason", "title")
# Facts fixed when the ticket is opened: an older event still brings them to a document that lacks them (a
# ticket.opened that arrives after a newer event, which carries no title, must not leave the ticket untitled).
FIXED_FIELDS = ("title",)


def snapshot(state: Mapping[str, Any]) -> dict[str, Any]:
    """The ticket state of an event as stored: plain strings for enums, UTC datetimes."""
    return {key: _plain(value) for key, value in state.items()}


def apply_event(current: Mapping[str, Any] | None, *, event_type: str, sequence: int, event_time: datetime,
                state: Mapping[str, Any], breach_deadline: str | None = None) -> dict[str, Any] | None:
    """The read-model document after this event, or None when the event changes nothing.

    `current` is the stored document (bookkeeping fields included, they are carried over untouched); `state`
    is the event's ticket state (see `snapshot`); `breach_deadline` is `respond`/`resolve` for an SLA breach.
    """
    seen = set(current.get("breached_deadlines", ())) if current else set()
    newer = current is None or sequence > current.get("sequence", 0)
    new_breach = event_type == SLA_BREACHED and breach_deadline is not None and breach_deadline not in seen
    missing = {k: state[k] for k in FIXED_FIELDS if k in state and k not in current} if not newer else {}
    if not (newer or new_breach or missing):
        return None  # a duplicate or an older state: nothing to learn from it
    if new_breach:
        seen.add(breach_deadline)
    doc = {**(current or {}), **state, "_id": state["ticket_id"], "sequence": sequence} if newer \
        else {**current, **missing}
    doc["breached_deadlines"] = sorted(seen)
    # A late response or resolution is a breach even if its sla_breached event has not (yet) arrived.
    doc["sla_breached"] = bool(seen) or bool(current and current.get("sla_breached")) \
        or doc.get("responded_timely") is False or doc.get("timely") is False
    event_time = _utc(event_time)
    previous = current.get("event_time") if current else None
    doc["event_time"] = max(event_time, previous) if previous else event_time
    return doc


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _utc(value)
    return value


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
