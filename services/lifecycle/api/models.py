"""Request and response bodies of the lifecycle API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.vocabulary import KIND_LABELS, Cause, Kind, Stage
from services.lifecycle.domain import stages
from services.lifecycle.domain.catalog import CODE_PATTERN


class ProductCreate(BaseModel):
    """Register a new product; it starts in stage `demand` (需求提出)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"code": "smart_hall", "name": "智慧营业厅", "name_en": "Smart business hall",
         "description": "为地市营业厅提供排队叫号、业务预约与客流分析的信息化产品", "platform_code": "cloud",
         "vendor": "vendor-07", "product_managers": ["pm-06"]},
        {"code": "smart_elderly_care", "name": "智慧养老", "platform_code": "video"},
    ]})

    code: str = Field(pattern=CODE_PATTERN, description="Stable identifier: lowercase letters, digits, `_`",
                      examples=["smart_hall"])
    name: str = Field(min_length=1, max_length=80, description="Product name (中文名称)", examples=["智慧营业厅"])
    name_en: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=2000)
    platform_code: str | None = Field(None, description="The platform it runs on (所属平台), if any")
    vendor: str | None = Field(None, max_length=60, description="Vendor id (厂家), e.g. `vendor-05`")
    product_managers: list[str] = Field([], max_length=20,
                                        description="Product manager ids (产品经理); default: the caller")

    @field_validator("name")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class CatalogEntry(BaseModel):
    code: str
    name: str
    name_en: str | None = None
    description: str | None = None
    stage: Stage
    stage_label: str = Field(description="Chinese label of the stage (阶段), e.g. 商用")
    vendor: str | None = None
    product_managers: list[str] = []
    sample: bool = Field(False, description="True for illustrative seed data not named in the source document")
    budget_cny: int | None = Field(None, description="Budget (预算), CNY; ≥ 1,000,000 needs a decision meeting")
    stage_entered_at: datetime | None = Field(None, description="When it entered its current stage")
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: dict):
        return cls.model_validate({**doc, "stage_label": stages.label(doc["stage"])})


class Product(CatalogEntry):
    platform_code: str | None = Field(None, description="The platform it runs on (所属平台)")


class Platform(CatalogEntry):
    product_count: int = Field(0, description="Products on this platform")


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None = None


class PlatformPage(BaseModel):
    items: list[Platform]
    next_cursor: str | None = None


class BacklogItem(BaseModel):
    id: str
    product_code: str
    key: str = Field(description="The normalised title that groups tickets into this item")
    title: str = Field(description="Title of the first ticket (标题)")
    question: str = Field(description="Question of the first ticket (问题描述)")
    count: int = Field(description="How many tickets raised it")
    ticket_ids: list[str]
    kinds: list[Kind] = Field(description="Ticket kinds among them (建议/投诉/…)")
    kind_labels: list[str]
    causes: list[Cause] = Field(description="Causes recorded when resolving (产品缺陷/功能需求)")
    first_seen: datetime
    last_seen: datetime

    @classmethod
    def of(cls, doc: dict) -> BacklogItem:
        return cls.model_validate({**doc, "id": doc["_id"],
                                   "kind_labels": [KIND_LABELS[Kind(k)] for k in doc["kinds"]]})


class BacklogPage(BaseModel):
    product_code: str
    items: list[BacklogItem]
    next_cursor: str | None = None

