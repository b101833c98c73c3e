"""KCS measures per product and month (issue 9, point 6): `GET /v1/kcs/measures`.

Staff read them (SPEC §1: front line, product managers, analysts, admins); a product manager only those of their
own products — asking for another product is 403, asking for none lists theirs. The figures are kept by the
`ticket.closed` consumer and recounted after each promote or dismiss (events/handlers.py), and every change goes
out as `knowledge.kcs.measured` for analytics.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from contracts.vocabulary import Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.pagination import PageParams, page, page_params
from services.kit.store import eq
from services.knowledge.api.routes import check_product
from services.knowledge.domain import kcs
from services.knowledge.store.collections import KCS_MEASURES, MEASURES_ORDER

router = APIRouter(prefix="/v1", tags=["kcs"])

STAFF = (Role.agent, Role.ops_engineer, Role.complaint_handler, Role.product_manager, Role.analyst)
PROBLEM = {"content": {"application/problem+json": {}}}
Staff = Annotated[Principal, Depends(require_roles(*STAFF))]
Rt = Annotated[Runtime, Depends(runtime)]
Paging = Annotated[PageParams, Depends(page_params)]


class KcsMeasures(BaseModel):
    product_code: str = Field(description="产品编码")
    month: str = Field(description="月份 YYYY-MM (Asia/Shanghai)", examples=["2026-03"])
    closed: int = Field(description="closed tickets that feed knowledge (named an article or grew a candidate)")
    linked: int = Field(description="of which named an existing article (关联知识)")
    reuses: int = Field(description="复用次数: the same closes counted on their articles")
    link_rate: float | None = Field(description="linked ÷ closed (null when nothing closed)")
    new: int = Field(description="closes that started a new candidate (新问题)")
    known: int = Field(description="closes that joined an existing candidate or named an article (已知问题)")
    promoted: int = Field(description="candidates promoted to an article that month")
    dismissed: int = Field(description="candidates dismissed that month")
    version: int = Field(description="changes so far; the `sequence` of knowledge.kcs.measured")


class KcsMeasuresPage(BaseModel):
    items: list[KcsMeasures]
    next_cursor: str | None


@router.get("/kcs/measures", response_model=KcsMeasuresPage, summary="KCS measures per product and month",
            responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def measures(rt: Rt, principal: Staff, params: Paging,
                   product_code: Annotated[str | None, Query(description="产品编码")] = None,
                   month: Annotated[str | None, Query(pattern=kcs.MONTH.pattern, description="YYYY-MM",
                                                      examples=["2026-03"])] = None):
    query: dict = {}
    if product_code is not None:
        if _only_own_products(principal):
            check_product(principal, product_code)
        query["product_code"] = eq(product_code)
    elif _only_own_products(principal):
        query["product_code"] = {"$in": list(principal.products)}
    if month is not None:
        query["month"] = eq(month)
    docs, cursor = await page(rt.store[KCS_MEASURES], query, params, MEASURES_ORDER)
    return {"items": [kcs.view(d) for d in docs], "next_cursor": cursor}


def _only_own_products(principal: Principal) -> bool:
    """A product manager who holds no wider staff role sees their own products' figures only."""
    return principal.has(Role.product_manager) and not principal.has(
        Role.admin, Role.analyst, Role.agent, Role.complaint_handler, Role.ops_engineer)
