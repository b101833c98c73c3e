"""Who may see and act on which ticket (SPEC §1, §5). Pure rules over the token's claims.

- account_manager (地市客户经理): tickets of their own city only;
- vendor (厂家): reads the tickets ever escalated to their own vendor id; notes and answers only while the ticket is
  escalated to it now (tier 3, target = its vendor id): once handed back or reopened it is the front line's;
- product_manager (产品经理): tickets of their own products;
- intake (接入渠道): the tickets it filed (and reads those its tickets were merged into);
- front line (agent, complaint_handler, ops_engineer), analyst and admin: every ticket.
"""

from __future__ import annotations

from typing import Any

from contracts.vocabulary import Role
from services.kit.auth import Principal
from services.ticketing.domain.ticket import Ticket

R = Role
FRONT_LINE = (R.agent, R.complaint_handler, R.ops_engineer)
SEE_ALL = (*FRONT_LINE, R.analyst, R.admin)

# action → roles that may perform it (scope rules then narrow it to the tickets the principal can see)
ACTION_ROLES: dict[str, tuple[Role, ...]] = {
    "open": (R.intake, R.account_manager, *FRONT_LINE, R.admin),
    "assign": (*FRONT_LINE, R.product_manager, R.admin),
    "escalate": (*FRONT_LINE, R.product_manager, R.admin),
    "notes": (*FRONT_LINE, R.product_manager, R.vendor, R.account_manager, R.admin),
    # a vendor reads, notes and answers (hands back): the front line relays and resolves (SPEC §1)
    "resolve": (*FRONT_LINE, R.product_manager, R.admin),
    "feedback": (R.intake, R.account_manager, *FRONT_LINE, R.admin),
    "pending": (*FRONT_LINE, R.product_manager, R.admin),
    # the requester's words come through the channel that filed the ticket or the city's account manager
    "requester_reply": (R.intake, R.account_manager, *FRONT_LINE, R.admin),
    "answer": (R.product_manager, R.vendor, R.admin),
    "merge": (*FRONT_LINE, R.product_manager, R.admin),
    "read": (*SEE_ALL, R.product_manager, R.vendor, R.account_manager, R.intake),
}

# whoever may write on a ticket may attach a screenshot to it, and so may the channel that filed it: the requester's
# screenshots reach us through it (SPEC §1: intake files tickets and relays the requester's feedback)
ACTION_ROLES["attach"] = (*ACTION_ROLES["notes"], R.intake)


def may(principal: Principal, action: str) -> bool:
    return principal.has(*ACTION_ROLES[action])


def visibility_filters(principal: Principal) -> list[dict[str, Any]]:
    """The tickets `principal` may list, as filters of which a ticket must match one: [{}] for all, [] for none.

    A list rather than one `$or`, so that each is asked on its own (kit.pagination.keyed_page says why). In the
    forms both document stores read the same (kit/store.py): `$eq` on scalar fields, which nx-27017 serves from
    an index; `$in` for membership of the array `escalated_to`, where a bare value is the plain comparison of the
    whole array on nx-27017 once the field has an index of its own (it had, and listed no ticket to any vendor)."""
    if principal.has(*SEE_ALL):
        return [{}]
    clauses: list[dict[str, Any]] = []
    if principal.has(R.product_manager) and principal.products:
        products = list(principal.products)
        clauses.append({"product_code": {"$eq": products[0]} if len(products) == 1 else {"$in": products}})
    if principal.has(R.vendor) and principal.vendor:
        clauses.append({"escalated_to": {"$in": [principal.vendor]}})
    if principal.has(R.account_manager) and principal.city:
        clauses.append({"city": {"$eq": principal.city}})
    if principal.has(R.intake):
        clauses.append({"filed_by": {"$eq": principal.sub}})
    return clauses


def can_see(principal: Principal, ticket: Ticket) -> bool:
    if principal.has(*SEE_ALL):
        return True
    return any((
        principal.has(R.product_manager) and ticket.product_code in principal.products,
        principal.has(R.vendor) and principal.vendor is not None and principal.vendor in ticket.escalated_to,
        principal.has(R.account_manager) and principal.city is not None and ticket.city == principal.city,
        principal.has(R.intake) and (ticket.filed_by == principal.sub
                                     or any(r.filed_by == principal.sub for r in ticket.related_requesters)),
    ))


def may_act(principal: Principal, action: str, ticket: Ticket) -> bool:
    """Whether one of the principal's roles both allows `action` and covers `ticket` for acting. Acting is
    narrower than reading in two places: a vendor acts only on a ticket escalated to it now, and a channel only
    on the tickets it filed itself (not those its tickets were merged into)."""
    return any(role in ACTION_ROLES[action] and _acts_on(role, principal, ticket) for role in principal.roles)


def currently_escalated_to(vendor: str | None, ticket: Ticket) -> bool:
    return vendor is not None and ticket.tier == 3 and ticket.escalation is not None \
        and ticket.escalation.target == vendor


def _acts_on(role: Role, principal: Principal, ticket: Ticket) -> bool:
    if role in SEE_ALL:
        return True
    if role == R.product_manager:
        return ticket.product_code in principal.products
    if role == R.vendor:
        return currently_escalated_to(principal.vendor, ticket)
    if role == R.account_manager:
        return principal.city is not None and ticket.city == principal.city
    if role == R.intake:
        return ticket.filed_by == principal.sub
    return False
