"""Ticket search through the text index (`q` of GET /v1/tickets): every word of the query, newest first.

The index holds each ticket's words twice: as they are (密码) and marked with the UTC month the ticket was
opened in (密码 of 2026-11, kit/text.in_period). A text query costs what its matches cost — nx-27017 scores and
reads every match to filter and sort it, MongoDB fetches every document that has any of the words — so a common
word (密码 is in ~6 % of tickets) asked across all tickets costs the whole 6 %. Asked with month words, a query
only touches that month's matches. So the search asks the month of the page's start first, then the months
before it, one at a time, until the page is full; after MONTH_SLICES months it asks the plain words for
everything older in one query, which is cheap for the words that got that far (they were rare in the recent
months). The slices are disjoint ranges of the sort key, in order, so the pages are those of a single sorted
query: no duplicates, no gaps. The same index answers duplicate detection: a new ticket's words in its own and
the previous month.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from services.kit import text
from services.ticketing.store.listing import SORT_KEY, month_of

MONTH_SLICES = 4  # rare words cost ~2 ms a slice on nx-27017 with 100,000 tickets; a common one fills page 1


def _month_start(year: int, month: int) -> str:
    return f"{year:04d}{month:02d}01T000000.000000Z"  # listing.instant_text of the month's first instant


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year, month - 1) if month > 1 else (year - 1, 12)


def newest_first(words: Sequence[str], now: datetime):
    """The `narrowings` of kit.pagination.keyed_page for a search that requires every one of `words`."""

    def slices(after: str | None) -> Iterator[dict[str, Any]]:
        upper = after
        period = after[:6] if after else month_of(now)  # a sort key starts with yyyymm of its month
        year, month = int(period[:4]), int(period[4:6])
        for _ in range(MONTH_SLICES):
            marked = [text.in_period(word, f"{year:04d}{month:02d}") for word in words]
            bounds = {"$lt": upper} if upper else {}
            yield {"$text": {"$search": text.phrase_search(marked)}, **({SORT_KEY: bounds} if bounds else {})}
            upper = _month_start(year, month)
            year, month = _previous(year, month)
        yield {"$text": {"$search": text.phrase_search(words)}, SORT_KEY: {"$lt": upper}}

    return slices

