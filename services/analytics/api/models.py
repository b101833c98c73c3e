"""Response models of the analytics API (the Chinese labels are what people see on a report)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from contracts.vocabulary import Cause, Channel, Industry, Kind


class SummaryFilters(BaseModel):
    from_: str | None = Field(None, alias="from", description="统计起点 (as given)")
    to: str | None = Field(None, description="统计终点 (as given)")
    product_code: str | None = Field(None, description="产品编码")
    city: str | None = Field(None, description="地市")
    kind: Kind | None = Field(None, description="工单类型")
    channel: Channel | None = Field(None, description="受理渠道")
    industry: Industry | None = Field(None, description="行业")
    cause: Cause | None = Field(None, description="原因")

    model_config = {"populate_by_name": True}


class PeriodOut(BaseModel):
    start: datetime | None = Field(None, description="周期开始 (inclusive, UTC)")
    end: datetime | None = Field(None, description="周期结束 (exclusive, UTC)")


class TimelinessRate(BaseModel):
    response: float | None = Field(None, description="响应及时率: responded in time ÷ responded in the period")
    resolution: float | None = Field(None, description="解决及时率: resolved in time ÷ resolved in the period")


class ResolutionHours(BaseModel):
    avg: float | None = Field(None, description="平均处理时长 (hours, opened → resolved)")
    p90: float | None = Field(None, description="90 分位处理时长 (hours): the upper edge of the histogram bucket "
                                                "holding the 90th percentile (buckets of 15 min up to 4 h, 30 min "
                                                "up to 24 h, 2 h up to 72 h, 12 h beyond)")


class EscalationRate(BaseModel):
    tier2: float | None = Field(None, description="升级至二线 (产品经理) 比例: reached tier ≥ 2 ÷ opened")
    tier3: float | None = Field(None, description="升级至三线 (厂家/其他部门) 比例: reached tier 3 ÷ opened")


class Lag(BaseModel):
    queued_events: int | None = Field(None, description="ticket events waiting in the read model's queue when "
                                                        "the counters last caught up (None: the broker did not say)")
    pending_tickets: int = Field(description="changed tickets not yet counted when the counters job last looked "
                                             "(0: it had caught up; at most one batch)")
    seconds_since_caught_up: float | None = Field(None, description="seconds since the counters last held every "
                                                                    "ticket change the read model had")
    counted_at: datetime | None = Field(None, description="when the counters job last ran")


class Figures(BaseModel):
    count: int = Field(description="涉及工单数: tickets open at the period's start plus those opened in it")
    opened: int = Field(description="受理量: opened in the period")
    resolved: int = Field(description="答复量: (last) resolution in the period")
    closed: int = Field(description="归档量: closed in the period")
    backlog: int = Field(description="积压量: opened before the period's end and not closed by then")
    merged: int = Field(0, description="合并重复单: tickets opened in the period and later merged into another as its "
                                       "duplicate; they are in no other figure (the other ticket counts the contact)")
    timeliness_rate: TimelinessRate = Field(description="及时率")
    satisfaction_rate: float | None = Field(None, description="满意度: satisfied ÷ closed with feedback")
    resolution_hours: ResolutionHours = Field(description="处理时长")
    reopen_rate: float | None = Field(None, description="重开率: reopened at least once ÷ resolved")
    escalation_rate: EscalationRate = Field(description="升级率")


class Fresh(BaseModel):
    as_of: datetime | None = Field(None, description="数据截至: time of the newest ticket event the figures hold")
    lag: Lag = Field(description="how far the counters are behind the ticket events received")


class Summary(Figures, Fresh):
    filters: SummaryFilters
    period: PeriodOut


class BreakdownItem(Figures):
    key: str | None = Field(description="the dimension's value (None: not given on the ticket)")
    label: str = Field(description="中文名称")


class Breakdown(Fresh):
    dimension: str
    filters: SummaryFilters
    period: PeriodOut
    items: list[BreakdownItem] = Field(description="one per value with tickets, most tickets first")


class Point(BaseModel):
    start: date = Field(description="first day of the point (Asia/Shanghai)")
    end: date = Field(description="first day after it")
    value: float | int | None


class Timeseries(Fresh):
    metric: str
    interval: str
    filters: SummaryFilters
    period: PeriodOut
    points: list[Point]
