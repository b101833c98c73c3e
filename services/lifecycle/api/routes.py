"""Catalog and backlog routes. Thin: parse → domain → store."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Response
from pymongo.errors import DuplicateKeyError

from contracts.vocabulary import Role, Stage
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate, require_roles
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem, invalid
from services.kit.store import public
from services.lifecycle.api.models import (
    BacklogItem,
    BacklogPage,
    Platform,
    PlatformPage,
    Product,
    ProductCreate,
    ProductPage,
)
from services.lifecycle.domain import catalog
from services.lifecycle.events.catalog import registered_event
from services.lifecycle.store.collections import BACKLOG, PLATFORMS, PRODUCTS, product_query

router = APIRouter(prefix="/v1", tags=["catalog"])


def product_not_found(code: str) -> Problem:
    return Problem(404, "product-not-found", "Product not found", f"No product with code {code!r}.")


@router.get("/products", response_model=ProductPage, summary="List products (产品目录)")
async def list_products(platform_code: str | None = Query(None, description="Only this platform's products"),
                        stage: Stage | None = Query(None, description="Only products in this stage"),
                        q: str | None = Query(None, max_length=100, description="Text in the code or name"),
                        params: PageParams = Depends(page_params), _: Principal = Depends(authenticate),
                        rt: Runtime = Depends(runtime)):
    docs, cursor = await page(rt.store[PRODUCTS], product_query(platform_code, stage, q), params, [("_id", 1)])
    return ProductPage(items=[Product.of(d) for d in docs], next_cursor=cursor)


@router.get("/products/{code}", response_model=Product, summary="One product")
async def get_product(code: str, _: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    doc = await rt.store[PRODUCTS].find_one({"_id": code})
    if doc is None:
        raise product_not_found(code)
    return Product.of(doc)


@router.post("/products", response_model=Product, status_code=201,
             summary="Register a new product (需求提出); admin or product manager")
async def register_product(body: ProductCreate, response: Response,
                           principal: Principal = Depends(require_roles(Role.product_manager)),
                           rt: Runtime = Depends(runtime)):
    # Product and platform codes share one namespace: consumers key the catalog by code alone.
    if await rt.store[PLATFORMS].find_one({"_id": body.code}, {"_id": 1}) or \
            await rt.store[PRODUCTS].find_one({"_id": body.code}, {"_id": 1}):
        raise Problem(409, "product-exists", "Product exists", f"The code {body.code!r} is already registered.",
                      code=body.code)
    if body.platform_code and not await rt.store[PLATFORMS].find_one({"_id": body.platform_code}, {"_id": 1}):
        raise invalid("platform_code", f"unknown platform {body.platform_code!r}")
    data = body.model_dump()
    if not data["product_managers"] and principal.has(Role.product_manager):
        data["product_managers"] = [principal.sub]
    doc = catalog.entry(data, kind="product", now=datetime.now(UTC))
    try:
        doc = await rt.store.insert(PRODUCTS, doc, [registered_event(rt, doc)])
    except DuplicateKeyError as error:
        raise Problem(409, "product-exists", "Product exists", f"The code {body.code!r} is already registered.",
                      code=body.code) from error
    response.headers["Location"] = f"/v1/products/{body.code}"
    return Product.of(public(doc))


@router.get("/platforms", response_model=PlatformPage, summary="List the platforms (平台)")
async def list_platforms(params: PageParams = Depends(page_params), _: Principal = Depends(authenticate),
                         rt: Runtime = Depends(runtime)):
    docs, cursor = await page(rt.store[PLATFORMS], {}, params, [("_id", 1)])
    counts = {row["_id"]: row["n"] for row in await (await rt.store[PRODUCTS].aggregate(
        [{"$group": {"_id": "$platform_code", "n": {"$sum": 1}}}])).to_list()}
    return PlatformPage(items=[Platform.of({**d, "product_count": counts.get(d["_id"], 0)}) for d in docs],
                        next_cursor=cursor)


@router.get("/products/{code}/backlog", response_model=BacklogPage,
            summary="Optimisation backlog (产品优化建议) grown from closed tickets, most raised first")
async def product_backlog(code: str, params: PageParams = Depends(page_params),
                          _: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    docs, cursor = await page(rt.store[BACKLOG], {"product_code": code}, params, [("count", -1), ("_id", 1)])
    # Items of a product the catalog does not know yet are still shown: the catalog may lag behind ticketing.
    if not docs and not params.cursor and not await rt.store[PRODUCTS].find_one({"_id": code}, {"_id": 1}):
        raise product_not_found(code)
    return BacklogPage(product_code=code, items=[BacklogItem.of(d) for d in docs], next_cursor=cursor)
