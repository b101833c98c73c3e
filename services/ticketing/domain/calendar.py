"""The business calendar of the SLA clocks (SPEC §3, issue 8 point 1). Pure: no I/O.

Working time is Asia/Shanghai, Monday to Friday, 08:30–17:30 by default (ticketing's settings change the hours),
minus the public holidays and plus the make-up working days (调休, on a Saturday or Sunday) of the State Council's
schedule, which come from the `chinesecalendar` package rather than being typed in. An admin may override any day
of a year (GET/PUT /v1/calendar/{year}): for a local exception, or for a year the package does not know yet.

Which day is a working day, first match wins:
1. an admin override of that day;
2. the package's schedule, for the years it carries (2004–2026 in chinesecalendar 1.11);
3. otherwise Monday to Friday. A year the package does not know and no admin has filled in (2027 with today's
   package) is thus weekends-only: no public holiday is assumed. `BusinessCalendar.library_knows(year)` tells, and
   GET /v1/calendar/{year} says so, so that an admin knows to enter the year's schedule.

The arithmetic works in Shanghai time (UTC+8 all year, no daylight saving since 1991) and takes and returns
timezone-aware instants in any zone. "N business days" is N times the length of a working day (9 h by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

from services.kit.holidays import schedule_known

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)
# A calendar in which no working day comes within this many days of an instant is a mistake (an admin marked a
# whole year as non-working, say): the arithmetic refuses it rather than looping for ever.
MAX_DAYS_WITHOUT_WORK = 400

Interval = tuple[datetime, datetime | None]  # a paused interval; None: still paused


@dataclass(frozen=True)
class DayOverride:
    """An admin's decision about one day (source `admin`), kept with who made it and when."""

    day: date
    working: bool
    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class CalendarDay:
    """A day that is not what the plain week says (a weekday off, a weekend day worked), or an admin override,
    with where the decision comes from: `library` (the State Council schedule in chinesecalendar) or `admin`."""

    day: date
    working: bool
    source: Literal["library", "admin"]
    name: str | None = None        # the holiday the library names (Spring Festival, National Day, …)
    by: str | None = None
    at: datetime | None = None
    note: str | None = None


library_knows = schedule_known  # the name this module's callers know


def library_working(day: date) -> bool | None:
    """The package's answer for `day`, None for a year it does not know."""
    if not library_knows(day.year):
        return None
    return chinese_calendar.is_workday(day)


def library_days(year: int) -> list[CalendarDay]:
    """The days of `year` where the package's schedule differs from Monday-to-Friday, with the holiday's name."""
    if not library_knows(year):
        return []
    out, day = [], date(year, 1, 1)
    while day.year == year:
        working = chinese_calendar.is_workday(day)
        if working != (day.weekday() < 5):
            _, name = chinese_calendar.get_holiday_detail(day)
            out.append(CalendarDay(day, working, "library", name=name))
        day += ONE_DAY
    return out


class PausableClock:
    """What both clocks do with pauses, over their own `add` and `between`."""

    def between_excluding(self, start: datetime, end: datetime, pauses: Sequence[Interval]) -> timedelta:
        """Working time from `start` to `end` outside the paused intervals (an open pause lasts until `end`)."""
        total = self.between(start, end)
        for pause_start, pause_end in merged(pauses, end):
            total -= self.between(max(pause_start, start), min(pause_end, end))
        return total

    def add_excluding(self, start: datetime, duration: timedelta, pauses: Sequence[Interval],
                      as_of: datetime | None = None) -> datetime:
        """`add`, with the working time of the paused intervals not counted: the clock stops at a pause's start
        and goes on at its end. An open pause is taken to end at `as_of` (default: when it began), so the answer
        is the deadline the ticket would have if the pause ended then."""
        return add_over(start, duration, pauses, as_of, self.add, self.between)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        raise NotImplementedError

    def between(self, start: datetime, end: datetime) -> timedelta:
        raise NotImplementedError


