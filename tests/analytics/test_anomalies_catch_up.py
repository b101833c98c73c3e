"""The daily anomaly job catches up the days it missed (store/anomalies.py `run_scan`): every complete day since its
persisted watermark, at most `CATCH_UP_DAYS` back, oldest first, idempotent when two replicas overlap. On the real
store and broker, with two API-only instances of analytics on one fresh database (no consumer, no scheduled job:
each test runs the counters job and the scan itself, at the instants it chooses)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest

from services.analytics.events.handlers import apply_ticket_event
from services.analytics.main import create
from services.analytics.settings import Settings
from services.analytics.store.anomalies import (ANOMALIES, CATCH_UP_DAYS, SCANS, WATERMARK, judged_through,
                                                run_scan)
from services.analytics.store.counters import CountersJob
from services.kit.store import eq
from tests.analytics.test_anomalies import at_local, opened, product
from tests.support import captured, eventually, running, settings_for


@pytest.fixture(scope="module")
async def replicas(infra):
    settings = settings_for(Settings, infra, "analytics", role="api")
    settings = settings.model_copy(update={"mongo_db": settings.mongo_db + "_catchup_" + uuid.uuid4().hex[:6]})
    first, second = create(settings), create(settings)
    async with running(first), running(second):
        yield first.state.runtime, second.state.runtime


async def load(rt, envelopes) -> None:
    await asyncio.gather(*(apply_ticket_event(rt, e) for e in envelopes))
    await CountersJob(rt.store, "tickets").run()  # volumes are read from the counters


async def spike_after_quiet_weeks(rt, code: str, city: str, spike_day: date) -> None:
    """2 tickets on each of the 8 Tuesdays and Wednesdays before `spike_day` (a Tuesday), 20 on it, 2 the day
    after."""
    envelopes = []
    for week in range(1, 9):
        for offset in (0, 1):
            day = spike_day - timedelta(weeks=week) + timedelta(days=offset)
            envelopes += [opened(code, city, at_local(day, 10, i)) for i in range(2)]
    envelopes += [opened(code, city, at_local(spike_day, 11, i)) for i in range(20)]
    envelopes += [opened(code, city, at_local(spike_day + timedelta(days=1), 11, i)) for i in range(2)]
    await load(rt, envelopes)


def judged(reports) -> list[tuple[date, bool]]:
    """The (day, partial) judged for the product dimension (the city's are the same days)."""
    return [(r.day, r.partial) for r in reports[:len(reports) // 2]]


async def test_days_missed_while_down_are_judged_by_the_next_run_once(replicas, infra):
    rt, other = replicas
    code, city = product(), "东营"
    spike_day = date(2026, 9, 15)  # a Tuesday
    await spike_after_quiet_weeks(rt, code, city, spike_day)

    # The first run ever (Monday 09:00, no watermark): yesterday and today so far, nothing older.
    monday = spike_day - timedelta(days=1)
    assert await judged_through(rt.store) is None
    assert judged(await run_scan(rt, at_local(monday, 9))) == [(monday - timedelta(days=1), False), (monday, True)]
    assert await judged_through(rt.store) == monday - timedelta(days=1)

    # No replica runs the job from Monday 09:00 to Friday 10:00: the spike on Tuesday went unjudged. The next run
    # judges Monday (complete now), Tuesday, Wednesday and Thursday, then Friday so far; both replicas at once, as
    # two that overlap after a stall would.
    friday = spike_day + timedelta(days=3)
    async with captured(infra, "analytics.anomaly.detected") as received:
        first, second = await asyncio.gather(run_scan(rt, at_local(friday, 10)), run_scan(other, at_local(friday, 10)))
        days = [(monday + timedelta(days=n), False) for n in range(4)] + [(friday, True)]
        assert judged(first) == judged(second) == days
        # one episode of the product, opened by one of the two runs (the reports of a dimension come together)
        [anomaly_id] = [i for run in (first, second) for r in run[:len(days)] for i in r.opened]
        doc = await rt.store[ANOMALIES].find_one({"_id": eq(anomaly_id)})
        assert (doc["start_day"], doc["ended_on"], doc["ongoing"]) == ("2026-09-15", "2026-09-16", False)
        assert [d["day"] for d in doc["days"]] == ["2026-09-15"]

        async def events():
            return [e for e in await received() if e["data"]["key"] == code]

        [event] = await eventually(events, what="the missed spike's analytics.anomaly.detected")
        assert event["subject"] == anomaly_id and event["data"]["day"] == "2026-09-15"
        assert event["data"]["count"] == 20 and event["data"]["partial"] is False
    assert await judged_through(rt.store) == friday - timedelta(days=1)

    # Run again later that day: only Thursday (complete) and Friday, nothing new.
    again = await run_scan(other, at_local(friday, 16))
    assert judged(again) == [(friday - timedelta(days=1), False), (friday, True)]
    assert [i for r in again for i in r.opened] == []


async def test_the_catch_up_is_bounded_and_the_watermark_never_moves_back(replicas):
    rt, _ = replicas
    current = date(2026, 11, 20)
    # the job last ran on 2 January
    await rt.store.change(SCANS, WATERMARK, lambda current: ({"_id": WATERMARK, "through": "20260101"}, []))
    reports = await run_scan(rt, at_local(current, 9))
    days = judged(reports)
    assert days[0] == (current - timedelta(days=CATCH_UP_DAYS), False) and days[-1] == (current, True)
    assert len(days) == CATCH_UP_DAYS + 1
    assert await judged_through(rt.store) == current - timedelta(days=1)

    # a replica that stalled and finishes a run of an earlier day does not take the watermark back
    await run_scan(rt, at_local(current - timedelta(days=5), 9))
    assert await judged_through(rt.store) == current - timedelta(days=1)
