"""Loading the product a route acts on and checking the caller's right to act on it (domain/access.py)."""

from __future__ import annotations

from typing import Any

from services.kit.app import Runtime
from services.kit.auth import Principal
from services.kit.problems import Problem
from services.lifecycle.domain import access
from services.lifecycle.store.collections import PLATFORMS, PRODUCTS


def product_not_found(code: str) -> Problem:
    return Problem(404, "product-not-found", "Product not found", f"No product or platform with code {code!r}.")


async def load_entry(rt: Runtime, code: str) -> tuple[str, dict[str, Any]]:
    """The catalog entry (a product or a platform: both have a lifecycle) and its collection, or 404."""
    for collection in (PRODUCTS, PLATFORMS):
        doc = await rt.store[collection].find_one({"_id": code})
        if doc is not None:
            return collection, doc
    raise product_not_found(code)


async def load_managed(rt: Runtime, code: str, principal: Principal) -> tuple[str, dict[str, Any]]:
    """`load_entry` for a change: 404 for an unknown code, then 403 unless the caller manages it."""
    collection, product = await load_entry(rt, code)
    require_manager(principal, product)
    return collection, product


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def require_reader(principal: Principal) -> None:
    if not access.reads(principal):
        raise forbidden("Lifecycle records are read by staff only.")


def require_manager(principal: Principal, product: dict[str, Any]) -> None:
    if not access.manages(principal, product):
        raise forbidden(f"Only an admin or a product manager of {product['code']!r} may change it.")


def require_manager_or_vendor(principal: Principal, product: dict[str, Any]) -> None:
    if not (access.manages(principal, product) or access.supplies(principal, product)):
        raise forbidden(f"Only an admin, a product manager of {product['code']!r} or its vendor may do this.")
