"""The analytics REST API (SPEC §5): thin, it parses the query, checks the reader's scope and reads the counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from contracts.vocabulary import (CAUSE_LABELS, CHANNEL_LABELS, CITIES, INDUSTRY_LABELS, KIND_LABELS, Cause, Channel,
                                  Industry, Kind)
from services.analytics.api.models import Breakdown, Summary, Timeseries
from services.analytics.domain import counters as c
from services.analytics.domain.period import Period, PeriodError, local_days, parse_period
from services.analytics.domain.scope import READERS, narrow
from services.analytics.store.collections import PRODUCTS
from services.analytics.store.metrics import MetricsQuery, empty_figures, freshness, grouped_figures, series
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.catalog import names_of
from services.kit.problems import invalid

router = APIRouter(prefix="/v1", tags=["metrics"])

METRICS_READERS = READERS
PERIOD_HELP = ("ISO 8601 date, or a datetime at midnight (counted per whole day); without an offset it is "
               "Asia/Shanghai time. `from` is inclusive; a date `to` includes that whole day.")
DIMENSION_LABELS: dict[str, dict[str, str]] = {
    "city": {city: city for city in CITIES},
    "kind": {k.value: label for k, label in KIND_LABELS.items()},
    "channel": {k.value: label for k, label in CHANNEL_LABELS.items()},
    "industry": {k.value: label for k, label in INDUSTRY_LABELS.items()},
    "cause": {k.value: label for k, label in CAUSE_LABELS.items()},
}
NONE_LABELS = {"industry": "未填行业", "cause": "未归因", "product_code": "未知产品"}
# metric of a time series → where its value sits in the summary figures
METRICS: dict[str, tuple[str, ...]] = {
    "opened": ("opened",), "resolved": ("resolved",), "closed": ("closed",), "backlog": ("backlog",),
    "count": ("count",), "merged": ("merged",),
    "response_timeliness": ("timeliness_rate", "response"),
    "resolution_timeliness": ("timeliness_rate", "resolution"),
    "satisfaction": ("satisfaction_rate",), "reopen_rate": ("reopen_rate",),
    "resolution_hours_avg": ("resolution_hours", "avg"), "resolution_hours_p90": ("resolution_hours", "p90"),
    "tier2_rate": ("escalation_rate", "tier2"), "tier3_rate": ("escalation_rate", "tier3"),
}
Reader = Annotated[Principal, Depends(require_roles(*METRICS_READERS))]


@dataclass
class MetricsParams:
    """The filters every metrics route takes."""
    from_: str | None = Query(None, alias="from", description=PERIOD_HELP, examples=["2026-03-01"])
    to: str | None = Query(None, description=PERIOD_HELP, examples=["2026-03-31"])
    product_code: str | None = Query(None, min_length=1, max_length=64, description="产品编码")
    city: str | None = Query(None, description="地市: one of the 16 cities, e.g. 济南")
    kind: Kind | None = Query(None, description="工单类型")
    channel: Channel | None = Query(None, description="受理渠道")
    industry: Industry | None = Query(None, description="行业")
    cause: Cause | None = Query(None, description="原因 (归因)")

    def echo(self) -> dict[str, Any]:
        return {"from": self.from_, "to": self.to, "product_code": self.product_code, "city": self.city,
                "kind": self.kind, "channel": self.channel, "industry": self.industry, "cause": self.cause}

    def period(self) -> Period:
        try:
            return parse_period(self.from_, self.to)
        except PeriodError as error:
            raise invalid(error.field, error.message) from error

    def query(self, principal: Principal, group: str | None = None) -> tuple[Period, MetricsQuery]:
        if self.city is not None and self.city not in CITIES:
            raise invalid("city", f"{self.city!r} is not one of the cities: {', '.join(CITIES)}")
        period = self.period()
        try:
            start, end = local_days(period)
        except PeriodError as error:
            raise invalid(error.field, error.message) from error
        asked = {"product_code": self.product_code, "city": self.city,
                 **{d: getattr(self, d).value if getattr(self, d) else None for d in ("kind", "channel", "industry",
                                                                                       "cause")}}
        return period, MetricsQuery(start, end, narrow(principal, asked), group)


def label(dimension: str, key: str) -> str:
    if key == c.NONE_KEY:
        return NONE_LABELS.get(dimension, "未填")
    return DIMENSION_LABELS.get(dimension, {}).get(key, key)


@router.get("/metrics/summary", response_model=Summary, response_model_by_alias=True,
            summary="运营指标汇总 (opened, resolved, closed, backlog, 及时率, 满意度, …)")
async def metrics_summary(principal: Reader, params: Annotated[MetricsParams, Depends()],
                          rt: Runtime = Depends(runtime)) -> dict:
    period, query = params.query(principal)
    meta, fresh = await freshness(rt.store)
    figures = (await grouped_figures(rt.store, meta, query)).get("", empty_figures())
    return {"filters": params.echo(), "period": {"start": period.start, "end": period.end},
            "as_of": fresh.as_of, "lag": fresh.lag, **figures}


@router.get("/metrics/breakdown", response_model=Breakdown, response_model_by_alias=True,
            summary="分组指标 (by city, industry, product, channel, cause or kind)")
async def metrics_breakdown(principal: Reader, params: Annotated[MetricsParams, Depends()],
                            dimension: str = Query(description="|".join(c.DIMENSIONS), examples=["city"]),
                            rt: Runtime = Depends(runtime)) -> dict:
    if dimension not in c.DIMENSIONS:
        raise invalid("dimension", f"{dimension!r} is not one of: {', '.join(c.DIMENSIONS)}")
    period, query = params.query(principal, group=dimension)
    meta, fresh = await freshness(rt.store)
    grouped = {c.unescape(key) if key != c.NONE_KEY else None: figures
               for key, figures in (await grouped_figures(rt.store, meta, query)).items()}
    names = await names_of(rt.store, PRODUCTS, [k for k in grouped if k]) if dimension == "product_code" else {}
    items = [{"key": key, "label": names.get(key) or label(dimension, key or c.NONE_KEY), **figures}
             for key, figures in grouped.items()]
    items.sort(key=lambda item: (-item["count"], str(item["key"])))
    return {"dimension": dimension, "filters": params.echo(), "period": {"start": period.start, "end": period.end},
            "items": items, "as_of": fresh.as_of, "lag": fresh.lag}


@router.get("/metrics/timeseries", response_model=Timeseries, response_model_by_alias=True,
            summary="指标趋势 (one figure per day, week or month)")
async def metrics_timeseries(principal: Reader, params: Annotated[MetricsParams, Depends()],
                             metric: str = Query(description="|".join(METRICS), examples=["opened"]),
                             interval: str = Query("day", description="day|week|month"),
                             rt: Runtime = Depends(runtime)) -> dict:
    if metric not in METRICS:
        raise invalid("metric", f"{metric!r} is not one of: {', '.join(METRICS)}")
    if interval not in ("day", "week", "month"):
        raise invalid("interval", f"{interval!r} is not one of: day, week, month")
    if not params.from_ or not params.to:
        raise invalid("from" if not params.from_ else "to", "a time series needs both `from` and `to`")
    period, query = params.query(principal)
    if (query.end - query.start).days > 3 * 366:
        raise invalid("to", "a time series spans at most three years")
    meta, fresh = await freshness(rt.store)
    points = []
    for first, after, figures in await series(rt.store, meta, query, interval):
        value: Any = figures
        for step in METRICS[metric]:
            value = value[step]
        points.append({"start": first, "end": after, "value": value})
    return {"metric": metric, "interval": interval, "filters": params.echo(),
            "period": {"start": period.start, "end": period.end}, "points": points,
            "as_of": fresh.as_of, "lag": fresh.lag}
