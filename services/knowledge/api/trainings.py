"""Training sessions (培训指导, issue 9 point 7): `POST /v1/trainings` records one held for a product and
publishes `knowledge.training.recorded`; `GET /v1/trainings` lists them per product and city. Staff read them; a
vendor only those of the products it supplies (domain/articles.py `reach`: another product is 403 when asked
for, 404 when read by id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.events import TrainingRecorded
from contracts.vocabulary import CITIES, Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.clock import stored_now
from services.kit.pagination import PageParams, keyed_page, page_params
from services.kit.problems import Problem, invalid
from services.kit.store import eq
from services.knowledge.api.routes import check_product, narrowed, reach_of
from services.knowledge.domain import trainings
from services.knowledge.domain.trainings import InvalidTraining
from services.knowledge.store.collections import ARTICLES, TRAININGS, next_training_number

router = APIRouter(prefix="/v1", tags=["trainings"])

PROBLEM = {"content": {"application/problem+json": {}}}
Rt = Annotated[Runtime, Depends(runtime)]
Paging = Annotated[PageParams, Depends(page_params)]
Recorder = Annotated[Principal, Depends(require_roles(*trainings.RECORDERS))]
Reader = Annotated[Principal, Depends(require_roles(*trainings.READERS))]
TRAINING_RECORDED = "knowledge.training.recorded"

City = Literal[CITIES]  # type: ignore[valid-type]  # the 16 cities of SPEC §3
ProductCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class TrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"product_code": "mobile_office", "held_on": "2026-03-12", "cities": ["济南", "青岛", "烟台"],
         "audience": "客户经理", "attendance": 46, "material_article_id": "KB-000012",
         "note": "试商用前培训，线上线下结合，济南为主会场"},
        {"product_code": "field_force", "held_on": "2026-04-02", "cities": ["潍坊"], "audience": "客服支撑人员",
         "attendance": 12},
    ]})

    product_code: ProductCode = Field(description="产品编码")
    held_on: date = Field(description="培训日期 (not in the future)")
    cities: list[City] = Field(min_length=1, max_length=16, description="参训地市 (the 16 cities of SPEC §3)")
    audience: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="培训对象, free text, e.g. 客户经理, 客服支撑人员")
    attendance: int = Field(ge=0, le=100_000, description="参训人数")
    material_article_id: str | None = Field(None, description="培训材料: the id of a `training` article of this "
                                                              "product (or a general one)")
    note: Note | None = Field(None, description="备注")


class TrainingOut(BaseModel):
    id: str = Field(description="培训记录编号, e.g. PX-000007")
    product_code: str = Field(description="产品编码")
    held_on: date = Field(description="培训日期")
    cities: list[str] = Field(description="参训地市")
    audience: str = Field(description="培训对象")
    attendance: int = Field(description="参训人数")
    material_article_id: str | None = Field(description="培训材料 (a training article)")
    note: str | None = Field(description="备注")
    recorded_by: str = Field(description="记录人")
    recorded_at: datetime = Field(description="记录时间")


class TrainingPage(BaseModel):
    items: list[TrainingOut]
    next_cursor: str | None


@router.post("/trainings", status_code=201, response_model=TrainingOut, summary="Record a training session held",
             description="By the product manager of the product, or an admin. Publishes "
                         "`knowledge.training.recorded` (lifecycle's trial-commercial gate counts the cities).",
             responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def record_training(body: TrainingIn, response: Response, rt: Rt, principal: Recorder):
    check_product(principal, body.product_code)
    material = None
    if body.material_article_id is not None:
        material = await rt.store[ARTICLES].find_one({"_id": body.material_article_id},
                                                     {"type": 1, "product_code": 1})
    now = stored_now()
    try:
        cities = trainings.check(held_on=body.held_on, cities=list(body.cities), material=material,
                                 material_article_id=body.material_article_id, product_code=body.product_code,
                                 now=now)
    except InvalidTraining as error:
        raise invalid(error.field, error.message) from error
    id = trainings.training_id(await next_training_number(rt.store))
    doc = trainings.new_training(id, product_code=body.product_code, held_on=body.held_on, cities=cities,
                                 audience=body.audience, attendance=body.attendance,
                                 material_article_id=body.material_article_id, note=body.note,
                                 actor=principal.sub, at=now)
    event = rt.event(TrainingRecorded(training_id=id, product_code=doc["product_code"], cities=cities,
                                      held_on=body.held_on, attendance=doc["attendance"], audience=doc["audience"],
                                      material_article_id=doc["material_article_id"]),
                     type=TRAINING_RECORDED, subject=id, sequence=doc["version"])
    await rt.store.insert(TRAININGS, doc, [event])
    response.headers["Location"] = f"/v1/trainings/{id}"
    return _view(doc)


@router.get("/trainings", response_model=TrainingPage, summary="Training sessions, most recently held first",
            responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def list_trainings(rt: Rt, principal: Reader, params: Paging, product_code: str | None = None,
                         city: Annotated[City | None, Query(description="参训地市")] = None):
    allowed = narrowed(await reach_of(rt, principal), product_code=product_code)
    query: dict[str, Any] = {}
    if product_code is not None:
        query["product_code"] = eq(product_code)
    elif allowed.product_code is not None:  # a vendor: the sessions of the products it supplies
        if not allowed.product_code:
            return {"items": [], "next_cursor": None}
        query["product_code"] = {"$in": sorted(allowed.product_code)}
    if city is not None:
        query["cities"] = {"$in": [city]}
    docs, cursor = await keyed_page(rt.store[TRAININGS], [query], params, "list_key")
    return {"items": [_view(d) for d in docs], "next_cursor": cursor}


@router.get("/trainings/{training_id}", response_model=TrainingOut, summary="One training session",
            responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
async def get_training(training_id: str, rt: Rt, principal: Reader):
    doc = await rt.store[TRAININGS].find_one({"_id": training_id})
    if doc is None or not (await reach_of(rt, principal)).admits_product(doc["product_code"]):
        raise Problem(404, "not-found", "Training not found", f"No training session {training_id}.")
    return _view(doc)


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    fields = ("product_code", "held_on", "cities", "audience", "attendance", "material_article_id", "note",
              "recorded_by", "recorded_at")
    return {"id": doc["_id"], **{f: doc[f] for f in fields}}
