"""Pre-aggregated counters (计数立方): what answers summaries, breakdowns and time series without reading tickets.

A ticket *contributes* to the day it happened on, in Asia/Shanghai: `opened` to the day of `received_at` (the
requester's contact) or `opened_at` when absent, first-response figures to the day of `first_response_at`,
resolution figures to the day of the (last) `resolved_at`, closing figures to the day of `closed_at`. Its
contribution is a pure function of its newest state (`contribution`), so a later event that changes a figure (a
reopen moves the resolution, feedback adds satisfaction) is corrected by counting `contribution(new) −
contribution(counted before)` (`difference`): nothing is ever counted twice, whatever the order of events. A ticket
merged into another as its duplicate contributes only `merged` (`is_merged`): the requester's contact is the other
ticket's.

The sums are kept in *cuboids*: the same figures rolled up over fewer dimensions (kind alone, product × kind,
city × kind, …, all six), each at three grains (day, ISO week, month), one document per cuboid × grain × period
holding every cell of that period (`bucket_id`). A query reads the smallest cuboid that has the dimensions it
filters and groups by (`choose_cuboid`) and the coarsest buckets that tile its period (`cover`): a year of a
product is about a dozen documents, not every ticket of it.

Figures that are not sums are derived from sums: rates from numerators and denominators; the backlog at a
period's end from opened − closed of every day before it; the 90th percentile of resolution hours from a
histogram (`HOUR_EDGES`), answered as the upper edge of the bucket it falls in.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.analytics.domain.period import LOCAL_ZONE

DIMENSIONS = ("product_code", "city", "kind", "channel", "industry", "cause")
NONE_KEY = "-"  # the key of a dimension a ticket has no value for (no industry given, no cause yet)
SEPARATOR = "|"

# name → dimensions, smallest first: `choose_cuboid` takes the first that has what a query needs.
CUBOIDS: dict[str, tuple[str, ...]] = {
    "K": ("kind",),
    "P": ("product_code", "kind"),
    "C": ("city", "kind"),
    "CH": ("channel", "kind"),
    "I": ("industry", "kind"),
    "CA": ("cause", "kind"),
    "CI": ("city", "industry", "kind"),          # 3.2.1 asks for metrics by city and industry together
    "PC": ("product_code", "city", "kind"),
    "CP": ("product_code", "city", "kind"),      # the same cells, split by city: a city's products
    "ALL": DIMENSIONS,
}
# The big cuboids (product × city × kind has 1,920 cells a month, all six dimensions about as many as tickets) are
# split, so that one document stays small and a query of one product (or city) reads only its own; a query
# across them reads every part's bucket of a period. Product × city is kept twice, split either way, so that both
# "the cities of one product" and "the products of one city" read one part.
PARTITIONED = {"PC": "product_code", "CP": "city", "ALL": "product_code"}
GRAINS = ("d", "w", "m")

# Histogram of resolution hours (opened → resolved): upper edges, finer where most tickets are.
HOUR_EDGES: tuple[float, ...] = tuple(
    [q / 4 for q in range(1, 17)]                    # 0.25 h steps up to 4 h
    + [4 + h / 2 for h in range(1, 41)]              # 0.5 h steps up to 24 h
    + [24 + 2 * h for h in range(1, 25)]             # 2 h steps up to 72 h
    + [72 + 12 * h for h in range(1, 55)]            # 12 h steps up to 30 days
)
HIST = "hist"
RESOLUTION_SECONDS = "resolution_s"

Measures = dict[str, Any]  # measure → number, and HIST → {bucket index (text): count}
Cell = tuple[str, tuple[str, ...]]  # (day as YYYYMMDD, the six dimension keys)


def local_day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_ZONE).date()


def day_text(day: date) -> str:
    return day.strftime("%Y%m%d")  # no dashes: nx-27017 reads a value that starts like 2026-03-02 as a date


def parse_day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


def dimension_keys(ticket: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(escape(str(ticket.get(d) or NONE_KEY)) for d in DIMENSIONS)


# Cell keys are field names of the bucket documents: a product code (free text) must not bring a `.` or a
# leading `$` into one, nor the separator.
_ESCAPES = {"%": "%25", SEPARATOR: "%7C", ".": "%2E", "$": "%24"}


def escape(value: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in value)


def unescape(key: str) -> str:
    for char, code in reversed(_ESCAPES.items()):
        key = key.replace(code, char)
    return key


def hour_bucket(hours: float) -> int:
    """Index of the histogram bucket of `hours`: the first upper edge ≥ hours; past the last, one more."""
    return bisect_left(HOUR_EDGES, hours)


MERGED = "merged"
# The rule a stored `_counted` contribution was made by (store/counters.py recounts what an older rule counted
# differently). 2: merged duplicates count as `merged` only (1 counted them as opened and closed, plus `merged`).
RULE = 2


def is_merged(ticket: Mapping[str, Any]) -> bool:
    """Closed into another ticket as its duplicate (ticket.closed with close_reason `merged`, or ticket.merged)."""
    return ticket.get("close_reason") == MERGED


def contribution(ticket: Mapping[str, Any]) -> dict[Cell, Measures]:
    """What one ticket (a read-model document) adds to the counters, per day it happened on."""
    keys = dimension_keys(ticket)
    cells: dict[Cell, Measures] = {}

    def add(moment: datetime | None, **measures: Any) -> None:
        day = local_day(moment)
        if day is None:
            return
        cell = cells.setdefault((day_text(day), keys), {})
        for name, value in measures.items():
            if value:
                cell[name] = cell.get(name, 0) + value

    opened_at = ticket.get("opened_at")
    if is_merged(ticket):
        # A duplicate closed into another ticket is the requester's contact that ticket already counts: it is
        # counted as `merged` on the day it was opened, and in no other figure (not opened, closed, backlog,
        # timeliness, satisfaction nor escalation). Before its merge it counted as any open ticket; the merge
        # moves it out of those figures, as any later state corrects them (`difference`).
        add(ticket.get("received_at") or opened_at, merged=1)
        return cells
    add(ticket.get("received_at") or opened_at, opened=1,
        tier2=int((ticket.get("tier_reached") or 1) >= 2), tier3=int((ticket.get("tier_reached") or 1) >= 3))
    if ticket.get("responded_timely") is not None:
        add(ticket.get("first_response_at"), responded=1, responded_timely=int(ticket["responded_timely"] is True))
    resolved_at = ticket.get("resolved_at")
    if resolved_at is not None:
        add(resolved_at, resolved=1, judged=int(ticket.get("timely") is not None),
            timely=int(ticket.get("timely") is True), reopened=int((ticket.get("reopen_count") or 0) >= 1))
        if opened_at is not None:
            seconds = max(0.0, (_utc(resolved_at) - _utc(opened_at)).total_seconds())
            cell = cells[(day_text(local_day(resolved_at)), keys)]
            cell[RESOLUTION_SECONDS] = cell.get(RESOLUTION_SECONDS, 0) + round(seconds)
            cell[HIST] = {str(hour_bucket(seconds / 3600)): 1}
    if ticket.get("closed_at") is not None:
        add(ticket["closed_at"], closed=1, feedback=int(ticket.get("satisfied") is not None),
            satisfied=int(ticket.get("satisfied") is True))
    return cells


def add_measures(into: Measures, other: Mapping[str, Any], sign: int = 1) -> None:
    """`into += sign × other`, dropping what becomes 0 so that documents stay small."""
    for name, value in other.items():
        if name == HIST:
            hist = into.setdefault(HIST, {})
            for bucket, count in value.items():
                total = hist.get(bucket, 0) + sign * count
                if total:
                    hist[bucket] = total
                else:
                    hist.pop(bucket, None)
            if not hist:
                del into[HIST]
        else:
            total = into.get(name, 0) + sign * value
            if total:
                into[name] = total
            else:
                into.pop(name, None)


def difference(new: Mapping[Cell, Measures], old: Mapping[Cell, Measures]) -> dict[Cell, Measures]:
    """What changes in the counters when a ticket counted as `old` is now `new`."""
    delta: dict[Cell, Measures] = {}
    for cell, measures in new.items():
        add_measures(delta.setdefault(cell, {}), measures)
    for cell, measures in old.items():
        add_measures(delta.setdefault(cell, {}), measures, -1)
    return {cell: m for cell, m in delta.items() if m}


# --- where a cell is kept --------------------------------------------------------------------------------


def period_text(day: date, grain: str) -> str:
    if grain == "d":
        return day_text(day)
    if grain == "w":
        year, week, _ = day.isocalendar()
        return f"{year}W{week:02d}"
    return day.strftime("%Y%m")


def bucket_id(cuboid: str, grain: str, period: str, partition: str | None = None) -> str:
    return SEPARATOR.join((cuboid, grain, period) + ((partition,) if partition is not None else ()))


def cell_key(cuboid: str, keys: tuple[str, ...]) -> str:
    """The key of a cell inside its bucket: the cuboid's dimensions of the six keys."""
    return SEPARATOR.join(keys[DIMENSIONS.index(d)] for d in CUBOIDS[cuboid])


