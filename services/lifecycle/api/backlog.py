"""The optimisation backlog's closed loop (建议收集 → 产品优化): the product manager prioritises an item grown from
tickets, plans it into the vendor's work, marks it done with the release that shipped it (which tells the ticket
authors' channels through `lifecycle.backlog_item.shipped`), or declines it. Staff read the loop; the product's
manager (or an admin) moves it. The item list itself stays GET /v1/products/{code}/backlog (api/routes.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.events import BacklogItemShipped
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem
from services.lifecycle.api.access import load_entry, load_managed, require_reader
from services.lifecycle.api.models import BacklogItem
from services.lifecycle.domain import backlog
from services.lifecycle.store.collections import BACKLOG
from services.lifecycle.store.timeline import Source, register

router = APIRouter(prefix="/v1", tags=["backlog"])

SHIPPED = "lifecycle.backlog_item.shipped"
SKEW = timedelta(minutes=5)
State = Literal["new", "prioritised", "planned", "done", "declined"]
Priority = Literal["P1", "P2", "P3", "P4"]

register(Source(BACKLOG, "backlog_item", "优化建议",
                lambda d: f"优化建议《{d['title']}》（{d['count']} 张工单）：{backlog.STATE_LABELS[backlog.state_of(d)]}"
                          + (f" {d['release']['version']}" if d.get("release") else ""),
                at_field="first_seen", by_field="state_changed_by",
                detail=lambda d: {"state": backlog.state_of(d), "count": d["count"]}))


def _not_future(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value > datetime.now(UTC) + SKEW:
        raise ValueError("must not be in the future")
    return value


class PrioritiseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"priority": "P2", "note": "试点地市反映集中，纳入下个版本"}]})

    priority: Priority = Field(description="P1 紧急, P2 高, P3 中, P4 低")
    note: str | None = Field(None, max_length=2000)


class PlanBody(BaseModel):
    """Planned into the work of the product's vendor (厂家)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"due": "2027-01-31", "work_ref": "需求单 XQ-2026-118", "note": "厂家承诺在v2.3中实现批量导入"}]})

    due: date | None = Field(None, description="When the vendor is to deliver it")
    work_ref: str | None = Field(None, max_length=200, description="The vendor's work item (需求单/任务单)")
    note: str | None = Field(None, max_length=2000)


