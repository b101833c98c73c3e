"""Sudden-change episodes (突然变化) in the store, and the scan that finds them (docs/analytics-anomalies.md).

One document per episode in `anomalies`, `_id` = `episode_id(dimension, key, first day)`: a scan that meets the
same start again meets the same document, so re-running finds what it found and sends nothing. The document is the
outbox aggregate of its one `analytics.anomaly.detected` event, written with the document's creation.

`daily_volumes` is the only reader of the ticket read model here (a pre-aggregated counter replaces its body later).

nx-27017 (kit/store.py): documents are written whole through `Store.change`; days that are filtered or paged on are
kept as `YYYYMMDD` text (a value that starts like `2026-10-01` would send a query down the datetime path); equality
goes through `eq`, conjunctions through `flat_and`; the flag `ongoing` is queried only as True.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import structlog
from pymongo import DESCENDING, IndexModel

from contracts.events import AnomalyDetected
from services.analytics.domain.anomalies import Verdict, episode_id, evaluate, lookback_days, next_step
from services.analytics.domain import counters
from services.analytics.domain.period import LOCAL_ZONE
from services.analytics.store import watermarks
from services.analytics.store.counters import read_buckets
from services.kit.app import Runtime
from services.kit.clock import stored_now
from services.kit.store import Store, eq, flat_and, public

log = structlog.get_logger()

ANOMALIES = "anomalies"
SCANS = "anomaly_scans"   # the daily job's watermark: `_id` WATERMARK, `through` = last complete day judged (YYYYMMDD)
WATERMARK = "daily"
CATCH_UP_DAYS = 31        # the oldest missed day the job still judges, counted back from today
EVENT_TYPE = "analytics.anomaly.detected"
Dimension = Literal["product_code", "city"]
DIMENSIONS: tuple[Dimension, ...] = ("product_code", "city")
STATES = ("open", "acknowledged", "explained")
STATE_LABELS = {"open": "未处理", "acknowledged": "已确认", "explained": "已说明"}
DIMENSION_LABELS = {"product_code": "产品", "city": "地市"}

INDEXES = {
    ANOMALIES: [
        IndexModel([("list_key", DESCENDING)]),
        IndexModel([("dimension", 1), ("ongoing", 1)]),
        IndexModel([("dimension", 1), ("key", 1), ("list_key", DESCENDING)]),
        IndexModel([("state", 1), ("list_key", DESCENDING)]),
    ],
}


def day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_ZONE).date()


async def daily_volumes(store: Store, dimension: Dimension, first_day: date, last_day: date
                        ) -> dict[str, dict[date, int]]:
    """Tickets per Asia/Shanghai day (received, else opened) per key of `dimension`, for the days first_day to
    last_day inclusive; days without a ticket are absent. One read of the counters' day buckets (store/counters.py):
    a year of days is 365 small documents, whatever the number of tickets."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    cuboid = counters.choose_cuboid({dimension})
    tiles = [("d", first_day + timedelta(days=n)) for n in range((last_day - first_day).days + 1)]
    found = await read_buckets(store, cuboid, tiles, None)
    out: dict[str, dict[date, int]] = {}
    for grain, day in tiles:
        for cells in found.get((grain, counters.period_text(day, grain)), ()):
            for cell, measures in cells.items():
                key = counters.key_of(cuboid, cell, dimension)
                if key == counters.NONE_KEY or not measures.get("opened"):
                    continue
                days = out.setdefault(counters.unescape(key), {})
                days[day] = days.get(day, 0) + measures["opened"]
    return out


# --- documents -------------------------------------------------------------------------------------------------

def _day_entry(verdict: Verdict) -> dict[str, Any]:
    return {"day": verdict.day.isoformat(), "count": verdict.count, "partial": verdict.partial,
            "baseline": verdict.median, "direction": verdict.direction}


def new_episode(dimension: Dimension, key: str, verdict: Verdict, now: datetime) -> dict[str, Any]:
    anomaly_id = episode_id(dimension, key, verdict.day)
    start = day_key(verdict.day)
    return {
        "_id": anomaly_id, "id": anomaly_id, "dimension": dimension, "key": key, "direction": verdict.direction,
        "state": "open", "ongoing": True, "version": 1,
        "start_day": verdict.day.isoformat(), "last_day": verdict.day.isoformat(), "ended_on": None,
        "start_key": start, "last_key": start, "list_key": f"{start}|{anomaly_id}",
        "days": [_day_entry(verdict)], "evidence": verdict.evidence(), "peak": _day_entry(verdict),
        "detected_at": now, "updated_at": now, "history": [{"at": now, "action": "detected", "by": "system"}],
    }


