"""The analytics REST API (SPEC §5): thin, it parses the query, reads the store and calls the domain."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from contracts.vocabulary import CITIES, Kind, Role
from services.analytics.api.models import Summary
from services.analytics.domain.metrics import summarize
from services.analytics.domain.period import PeriodError, parse_period
from services.analytics.store.collections import SUMMARY_FIELDS, TICKETS, newest_event_time, ticket_query
from services.kit.app import Runtime, runtime
from services.kit.auth import require_roles
from services.kit.problems import invalid

router = APIRouter(prefix="/v1", tags=["metrics"])

METRICS_READERS = (Role.analyst, Role.product_manager, Role.agent, Role.complaint_handler, Role.ops_engineer)
PERIOD_HELP = ("ISO 8601 date or datetime; without an offset it is Asia/Shanghai time. `from` is inclusive; "
               "a date `to` includes that whole day, a datetime `to` is exclusive.")


@router.get("/metrics/summary", response_model=Summary, response_model_by_alias=True,
            dependencies=[Depends(require_roles(*METRICS_READERS))],
            summary="运营指标汇总 (opened, resolved, closed, backlog, 及时率, 满意度, …)")
async def metrics_summary(
    from_: str | None = Query(None, alias="from", description=PERIOD_HELP),
    to: str | None = Query(None, description=PERIOD_HELP),
    product_code: str | None = Query(None, min_length=1, max_length=64),
    city: str | None = Query(None, description="one of the 16 cities, e.g. 济南"),
    kind: Kind | None = Query(None),
    rt: Runtime = Depends(runtime),
) -> dict:
    try:
        period = parse_period(from_, to)
    except PeriodError as error:
        raise invalid(error.field, error.message) from error
    if city is not None and city not in CITIES:
        raise invalid("city", f"{city!r} is not one of the cities: {', '.join(CITIES)}")
    tickets = rt.store[TICKETS]
    query = ticket_query(product_code=product_code, city=city, kind=kind.value if kind else None,
                         opened_before=period.end)
    # Computed in Python over the matching documents: fine at this scale; a later issue can move the counting
    # into an aggregation pipeline.
    docs = await tickets.find(query, {f: 1 for f in SUMMARY_FIELDS}).to_list()
    return {
        "filters": {"from": from_, "to": to, "product_code": product_code, "city": city, "kind": kind},
        "period": {"start": period.start, "end": period.end},
        "as_of": await newest_event_time(tickets),
        **summarize(docs, period),
    }