def partition_of(cuboid: str, keys: tuple[str, ...]) -> str | None:
    dimension = PARTITIONED.get(cuboid)
    return keys[DIMENSIONS.index(dimension)] if dimension else None


def roll_up(delta: Mapping[Cell, Measures]) -> dict[str, dict[str, Measures]]:
    """The change of every bucket: bucket id → cell key → measures, over every cuboid and grain."""
    buckets: dict[str, dict[str, Measures]] = {}
    for (day, keys), measures in delta.items():
        moment = parse_day(day)
        for cuboid in CUBOIDS:
            key, partition = cell_key(cuboid, keys), partition_of(cuboid, keys)
            for grain in GRAINS:
                cells = buckets.setdefault(bucket_id(cuboid, grain, period_text(moment, grain), partition), {})
                add_measures(cells.setdefault(key, {}), measures)
    return buckets


def merge_cells(cells: dict[str, Measures], change: Mapping[str, Measures]) -> dict[str, Measures]:
    for key, measures in change.items():
        merged = cells.setdefault(key, {})
        add_measures(merged, measures)
        if not merged:
            del cells[key]
    return cells


def bucket_fields(bucket: str) -> dict[str, str]:
    """The queryable fields of a bucket document, from its id."""
    cuboid, grain, period, *partition = bucket.split(SEPARATOR)
    return {"cub": cuboid, "g": grain, "t": period, **({"part": partition[0]} if partition else {})}