def with_day(doc: Mapping[str, Any], verdict: Verdict, now: datetime) -> dict[str, Any]:
    """`doc` with the judged day added or refreshed (the count of a day in progress grows), its peak and last day."""
    days = {d["day"]: d for d in doc["days"]}
    entry = _day_entry(verdict)
    if days.get(entry["day"]) == entry:
        return dict(doc)
    days[entry["day"]] = entry
    ordered = [days[d] for d in sorted(days)]
    peak = max(ordered, key=lambda d: (abs(d["count"] - (d["baseline"] or 0)), d["day"]))
    out = {**doc, "days": ordered, "peak": peak, "last_day": ordered[-1]["day"],
           "last_key": ordered[-1]["day"].replace("-", ""), "version": doc["version"] + 1, "updated_at": now}
    if entry["day"] == doc["start_day"]:
        out["evidence"] = verdict.evidence()  # the first day's evidence, with its complete count
    return out


def closed(doc: Mapping[str, Any], ended_on: date, now: datetime) -> dict[str, Any]:
    return {**doc, "ongoing": False, "ended_on": ended_on.isoformat(), "version": doc["version"] + 1,
            "updated_at": now, "history": [*doc["history"], {"at": now, "action": "ended", "by": "system"}]}


def detected_event(rt: Runtime, doc: Mapping[str, Any], verdict: Verdict):
    threshold = verdict.spike_threshold if verdict.direction == "spike" else verdict.drop_threshold
    payload = AnomalyDetected(
        dimension=doc["dimension"], key=doc["key"], day=doc["start_day"], count=verdict.count,
        baseline=verdict.median or 0.0, anomaly_id=doc["id"], direction=verdict.direction, partial=verdict.partial,
        day_kind=verdict.day_kind, reference=verdict.reference, sigma=verdict.sigma, threshold=threshold,
        samples=verdict.evidence()["samples"])
    return rt.event(payload, type=EVENT_TYPE, subject=doc["id"], sequence=doc["version"])


# --- the scan --------------------------------------------------------------------------------------------------

@dataclass
class ScanReport:
    day: date
    partial: bool
    evaluated: int = 0
    opened: list[str] = field(default_factory=list)
    extended: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    without_history: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "partial": self.partial, "evaluated": self.evaluated,
                "opened": self.opened, "extended": self.extended, "closed": self.closed,
                "without_history": self.without_history}


def today(now: datetime | None = None) -> date:
    return local_day(now or datetime.now(UTC))


async def scan_day(rt: Runtime, day: date, *, now: datetime | None = None,
                   dimensions: Iterable[Dimension] = DIMENSIONS) -> list[ScanReport]:
    """Judge `day` for every key of each dimension and record what it does to the episodes (one report per
    dimension). `day` is today (so far: partial) or a past day (complete); a future day is refused (ValueError)."""
    return await scan_days(rt, [day], now=now, dimensions=dimensions)


async def scan_days(rt: Runtime, days: Iterable[date], *, now: datetime | None = None,
                    dimensions: Iterable[Dimension] = DIMENSIONS) -> list[ScanReport]:
    """`scan_day` for each of `days` in order (per dimension, one report per day), over one read of the volumes
    per dimension: the history of the earliest day to the last day."""
    now = now or stored_now()
    current = today(now)
    days = sorted(set(days))
    if not days:
        return []
    if days[-1] > current:
        raise ValueError(f"{days[-1]} is in the future")
    first = min(day - timedelta(days=lookback_days(day)) for day in days)
    reports = []
    for dimension in dimensions:
        volumes = await daily_volumes(rt.store, dimension, first, days[-1])
        for day in days:
            reports.append(await _scan(rt, dimension, day, day == current, volumes, now))
    return reports


