"""Rebuilds of the ticket read model (docs/analytics-rebuild.md): an admin asks, ticketing re-sends every ticket's
current state to analytics' own rebuild queue (events/rebuild.py), and the progress is one document per request."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from services.analytics.events.rebuild import requests_of
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.problems import Problem

router = APIRouter(prefix="/v1", tags=["rebuilds"])
ADMIN_ONLY = require_roles()  # no role but admin


class RebuildIn(BaseModel):
    """`{}` asks too; a note says why."""

    note: str | None = Field(None, max_length=500, description="why the rebuild was asked (kept with it)")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "新分析库上线，从工单服务重建工单读模型"}]})


class RebuildOut(BaseModel):
    id: str = Field(description="the request id (also the correlation id of every snapshot)")
    aggregate: str = Field(description="what is rebuilt: ticket")
    state: Literal["requested", "receiving", "completed"] = Field(
        description="requested: no snapshot applied yet; receiving: snapshots being applied; completed: every "
                    "snapshot ticketing announced was applied")
    requested_at: datetime
    requested_by: str | None = None
    note: str | None = None
    received: int = Field(description="snapshots applied so far")
    expected: int | None = Field(None, description="snapshots ticketing sent in all (known once it has finished)")
    completed_at: datetime | None = None

    @classmethod
    def of(cls, doc: dict) -> "RebuildOut":
        state = "completed" if doc.get("completed_at") else "receiving" if doc.get("received") else "requested"
        return cls(id=doc["_id"], state=state, **{k: doc.get(k) for k in (
            "aggregate", "requested_at", "requested_by", "note", "received", "expected", "completed_at")})


@router.post("/rebuilds", status_code=202, response_model=RebuildOut,
             summary="Rebuild the ticket read model 重建工单读模型 (admin)",
             responses={202: {"description": "Asked: ticketing streams every ticket's state; follow the Location"}})
async def ask_rebuild(response: Response, body: RebuildIn,
                      principal: Principal = Depends(ADMIN_ONLY), rt: Runtime = Depends(runtime)) -> RebuildOut:
    """Ask ticketing for the current state of every ticket, applied like live events: documents that are up to
    date stay as they are, missing or older ones are brought up to date. Rebuilding from scratch is this on an
    empty database."""
    doc = await requests_of(rt).request("ticket", requested_by=principal.sub, note=body.note)
    response.headers["Location"] = f"/v1/rebuilds/{doc['_id']}"
    return RebuildOut.of(doc)


@router.get("/rebuilds/{rebuild_id}", response_model=RebuildOut, summary="A rebuild's progress 重建进度 (admin)",
            dependencies=[Depends(ADMIN_ONLY)])
async def get_rebuild(rebuild_id: str, rt: Runtime = Depends(runtime)) -> RebuildOut:
    doc = await requests_of(rt).get(rebuild_id)
    if doc is None:
        raise Problem(404, "not-found", "No such rebuild", f"No rebuild {rebuild_id}.")
    return RebuildOut.of(doc)