# --- what a query reads ----------------------------------------------------------------------------------


def choose_cuboid(needed: Iterable[str], filtered: Iterable[str] = ()) -> str:
    """The smallest cuboid with the `needed` dimensions; among those, one split by a dimension the query limits
    to a few values (`filtered`), so that it reads only those parts."""
    needed, filtered = set(needed), set(filtered)
    unknown = needed - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"not a dimension: {', '.join(sorted(unknown))}")
    fitting = [name for name, dims in CUBOIDS.items() if needed <= set(dims)]
    return next((name for name in fitting if name not in PARTITIONED or PARTITIONED[name] in filtered), fitting[0])


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def cover(start: date, end: date, grains: Sequence[str] = GRAINS) -> list[tuple[str, date]]:
    """The fewest buckets (grain, first day) that tile the days [start, end): whole months, then whole weeks,
    then days."""
    tiles: list[tuple[str, date]] = []
    day = start
    while day < end:
        if "m" in grains and day.day == 1 and _month_end(day) <= end:
            tiles.append(("m", day))
            day = _month_end(day)
        elif "w" in grains and day.weekday() == 0 and day + timedelta(days=7) <= end:
            tiles.append(("w", day))
            day += timedelta(days=7)
        else:
            tiles.append(("d", day))
            day += timedelta(days=1)
    return tiles


def intervals(start: date, end: date, interval: str) -> Iterator[tuple[date, date]]:
    """The points of a time series: [a, b) per day, ISO week (from Monday) or month, clipped to [start, end)."""
    day = start
    while day < end:
        if interval == "day":
            nxt = day + timedelta(days=1)
        elif interval == "week":
            nxt = day + timedelta(days=7 - day.weekday())
        else:
            nxt = _month_end(day)
        yield day, min(nxt, end)
        day = nxt


@dataclass(frozen=True)
class CellFilter:
    """Which cells of a cuboid a query counts: a dimension → the keys allowed (absent: any)."""
    allowed: Mapping[str, frozenset[str]]

    def admits(self, cuboid: str, key: str) -> bool:
        if not self.allowed:
            return True
        parts = key.split(SEPARATOR)
        dims = CUBOIDS[cuboid]
        return all(parts[dims.index(d)] in keys for d, keys in self.allowed.items())


def key_of(cuboid: str, key: str, dimension: str) -> str:
    return key.split(SEPARATOR)[CUBOIDS[cuboid].index(dimension)]


# --- figures from sums -----------------------------------------------------------------------------------

RATE_DIGITS = 4
HOURS_DIGITS = 2


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, RATE_DIGITS) if denominator else None


def histogram_percentile(hist: Mapping[str, int], pct: int) -> float | None:
    """The upper edge of the bucket holding the nearest-rank `pct` percentile (None: no values; past the last
    edge: the last edge, as "at least")."""
    counts = sorted((int(bucket), count) for bucket, count in hist.items() if count > 0)
    total = sum(count for _, count in counts)
    if not total:
        return None
    rank = max(1, -(-pct * total // 100))
    seen = 0
    for bucket, count in counts:
        seen += count
        if seen >= rank:
            return float(HOUR_EDGES[min(bucket, len(HOUR_EDGES) - 1)])
    return float(HOUR_EDGES[-1])


def figures(period: Mapping[str, Any], carried_in: int) -> dict[str, Any]:
    """The summary figures (SPEC §5) of a period's summed measures and the tickets still open at its start."""
    g = period.get
    opened, closed = g("opened", 0), g("closed", 0)
    resolved = g("resolved", 0)
    return {
        "count": carried_in + opened,
        "opened": opened,
        "resolved": resolved,
        "closed": closed,
        "backlog": carried_in + opened - closed,
        "merged": g(MERGED, 0),
        "timeliness_rate": {"response": rate(g("responded_timely", 0), g("responded", 0)),
                            "resolution": rate(g("timely", 0), g("judged", 0))},
        "satisfaction_rate": rate(g("satisfied", 0), g("feedback", 0)),
        "resolution_hours": {
            "avg": round(g(RESOLUTION_SECONDS, 0) / 3600 / resolved, HOURS_DIGITS) if resolved else None,
            "p90": histogram_percentile(g(HIST, {}), 90),
        },
        "reopen_rate": rate(g("reopened", 0), resolved),
        "escalation_rate": {"tier2": rate(g("tier2", 0), opened), "tier3": rate(g("tier3", 0), opened)},
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
