"""Unit tests of the business calendar (services/ticketing/domain/calendar.py): the State Council schedule from
chinesecalendar, admin overrides, and business-time arithmetic in Asia/Shanghai."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.ticketing.domain.calendar import SHANGHAI, BusinessCalendar, DayOverride, library_knows

CAL = BusinessCalendar()
H = timedelta(hours=1)
ADMIN_AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def sh(*args) -> datetime:
    """An instant given in Shanghai time."""
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize("start,duration,expected", [
    # Friday 17:29: one minute that day, the rest on Monday
    (sh(2026, 11, 27, 17, 29), 4 * H, sh(2026, 11, 30, 12, 29)),
    # exactly at opening and closing
    (sh(2026, 11, 25, 8, 30), timedelta(0), sh(2026, 11, 25, 8, 30)),
    (sh(2026, 11, 25, 8, 30), 9 * H, sh(2026, 11, 25, 17, 30)),   # a full day ends at 17:30, not next morning
    (sh(2026, 11, 25, 17, 30), timedelta(0), sh(2026, 11, 26, 8, 30)),  # outside: the next working period
    (sh(2026, 11, 25, 17, 30), timedelta(minutes=1), sh(2026, 11, 26, 8, 31)),
    (sh(2026, 11, 25, 7, 0), H, sh(2026, 11, 25, 9, 30)),         # before opening: starts at 08:30
    (sh(2026, 11, 25, 12, 0), 18 * H, sh(2026, 11, 27, 12, 0)),    # 2 business days = 18 working hours
    # the eve of National Day 2026 (Oct 1–7 off): 1.5 h on Sep 30, then Thursday Oct 8
    (sh(2026, 9, 30, 16, 0), 4 * H, sh(2026, 10, 8, 11, 0)),
    # 调休 of National Day 2026: Sunday Sep 20 and Saturday Oct 10 are working days
    (sh(2026, 9, 19, 10, 0), H, sh(2026, 9, 20, 9, 30)),
    (sh(2026, 10, 9, 17, 0), H, sh(2026, 10, 10, 9, 0)),
    # Spring Festival 2026: Saturday Feb 14 is worked, Feb 15–23 off, Saturday Feb 28 worked
    (sh(2026, 2, 13, 17, 0), 4 * H, sh(2026, 2, 14, 12, 0)),
    (sh(2026, 2, 14, 17, 0), H, sh(2026, 2, 24, 9, 0)),
    (sh(2026, 2, 27, 17, 0), H, sh(2026, 2, 28, 9, 0)),
    # New Year 2026: Jan 1–2 off, Sunday Jan 4 worked
    (sh(2025, 12, 31, 17, 0), H, sh(2026, 1, 4, 9, 0)),
])
def test_add_business_time(start, duration, expected):
    assert CAL.add(start, duration) == expected


def test_utc_inputs_are_read_in_shanghai_time_and_answers_are_the_same_instants():
    friday_opening = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    assert CAL.add(friday_opening, H) == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    thursday_evening_utc = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)  # Friday 06:00 in Shanghai: before opening
    assert CAL.add(thursday_evening_utc, timedelta(0)) == friday_opening
    assert CAL.between(datetime(2026, 11, 27, 9, 0, tzinfo=UTC), datetime(2026, 11, 30, 1, 0, tzinfo=UTC)) == H


def test_business_time_between_two_instants():
    assert CAL.between(sh(2026, 11, 27, 17, 0), sh(2026, 11, 30, 9, 0)) == H  # over a weekend
    assert CAL.between(sh(2026, 9, 30, 17, 0), sh(2026, 10, 8, 9, 0)) == H    # over National Day
    assert CAL.between(sh(2026, 11, 25, 8, 30), sh(2026, 11, 25, 17, 30)) == CAL.day_length == 9 * H
    assert CAL.between(sh(2026, 11, 25, 18, 0), sh(2026, 11, 25, 9, 0)) == timedelta(0)
    assert CAL.between(sh(2026, 11, 28, 9, 0), sh(2026, 11, 29, 17, 0)) == timedelta(0)  # an ordinary weekend


def test_a_pause_spanning_a_weekend_counts_none_of_its_working_time():
    start = sh(2026, 11, 27, 9, 0)
    pause = (sh(2026, 11, 27, 16, 30), sh(2026, 11, 30, 10, 30))  # Friday afternoon to Monday morning
    assert CAL.between_excluding(start, sh(2026, 11, 30, 12, 0), [pause]) == 9 * H  # 7.5 h Friday + 1.5 h Monday
    assert CAL.add_excluding(start, 9 * H, [pause]) == sh(2026, 11, 30, 12, 0)
    assert CAL.add(start, 9 * H) == sh(2026, 11, 30, 9, 0)  # without it


def test_open_and_overlapping_pauses():
    start = sh(2026, 11, 25, 9, 0)
    open_pause = [(sh(2026, 11, 25, 10, 0), None)]
    # as of when it began it changes nothing; as of later, what has passed of it is not counted
    assert CAL.add_excluding(start, 4 * H, open_pause) == sh(2026, 11, 25, 13, 0)
    assert CAL.add_excluding(start, 4 * H, open_pause, as_of=sh(2026, 11, 25, 12, 0)) == sh(2026, 11, 25, 15, 0)
    overlapping = [(sh(2026, 11, 25, 10, 0), sh(2026, 11, 25, 12, 0)), (sh(2026, 11, 25, 11, 0), sh(2026, 11, 25, 13, 0))]
    assert CAL.add_excluding(start, 4 * H, overlapping) == sh(2026, 11, 25, 16, 0)
    before_start = [(sh(2026, 11, 24, 10, 0), sh(2026, 11, 25, 10, 0))]  # only its part after the start counts
    assert CAL.add_excluding(start, 4 * H, before_start) == sh(2026, 11, 25, 14, 0)


def test_a_year_the_library_does_not_know_is_weekends_only_until_an_admin_fills_it_in():
    assert library_knows(2026) and not library_knows(2027)
    assert CAL.is_working_day(date(2027, 2, 8)) and not CAL.is_working_day(date(2027, 2, 6))  # Monday, Saturday
    assert CAL.days_of(2027) == []
    spring_festival = [DayOverride(date(2027, 2, 8), False, "admin-1", ADMIN_AT, "春节"),
                       DayOverride(date(2027, 2, 20), True, "admin-1", ADMIN_AT, "春节调休")]
    cal = BusinessCalendar(overrides=spring_festival)
    assert cal.add(sh(2027, 2, 5, 17, 0), H) == sh(2027, 2, 9, 9, 0)  # Friday, then Monday is off
    assert cal.add(sh(2027, 2, 19, 17, 0), H) == sh(2027, 2, 20, 9, 0)  # a Saturday worked
    days = cal.days_of(2027)
    assert [(d.day, d.working, d.source, d.by, d.note) for d in days] == [
        (date(2027, 2, 8), False, "admin", "admin-1", "春节"), (date(2027, 2, 20), True, "admin", "admin-1", "春节调休")]


def test_the_library_days_of_a_year_and_an_admin_override_of_one():
    days = {d.day: d for d in CAL.days_of(2026)}
    assert days[date(2026, 2, 16)].working is False and days[date(2026, 2, 16)].name == "Spring Festival"
    assert days[date(2026, 2, 14)].working is True and days[date(2026, 2, 14)].source == "library"
    assert days[date(2026, 10, 1)].name == "National Day" and date(2026, 10, 3) not in days  # a Saturday anyway
    assert date(2026, 11, 25) not in days  # an ordinary Wednesday
    local = BusinessCalendar(overrides=[DayOverride(date(2026, 2, 14), False, "admin-2", ADMIN_AT, "本地安排")])
    listed = {d.day: d for d in local.days_of(2026)}[date(2026, 2, 14)]
    assert (listed.working, listed.source, listed.by, listed.at) == (False, "admin", "admin-2", ADMIN_AT)
    assert local.add(sh(2026, 2, 13, 17, 0), H) == sh(2026, 2, 24, 9, 0)


def test_configured_hours_and_a_calendar_without_working_time():
    short = BusinessCalendar(start=time(9, 0), end=time(17, 0))
    assert short.day_length == 8 * H
    assert short.add(sh(2026, 11, 25, 16, 0), 2 * H) == sh(2026, 11, 26, 10, 0)
    with pytest.raises(ValueError):
        BusinessCalendar(start=time(18, 0), end=time(9, 0))
    with pytest.raises(ValueError):
        CAL.add(sh(2026, 11, 25, 9, 0), -H)
    nothing = BusinessCalendar(overrides=[DayOverride(date(2027, 1, 1) + timedelta(days=n), False, "a", ADMIN_AT)
                                          for n in range(420)])
    with pytest.raises(ValueError, match="no working time"):
        nothing.add(sh(2027, 1, 1, 9, 0), H)
