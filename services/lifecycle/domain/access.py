"""Who may change what in lifecycle (SPEC §1): admins everything; a product manager only their own products,
those of the token's `products` scope or those that name them among their product managers (a product they just
registered is theirs before any token says so); a vendor adds development reports and fixes issues of the
products whose vendor they are; everyone on staff reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.vocabulary import Role
from services.kit.auth import Principal

STAFF_READERS = frozenset(Role) - {Role.intake}


def manages(principal: Principal, product: Mapping[str, Any]) -> bool:
    if principal.has(Role.admin):
        return True
    return principal.has(Role.product_manager) and (
        product["code"] in principal.products or principal.sub in product.get("product_managers", []))


def supplies(principal: Principal, product: Mapping[str, Any]) -> bool:
    """The principal is the vendor of this product."""
    return principal.has(Role.vendor) and bool(principal.vendor) and principal.vendor == product.get("vendor")


def reads(principal: Principal) -> bool:
    return principal.has(*STAFF_READERS)
