"""Procurement routes (立项招标, source §2.3): the six tendering steps of a product in stage `initiation`.

Only an admin or the product's manager records them: the centre runs the tender, the vendor is its outcome."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pymongo.errors import DuplicateKeyError

from contracts.vocabulary import Stage
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.problems import Problem, invalid
from services.lifecycle.api.access import load_entry, load_managed, require_reader
from services.lifecycle.api.moments import moment, now_ms, require_stage
from services.lifecycle.domain import procurement
from services.lifecycle.domain.procurement import STEP_DOCUMENT_TYPES, STEP_LABELS, OutOfOrder, Step
from services.lifecycle.events.catalog import registered_event
from services.lifecycle.store import procurement as store
from services.lifecycle.store.documents import file_document
from services.lifecycle.store.procurement import PROCUREMENT

router = APIRouter(prefix="/v1", tags=["procurement"])


# --- helpers shared with api/development.py ----------------------------------------------------------------

# --- models --------------------------------------------------------------------------------------------------

class DocumentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200, description="Document title (文档名称)", examples=["智慧营业厅采购合同"])
    ref: str = Field(min_length=1, max_length=500, description="Where the document is kept (file store path, URL or "
                                                               "OA number)", examples=["oa://contracts/2026/118"])


class ProcurementStepCreate(BaseModel):
    """Record one tendering step. `vendor` is required for `winner_confirmed` (it becomes the product's vendor),
    `document` for `contract_signed` (it is filed as the approved `contract` gate document)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"step": "procurement_request", "at": "2026-11-02T09:00:00+08:00", "note": "按山东公司招标采购流程提交采购申请",
         "document": {"title": "智慧营业厅采购申请", "ref": "oa://procurement/2026/031"}, "amount_cny": 800000},
        {"step": "winner_confirmed", "vendor": "vendor-07", "amount_cny": 760000},
        {"step": "contract_signed", "document": {"title": "智慧营业厅开发合同", "ref": "oa://contracts/2026/118"}},
    ]})

    step: Step = Field(description="procurement_request 采购申请 → tender_preparation 标书制作 → tender_issued 发标 → "
                                   "bid_evaluation 评标 → winner_confirmed 确认中标商 → contract_signed 合同签订")
    at: AwareDatetime | None = Field(None, description="When it happened (default now; never in the future, never "
                                                       "before the previous step)")
    note: str | None = Field(None, max_length=2000)
    document: DocumentRef | None = None
    vendor: str | None = Field(None, min_length=1, max_length=60, description="The winning bidder's vendor id (中标商)")
    amount_cny: int | None = Field(None, ge=0, le=10_000_000_000, description="Amount in CNY (预算/中标/合同金额)")


class ProcurementStep(BaseModel):
    step: Step
    step_label: str
    status: str = Field(description="done | pending")
    status_label: str
    at: datetime | None = None
    by: str | None = None
    note: str | None = None
    document: DocumentRef | None = None
    vendor: str | None = None
    amount_cny: int | None = None


class Procurement(BaseModel):
    product_code: str
    stage: Stage
    vendor: str | None = Field(None, description="The product's vendor (set by winner_confirmed)")
    next_step: Step | None = Field(None, description="The step to record next; null once the contract is signed")
    next_step_label: str | None = None
    steps: list[ProcurementStep]


async def overview(rt: Runtime, product: dict) -> Procurement:
    records = await store.steps(rt, product["code"])
    nxt = procurement.next_step({Step(r["step"]) for r in records})
    return Procurement(product_code=product["code"], stage=product["stage"], vendor=product.get("vendor"),
                       next_step=nxt, next_step_label=STEP_LABELS[nxt] if nxt else None,
                       steps=[ProcurementStep.model_validate(s) for s in procurement.overview(records)])


# --- routes --------------------------------------------------------------------------------------------------

@router.get("/products/{code}/procurement", response_model=Procurement,
            summary="The tendering steps (立项招标) in order, done or pending")
async def get_procurement(code: str, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_reader(principal)
    _, product = await load_entry(rt, code)
    return await overview(rt, product)


@router.post("/products/{code}/procurement/steps", response_model=Procurement, status_code=201,
             summary="Record a tendering step; admin or the product's manager, in stage initiation")
async def record_step(code: str, body: ProcurementStepCreate, response: Response,
                      principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    collection, product = await load_managed(rt, code, principal)
    require_stage(product, Stage.initiation)
    step = body.step
    if step == Step.winner_confirmed and not body.vendor:
        raise invalid("vendor", "required for winner_confirmed")
    if step != Step.winner_confirmed and body.vendor:
        raise invalid("vendor", "only winner_confirmed names the vendor")
    if step == Step.contract_signed and body.document is None:
        raise invalid("document", "the signed contract's title and ref are required for contract_signed")
    now = now_ms()
    at = moment(body.at, now)
    recorded = {Step(r["step"]): r["at"] for r in await store.steps(rt, code)}
    try:
        refused = procurement.check_step(step, recorded, at)
    except OutOfOrder as error:
        raise _out_of_order(str(error), error.missing) from error
    if refused:
        raise invalid("at", refused)
    doc = procurement.record(code, body.model_dump(mode="json", exclude={"at"}), at=at, by=principal.sub,
                             recorded_at=now)
    try:
        await rt.store.insert(PROCUREMENT, doc)
    except DuplicateKeyError as error:  # the same step recorded meanwhile
        raise _out_of_order(f"{step.value} ({STEP_LABELS[step]}) is already recorded", None) from error
    try:
        if step == Step.winner_confirmed:
            product = await _set_vendor(rt, collection, code, body.vendor, now) or product
        if body.document is not None and step in STEP_DOCUMENT_TYPES:
            await file_document(
                rt, code, {"type": STEP_DOCUMENT_TYPES[step], **body.document.model_dump(), "approved": True},
                owner=principal.sub, at=at, recorded_at=now, approved_by=principal.sub)
    except Exception:
        # The step stands only with its consequences (the vendor, the filed document): undo it, answer the error.
        await rt.store[PROCUREMENT].delete_one({"_id": doc["_id"]})
        raise
    response.headers["Location"] = f"/v1/products/{code}/procurement"
    return await overview(rt, product)


def _out_of_order(detail: str, missing: Step | None) -> Problem:
    extra = {"missing_step": missing.value, "missing_step_label": STEP_LABELS[missing]} if missing else {}
    return Problem(409, "procurement-step-out-of-order", "Procurement step out of order", detail, **extra)


async def _set_vendor(rt: Runtime, collection: str, code: str, vendor: str, now: datetime) -> dict | None:
    """Name the winning bidder as the product's vendor, announced with a fresh `lifecycle.product.registered`
    so that ticketing routes tier-3 escalations to it."""
    def decide(current):
        if current is None:
            return None
        doc = {**current, "vendor": vendor, "version": current["version"] + 1, "updated_at": now}
        return doc, [registered_event(rt, doc)]

    return await rt.store.change(collection, code, decide)
