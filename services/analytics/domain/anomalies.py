"""Sudden changes (突然变化, SPEC §5, source 3.2.1): a product's or a city's daily ticket volume far from its baseline.

Pure logic, no store: `day_kind` classifies a day on the State Council calendar, `evaluate` judges one day's count
against its baseline, `next_episode` decides what a judged day does to an episode. docs/analytics-anomalies.md
explains the method and its thresholds; in short:

- The baseline of day D is the **median** of the counts of the same kind of day before D: a regular workday is
  compared with the same weekday's workdays of the previous 8 weeks, a 调休 make-up workday with every workday of
  those weeks, a weekend with the weekends, an official holiday with the official holidays of the previous year.
  Holidays are compared with holidays, so the 国庆 trough is not a drop.
- The spread is the MAD (median absolute deviation) × 1.4826, floored at √median and at 1: counts are Poisson-like,
  so even a perfectly flat history has that much noise, and one odd day in the history moves neither.
- A **spike** needs count ≥ MIN_VOLUME (10: 1 → 3 is not news), count ≥ 2 × median and count > median + 3.5 σ.
- A **drop** needs median ≥ MIN_DROP_BASELINE (20), count ≤ median / 2 and count < median − 3.5 σ, and a complete
  day: a day still in progress can only rise, so its count may raise a spike but never a drop.
- Fewer than MIN_SAMPLES reference days: no verdict (a product too new to have a baseline). A holiday without
  enough holidays in its year is compared with the non-working days (weekends and holidays) of the last 8 weeks,
  for a spike only, since a holiday may well be quieter than a weekend.
- Days before a key's first ticket are no history: a product launched last week is not "0 a day" before it.
- In a year chinesecalendar does not know (after 2026 in version 1.11), no drop is raised: an unknown holiday
  would look like one. Spikes are still judged, on Monday–Friday workdays.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from statistics import median
from typing import Literal

import chinese_calendar

from services.kit.holidays import schedule_known

Direction = Literal["spike", "drop"]
DayKind = Literal["workday", "makeup_workday", "weekend", "holiday"]

WEEKS = 8                      # the workday/weekend history
HOLIDAY_LOOKBACK_DAYS = 365    # holidays are few: a year of them
MIN_SAMPLES = 4                # reference days needed for a verdict
MIN_VOLUME = 10                # a spike needs at least this many tickets in the day
SPIKE_RATIO = 2.0              # ... and at least this many times the median
DROP_RATIO = 0.5               # a drop is at most half the median
MIN_DROP_BASELINE = 20         # ... of a median at least this big
THRESHOLD_SIGMAS = 3.5         # ... and beyond this many robust standard deviations
MAD_SCALE = 1.4826             # MAD × this estimates σ for normal data


DAY_KIND_LABELS = {"workday": "工作日", "makeup_workday": "调休工作日", "weekend": "周末", "holiday": "节假日"}
DIRECTION_LABELS = {"spike": "突增", "drop": "突降"}
WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@lru_cache(maxsize=4096)
def day_kind(day: date) -> DayKind:
    """The kind of `day` on the State Council calendar (chinesecalendar); outside the years the package knows,
    Monday–Friday are workdays and the rest weekends (no holiday is guessed)."""
    try:
        working = chinese_calendar.is_workday(day)
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return "workday" if day.weekday() < 5 else "weekend"
    if working:
        return "workday" if day.weekday() < 5 else "makeup_workday"
    return "holiday" if holiday and name else "weekend"


def lookback_days(day: date) -> int:
    """How far back `evaluate` looks for `day`, so how much history a caller reads: a year for a holiday, 8 weeks
    for any other day."""
    return HOLIDAY_LOOKBACK_DAYS if day_kind(day) == "holiday" else 7 * WEEKS


@dataclass(frozen=True)
class Verdict:
    """How one day's count compares with its baseline. `direction` None: a normal day (or no verdict)."""

    day: date
    count: int
    partial: bool
    day_kind: DayKind
    reference: str                      # which days the baseline is made of, in words
    samples: dict[date, int]            # the reference days and their counts
    median: float | None = None
    mad: float | None = None
    sigma: float | None = None
    spike_threshold: float | None = None  # a count at or above this is a spike
    drop_threshold: float | None = None   # a count at or below this is a drop (None: no drop on this baseline)
    direction: Direction | None = None
    enough_history: bool = True

    @property
    def anomalous(self) -> bool:
        return self.direction is not None

    @property
    def ratio(self) -> float | None:
        if self.median is None or self.median == 0:
            return None
        return round(self.count / self.median, 2)

    def evidence(self) -> dict:
        """The verdict as stored and sent: plain JSON values, the samples oldest first."""
        out = asdict(self)
        out["day"] = self.day.isoformat()
        out["samples"] = [{"day": d.isoformat(), "count": c} for d, c in sorted(self.samples.items())]
        out["ratio"] = self.ratio
        out["day_kind_label"] = DAY_KIND_LABELS[self.day_kind]
        return out


