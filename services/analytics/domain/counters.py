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
city × kind, …, all six), each at three grains (day, ISO week, month), a large one split by one of its
dimensions (`LAYOUT`); one document per grain × period (× value of the split) holds its cells (`bucket_id`). A
query reads the cuboid with the dimensions it filters and groups by that costs it least (`choose_cuboid`), one
document per value it asks of the split, and the coarsest buckets that tile its period (`cover`): a year of a
product is about a dozen documents, not every ticket of it, and no form of query reads every part of a split.

Figures that are not sums are derived from sums: rates from numerators and denominators; the backlog at a
period's end from opened − closed of every day before it; the 90th percentile of resolution hours from a
histogram (`HOUR_EDGES`), answered as the upper edge of the bucket it falls in.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from operator import add, sub
from typing import Any

from services.analytics.domain.period import LOCAL_ZONE

DIMENSIONS = ("product_code", "city", "kind", "channel", "industry", "cause")
NONE_KEY = "-"  # the key of a dimension a ticket has no value for (no industry given, no cause yet)
SEPARATOR = "|"

# --- the cuboids ------------------------------------------------------------------------------------------
#
# A cuboid is the figures summed over fewer dimensions; kind is in every one (four values, and most questions
# split by it). A cuboid's cells of one period are kept in a document, or, for a cuboid with many cells, *split*
# by one of its dimensions: one document per value, so that a query asking for that value reads one small part.
# A query reads the cuboid that costs it least (`reads`, `choose_cuboid`): fewest documents, then fewest cells.
#
# The set (tests/analytics/test_cuboid_reads.py counts all 448 forms of query; bench/cuboids.py prints them):
# - each dimension alone, and each pair small enough for one document (at most 308 cells);
# - each larger pair twice, split by either of its dimensions, so that "the cities of a product" and "the
#   products of a city" each read one small part;
# - three dimensions or more: all six split by product, and again split by city; channel × industry × cause
#   whole; and product with any two of channel, industry and cause, split by product, likewise city split by
#   city, in documents of their own (sharing the pairs' documents, the summary of one product took twice as
#   long: nx-27017 decodes the whole document). A part of the all-dimensions cuboid holds every
#   combination of the other five that a product's (a city's) tickets have had: at a million tickets a year,
#   11,000 cells a month for the largest product, 0.4–0.7 s for a year of its channel × industry summary; a part
#   of product × two of them holds at most 308, which is what such a query parses (bench/README.md, "Histograms
#   as runs of counts, and a product's own three-dimension cuboids"). Product (city) with all three still reads
#   its part of the all-dimensions cuboid: its own would hold up to 1,232 cells a part and add as many again to
#   what a batch rewrites as the three-dimension ones (bench/cuboids.py).
# So every form reads one document per tile for each value it asks of one dimension, but one: a breakdown by
# product or by city filtered by two or more of channel, industry and cause and by neither product nor city (16
# of the 448 forms, an analyst's) reads 17 city parts (below). Serving those with one part would take
# product (city) × channel × industry × cause split by industry and by cause: four more cuboids that would more
# than double what a batch of the counters job rewrites (bench/cuboids.py). A breakdown by city of those reads
# the 17 parts of the city's cuboid of those dimensions, one by product those of the all-dimensions cuboid.
# The cuboids split the same way share their documents (`FAMILY`): one document per period and value holds each
# cuboid's cells in a field of its own, so that a batch writes one document where it touches several cuboids,
# and a query parses only its cuboid's field. The unsplit ones keep documents of their own: nx-27017 decodes a
# whole document to return a field of it, and the no-filter summary should not decode every product's cells.

_P, _C, _K, _CH, _I, _CA = DIMENSIONS


def _dims(*names: str) -> tuple[str, ...]:
    return tuple(d for d in DIMENSIONS if d in names)  # cell keys in the order of DIMENSIONS