class DoneBody(BaseModel):
    """Shipped in a release: the requesters of its tickets are told through their channels."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"release": "v2.3.0", "shipped_at": "2026-11-20T10:00:00+08:00", "note": "批量导入已上线"}]})

    release: str = Field(min_length=1, max_length=60, description="The release (版本号) that shipped it")
    shipped_at: datetime | None = Field(None, description="When it shipped; default now, never in the future")
    note: str | None = Field(None, max_length=2000)

    @field_validator("shipped_at")
    @classmethod
    def not_in_future(cls, value: datetime | None) -> datetime | None:
        return _not_future(value)


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "与集团统一规划冲突，暂不采纳"}]})

    reason: str = Field(min_length=1, max_length=2000, description="Why not (不采纳原因)")

    @field_validator("reason")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class LoopItem(BacklogItem):
    state: State
    state_label: str
    priority: Priority | None = None
    priority_label: str | None = None
    plan: dict[str, Any] | None = Field(None, description="{vendor, due, work_ref}")
    release: dict[str, Any] | None = Field(None, description="{version, shipped_at} once done")
    declined_reason: str | None = None
    told_ticket_ids: list[str] = Field([], description="Tickets whose channels were told of the release")
    history: list[dict[str, Any]] = []

    @classmethod
    def of(cls, doc: dict) -> LoopItem:
        state = backlog.state_of(doc)
        base = BacklogItem.of(doc).model_dump()
        return cls.model_validate({
            **base, **{k: doc.get(k) for k in ("priority", "plan", "release", "declined_reason")},
            "state": state, "state_label": backlog.STATE_LABELS[state],
            "priority_label": backlog.PRIORITY_LABELS.get(doc.get("priority")),
            "told_ticket_ids": doc.get("told_ticket_ids", []), "history": doc.get("history", [])})


class LoopPage(BaseModel):
    product_code: str
    counts: dict[str, int] = Field(description="Items by state")
    state_labels: dict[str, str]
    tickets_raised: int = Field(description="Tickets grown into the product's items")
    tickets_told: int = Field(description="Tickets whose channels were told of a shipped release")
    items: list[LoopItem]
    next_cursor: str | None = None


@router.get("/products/{code}/backlog/loop", response_model=LoopPage,
            summary="The backlog's closed loop (建议收集 → 产品优化): counts by state and the items, most raised first")
async def backlog_loop(code: str, state: State | None = Query(None, description="Only items in this state"),
                       params: PageParams = Depends(page_params), principal: Principal = Depends(authenticate),
                       rt: Runtime = Depends(runtime)):
    require_reader(principal)
    await load_entry(rt, code)
    everything = await rt.store[BACKLOG].find({"product_code": code},
                                              {"state": 1, "ticket_ids": 1, "told_ticket_ids": 1}).to_list()
    counts = backlog.loop_counts(everything)
    query: dict[str, Any] = {"product_code": code}
    if state == "new":  # items grown before the loop existed carry no state
        query["_id"] = {"$in": [d["_id"] for d in everything if backlog.state_of(d) == "new"]}
    elif state:
        query["state"] = state
    docs, cursor = await page(rt.store[BACKLOG], query, params, [("count", -1), ("_id", 1)])
    return LoopPage(product_code=code, counts=counts["by_state"], state_labels=backlog.STATE_LABELS,
                    tickets_raised=counts["tickets_raised"], tickets_told=counts["tickets_told"],
                    items=[LoopItem.of(d) for d in docs], next_cursor=cursor)


def item_not_found(code: str, item_id: str) -> Problem:
    return Problem(404, "backlog-item-not-found", "Backlog item not found",
                   f"No backlog item {item_id!r} of {code!r}.")


async def _item(rt: Runtime, code: str, item_id: str) -> dict[str, Any]:
    doc = await rt.store[BACKLOG].find_one({"_id": item_id})
    if doc is None or doc.get("product_code") != code:
        raise item_not_found(code, item_id)
    return doc


@router.get("/products/{code}/backlog/{item_id}", response_model=LoopItem, summary="One backlog item and its loop")
async def get_item(code: str, item_id: str, principal: Principal = Depends(authenticate),
                   rt: Runtime = Depends(runtime)):
    require_reader(principal)
    return LoopItem.of(await _item(rt, code, item_id))


async def _act(rt: Runtime, code: str, item_id: str, principal: Principal, action: str, *,
               note: str | None = None, **fields: Any) -> LoopItem:
    """Move the item in one write with its event (if any): a refused move writes nothing."""
    _, product = await load_managed(rt, code, principal)
    await _item(rt, code, item_id)
    if action == "plan":
        if not product.get("vendor"):
            raise Problem(409, "no-vendor", "No vendor", f"{code!r} has no vendor to plan the work with.")
        fields["plan"] = {"vendor": product["vendor"], **fields.pop("plan")}
    now = datetime.now(UTC)

    def decide(doc):
        if doc is None:
            raise item_not_found(code, item_id)
        try:
            new = backlog.act(doc, action, by=principal.sub, at=now, note=note, **fields)
        except backlog.NotAllowed as error:
            raise Problem(409, "wrong-state", "Not in a state for this", str(error),
                          state=error.state) from error
        new["state_changed_by"] = principal.sub
        events = []
        if action == "done":
            new["told_ticket_ids"] = list(new["ticket_ids"])
            release = new["release"]
            events.append(rt.event(BacklogItemShipped(
                product_code=code, item_id=item_id, title=new["title"], release=release["version"],
                shipped_at=release["shipped_at"], ticket_ids=new["told_ticket_ids"]),
                type=SHIPPED, subject=item_id, sequence=backlog.loop_sequence(new)))
        return new, events

    return LoopItem.of(await rt.store.change(BACKLOG, item_id, decide))


@router.post("/products/{code}/backlog/{item_id}/prioritise", response_model=LoopItem,
             summary="Prioritise a backlog item (定优先级); product manager")
async def prioritise(body: PrioritiseBody, code: str, item_id: str, principal: Principal = Depends(authenticate),
                     rt: Runtime = Depends(runtime)):
    return await _act(rt, code, item_id, principal, "prioritise", note=body.note, priority=body.priority)


@router.post("/products/{code}/backlog/{item_id}/plan", response_model=LoopItem,
             summary="Plan a prioritised item into the vendor's work (排入厂家开发); product manager")
async def plan(body: PlanBody, code: str, item_id: str, principal: Principal = Depends(authenticate),
               rt: Runtime = Depends(runtime)):
    return await _act(rt, code, item_id, principal, "plan", note=body.note,
                      plan={"due": body.due.isoformat() if body.due else None, "work_ref": body.work_ref})


@router.post("/products/{code}/backlog/{item_id}/done", response_model=LoopItem,
             summary="Mark a planned item shipped in a release (随版本上线) and tell its tickets' channels")
async def done(body: DoneBody, code: str, item_id: str, principal: Principal = Depends(authenticate),
               rt: Runtime = Depends(runtime)):
    release = {"version": body.release, "shipped_at": body.shipped_at or datetime.now(UTC)}
    return await _act(rt, code, item_id, principal, "done", note=body.note, release=release)


@router.post("/products/{code}/backlog/{item_id}/decline", response_model=LoopItem,
             summary="Decline a backlog item with the reason (不采纳); product manager")
async def decline(body: DeclineBody, code: str, item_id: str, principal: Principal = Depends(authenticate),
                  rt: Runtime = Depends(runtime)):
    return await _act(rt, code, item_id, principal, "decline", reason=body.reason)
