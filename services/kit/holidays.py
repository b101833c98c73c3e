"""The State Council's holiday schedule (放假安排 and 调休) as chinesecalendar carries it, for every service that
judges days: ticketing's business calendar, analytics' baselines of sudden change."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import chinese_calendar


@lru_cache(maxsize=None)
def schedule_known(year: int) -> bool:
    """Whether chinesecalendar carries the schedule of `year` (it raises NotImplementedError for the others: it
    learns each year's when the State Council publishes it, late in the year before)."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True
