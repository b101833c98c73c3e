"""The portfolio's window on daily maintenance: overdue inspections per target. Until the maintenance records
land (store/maintenance.py) there are none to report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.kit.app import Runtime


async def overdue_inspections(rt: Runtime, now: datetime) -> dict[str, list[dict[str, Any]]]:
    try:
        from services.lifecycle.store import maintenance
    except ImportError:
        return {}
    return await maintenance.overdue_inspections(rt, now)
