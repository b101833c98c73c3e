"""Scheduled work of analytics (kit/scheduler.py: one replica at a time, in the processes that consume events)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.analytics.events.handlers import TICKETS_QUEUE
from services.analytics.store import anomalies
from services.analytics.store.collections import TICKETS
from services.analytics.store.counters import CountersJob
from services.analytics.store.reports import ensure_monthly_reports
from services.kit.app import Runtime
from services.kit.scheduler import PeriodicJob


def jobs(rt: Runtime) -> list[PeriodicJob]:
    counters = CountersJob(rt.store, TICKETS, queue_depth=lambda: rt.bus.queue_depth(TICKETS_QUEUE))

    async def monthly_reports() -> None:
        # From the 1st of a month (Asia/Shanghai) on, last month's reports exist; every other run finds them kept.
        await ensure_monthly_reports(rt.store, now=datetime.now(UTC))

    return [
        # the counters every figure is read from: the delay from a ticket event to the figures
        PeriodicJob("counters", rt.settings.counters_every_seconds, counters.run),
        anomalies.job(rt),  # 突然变化
        PeriodicJob("monthly_reports", rt.settings.reports_every_seconds, monthly_reports),
    ]
