"""The sudden-change method on synthetic series (services/analytics/domain/anomalies.py): a known spike is found, the
国庆 trough is not a drop, 1 → 3 tickets is no alarm, and a multi-day spike is one episode."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.analytics.domain.anomalies import (MIN_VOLUME, day_kind, episode_id, evaluate, next_step)

WORKDAY, WEEKEND, HOLIDAY = 100, 40, 15


def typical(day: date) -> int:
    """A product with 100 tickets a workday (a little more on Mondays), 40 a weekend day, 15 a holiday day."""
    kind = day_kind(day)
    if kind == "holiday":
        return HOLIDAY + day.day % 3
    if kind == "weekend":
        return WEEKEND + day.day % 5
    return WORKDAY + (10 if day.weekday() == 0 else 0) + day.day % 7


def series(first: date, last: date, volume=typical, **overrides: int) -> dict[date, int]:
    out, day = {}, first
    while day <= last:
        out[day] = volume(day)
        day += timedelta(days=1)
    for text, count in overrides.items():
        out[date.fromisoformat(text.removeprefix("d").replace("_", "-"))] = count
    return out


def test_the_calendar_kinds_of_days():
    assert day_kind(date(2026, 9, 15)) == "workday"       # a Tuesday
    assert day_kind(date(2026, 9, 19)) == "weekend"       # a Saturday
    assert day_kind(date(2026, 10, 1)) == "holiday"       # 国庆
    assert day_kind(date(2026, 10, 7)) == "holiday"       # the State Council's 2026 国庆: 10-01 to 10-07
    assert day_kind(date(2026, 10, 8)) == "workday"
    assert day_kind(date(2026, 10, 10)) == "makeup_workday"  # the Saturday worked for 国庆 (调休)
    assert day_kind(date(2031, 6, 2)) == "workday"        # beyond the package's years: Monday to Friday


def test_a_known_spike_is_found_with_its_evidence():
    history = series(date(2025, 9, 1), date(2026, 9, 15), d2026_09_15=260)
    verdict = evaluate(date(2026, 9, 15), history)
    assert verdict.direction == "spike"
    assert verdict.day_kind == "workday" and "周二" in verdict.reference
    assert len(verdict.samples) == 8 and all(d.weekday() == 1 for d in verdict.samples)
    assert 100 <= verdict.median <= 107 and verdict.sigma >= 10
    evidence = verdict.evidence()
    assert evidence["count"] == 260 and evidence["ratio"] > 2 and evidence["day_kind_label"] == "工作日"
    assert evidence["samples"][0]["day"] < evidence["samples"][-1]["day"]
    # the same day at its usual volume is nothing
    assert not evaluate(date(2026, 9, 15), series(date(2025, 9, 1), date(2026, 9, 15))).anomalous


def test_the_national_day_trough_is_not_a_drop():
    history = series(date(2025, 9, 1), date(2026, 10, 9))
    for offset in range(7):  # 国庆 2026-10-01..07
        day = date(2026, 10, 1) + timedelta(days=offset)
        verdict = evaluate(day, history)
        assert verdict.day_kind == "holiday" and not verdict.anomalous, verdict
        assert verdict.median < 20  # compared with holidays, not with the workdays before it
    # while a workday as low as a holiday is one
    assert evaluate(date(2026, 9, 29), {**history, date(2026, 9, 29): 15}).direction == "drop"


def test_a_holiday_without_holiday_history_is_judged_for_spikes_only():
    history = series(date(2026, 8, 1), date(2026, 10, 1))  # 8 weeks: only 中秋's three days are holidays
    quiet = evaluate(date(2026, 10, 1), {**history, date(2026, 10, 1): 0})
    assert quiet.direction is None and quiet.drop_threshold is None and "周末与节假日" in quiet.reference
    assert evaluate(date(2026, 10, 1), {**history, date(2026, 10, 1): 400}).direction == "spike"


def test_one_to_three_is_not_an_alarm():
    history = series(date(2026, 6, 1), date(2026, 9, 15), volume=lambda d: 1, d2026_09_15=3)
    verdict = evaluate(date(2026, 9, 15), history)
    assert verdict.direction is None and verdict.spike_threshold >= MIN_VOLUME
    # but a small product that jumps to many is
    assert evaluate(date(2026, 9, 15), {**history, date(2026, 9, 15): 12}).direction == "spike"


def test_a_flat_history_does_not_make_every_wobble_an_alarm():
    history = series(date(2026, 6, 1), date(2026, 9, 15), volume=lambda d: 30)  # MAD 0
    assert evaluate(date(2026, 9, 15), {**history, date(2026, 9, 15): 45}).direction is None
    assert evaluate(date(2026, 9, 15), {**history, date(2026, 9, 15): 60}).direction == "spike"


def test_a_day_in_progress_raises_a_spike_but_never_a_drop():
    history = series(date(2025, 9, 1), date(2026, 9, 15), d2026_09_15=5)
    assert evaluate(date(2026, 9, 15), history).direction == "drop"
    assert evaluate(date(2026, 9, 15), history, partial=True).direction is None
    assert evaluate(date(2026, 9, 15), {**history, date(2026, 9, 15): 300}, partial=True).direction == "spike"


def test_too_little_history_gives_no_verdict_and_days_before_the_first_ticket_are_no_history():
    history = {date(2026, 9, 10) + timedelta(days=i): 40 for i in range(6)}  # a product first seen on 09-10
    verdict = evaluate(date(2026, 9, 15), history)
    assert not verdict.enough_history and verdict.direction is None  # 3 workdays before: not yet a baseline
    # the weeks before its first ticket would have been zeros, and 40 a spike over them
    assert evaluate(date(2026, 9, 15), history, first_seen=date(2026, 6, 1)).direction == "spike"


def _episode(verdicts, *, ongoing=True, direction="spike"):
    return {"direction": direction, "ongoing": ongoing,
            "days": [{"day": v.day.isoformat(), "count": v.count} for v in verdicts]}


def test_a_multi_day_spike_is_one_episode_ended_by_a_normal_day():
    history = series(date(2025, 9, 1), date(2026, 9, 18), d2026_09_15=300, d2026_09_16=320, d2026_09_17=280)
    days = [date(2026, 9, 15) + timedelta(days=i) for i in range(4)]
    verdicts = [evaluate(d, history) for d in days]
    assert [v.direction for v in verdicts] == ["spike", "spike", "spike", None]
    episode, opened = None, 0
    for verdict in verdicts:
        step = next_step(verdict, episode)
        opened += step.open
        if step.open:
            episode = _episode([verdict])
        elif step.extend:
            episode = _episode([*[type("V", (), {"day": date.fromisoformat(d["day"]), "count": d["count"]})
                                   for d in episode["days"]], verdict])
        elif step.close:
            assert step.ended_on == date(2026, 9, 18)
            episode = {**episode, "ongoing": False}
    assert opened == 1 and not episode["ongoing"] and len(episode["days"]) == 3
    # judging a day of the episode again changes nothing and opens nothing
    again = next_step(verdicts[1], episode)
    assert not again.open and not again.close


def test_a_gap_or_a_turn_starts_a_new_episode():
    history = series(date(2025, 9, 1), date(2026, 9, 30), d2026_09_15=300, d2026_09_17=300)
    first, later = evaluate(date(2026, 9, 15), history), evaluate(date(2026, 9, 17), history)
    step = next_step(later, _episode([first]))  # 09-16 was not judged anomalous (the job missed it, say)
    assert step.open and step.close and step.ended_on == date(2026, 9, 16)
    drop = evaluate(date(2026, 9, 16), {**history, date(2026, 9, 16): 3})
    step = next_step(drop, _episode([first]))
    assert drop.direction == "drop" and step.open and step.close


def test_a_day_in_progress_does_not_end_an_episode():
    history = series(date(2025, 9, 1), date(2026, 9, 16), d2026_09_15=300, d2026_09_16=20)
    first = evaluate(date(2026, 9, 15), history)
    today = evaluate(date(2026, 9, 16), history, partial=True)
    assert today.direction is None
    assert next_step(today, _episode([first])) == next_step(today, _episode([first])).__class__(
        why="a day in progress or without a verdict does not end an episode")


@pytest.mark.parametrize("key", ["mobile_office", "济南"])
def test_the_episode_id_is_stable(key):
    assert episode_id("city", key, date(2026, 9, 15)) == episode_id("city", key, date(2026, 9, 15))
    assert episode_id("city", key, date(2026, 9, 15)).startswith("AN-20260915-")
    assert episode_id("city", key, date(2026, 9, 15)) != episode_id("product_code", key, date(2026, 9, 15))


def test_no_drop_in_a_year_the_calendar_does_not_know():
    def volume(day):
        return 100 if day.weekday() < 5 else 40
    history = series(date(2030, 11, 1), date(2031, 2, 11), volume=volume, d2031_02_11=5)  # a Tuesday
    verdict = evaluate(date(2031, 2, 11), history)
    assert verdict.median == 100 and verdict.drop_threshold is None and verdict.direction is None
    assert evaluate(date(2031, 2, 11), {**history, date(2031, 2, 11): 300}).direction == "spike"