# name → (dimensions, the dimension its documents are split by or None, the documents it shares)
LAYOUT: dict[str, tuple[tuple[str, ...], str | None, str]] = {
    "K": (_dims(_K), None, "K"),
    "P": (_dims(_P, _K), None, "P"),
    "C": (_dims(_C, _K), None, "C"),
    "CH": (_dims(_CH, _K), None, "CH"),
    "I": (_dims(_I, _K), None, "I"),
    "CA": (_dims(_CA, _K), None, "CA"),
    "C_CH": (_dims(_C, _CH, _K), None, "C_CH"),
    "CH_I": (_dims(_CH, _I, _K), None, "CH_I"),
    "CH_CA": (_dims(_CH, _CA, _K), None, "CH_CA"),
    "I_CA": (_dims(_I, _CA, _K), None, "I_CA"),
    "CH_I_CA": (_dims(_CH, _I, _CA, _K), None, "HIA"),
    "PC": (_dims(_P, _C, _K), _P, "byP"),
    "P_CH": (_dims(_P, _CH, _K), _P, "byP"),
    "P_I": (_dims(_P, _I, _K), _P, "byP"),
    "P_CA": (_dims(_P, _CA, _K), _P, "byP"),
    "P_CH_I": (_dims(_P, _CH, _I, _K), _P, "PX"),
    "P_CH_CA": (_dims(_P, _CH, _CA, _K), _P, "PX"),
    "P_I_CA": (_dims(_P, _I, _CA, _K), _P, "PX"),
    "CP": (_dims(_P, _C, _K), _C, "byC"),
    "CI": (_dims(_C, _I, _K), _C, "byC"),
    "C_CA": (_dims(_C, _CA, _K), _C, "byC"),
    "C_CH_I": (_dims(_C, _CH, _I, _K), _C, "CX"),
    "C_CH_CA": (_dims(_C, _CH, _CA, _K), _C, "CX"),
    "C_I_CA": (_dims(_C, _I, _CA, _K), _C, "CX"),
    "CH_P": (_dims(_P, _CH, _K), _CH, "byCH"),
    "I_P": (_dims(_P, _I, _K), _I, "byI"),
    "I_C": (_dims(_C, _I, _K), _I, "byI"),
    "CA_P": (_dims(_P, _CA, _K), _CA, "byCA"),
    "CA_C": (_dims(_C, _CA, _K), _CA, "byCA"),
    "ALL": (DIMENSIONS, _P, "ALL"),
    "ALL_C": (DIMENSIONS, _C, "ALLC"),
}
CUBOIDS: dict[str, tuple[str, ...]] = {name: dims for name, (dims, _, _) in LAYOUT.items()}
SPLIT: dict[str, str] = {name: split for name, (_, split, _) in LAYOUT.items() if split}
FAMILY: dict[str, str] = {name: family for name, (_, _, family) in LAYOUT.items()}
# What a change of the set means for a store counted before it (store/counters.py `CountersJob.upgrade`): every
# other cuboid is derived from the all-dimensions one's day buckets, which hold every figure at the finest grain,
# or, from a set older than that cuboid's form (SOURCE_SINCE_LAYOUT), every ticket is counted again.
LAYOUT_VERSION = 3  # 3: product (city) × two of channel, industry and cause
# The all-dimensions cuboid split by product (family ALL, field c_ALL, cells keyed by all six dimensions) has had
# this form since layout 2; a set that changes it must raise SOURCE_SINCE_LAYOUT to its own version.
SOURCE_CUBOID, SOURCE_SINCE_LAYOUT = "ALL", 2
GRAINS = ("d", "w", "m")
# How many values a dimension has, for `reads` (product: the size of a province's catalog, about 30; city: the
# 16 and "not given"). Only the choice between cuboids depends on it, never a figure.
CARDINALITY = {_P: 30, _C: 17, _K: 4, _CH: 4, _I: 11, _CA: 7}

# Histogram of resolution hours (opened → resolved): upper edges, finer where most tickets are.
HOUR_EDGES: tuple[float, ...] = tuple(
    [q / 4 for q in range(1, 17)]                    # 0.25 h steps up to 4 h
    + [4 + h / 2 for h in range(1, 41)]              # 0.5 h steps up to 24 h
    + [24 + 2 * h for h in range(1, 25)]             # 2 h steps up to 72 h
    + [72 + 12 * h for h in range(1, 55)]            # 12 h steps up to 30 days
)
HIST = "hist"
RESOLUTION_SECONDS = "resolution_s"

Measures = dict[str, Any]  # measure → number, and HIST → [first bucket, its count, the next's, …] (`dense`)
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
            cell[HIST] = [hour_bucket(seconds / 3600), 1]
    if ticket.get("closed_at") is not None:
        add(ticket["closed_at"], closed=1, feedback=int(ticket.get("satisfied") is not None),
            satisfied=int(ticket.get("satisfied") is True))
    return cells


def dense(hist: Sequence[int] | Mapping[str, int] | None) -> list[int]:
    """A histogram as a run of counts: [its first bucket's index, that bucket's count, the next's, …, its last's],
    without buckets of 0 at either end ([] when empty). Stored, a histogram is either that or, when most of its
    buckets are 0, {bucket index (text): count} (`compact`); both are read.

    Why: a query sums the histograms of every cell it admits (the p90 of each group), and two runs add in one
    `map` where two dictionaries add key by key in Python; a sparse one (a cell of a few tickets) parses faster
    as the few buckets it has (bench/README.md, "Histograms as runs of counts")."""
    if not hist:
        return []
    if isinstance(hist, Mapping):
        return _add_hist([], hist, 1)
    return list(hist)


