"""The summary figures of SPEC §5 (运营指标汇总) over a handful of ticket read-model documents, for a report that
has the tickets at hand (the monthly report's tables per city).

The same arithmetic as the counters (domain/counters.py): each ticket's contribution per day, summed over the
period's days, and the tickets open at its start carried in. A figure of a report therefore always equals the
summary API's figure for the same period and filters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.analytics.domain import counters as c
from services.analytics.domain.period import Period, local_days

Ticket = Mapping[str, Any]


def summarize(tickets: Iterable[Ticket], period: Period) -> dict[str, Any]:
    """The summary of `tickets` (read-model documents already matching the filters) over `period`, whose bounds
    are local midnights (metrics count whole days). A ticket closed before the period may be left out: it adds
    nothing to it."""
    start, end = local_days(period)
    sums: c.Measures = {}
    carried_in = 0
    for ticket in tickets:
        for (day_text, _), measures in c.contribution(ticket).items():
            day = c.parse_day(day_text)
            if start is not None and day < start:
                carried_in += measures.get("opened", 0) - measures.get("closed", 0)
            elif end is None or day < end:
                c.add_measures(sums, measures)
    return c.figures(sums, carried_in)
