"""The reporting period (统计周期) of a metrics query: `from` inclusive, `to` exclusive, either side open.

Dates and datetimes without an offset are read on the operator's calendar, Asia/Shanghai (the business calendar
of SPEC §3). A date `to` means the whole of that day, so `from=2026-01-01&to=2026-01-31` is January.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PeriodError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Period:
    start: datetime | None = None  # inclusive, UTC
    end: datetime | None = None    # exclusive, UTC

    def contains(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def begun_by_end(self, moment: datetime | None) -> bool:
        """Whether `moment` is before the end of the period (an open end: always)."""
        return moment is not None and (self.end is None or moment < self.end)


def parse_bound(text: str, *, field: str, upper: bool) -> datetime:
    """One bound of a period in UTC; a date as `upper` bound means the start of the next day."""
    text = text.strip()
    try:
        if _DATE_ONLY.match(text):
            day = date.fromisoformat(text) + (timedelta(days=1) if upper else timedelta())
            return datetime.combine(day, time(), LOCAL_ZONE).astimezone(UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise PeriodError(field, f"{text!r} is not an ISO 8601 date or datetime (e.g. 2026-01-31 or "
                                 "2026-01-31T08:30:00+08:00)") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_ZONE)
    return moment.astimezone(UTC)


def parse_period(start: str | None, end: str | None) -> Period:
    period = Period(parse_bound(start, field="from", upper=False) if start else None,
                    parse_bound(end, field="to", upper=True) if end else None)
    # Compare what was written: `from=2026-01-05&to=2026-01-04` is reversed although the end is exclusive.
    if period.start and end and period.start > parse_bound(end, field="to", upper=False):
        raise PeriodError("from", "must not be after `to`")
    return period


def local_days(period: Period) -> tuple[date | None, date | None]:
    """The period as days of Asia/Shanghai [first, after last): the counters count whole days, so a bound given
    as a datetime must be a local midnight."""
    def day(moment: datetime | None, field: str) -> date | None:
        if moment is None:
            return None
        local = moment.astimezone(LOCAL_ZONE)
        if local.time() != time():
            raise PeriodError(field, "metrics are counted per whole day in Asia/Shanghai: give a date "
                                     "(e.g. 2026-03-31) or a local midnight")
        return local.date()

    return day(period.start, "from"), day(period.end, "to")
