"""Summaries, breakdowns and time series read from the counters (domain/counters.py, store/counters.py).

Each answer is one read of the buckets it needs (a few dozen documents for a year of one product): the period's
tiles, plus the tiles of everything before the period for the tickets it carries in (the backlog at its start).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from services.analytics.domain import counters as c
from services.analytics.store.counters import COUNTER_BATCHES, META, day_after, read_buckets, sum_tiles
from services.kit.store import Store


@dataclass(frozen=True)
class MetricsQuery:
    start: date | None                       # first day counted (Asia/Shanghai), None: since the first ticket
    end: date | None                         # first day not counted, None: through the newest
    allowed: Mapping[str, frozenset[str]]    # dimension → values counted (absent: all)
    group: str | None = None                 # the dimension of a breakdown

    def cuboid(self) -> str:
        return c.choose_cuboid({*self.allowed, *([self.group] if self.group else [])}, self.allowed)

    def cell_filter(self) -> c.CellFilter:
        return c.CellFilter({d: frozenset(c.escape(v) for v in values) for d, values in self.allowed.items()})

    def partitions(self) -> list[str] | None:
        dimension = c.SPLIT.get(self.cuboid())
        values = self.allowed.get(dimension) if dimension else None
        return sorted(c.escape(v) for v in values) if values is not None else None


@dataclass(frozen=True)
class Freshness:
    as_of: datetime | None   # the time of the newest event the counters hold
    lag: dict[str, Any]      # how far the counters are behind the read model


async def freshness(store: Store) -> tuple[dict[str, Any], Freshness]:
    meta = await store[COUNTER_BATCHES].find_one({"_id": META}) or {}
    as_of = meta.get("as_of")
    if isinstance(as_of, datetime) and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    counted_at = meta.get("drained_at") or meta.get("counted_at")
    lag = {
        # ticket events waiting in the consumer's queue when the counters job last caught up (None: unknown)
        "queued_events": meta.get("queued_events"),
        # tickets changed but not yet counted when the counters job last looked (0: it had caught up)
        "pending_tickets": meta.get("pending", 0),
        "seconds_since_caught_up": round(time.time() - meta["drained_at"], 3) if meta.get("drained_at") else None,
        "counted_at": datetime.fromtimestamp(counted_at, UTC) if counted_at else None,
    }
    return meta, Freshness(as_of if isinstance(as_of, datetime) else None, lag)


def _span(meta: Mapping[str, Any], query: MetricsQuery) -> tuple[date | None, date | None, date | None]:
    """(first day with data, start, end) with the open ends closed on the data held; None when there is none."""
    if not meta.get("first_day"):
        return None, None, None
    first, after_last = c.parse_day(meta["first_day"]), day_after(meta["last_day"])
    start = query.start or first
    end = query.end or max(after_last, start)
    return first, start, end


async def grouped_figures(store: Store, meta: Mapping[str, Any], query: MetricsQuery) -> dict[str, dict[str, Any]]:
    """The summary figures of the period per key of `query.group` (one entry "" without a group)."""
    first, start, end = _span(meta, query)
    if first is None:
        return {}
    cuboid = query.cuboid()
    before = c.cover(first, start) if first < start else []
    period = c.cover(start, end)
    found = await read_buckets(store, cuboid, [*before, *period], query.partitions())
    cells = query.cell_filter()
    carried = sum_tiles(found, cuboid, before, cells, query.group)
    sums = sum_tiles(found, cuboid, period, cells, query.group)
    figures = {}
    for key in {*carried, *sums}:
        open_at_start = carried.get(key, {}).get("opened", 0) - carried.get(key, {}).get("closed", 0)
        figures[key] = c.figures(sums.get(key, {}), open_at_start)
    return figures


def empty_figures() -> dict[str, Any]:
    return c.figures({}, 0)


async def series(store: Store, meta: Mapping[str, Any], query: MetricsQuery,
                 interval: str) -> list[tuple[date, date, dict[str, Any]]]:
    """(first day, first day after, summary figures) per point of the period, day by day, week or month."""
    first, start, end = _span(meta, query)
    if first is None:
        return [(a, b, empty_figures()) for a, b in c.intervals(query.start, query.end, interval)] \
            if query.start and query.end else []
    cuboid = query.cuboid()
    grains = {"day": ("d",), "week": ("w", "d"), "month": ("m", "w", "d")}[interval]
    before = c.cover(first, start) if first < start else []
    points = [(a, b, c.cover(a, b, grains)) for a, b in c.intervals(start, end, interval)]
    found = await read_buckets(store, cuboid, [*before, *(t for _, _, tiles in points for t in tiles)],
                               query.partitions())
    cells = query.cell_filter()
    carried = sum_tiles(found, cuboid, before, cells, None).get("", {})
    open_now = carried.get("opened", 0) - carried.get("closed", 0)
    answer = []
    for a, b, tiles in points:
        sums = sum_tiles(found, cuboid, tiles, cells, None).get("", {})
        answer.append((a, b, c.figures(sums, open_now)))
        open_now += sums.get("opened", 0) - sums.get("closed", 0)
    return answer


async def monthly_sums(store: Store, months: list[date], allowed: Mapping[str, frozenset[str]],
                       groups: tuple[str, ...]) -> dict[tuple[str, ...], dict[tuple[str, ...], Any]]:
    """Summed measures per month (its first day) and per key of `groups` (the dimensions' values, unescaped),
    over the cells `allowed` admits: month → group key → measures."""
    query = MetricsQuery(None, None, allowed)
    cuboid = c.choose_cuboid({*allowed, *groups}, allowed)
    partition = c.SPLIT.get(cuboid)
    values = allowed.get(partition) if partition else None
    tiles = [("m", month) for month in months]
    found = await read_buckets(store, cuboid, tiles, sorted(c.escape(v) for v in values) if values else None)
    cells = query.cell_filter()
    answer: dict = {}
    for month in months:
        per_group: dict = {}
        for bucket in found.get(("m", c.period_text(month, "m")), ()):
            for key, measures in bucket.items():
                if cells.admits(cuboid, key):
                    group = tuple(c.unescape(c.key_of(cuboid, key, d)) for d in groups)
                    c.accumulate(per_group.setdefault(group, {}), measures)
        answer[month] = per_group
    return answer
