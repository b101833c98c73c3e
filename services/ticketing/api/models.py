"""Request and response bodies of the ticketing API (SPEC §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.vocabulary import (
    CITIES, KIND_LABELS, STATUS_LABELS, Cause, Channel, Industry, Kind, Priority, TicketStatus,
)
from services.ticketing.domain.ticket import Customer, Ticket

class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "王经理", "contact": "13905310000", "group_name": "济南市某局", "group_code": "JN-GOV-0012"}]})

    name: str = Field(min_length=1, max_length=100, description="客户姓名")
    contact: str | None = Field(None, max_length=100, description="联系方式")
    group_name: str = Field(min_length=1, max_length=200, description="集团名称")
    group_code: str | None = Field(None, max_length=50, description="集团编号")


class TicketIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "complaint", "channel": "account_manager", "product_code": "mobile_office", "city": "济南",
         "industry": "government", "priority": "high", "title": "移动办公审批流程无法提交",
         "description": "集团用户反映：移动办公客户端提交请假审批时一直提示“网络异常”，已持续两天，影响全局日常办公，"
                        "要求尽快解决并说明原因。",
         "customer": {"name": "王经理", "contact": "13905310000", "group_name": "济南市某局",
                      "group_code": "JN-GOV-0012"},
         "received_at": "2026-11-25T09:12:00+08:00"},
        {"kind": "fault", "channel": "call_center", "product_code": "remote_eye", "city": "青岛",
         "industry": "retail", "severity": 2, "title": "千里眼摄像头全部离线",
         "description": "门店12路摄像头自今晨7点起全部显示离线，设备指示灯正常，已重启路由器无效。",
         "customer": {"name": "李店长", "contact": "0532-80000000", "group_name": "青岛市某连锁超市"}},
        {"kind": "consultation", "channel": "customer", "product_code": "group_directory", "city": "淄博",
         "title": "集团通讯录如何批量导入员工", "description": "请问集团通讯录管理后台能否用Excel批量导入员工信息？",
         "customer": {"name": "张女士", "group_name": "淄博市某中学"}},
    ]})

    kind: Kind = Field(description="consultation 咨询 | complaint 投诉 | suggestion 建议 | fault 故障")
    channel: Channel = Field(description="接入渠道")
    product_code: str = Field(min_length=1, max_length=40, description="产品编码 (lifecycle catalog)")
    city: str = Field(description="地市, one of the 16 cities of Shandong")
    industry: Industry | None = Field(None, description="行业")
    priority: Priority | None = None
    severity: int | None = Field(None, ge=1, le=3, description="faults only: 1 highest … 3")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=10_000, description="the question or problem 问题描述")
    customer: CustomerIn
    received_at: datetime | None = Field(
        None, description="when the requester contacted the channel (the SLA clocks run from it); default now; "
                          "may lie in the past, not in the future; with a UTC offset",
        examples=["2026-11-25T09:12:00+08:00"])

    @field_validator("received_at")
    @classmethod
    def with_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-25T09:12:00+08:00")
        if value is not None and value.year < 2000:
            raise ValueError("lies before 2000")
        return value

    @field_validator("city")
    @classmethod
    def known_city(cls, value: str) -> str:
        if value not in CITIES:
            raise ValueError(f"unknown city; one of {', '.join(CITIES)}")
        return value

    @model_validator(mode="after")
    def severity_for_faults_only(self) -> "TicketIn":
        if self.severity is not None and self.kind != Kind.fault:
            raise ValueError("severity applies to faults only")
        return self

    def customer_model(self) -> Customer:
        return Customer(**self.customer.model_dump())


class AssignIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"assignee": "agent-jinan-07"}]})

    assignee: str = Field(min_length=1, max_length=100)


class EscalateIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"tier": 2, "target": "pm-01", "reason": "审批提交失败涉及客户端版本兼容问题，客服口径无法答复，请产品经理核实"},
        {"tier": 3, "target": "vendor-05", "reason": "产品经理确认为服务端接口超时，需厂家排查修复"},
    ]})

    tier: Literal[2, 3] = Field(description="2 产品经理 | 3 厂家/其他部门")
    target: str = Field(min_length=1, max_length=100, description="who: product manager id, vendor id or department")
    reason: str = Field(min_length=1, max_length=2000)


class NoteIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"body": "您好，您反映的审批提交问题已转产品经理核查，预计明日下班前给您答复。", "visibility": "requester"},
        {"body": "已联系客户确认客户端版本为3.2.1，问题可复现。", "visibility": "internal"},
    ]})

    body: str = Field(min_length=1, max_length=10_000)
    visibility: Literal["internal", "requester"] = "internal"


class ResolveIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"answer": "经核实为客户端3.2.1版本的已知问题，请升级至3.2.5及以上版本后重新提交审批。",
         "cause": "product_defect"},
        {"answer": "集团通讯录支持Excel批量导入：登录管理后台→通讯录管理→批量导入，按模板填写后上传即可。",
         "cause": "usage_misunderstanding", "knowledge_article_id": "KB-000123"},
    ]})

    answer: str | None = Field(None, min_length=1, max_length=10_000,
                               description="答复; after a hand-back, omitted = relay the proposed answer as it is")
    cause: Cause | None = Field(None, description="after a hand-back, omitted = the proposed answer's cause")
    knowledge_article_id: str | None = Field(None, max_length=40, description="the article used to answer, if any")


class FeedbackIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"satisfied": True, "score": 5, "comment": "升级后已能正常提交，处理及时，满意"},
        {"satisfied": False, "score": 2, "comment": "升级后仍然提示网络异常，问题未解决"},
    ]})

    satisfied: bool
    score: int | None = Field(None, ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class SlaBreachOut(BaseModel):
    deadline: Literal["respond", "resolve", "update"]
    deadline_at: datetime
    raised_at: datetime
    late_seconds: float = Field(description="how late when raised, or when the deadline was met late")


class Sla(BaseModel):
    respond_by: datetime
    resolve_by: datetime
    update_by: datetime | None = Field(None, description="the next progress report to the requester due "
                                                         "(complaints while open, 定期通报处理进度)")
    policy_version: int
    paused_seconds: float = Field(description="the time pauses (待补充) stopped the clocks, as the ticket's clock "
                                              "counts it (working time, or wall time for faults)")
    responded_timely: bool | None
    timely: bool | None
    breached: bool
    breaches: list[SlaBreachOut] = Field([], description="deadlines missed (超时), as raised; kept after a late "
                                                        "action, an update deadline once per instant missed")


class TicketOut(BaseModel):
    id: str
    kind: Kind
    kind_label: str
    status: TicketStatus
    status_label: str
    channel: Channel
    product_code: str
    city: str
    industry: Industry | None
    priority: Priority
    severity: int | None
    title: str
    description: str
    customer: dict[str, Any]
    tier: int
    tier_reached: int
    assignee: str | None
    escalation: dict[str, Any] | None
    sla: Sla
    received_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    answer: str | None
    cause: Cause | None
    knowledge_article_id: str | None
    feedback: dict[str, Any] | None
    reopen_count: int
    notes: list[dict[str, Any]]
    attachments: list[dict[str, Any]] = []  # id, filename, content_type, size, sha256, uploaded_by, uploaded_at
    # 待补充: the pauses as they happened and their wall-clock total; sla.paused_seconds is what they took off
    # the clocks (working time for business-time targets, wall time for faults)
    pauses: list[dict[str, Any]] = []
    paused_seconds: float = 0
    proposed_answer: dict[str, Any] | None = Field(None, description="an upper tier's answer for the front line to relay")
    tier_path: list[dict[str, Any]] = Field([], description="the tiers that held the ticket, from tier 1 at opening")
    close_reason: Literal["satisfied", "no_feedback", "merged"] | None = None
    merged_into: str | None = None
    merged_from: list[str] = []
    related_requesters: list[dict[str, Any]] = Field([], description="requesters of duplicates merged into it")
    filed_by: str
    opened_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, ticket: Ticket, now: datetime, *, internal_notes: bool = True) -> "TicketOut":
        data = ticket.model_dump(exclude={"history", "respond_by", "resolve_by", "escalated_to", "update_by",
                                          "sla_policy_version", "sla_revision", "sla_paused_seconds",
                                          "sla_breaches", "update_reminders"})
        if not internal_notes:
            data["notes"] = [n for n in data["notes"] if n["visibility"] == "requester"]
        data["tier_path"] = [{"tier": 1, "via": "open", "target": None, "at": ticket.opened_at}, *data["tier_path"]]
        return cls(**data, kind_label=KIND_LABELS[ticket.kind], status_label=STATUS_LABELS[ticket.status],
                   paused_seconds=ticket.paused_seconds(now),
                   sla=Sla(respond_by=ticket.respond_by, resolve_by=ticket.resolve_by, update_by=ticket.update_by,
                           policy_version=ticket.sla_policy_version, paused_seconds=ticket.sla_paused_seconds,
                           responded_timely=ticket.responded_timely, timely=ticket.timely,
                           breached=ticket.breached(now),
                           breaches=[b.model_dump() for b in ticket.sla_breaches]))


class PossibleDuplicateOut(BaseModel):
    """An open ticket of the same customer group and product whose text is like the new one's (domain/duplicates.py)."""

    id: str
    title: str
    status: TicketStatus
    opened_at: datetime
    similarity: float = Field(description="Jaccard index of the two tickets' words, 0–1")
    shared_words: list[str]


class TicketOpenedOut(TicketOut):
    possible_duplicates: list[PossibleDuplicateOut] = []


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None


class HistoryOut(BaseModel):
    ticket_id: str
    items: list[dict[str, Any]]
