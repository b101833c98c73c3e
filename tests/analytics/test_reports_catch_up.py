"""The monthly_reports job keeps the months it missed (store/reports.py `ensure_monthly_reports`): every month after
its persisted watermark up to last month, at most `CATCH_UP_MONTHS`, oldest first; on the real store, with an
API-only instance on a fresh database (no scheduled job: the test runs the job's body at the instants it chooses)."""

import uuid
from datetime import UTC, datetime

import pytest

from services.analytics.events.handlers import apply_ticket_event
from services.analytics.main import create
from services.analytics.settings import Settings
from services.analytics.store.reports import (CATCH_UP_MONTHS, REPORTS, ensure_monthly_reports, kept_through,
                                              months_to_keep)
from tests.analytics.test_api import opened, product
from tests.support import running, settings_for, token


@pytest.fixture(scope="module")
async def quiet(infra):
    settings = settings_for(Settings, infra, "analytics", role="api")
    app = create(settings.model_copy(update={"mongo_db": settings.mongo_db + "_reports_" + uuid.uuid4().hex[:6]}))
    async with running(app) as client:
        yield app.state.runtime, client


def test_months_to_keep():
    assert months_to_keep("2025-03", None) == ["2025-03"]                       # the first run: last month only
    assert months_to_keep("2025-03", "2025-03") == ["2025-03"]                  # kept already: checked again
    assert months_to_keep("2025-03", "2025-05") == ["2025-03"]                  # a watermark past it
    assert months_to_keep("2025-03", "2024-11") == ["2024-12", "2025-01", "2025-02", "2025-03"]
    bounded = months_to_keep("2025-03", "2019-01")
    assert len(bounded) == CATCH_UP_MONTHS and bounded[0] == "2024-04" and bounded[-1] == "2025-03"


async def test_months_missed_while_down_are_kept_by_the_next_run(quiet, infra):
    rt, client = quiet
    codes = {month: product() for month in (1, 2, 3)}
    for month, code in codes.items():
        await apply_ticket_event(rt, opened(f"ZX-R{month}", code, opened_at=datetime(2025, month, 10, 2, tzinfo=UTC)))

    first_of_january = datetime(2024, 12, 31, 17, tzinfo=UTC)  # 01:00 on 1 January in Shanghai
    assert await ensure_monthly_reports(rt.store, now=first_of_january) == ["2024-12:*"]
    assert await kept_through(rt.store) == "2024-12"

    # No replica runs the job from January to 2 April: January and February were never kept. The next run keeps
    # them, oldest first, then March.
    april = datetime(2025, 4, 2, 1, tzinfo=UTC)
    made = await ensure_monthly_reports(rt.store, now=april)

    def kept_for(month: int) -> list[str]:  # a ticket still open is a figure (backlog) of every later month
        return [*sorted(f"2025-{month:02d}:{codes[m]}" for m in codes if m <= month), f"2025-{month:02d}:*"]

    assert made == [*kept_for(1), *kept_for(2), *kept_for(3)]
    assert await kept_through(rt.store) == "2025-03"
    assert await ensure_monthly_reports(rt.store, now=april) == []
    kept = await rt.store[REPORTS].find({"month": "2025-02"}, {"_id": 1}).to_list()
    assert sorted(d["_id"] for d in kept) == sorted(kept_for(2))

    response = await client.get("/v1/reports/monthly/2025-01", headers=token(infra, "analyst"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kept"] is True and datetime.fromisoformat(body["generated_at"]) == april
    assert body["tables"][0]["rows"][0]["opened"] == 1

    # a run of an earlier month (a stalled replica) does not take the watermark back
    await ensure_monthly_reports(rt.store, now=first_of_january)
    assert await kept_through(rt.store) == "2025-03"