def compact(hist: list[int] | Mapping[str, int]) -> list[int] | dict[str, int]:
    """How a histogram is best stored: as a run of counts, or as its buckets that are not 0 when they are fewer
    than half of the run (each costs a key and a count)."""
    if isinstance(hist, Mapping):
        buckets = [int(bucket) for bucket in hist]
        return dense(hist) if 2 * len(buckets) >= max(buckets) - min(buckets) + 1 else dict(hist)
    filled = len(hist) - 1 - hist.count(0)
    if 2 * filled < len(hist) - 1:
        first = hist[0]
        return {str(first + offset): count for offset, count in enumerate(islice(hist, 1, None)) if count}
    return hist


def _trimmed(hist: list[int]) -> list[int]:
    while len(hist) > 1 and not hist[-1]:
        hist.pop()
    zeros = 0
    while zeros + 1 < len(hist) and not hist[zeros + 1]:
        zeros += 1
    if zeros:
        hist = [hist[0] + zeros, *hist[zeros + 1:]]
    return hist if len(hist) > 1 else []


def _spanning(into: list[int], low: int, high: int) -> list[int]:
    """`into` (a run, maybe []) with room for the buckets low..high: itself when it has it."""
    if not into:
        return [low] + [0] * (high - low + 1)
    first, last = into[0], into[0] + len(into) - 2
    if first <= low and last >= high:
        return into
    start, end = min(first, low), max(last, high)
    spread = [start] + [0] * (end - start + 1)
    spread[first - start + 1:last - start + 2] = islice(into, 1, None)
    return spread


def _add_hist(into: list[int], other: Sequence[int] | Mapping[str, int], sign: int) -> list[int]:
    """`into += sign × other` (`into` a run of counts, `other` a run or a mapping), in place when `into` already
    spans `other`'s buckets."""
    if not other:
        return into
    if isinstance(other, Mapping):
        buckets = [(int(bucket), count) for bucket, count in other.items()]
        into = _spanning(into, min(buckets)[0], max(buckets)[0])
        first = into[0] - 1
        for bucket, count in buckets:
            into[bucket - first] += sign * count
    else:
        size = len(other) - 1
        into = _spanning(into, other[0], other[0] + size - 1)
        at = other[0] - into[0] + 1
        into[at:at + size] = map(add if sign > 0 else sub, islice(into, at, at + size), islice(other, 1, None))
    return into if into[1] and into[-1] else _trimmed(into)


def _add_sparse(into: dict[str, int] | None, other: Sequence[int] | Mapping[str, int], sign: int) -> dict[str, int]:
    """`into += sign × other` for a histogram kept as its buckets (a cell of a few tickets, a contribution, a
    batch's change): key by key, as cheap as the few buckets it has; `compact` makes it a run when it fills."""
    into = {} if into is None else into
    pairs = other.items() if isinstance(other, Mapping) else \
        ((str(other[0] + offset), count) for offset, count in enumerate(islice(other, 1, None)) if count)
    for bucket, count in pairs:
        total = into.get(bucket, 0) + sign * count
        if total:
            into[bucket] = total
        else:
            into.pop(bucket, None)
    return into


def add_measures(into: Measures, other: Mapping[str, Any], sign: int = 1) -> None:
    """`into += sign × other`, dropping what becomes 0 so that documents stay small."""
    for name, value in other.items():
        if name == HIST:
            held = into.get(HIST)
            hist = _add_hist(held, value, sign) if isinstance(held, list) else _add_sparse(held, value, sign)
            if hist:
                into[HIST] = hist
            else:
                into.pop(HIST, None)
        else:
            total = into.get(name, 0) + sign * value
            if total:
                into[name] = total
            else:
                into.pop(name, None)


def accumulate(into: Measures, other: Mapping[str, Any]) -> None:
    """`into += other` for a query's totals: as `add_measures`, but faster for summing many cells, keeping 0s and
    the histogram as a run from bucket 0 over every bucket (one `map` or a few additions a cell)."""
    for name, value in other.items():
        if name == HIST:
            hist = into.get(HIST)
            if hist is None:
                hist = into[HIST] = [0] * (len(HOUR_EDGES) + 2)  # [first bucket 0, bucket 0, …, past the last]
            if isinstance(value, Mapping):
                for bucket, count in value.items():
                    hist[int(bucket) + 1] += count
            elif value:
                at, size = value[0] + 1, len(value) - 1
                hist[at:at + size] = map(add, islice(hist, at, at + size), islice(value, 1, None))
        else:
            into[name] = into.get(name, 0) + value


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
    """The id of the document that holds `cuboid`'s cells of a period (and, split, of one value): its family's."""
    return SEPARATOR.join((FAMILY[cuboid], grain, period) + ((partition,) if partition is not None else ()))


def cells_field(cuboid: str) -> str:
    """The field of a bucket document that holds `cuboid`'s cells (JSON text, store/counters.py)."""
    return "c_" + cuboid


