"""Instants as the store keeps them: BSON dates hold milliseconds, so a time written with microseconds reads back
different, and the answer of a write would not say what a later read says."""

from __future__ import annotations

from datetime import UTC, datetime


def to_milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def stored_now() -> datetime:
    """Now (UTC) to the millisecond."""
    return to_milliseconds(datetime.now(UTC))
