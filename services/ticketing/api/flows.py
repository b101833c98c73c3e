"""Routes of the flows of issue 8: pending (待补充) and the requester's reply, the hand-back of an upper tier's
answer to the front line (产品经理反馈…由客服人员答复), and the merge of a duplicate into another ticket.

Each is an action through `routes.act` (role, scope, If-Match, status machine, state and events in one write);
the merge writes two documents in steps whose second re-checks the target, with a journal for a process that
dies between them (services/ticketing/events/merges.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.ticketing.api.flow_models import AnswerIn, MergeIn, PendingIn, RequesterReplyIn
from services.ticketing.api.models import TicketOut
from services.ticketing.api.routes import IfMatch, act
from services.ticketing.events import merges

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
             responses={409: {"description": "this ticket is closed or being merged, or the target (named in `into`) "
                                             "is no longer being worked on, also when that changed meanwhile"},
                        422: {"description": "merged into itself, an unknown ticket, or across products or kinds"}})
async def merge(ticket_id: str, body: MergeIn, response: Response, principal: Principal = Depends(authenticate),
                rt: Runtime = Depends(runtime), if_match: str | None = IfMatch):
    """Closes ticket `ticket_id` (close_reason `merged`) and moves its notes and requester onto `into`. Two
    documents, no transaction: the source is reserved, the target takes it in under its own revision guard (so a
    target closed or merged away meanwhile refuses it with 409 naming `into`, and nothing is half-written), then
    the source closes with its `ticket.merged` and `ticket.closed` events (services/ticketing/events/merges.py)."""
    return await merges.merge(rt, principal, ticket_id, body.into, if_match, response)