async def _scan(rt: Runtime, dimension: Dimension, day: date, partial: bool,
                volumes: Mapping[str, Mapping[date, int]], now: datetime) -> ScanReport:
    ongoing = {d["key"]: d for d in await rt.store[ANOMALIES].find(
        {"dimension": eq(dimension), "ongoing": True}).to_list()}
    report = ScanReport(day, partial)
    for key in sorted(set(volumes) | set(ongoing)):
        series = {d: c for d, c in volumes.get(key, {}).items() if d <= day}  # nothing after the day judged
        verdict = evaluate(day, series, partial=partial)
        report.evaluated += 1
        report.without_history += not verdict.enough_history
        if not verdict.anomalous and key not in ongoing:
            continue
        episode = ongoing.get(key)
        if episode is None:  # anomalous, nothing running: the key's newest episode decides whether it is new
            newest = await rt.store[ANOMALIES].find(
                flat_and({"dimension": eq(dimension)}, {"key": eq(key)})).sort("list_key", DESCENDING) \
                .limit(1).to_list()
            episode = newest[0] if newest else None
        await _record(rt, dimension, key, verdict, episode, now, report)
    if report.opened or report.closed:
        log.info("anomalies.scanned", dimension=dimension, **report.as_dict())
    return report


async def _record(rt: Runtime, dimension: Dimension, key: str, verdict: Verdict, episode: Mapping | None,
                  now: datetime, report: ScanReport) -> None:
    step = next_step(verdict, episode)
    if episode is not None and (step.extend or step.close):
        def change_running(current):
            if current is None:
                return None
            doc = with_day(current, verdict, now) if step.extend else dict(current)
            if step.close and current.get("ongoing"):
                doc = closed(doc, step.ended_on, now)
            return (doc, []) if doc != current else None

        if await rt.store.change(ANOMALIES, episode["_id"], change_running) is not None:
            (report.extended if step.extend else report.closed).append(episode["_id"])
    if step.open:
        def create(current):
            if current is not None:  # found again (a re-run): refresh the day, send nothing
                doc = with_day(current, verdict, now)
                return (doc, []) if doc != current else None
            doc = new_episode(dimension, key, verdict, now)
            return doc, [detected_event(rt, doc, verdict)]

        anomaly_id = episode_id(dimension, key, verdict.day)
        written = await rt.store.change(ANOMALIES, anomaly_id, create)
        if written is not None and written.get("version") == 1:
            report.opened.append(anomaly_id)


async def judged_through(store: Store) -> date | None:
    """The last complete day the daily job has judged (its watermark), None before its first run."""
    day = await watermarks.through(store, SCANS, WATERMARK)
    return counters.parse_day(day) if day else None


def days_to_judge(current: date, through: date | None) -> list[date]:
    """Every complete day after the watermark up to yesterday, at most `CATCH_UP_DAYS` back (yesterday alone before
    the first run: a new service does not judge history it never watched), then today so far."""
    yesterday = current - timedelta(days=1)
    first = yesterday if through is None else max(through + timedelta(days=1), current - timedelta(days=CATCH_UP_DAYS))
    first = min(first, yesterday)  # yesterday is judged again, complete now, whatever the watermark says
    return [first + timedelta(days=n) for n in range((yesterday - first).days + 1)] + [current]


async def run_scan(rt: Runtime, now: datetime | None = None) -> list[ScanReport]:
    """The periodic job: every complete day since the last one judged (the days missed while no replica ran it,
    bounded by `CATCH_UP_DAYS`), oldest first, each complete now (it may end an episode or start a drop), then
    today so far; the watermark moves to yesterday once they are recorded. Re-judging a day changes nothing it
    already recorded (an episode's id is its first day), so a run cut short, or run twice, is harmless."""
    now = now or stored_now()
    current = today(now)
    days = days_to_judge(current, await judged_through(rt.store))
    reports = await scan_days(rt, days, now=now)
    await watermarks.advance(rt.store, SCANS, WATERMARK, day_key(current - timedelta(days=1)), now)
    if len(days) > 2:
        log.info("anomalies.caught_up", first=days[0].isoformat(), days=len(days) - 1)
    return reports


# --- reads and reviews -----------------------------------------------------------------------------------------

async def get(store: Store, anomaly_id: str) -> dict[str, Any] | None:
    return await store[ANOMALIES].find_one({"_id": eq(anomaly_id)})


def view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document as answered: without bookkeeping, with the Chinese labels."""
    out = {k: v for k, v in public(doc).items() if k not in ("_id", "start_key", "last_key", "list_key")}
    out["state_label"] = STATE_LABELS[doc["state"]]
    out["dimension_label"] = DIMENSION_LABELS[doc["dimension"]]
    return out


def job(rt: Runtime):
    """The `anomalies` PeriodicJob: `run_scan` every `anomaly_scan_seconds` (5 minutes), on one replica."""
    from services.kit.scheduler import PeriodicJob

    async def run() -> None:
        await run_scan(rt)

    return PeriodicJob("anomalies", float(getattr(rt.settings, "anomaly_scan_seconds", 300)), run)
