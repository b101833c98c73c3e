"""Response models of the analytics API (the Chinese labels are what people see on a report)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from contracts.vocabulary import Kind


class SummaryFilters(BaseModel):
    from_: str | None = Field(None, alias="from", description="统计起点 (as given)")
    to: str | None = Field(None, description="统计终点 (as given)")
    product_code: str | None = Field(None, description="产品编码")
    city: str | None = Field(None, description="地市")
    kind: Kind | None = Field(None, description="工单类型")

    model_config = {"populate_by_name": True}


class PeriodOut(BaseModel):
    start: datetime | None = Field(None, description="周期开始 (inclusive, UTC)")
    end: datetime | None = Field(None, description="周期结束 (exclusive, UTC)")


class TimelinessRate(BaseModel):
    response: float | None = Field(None, description="响应及时率: responded in time ÷ responded in the period")
    resolution: float | None = Field(None, description="解决及时率: resolved in time ÷ resolved in the period")


class ResolutionHours(BaseModel):
    avg: float | None = Field(None, description="平均处理时长 (hours, opened → resolved)")
    p90: float | None = Field(None, description="90 分位处理时长 (hours, nearest rank)")


class EscalationRate(BaseModel):
    tier2: float | None = Field(None, description="升级至二线 (产品经理) 比例: reached tier ≥ 2 ÷ opened")
    tier3: float | None = Field(None, description="升级至三线 (厂家/其他部门) 比例: reached tier 3 ÷ opened")


class Summary(BaseModel):
    filters: SummaryFilters
    period: PeriodOut
    as_of: datetime | None = Field(None, description="数据截至: time of the newest event applied to the read model")
    count: int = Field(description="涉及工单数: tickets opened, responded, resolved or closed in the period, or open")
    opened: int = Field(description="受理量: opened in the period")
    resolved: int = Field(description="答复量: (last) resolution in the period")
    closed: int = Field(description="归档量: closed in the period")
    backlog: int = Field(description="积压量: opened before the period's end and not closed as of `as_of`")
    timeliness_rate: TimelinessRate = Field(description="及时率")
    satisfaction_rate: float | None = Field(None, description="满意度: satisfied ÷ closed with feedback")
    resolution_hours: ResolutionHours = Field(description="处理时长")
    reopen_rate: float | None = Field(None, description="重开率: reopened at least once ÷ resolved")
    escalation_rate: EscalationRate = Field(description="升级率")
