"""Request and response bodies of the stage machine: documents, decisions, the product's budget and vendor, and
transitions (SPEC §3 gates)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.vocabulary import Stage
from services.lifecycle.domain.documents import DOCUMENT_LABELS

DocumentType = Literal[tuple(DOCUMENT_LABELS)]  # type: ignore[valid-type]


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value.strip() if value is not None else None


class DocumentCreate(BaseModel):
    """File a gate document: the first of its type is version 1, the next one of the same type version 2, …"""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"type": "research_report", "title": "智慧营业厅产品调研报告", "ref": "oa://docs/2026/1187",
         "approved": True, "at": "2026-10-12T09:00:00+08:00"}]})

    type: DocumentType = Field(description="Document type, e.g. `research_report` (调研报告)")
    title: str = Field(min_length=1, max_length=200)
    ref: str = Field(min_length=1, max_length=500, description="Where the file is: a URL, an OA number, a file id")
    approved: bool = Field(False, description="Approved (审核通过) as filed; a vendor's filing never is")
    at: AwareDatetime | None = Field(None, description="When it was written or approved (default now); never in the future")

    _blank = field_validator("title", "ref")(_not_blank)


class Document(BaseModel):
    id: str
    product_code: str
    type: str
    type_label: str
    version: int
    title: str
    ref: str
    approved: bool
    approved_by: str | None = None
    approved_at: datetime | None = None
    owner: str
    at: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, doc: dict) -> Document:
        return cls.model_validate({**doc, "id": doc["_id"], "type_label": DOCUMENT_LABELS[doc["type"]]})


class DocumentPage(BaseModel):
    items: list[Document]
    next_cursor: str | None = None


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "review", "outcome": "approved", "participants": ["总经理", "信息化中心主任"],
         "at": "2026-10-20T15:00:00+08:00", "note": "同意开发"}]})

    kind: Literal["review", "decision_meeting"] = Field(description="`review` 评审决策 or `decision_meeting` 决策会")
    outcome: Literal["approved", "rejected"]
    participants: list[str] = Field(min_length=1, max_length=50)
    note: str | None = Field(None, max_length=2000)
    ref: str | None = Field(None, max_length=500, description="The minutes (会议纪要)")
    at: AwareDatetime | None = None


class Decision(BaseModel):
    id: str
    product_code: str
    kind: str
    kind_label: str
    outcome: str
    outcome_label: str
    participants: list[str]
    note: str | None = None
    ref: str | None = None
    by: str
    at: datetime
    recorded_at: datetime


class ProductPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"budget_cny": 1500000, "vendor": "vendor-07", "note": "立项预算经方案部确认"},
        {"product_managers": ["pm-06", "pm-02"]}]})

    budget_cny: int | None = Field(None, ge=0, le=10_000_000_000, description="Budget (预算) in CNY")
    vendor: str | None = Field(None, min_length=1, max_length=60, description="The chosen vendor (厂家)")
    product_managers: list[str] | None = Field(None, min_length=1, max_length=20)
    note: str | None = Field(None, max_length=500, description="Why (shown on the timeline)")


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"to": "review", "note": "调研报告已审核"},
        {"to": "trial", "at": "2026-09-01T09:00:00+08:00"},
        {"to": "development", "override_reason": "领导特批：合同盖章流程中，先行开发"}]})

    to: Stage
    note: str | None = Field(None, max_length=2000, description="Why; required when retiring")
    at: AwareDatetime | None = Field(None, description="When it really happened (default now): never in the future, "
                                                       "never before the previous transition")
    override_reason: str | None = Field(None, min_length=1, max_length=2000,
                                        description="Admin only: move despite missing gate items, recorded with them")

    _blank = field_validator("note", "override_reason")(_not_blank)


class MissingItem(BaseModel):
    code: str
    label: str


class Transition(BaseModel):
    from_stage: Stage
    to_stage: Stage
    from_label: str
    to_label: str
    at: datetime
    by: str
    note: str | None = None
    override_reason: str | None = None
    overridden: list[MissingItem] = []


class GateView(BaseModel):
    """What the next step needs, as of now."""

    stage: Stage
    stage_label: str
    entered_at: datetime
    next_stage: Stage | None
    missing: list[MissingItem]
    earliest_end: str | None = Field(None, description="For a trial stage: the first day it may end (2 months)")