def _reference(day: date, kind: DayKind, history: Mapping[date, int], first: date | None):
    """(description, samples) of the baseline of `day`, and a spike-only fallback (or None)."""
    def days(back: int, keep) -> dict[date, int]:
        out = {}
        for i in range(1, back + 1):
            d = day - timedelta(days=i)
            if first is not None and d < first:
                break
            if keep(d):
                out[d] = history.get(d, 0)
        return out

    span = 7 * WEEKS
    if kind == "workday":
        same = days(span, lambda d: d.weekday() == day.weekday() and day_kind(d) == "workday")
        if len(same) >= MIN_SAMPLES:
            return (f"前{WEEKS}周的{WEEKDAY_LABELS[day.weekday()]}工作日", same), None
        kind = "makeup_workday"  # too few of that weekday (holidays took them): every workday
    if kind == "makeup_workday":
        return (f"前{WEEKS}周的工作日", days(span, lambda d: day_kind(d) in ("workday", "makeup_workday"))), None
    if kind == "weekend":
        return (f"前{WEEKS}周的周末", days(span, lambda d: day_kind(d) == "weekend")), None
    holidays = (f"前{HOLIDAY_LOOKBACK_DAYS}天的节假日", days(HOLIDAY_LOOKBACK_DAYS, lambda d: day_kind(d) == "holiday"))
    rest = (f"前{WEEKS}周的休息日 (周末与节假日, 仅判突增)",
            days(span, lambda d: day_kind(d) in ("weekend", "holiday")))
    return holidays, rest


def evaluate(day: date, history: Mapping[date, int], *, partial: bool = False,
             first_seen: date | None = None) -> Verdict:
    """Judge `history[day]` (0 when absent) against its baseline from the days before it in `history` (absent days
    count 0, except before `first_seen`, the key's first day with a ticket — by default the first day of `history`
    with a count — which are no history at all). `partial`: the day is still in progress, so only a spike can be
    judged."""
    if first_seen is None:
        first_seen = min((d for d, c in history.items() if c > 0), default=None)
    kind = day_kind(day)
    count = history.get(day, 0)
    (reference, samples), fallback = _reference(day, kind, history, first_seen)
    spike_only = False
    if len(samples) < MIN_SAMPLES and fallback is not None:
        (reference, samples), spike_only = fallback, True
    if len(samples) < MIN_SAMPLES:
        return Verdict(day, count, partial, kind, reference, samples, enough_history=False)
    values = list(samples.values())
    mid = float(median(values))
    mad = float(median(abs(v - mid) for v in values))
    sigma = max(MAD_SCALE * mad, math.sqrt(mid), 1.0)
    spike_at = max(float(MIN_VOLUME), SPIKE_RATIO * mid, math.floor(mid + THRESHOLD_SIGMAS * sigma) + 1.0)
    drop_at = None
    # A year the calendar does not know may hide a holiday on any weekday, which would look like a drop.
    if mid >= MIN_DROP_BASELINE and not spike_only and schedule_known(day.year):
        drop_at = min(math.floor(DROP_RATIO * mid), math.ceil(mid - THRESHOLD_SIGMAS * sigma) - 1.0)
        drop_at = drop_at if drop_at >= 0 else None
    direction: Direction | None = None
    if count >= spike_at:
        direction = "spike"
    elif drop_at is not None and not partial and count <= drop_at:
        direction = "drop"
    return Verdict(day, count, partial, kind, reference, samples, median=round(mid, 2), mad=round(mad, 2),
                   sigma=round(sigma, 2), spike_threshold=spike_at, drop_threshold=drop_at, direction=direction)


# --- episodes --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """What a judged day does to a key's episodes.

    `extend`: the day belongs to the episode already running (or is already in it: its figures are refreshed);
    `close`: the running episode ended, the day is its first normal (or opposite) day; `open`: a new episode starts
    with this day (its event is the one sent). A step may close one episode and open another."""

    extend: bool = False
    close: bool = False
    open: bool = False
    ended_on: date | None = None
    why: str = ""
    notes: list[str] = field(default_factory=list)


def next_step(verdict: Verdict, episode: Mapping | None) -> Step:
    """`episode`: the key's newest episode as stored (`direction`, `ongoing`, `days` as ISO dates), or None."""
    day = verdict.day
    if episode is not None:
        days = sorted(date.fromisoformat(d["day"]) for d in episode["days"])
        first, last = days[0], days[-1]
        if day in days:
            # the same day again (a re-run, or the complete count of a day first judged in progress): a spike's
            # conditions only grow with the count, so a day once a spike stays one
            return Step(extend=verdict.anomalous, why="day already in the episode")
        if day < first or (not episode.get("ongoing") and day <= last):
            return Step(why="before the key's newest episode: not re-judged")
        if episode.get("ongoing"):
            if verdict.anomalous and verdict.direction == episode["direction"] and day == last + timedelta(days=1):
                return Step(extend=True, why="the next day, still anomalous")
            if verdict.anomalous:
                return Step(close=True, open=True, ended_on=min(day, last + timedelta(days=1)),
                            why="anomalous again after a gap or the other way: a new episode")
            if verdict.partial or not verdict.enough_history:
                return Step(why="a day in progress or without a verdict does not end an episode")
            return Step(close=True, ended_on=day, why="a normal day ends the episode")
    if verdict.anomalous:
        return Step(open=True, why="a new episode")
    return Step(why="normal")


def episode_id(dimension: str, key: str, start: date) -> str:
    """The episode's id, a function of what identifies it: a re-run that finds the same start finds the same id."""
    digest = hashlib.sha1(f"{dimension}|{key}|{start.isoformat()}".encode()).hexdigest()[:10]
    return f"AN-{start:%Y%m%d}-{digest}"