class BusinessCalendar(PausableClock):
    """Working days and hours, and the arithmetic of business time over them."""

    def __init__(self, *, start: time = time(8, 30), end: time = time(17, 30),
                 overrides: Iterable[DayOverride] = (), zone: ZoneInfo = SHANGHAI):
        if not (start < end):
            raise ValueError("the working day must end after it starts")
        self.start, self.end, self.zone = start, end, zone
        self.overrides: Mapping[date, DayOverride] = {o.day: o for o in overrides}
        self.day_length = datetime.combine(date.min, end) - datetime.combine(date.min, start)
        self._working: dict[date, bool] = {}  # memo: the same few weeks are asked at every intake

    # --- days ---------------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        working = self._working.get(day)
        if working is None:
            override = self.overrides.get(day)
            if override is not None:
                working = override.working
            else:
                from_library = library_working(day)
                working = day.weekday() < 5 if from_library is None else from_library
            self._working[day] = working
        return working

    def days_of(self, year: int) -> list[CalendarDay]:
        """Every non-default day of `year` (see CalendarDay) in date order; an admin override replaces the
        library's entry for its day and is listed even when it agrees with the plain week."""
        days = {d.day: d for d in library_days(year)}
        for override in self.overrides.values():
            if override.day.year == year:
                days[override.day] = CalendarDay(override.day, override.working, "admin", by=override.by,
                                                 at=override.at, note=override.note,
                                                 name=days[override.day].name if override.day in days else None)
        return [days[d] for d in sorted(days)]

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.start, self.zone), datetime.combine(day, self.end, self.zone))

    # --- arithmetic ---------------------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of working time has passed since `start`. A start outside working
        time starts at the next working period (so a zero duration gives that period's start); a duration that
        ends exactly at a working day's end gives that end (17:30), not the next morning."""
        if duration < ZERO:
            raise ValueError("a duration to add cannot be negative")
        local = start.astimezone(self.zone)
        day, remaining = local.date(), duration
        for _ in range(MAX_DAYS_WITHOUT_WORK + 2 * int(duration / self.day_length)):
            if self.is_working_day(day):
                opens, closes = self._window(day)
                cursor = max(local, opens)
                if cursor < closes:
                    left = closes - cursor
                    if remaining <= left:
                        return cursor + remaining
                    remaining -= left
            day += ONE_DAY
            local = datetime.combine(day, time(0), self.zone)
        raise ValueError(f"no working time within {MAX_DAYS_WITHOUT_WORK} days after {start.isoformat()}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero if `end` is not after `start`)."""
        if end <= start:
            return ZERO
        first, last = start.astimezone(self.zone), end.astimezone(self.zone)
        total, day = ZERO, first.date()
        while day <= last.date():
            if self.is_working_day(day):
                opens, closes = self._window(day)
                overlap = min(closes, last) - max(opens, first)
                if overlap > ZERO:
                    total += overlap
            day += ONE_DAY
        return total



class WallClock(PausableClock):
    """24×7 (faults): the same operations over plain elapsed time."""

    @staticmethod
    def add(start: datetime, duration: timedelta) -> datetime:
        return start + duration

    @staticmethod
    def between(start: datetime, end: datetime) -> timedelta:
        return max(end - start, ZERO)



WALL_CLOCK = WallClock()


def merged(pauses: Sequence[Interval], open_until: datetime | None) -> list[tuple[datetime, datetime]]:
    """The paused intervals in order, overlapping ones merged, an open one closed at `open_until` (dropped when
    that is None or not after its start)."""
    closed = []
    for pause_start, pause_end in pauses:
        end = pause_end if pause_end is not None else open_until
        if end is not None and end > pause_start:
            closed.append((pause_start, end))
    closed.sort()
    out: list[tuple[datetime, datetime]] = []
    for pause_start, pause_end in closed:
        if out and pause_start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], pause_end))
        else:
            out.append((pause_start, pause_end))
    return out


def add_over(start: datetime, duration: timedelta, pauses: Sequence[Interval], as_of: datetime | None,
             add, between) -> datetime:
    """The deadline `duration` of counted time after `start`, the clock stopped during each pause."""
    cursor, remaining = start, duration
    for pause_start, pause_end in merged(pauses, as_of):
        if pause_end <= cursor:
            continue
        if pause_start > cursor:
            available = between(cursor, pause_start)
            if remaining <= available:
                break
            remaining -= available
        cursor = max(cursor, pause_end)
    return add(cursor, remaining)
