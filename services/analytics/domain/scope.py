"""Whose figures a reader sees (SPEC §1): staff with a province-wide role see every product and city; a product
manager without one sees their own products (`products` claim), an account manager without one their own city.

A reader who asks for a product or city outside their scope is refused (403), not answered with zeros: an empty
answer would read as "no tickets". Without such a filter the answer is narrowed to their scope.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.vocabulary import Role
from services.kit.auth import Principal
from services.kit.problems import Problem

PROVINCE_WIDE = (Role.admin, Role.analyst, Role.agent, Role.complaint_handler, Role.ops_engineer)
READERS = (*PROVINCE_WIDE, Role.product_manager, Role.account_manager)


def reach(principal: Principal) -> dict[str, frozenset[str]]:
    """dimension → the values `principal` may see; an absent dimension is not limited."""
    if principal.has(*PROVINCE_WIDE):
        return {}
    limits: dict[str, frozenset[str]] = {}
    if principal.has(Role.product_manager):
        limits["product_code"] = frozenset(principal.products)
    if principal.has(Role.account_manager):
        limits["city"] = frozenset([principal.city] if principal.city else [])
    return limits


def narrow(principal: Principal, asked: Mapping[str, str | None]) -> dict[str, frozenset[str]]:
    """The values each dimension is limited to: what was asked (dimension → value), within the reader's reach."""
    limits = reach(principal)
    allowed: dict[str, frozenset[str]] = dict(limits)
    for dimension, value in asked.items():
        if value is None:
            continue
        if dimension in limits and value not in limits[dimension]:
            raise Problem(403, "forbidden", "Forbidden",
                          f"{dimension} {value!r} is outside your scope ({', '.join(sorted(limits[dimension])) or 'none'})")
        allowed[dimension] = frozenset([value])
    return allowed
