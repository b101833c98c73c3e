"""Routes of the flows of issue 8: pending (待补充) and the requester's reply, the hand-back of an upper tier's
answer to the front line (产品经理反馈…由客服人员答复), and the merge of a duplicate into another ticket.

Each is an action through `routes.act` (role, scope, If-Match, status machine, state and events in one write);
the merge then finishes its second document at once and, should this process die first, through its own
`ticket.merged` event (services/ticketing/events/merges.py)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Depends, Response

from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.problems import Problem, invalid
from services.ticketing.api.flow_models import AnswerIn, MergeIn, PendingIn, RequesterReplyIn
from services.ticketing.api.models import TicketOut
from services.ticketing.api.routes import IfMatch, act, require
from services.ticketing.domain import scope
from services.ticketing.events import merges
from services.ticketing.store.collections import TICKETS, from_document

log = structlog.get_logger()
router = APIRouter(prefix="/v1", tags=["tickets"])


@router.post("/tickets/{ticket_id}/pending", response_model=TicketOut,
             summary="Ask the requester for information 待补充 (the SLA clock pauses)")
async def pending(ticket_id: str, body: PendingIn, response: Response, principal: Principal = Depends(authenticate),
                  rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "pending", if_match,
                     lambda t, a, now: t.request_information(body.needed, a, now), response)


@router.post("/tickets/{ticket_id}/requester-reply", response_model=TicketOut,
             summary="The requester's reply 用户补充: back to the status and tier it was paused from")
async def requester_reply(ticket_id: str, body: RequesterReplyIn, response: Response,
                          principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime),
                          if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "requester_reply", if_match,
                     lambda t, a, now: t.requester_reply(body.body, a, now), response)


@router.post("/tickets/{ticket_id}/answer", response_model=TicketOut,
             summary="Hand an answer back to the front line 产品经理/厂家反馈 (tier 2 or 3)")
async def answer(ticket_id: str, body: AnswerIn, response: Response, principal: Principal = Depends(authenticate),
                 rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    return await act(rt, principal, ticket_id, "answer", if_match,
                     lambda t, a, now: t.hand_back(body.answer, body.cause, a, now), response)


@router.post("/tickets/{ticket_id}/merge", response_model=TicketOut,
             summary="Close a duplicate into another ticket 合并重复工单",
             responses={409: {"description": "this ticket is closed, or the target is no longer being worked on"},
                        422: {"description": "merged into itself, an unknown ticket, or across products or kinds"}})
async def merge(ticket_id: str, body: MergeIn, response: Response, principal: Principal = Depends(authenticate),
                rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    """Closes ticket `ticket_id` (close_reason `merged`) and moves its notes and requester onto `into`. Two
    documents, no transaction: the source's closure and its `ticket.merged` event are one write; the target's half
    follows at once and, if this process dies first, from that event (idempotent either way)."""
    require(principal, "merge")
    if body.into == ticket_id:
        raise invalid("into", "a ticket cannot be merged into itself")
    target_doc = await rt.store[TICKETS].find_one({"_id": body.into})
    if target_doc is None:
        raise invalid("into", f"no ticket {body.into}")
    target = from_document(target_doc)
    if not scope.may_act(principal, "merge", target):
        raise Problem(403, "out-of-scope", "Outside your scope", f"Ticket {body.into} is outside your scope.")
    merged = await act(rt, principal, ticket_id, "merge", if_match,
                       lambda t, a, now: t.merge_into(target, a, now), response)
    try:
        await merges.complete(rt, ticket_id)
    except Exception:  # noqa: BLE001 - the source is closed and its event stored: the consumer finishes the target
        log.exception("merge.target_deferred", ticket_id=ticket_id, into=body.into)
    return merged
