"""Scheduled work of analytics (kit/scheduler.py: one replica at a time, in the processes that consume events)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.analytics.store.reports import ensure_monthly_reports
from services.kit.app import Runtime
from services.kit.scheduler import PeriodicJob


def jobs(rt: Runtime) -> list[PeriodicJob]:
    async def monthly_reports() -> None:
        # From the 1st of a month (Asia/Shanghai) on, last month's reports exist; every other run finds them kept.
        await ensure_monthly_reports(rt.store, now=datetime.now(UTC))

    return [PeriodicJob("monthly_reports", getattr(rt.settings, "reports_every_seconds", 3600.0), monthly_reports)]
