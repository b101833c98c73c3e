"""The stage machine's routes (SPEC §3): gate documents, decisions, budget/vendor, and transitions that are
refused with 409 listing every missing item. Thin: load → check who → domain → store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pymongo.errors import DuplicateKeyError

from contracts.events import ProductStageChanged
from contracts.vocabulary import Role, Stage
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem, invalid
from services.kit.store import ConcurrencyConflict, public
from services.lifecycle.api.access import (
    forbidden, load_entry, load_managed, require_manager_or_vendor, require_reader,
)
from services.lifecycle.api.models import Product
from services.lifecycle.api.moments import moment, now_ms
from services.lifecycle.api.stage_models import (
    Decision, DecisionCreate, Document, DocumentCreate, DocumentPage, GateView, MissingItem, ProductPatch,
    Transition, TransitionRequest,
)
from services.lifecycle.domain import access, documents, gates
from services.lifecycle.events.catalog import registered_event
from services.lifecycle.store.collections import DECISIONS, DOCUMENTS
from services.lifecycle.store.documents import file_document
from services.lifecycle.store.gates import entered_at, gather
from services.lifecycle.store.trials import stages_of
from services.lifecycle.store import records  # noqa: F401  (registers the timeline sources of these records)

router = APIRouter(prefix="/v1", tags=["stages"])
STAGE_CHANGED = "lifecycle.product.stage_changed"
DECISION_LABELS = {"review": "评审决策", "decision_meeting": "决策会"}
OUTCOME_LABELS = {"approved": "通过", "rejected": "不通过"}

Rt = Annotated[Runtime, Depends(runtime)]
Caller = Annotated[Principal, Depends(authenticate)]


def decision_view(doc: dict[str, Any]) -> Decision:
    return Decision.model_validate({**doc, "id": doc["_id"], "kind_label": DECISION_LABELS[doc["kind"]],
                                    "outcome_label": OUTCOME_LABELS[doc["outcome"]]})


# --- documents ---------------------------------------------------------------------------------------------------

@router.post("/products/{code}/documents", response_model=Document, status_code=201,
             summary="File a gate document (typed, versioned); manager, admin, or the vendor for its own documents")
async def post_document(code: str, body: DocumentCreate, response: Response, principal: Caller, rt: Rt):
    _, product = await load_entry(rt, code)
    if not access.manages(principal, product):
        require_manager_or_vendor(principal, product)
        if body.type not in documents.VENDOR_DOCUMENTS:
            raise forbidden(f"A vendor files only {', '.join(sorted(documents.VENDOR_DOCUMENTS))}.")
        if body.approved:
            raise forbidden("A vendor's document is approved by the centre (信息化中心审核), not by the vendor.")
    now = now_ms()
    at = moment(body.at, now)
    doc = await file_document(rt, code, body.model_dump(), owner=principal.sub, at=at, recorded_at=now,
                              approved_by=principal.sub)
    response.headers["Location"] = f"/v1/products/{code}/documents/{doc['_id']}"
    return Document.of(doc)


@router.get("/products/{code}/documents", response_model=DocumentPage,
            summary="A product's documents, newest version first within each type")
async def list_documents(code: str, principal: Caller, rt: Rt,
                         type: str | None = Query(None, description="Only this type (every version)"),
                         params: PageParams = Depends(page_params)):
    require_reader(principal)
    await load_entry(rt, code)
    query = {"product_code": code, **({"type": type} if type else {})}
    docs, cursor = await page(rt.store[DOCUMENTS], query, params, [("type", 1), ("version", -1)])
    return DocumentPage(items=[Document.of(d) for d in docs], next_cursor=cursor)


@router.post("/products/{code}/documents/{document_id}/approve", response_model=Document,
             summary="Approve a document (审核通过); manager or admin")
async def approve_document(code: str, document_id: str, principal: Caller, rt: Rt):
    _, product = await load_managed(rt, code, principal)
    doc = await rt.store[DOCUMENTS].find_one({"_id": document_id, "product_code": code})
    if doc is None:
        raise Problem(404, "document-not-found", "Document not found", f"No document {document_id!r} of {code!r}.")
    if not doc["approved"]:
        doc = documents.approve(doc, by=principal.sub, at=now_ms())
        await rt.store[DOCUMENTS].replace_one({"_id": document_id}, doc)
    return Document.of(doc)


# --- decisions ---------------------------------------------------------------------------------------------------

@router.post("/products/{code}/decisions", response_model=Decision, status_code=201,
             summary="Record a review (评审决策) or a decision meeting (决策会); manager or admin")
async def record_decision(code: str, body: DecisionCreate, principal: Caller, rt: Rt):
    _, product = await load_managed(rt, code, principal)
    now = now_ms()
    doc = {"_id": f"{code}:{body.kind}:{now.strftime('%Y%m%d%H%M%S%f')}:{principal.sub}", "product_code": code,
           **body.model_dump(exclude={"at"}), "by": principal.sub, "at": moment(body.at, now), "recorded_at": now}
    try:
        await rt.store[DECISIONS].insert_one(doc)
    except DuplicateKeyError as error:
        raise Problem(409, "conflict", "Conflict", "The same decision was recorded twice at once.") from error
    return decision_view(doc)


@router.get("/products/{code}/decisions", response_model=list[Decision], summary="A product's decisions, in order")
async def list_decisions(code: str, principal: Caller, rt: Rt):
    require_reader(principal)
    await load_entry(rt, code)
    docs = await rt.store[DECISIONS].find({"product_code": code}).sort([("at", 1), ("recorded_at", 1)]).to_list()
    return [decision_view(d) for d in docs]


# --- the product's budget, vendor and managers ---------------------------------------------------------------------

@router.patch("/products/{code}", response_model=Product,
              summary="Set the budget (预算), the chosen vendor (厂家) or the product managers; manager or admin")
async def patch_product(code: str, body: ProductPatch, principal: Caller, rt: Rt):
    collection, product = await load_managed(rt, code, principal)
    changes = body.model_dump(exclude_unset=True, exclude_none=True, exclude={"note"})
    if not changes:
        raise invalid("body", "give at least one of budget_cny, vendor, product_managers")
    if "product_managers" in changes and not principal.has(Role.admin) \
            and principal.sub not in changes["product_managers"] and code not in principal.products:
        raise invalid("product_managers", "would leave you out of your own product; ask an admin")
    now = now_ms()
    edit = {"at": now, "by": principal.sub, "changes": changes, "note": body.note}
    new = {**product, **changes, "version": product["version"] + 1, "updated_at": now,
           "edits": [*product.get("edits", []), edit]}
    try:
        new = await rt.store.replace(collection, new, [registered_event(rt, new)])
    except ConcurrencyConflict as error:
        raise Problem(409, "conflict", "Conflict", f"{code!r} changed meanwhile; read it again.") from error
    return Product.of(public(new))


# --- transitions -------------------------------------------------------------------------------------------------

def stage_changed(rt: Runtime, product: dict[str, Any], step: dict[str, Any]):
    payload = ProductStageChanged(code=product["code"], from_stage=step["from_stage"], to_stage=step["to_stage"],
                                  note=step.get("note"), actor=step["by"], at=step["at"], name=product["name"],
                                  kind=product.get("kind", "product"), platform_code=product.get("platform_code"),
                                  product_managers=product.get("product_managers", []), vendor=product.get("vendor"),
                                  override_reason=step.get("override_reason"))
    return rt.event(payload, type=STAGE_CHANGED, subject=product["code"], sequence=product["version"])


def transition_view(step: dict[str, Any]) -> Transition:
    return Transition.model_validate({**step, "from_label": gates.label(step["from_stage"]),
                                      "to_label": gates.label(step["to_stage"])})


@router.post("/products/{code}/transitions", response_model=Transition, status_code=201,
             responses={409: {"description": "A gate lacks something: `missing` lists every item, each {code, label}"}},
             summary="Move a product one stage forward (or back to development from testing, or to retired)")
async def transition(code: str, body: TransitionRequest, principal: Caller, rt: Rt):
    collection, product = await load_managed(rt, code, principal)
    if body.override_reason and not principal.has(Role.admin):
        raise forbidden("Only an admin may override a gate (override_reason).")
    if body.to == Stage.retired and not body.note:
        raise invalid("note", "say why the product is retired (下线原因)")
    current = Stage(product["stage"])
    now = now_ms()
    at = moment(body.at, now)
    if problem := gates.check_at(at, now=now, entered_at=product.get("stage_entered_at")):
        raise invalid("at", problem)
    try:
        missing = gates.missing(await gather(rt, product), body.to, at)
    except gates.TransitionRefused as error:
        raise Problem(409, "transition-not-allowed", "Transition not allowed", str(error),
                      stage=current.value, allowed=[s.value for s in gates.allowed_targets(current)]) from error
    if missing and not body.override_reason:
        raise Problem(409, "gate-blocked", "Gate not passed",
                      f"{gates.label(current)} → {gates.label(body.to)}: {len(missing)} item(s) missing: "
                      + "; ".join(m.label for m in missing),
                      missing=[m.as_dict() for m in missing])
    step = {"from_stage": current.value, "to_stage": body.to.value, "at": at, "by": principal.sub,
            "note": body.note, "recorded_at": now}
    if body.override_reason:
        step |= {"override_reason": body.override_reason, "overridden": [m.as_dict() for m in missing]}
    new = {**product, "stage": body.to.value, "stage_entered_at": at, "version": product["version"] + 1,
           "updated_at": now, "transitions": [*product.get("transitions", []), step]}
    try:
        await rt.store.replace(collection, new, [stage_changed(rt, new, step)])
    except ConcurrencyConflict as error:
        raise Problem(409, "conflict", "Conflict", f"{code!r} changed meanwhile; read it again.") from error
    stages_of(rt).forget(code)  # this process's trial feedback judges by the new stage at once
    return transition_view(step)


@router.get("/products/{code}/gate", response_model=GateView,
            summary="What the next stage needs now (the items a transition would be refused for)")
async def gate(code: str, principal: Caller, rt: Rt):
    require_reader(principal)
    _, product = await load_entry(rt, code)
    stage = Stage(product["stage"])
    nxt = gates.NEXT.get(stage)
    missing = gates.missing(await gather(rt, product), nxt, now_ms()) if nxt else []
    ends = gates.ends_on(entered_at(product), stage)
    return GateView(stage=stage, stage_label=gates.label(stage), entered_at=entered_at(product), next_stage=nxt,
                    missing=[MissingItem(**m.as_dict()) for m in missing],
                    earliest_end=ends.isoformat() if ends else None)


@router.get("/products/{code}/transitions", response_model=list[Transition], summary="Every stage change, in order")
async def list_transitions(code: str, principal: Caller, rt: Rt):
    require_reader(principal)
    _, product = await load_entry(rt, code)
    return [transition_view(s) for s in product.get("transitions", [])]