def cell_key(cuboid: str, keys: tuple[str, ...]) -> str:
    """The key of a cell inside its bucket: the cuboid's dimensions of the six keys."""
    return SEPARATOR.join(keys[DIMENSIONS.index(d)] for d in CUBOIDS[cuboid])


def partition_of(cuboid: str, keys: tuple[str, ...]) -> str | None:
    dimension = SPLIT.get(cuboid)
    return keys[DIMENSIONS.index(dimension)] if dimension else None


def roll_up(delta: Mapping[Cell, Measures],
            cuboids: Iterable[str] = tuple(CUBOIDS)) -> dict[str, dict[str, dict[str, Measures]]]:
    """The change of every bucket document: document id → cuboid → cell key → measures, over `cuboids` (every
    one unless told) and every grain."""
    buckets: dict[str, dict[str, dict[str, Measures]]] = {}
    cuboids = tuple(cuboids)
    for (day, keys), measures in delta.items():
        moment = parse_day(day)
        periods = {grain: period_text(moment, grain) for grain in GRAINS}
        for cuboid in cuboids:
            key, partition = cell_key(cuboid, keys), partition_of(cuboid, keys)
            for grain in GRAINS:
                doc = buckets.setdefault(bucket_id(cuboid, grain, periods[grain], partition), {})
                add_measures(doc.setdefault(cuboid, {}).setdefault(key, {}), measures)
    return buckets


def derived_cuboids() -> tuple[str, ...]:
    """What an upgrade of the set derives from the source cuboid's days: every cuboid but the source itself."""
    return tuple(name for name in CUBOIDS if FAMILY[name] != FAMILY[SOURCE_CUBOID])


def merge_cells(cells: dict[str, Measures], change: Mapping[str, Measures]) -> dict[str, Measures]:
    """A bucket's cells with `change` added, each histogram in the shape it is best stored in (`compact`)."""
    for key, measures in change.items():
        merged = cells.setdefault(key, {})
        add_measures(merged, measures)
        if not merged:
            del cells[key]
        elif HIST in measures and HIST in merged:  # an untouched histogram keeps the shape it was stored in
            merged[HIST] = compact(merged[HIST])
    return cells


def bucket_fields(bucket: str) -> dict[str, str]:
    """The queryable fields of a bucket document, from its id."""
    family, grain, period, *partition = bucket.split(SEPARATOR)
    return {"fam": family, "g": grain, "t": period, **({"part": partition[0]} if partition else {})}


# --- what a query reads ----------------------------------------------------------------------------------


def reads(cuboid: str, asked: Mapping[str, int]) -> tuple[int, int]:
    """(documents per tile, cells at most in them) when a query that asks `asked[d]` values of the dimensions it
    filters reads `cuboid`: one part per value asked of its split dimension, every part when it is not asked."""
    dims, split = CUBOIDS[cuboid], SPLIT.get(cuboid)
    docs = (asked.get(split) or CARDINALITY[split]) if split else 1
    cells_per_doc = 1
    for d in dims:
        if d != split:
            cells_per_doc *= CARDINALITY[d]
    return docs, docs * cells_per_doc


def choose_cuboid(needed: Iterable[str], filtered: Iterable[str] | Mapping[str, Any] = ()) -> str:
    """The cuboid with the `needed` dimensions that a query filtering `filtered` (dimension → the values asked,
    or just the dimensions: one value each) reads at least cost: fewest documents, then fewest cells, then the
    first of `CUBOIDS`."""
    needed = set(needed)
    unknown = needed - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"not a dimension: {', '.join(sorted(unknown))}")
    asked = ({d: len(v) if isinstance(v, Sized) else 1 for d, v in filtered.items()}
             if isinstance(filtered, Mapping) else dict.fromkeys(filtered, 1))
    fitting = [name for name, dims in CUBOIDS.items() if needed <= set(dims)]
    return min(fitting, key=lambda name: (*reads(name, asked), fitting.index(name)))


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


def histogram_percentile(hist: Sequence[int] | Mapping[str, int], pct: int) -> float | None:
    """The upper edge of the bucket holding the nearest-rank `pct` percentile (None: no values; past the last
    edge: the last edge, as "at least")."""
    runs = dense(hist)
    counts = [max(count, 0) for count in runs[1:]]
    total = sum(counts)
    if not total:
        return None
    rank = max(1, -(-pct * total // 100))
    seen = 0
    for offset, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return float(HOUR_EDGES[min(runs[0] + offset, len(HOUR_EDGES) - 1)])
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
            "p90": histogram_percentile(g(HIST, ()), 90),
        },
        "reopen_rate": rate(g("reopened", 0), resolved),
        "escalation_rate": {"tier2": rate(g("tier2", 0), opened), "tier3": rate(g("tier3", 0), opened)},
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
