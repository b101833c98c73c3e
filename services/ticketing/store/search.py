"""Ticket search through the text index (`q` of GET /v1/tickets): every word of the query, newest first.

The index holds each ticket's words twice: as they are (密码) and marked with the UTC week the ticket was opened
in (密码 of the week of 2026-11-23, kit/text.in_period). A text query costs what its matches cost — nx-27017
scores every match and reads its JSON to filter and sort it (~50 µs each with 100,000 tickets), MongoDB fetches
every document that has any of the words — so a common word (密码 is in ~6 % of tickets) asked across all
tickets costs the whole 6 % (6,000 matches, ~0.3 s on nx-27017). Asked with week words, a query only touches
that week's matches (~120). So the search asks the week of the page's start first, then the weeks before it,
one at a time, until the page is full; after WEEK_SLICES weeks it asks the plain words for everything older in
one query, which is cheap for the words that got that far (they were rare in the recent weeks). A month was
tried first: ~500 matches of 密码, 30–50 ms of sorting on nx-27017 for one slice. The slices are disjoint ranges
of the sort key, in order, so the pages are those of a single sorted query: no duplicates, no gaps. The same
index answers duplicate detection: a new ticket's words in its own and the previous week.

The other filters of a search are written as `$in` (kit.store.membership): beside `$text`, an equality that an
index serves makes SQLite walk that index and look each ticket up in the FTS5 table (0.5 s for city=济南), where
`$in` leaves it to start from the text matches; MongoDB reads both the same and always starts from the text index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.kit import text
from services.ticketing.store.listing import SORT_KEY, instant_text, period_name, week_of

WEEK_SLICES = 6  # an absent word costs ~2 ms a slice on nx-27017 with 100,000 tickets; a common one fills page 1


def newest_first(words: Sequence[str], now: datetime):
    """The `narrowings` of kit.pagination.keyed_page for a search that requires every one of `words`."""

    def slices(after: str | None) -> Iterator[dict[str, Any]]:
        upper = after
        # a sort key starts with the instant text of the ticket's opening
        start = datetime.strptime(after[:8], "%Y%m%d").replace(tzinfo=UTC) if after else now
        week = week_of(start)
        for _ in range(WEEK_SLICES):
            marked = [text.in_period(word, period_name(week)) for word in words]
            yield {"$text": {"$search": text.phrase_search(marked)}, **({SORT_KEY: {"$lt": upper}} if upper else {})}
            upper = instant_text(week)
            week -= timedelta(days=7)
        yield {"$text": {"$search": text.phrase_search(words)}, SORT_KEY: {"$lt": upper}}

    return slices
