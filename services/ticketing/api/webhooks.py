"""Channel callbacks (渠道回调) over HTTP: register, list and delete webhooks; list and redeliver deliveries.

Who: an intake principal (接入渠道) for its own webhooks, or an admin for anyone's. A webhook belongs to the intake
principal whose tickets it reports on, by its token's `sub` (domain/webhooks.py says why not `channel`): an
intake principal registers for itself (`owner` left out, or its own `sub`), an admin names the `owner`. An intake
principal lists, deletes and redelivers only its own; everyone else is refused with 403.

Where a callback may go is checked at registration (a URL whose host is, or resolves to, a loopback, private,
link-local … address is 422 naming `url`; OPS_WEBHOOK_ALLOWED_NETWORKS allows networks) and again at each
delivery (events/webhooks.py). The name is looked up off the event loop and given up after
`webhook_resolve_timeout_seconds` (2 s): a slow DNS server makes a 422 naming `url` ("does not resolve (no answer
within 2 s)"), not a request that hangs.

The secret is answered once, by the registration; no listing shows it again (register a new webhook to change
it, then delete the old one: deliveries are signed per webhook).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.vocabulary import Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.pagination import PageParams, keyed_page, page_params
from services.kit.problems import Problem, invalid
from services.kit.store import eq
from services.ticketing.domain import webhooks as rules
from services.ticketing.events import webhooks as webhook_events
from services.ticketing.store.webhooks import DELIVERIES, LIST_KEY, WEBHOOKS, list_key, replace_guarded

router = APIRouter(prefix="/v1", tags=["webhooks"])


# --- bodies -------------------------------------------------------------------------------------------------

class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"url": "https://crm.example.com/ops/callbacks", "description": "客服中心CRM工单进度回调"},
        {"url": "https://portal.jinan.example.com/hooks/tickets", "description": "济南市门户：只收答复与归档",
         "events": ["ticket.resolved", "ticket.closed"], "owner": "portal-jinan"},
    ]})

    url: str = Field(max_length=rules.URL_MAX_LENGTH, description="http(s) URL the deliveries are POSTed to")
    description: str | None = Field(None, max_length=200, description="说明, e.g. which system this is")
    events: list[str] | None = Field(None, max_length=len(rules.REQUESTER_EVENTS),
                                     description="event types to receive; left out: all of "
                                                 + ", ".join(rules.REQUESTER_EVENTS))
    owner: str | None = Field(None, min_length=1, max_length=200,
                              description="the intake principal (token `sub`) whose tickets this reports on; "
                                          "an admin names it, an intake principal may leave it out")

    @field_validator("url")
    @classmethod
    def callable_url(cls, value: str) -> str:
        return rules.check_url(value)

    @field_validator("events")
    @classmethod
    def known_events(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = [v for v in value if v not in rules.REQUESTER_EVENTS]
        if unknown:
            raise ValueError(f"not delivered to channels: {', '.join(unknown)}; "
                             f"choose from {', '.join(rules.REQUESTER_EVENTS)}")
        if not value:
            raise ValueError("leave it out for every event, or name at least one")
        return list(dict.fromkeys(value))


class WebhookOut(BaseModel):
    id: str
    owner: str
    url: str
    description: str | None
    events: list[str] = Field(description="the event types delivered")
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "WebhookOut":
        return cls(id=doc["_id"], owner=doc["owner"], url=doc["url"], description=doc.get("description"),
                   events=doc.get("events") or list(rules.REQUESTER_EVENTS), created_at=doc["created_at"],
                   created_by=doc["created_by"])


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_…: verifies the webhook-signature of every delivery; shown only now")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    response: str | None = None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: str
    webhook_id: str
    message_id: str = Field(description="the webhook-id header: the same on every attempt")
    event_type: str
    event_id: str
    ticket_id: str
    sequence: int
    status: Literal["pending", "delivered", "failed"]
    next_attempt_at: datetime | None
    attempts: list[AttemptOut]
    body: str = Field(description="the JSON text POSTed")
    created_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None
    redelivered_at: datetime | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "DeliveryOut":
        due = doc.get("due_at")
        return cls(id=doc["_id"], webhook_id=doc["webhook_id"], message_id=doc["message_id"],
                   event_type=doc["event_type"], event_id=doc["event_id"], ticket_id=doc["ticket_id"],
                   sequence=doc["sequence"], status=doc["status"],
                   next_attempt_at=datetime.fromtimestamp(due, UTC) if doc["status"] == "pending" and due else None,
                   attempts=doc.get("attempts", []), body=doc["body"], created_at=doc["created_at"],
                   delivered_at=doc.get("delivered_at"), failed_at=doc.get("failed_at"),
                   redelivered_at=doc.get("redelivered_at"))


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


# --- who ----------------------------------------------------------------------------------------------------

def require_channel_or_admin(principal: Principal) -> None:
    if not principal.has(Role.intake, Role.admin):
        raise Problem(403, "forbidden", "Forbidden", "Webhooks are managed by the intake channel itself or an admin.")


def owns(principal: Principal, webhook: dict[str, Any]) -> bool:
    return principal.has(Role.admin) or webhook["owner"] == principal.sub


async def load_webhook(rt: Runtime, principal: Principal, webhook_id: str) -> dict[str, Any]:
    require_channel_or_admin(principal)
    webhook = await rt.store[WEBHOOKS].find_one({"_id": webhook_id}, {"secret": 0})
    if webhook is None:
        raise Problem(404, "not-found", "Webhook not found", f"No webhook {webhook_id}.")
    if not owns(principal, webhook):
        raise Problem(403, "out-of-scope", "Outside your scope", f"Webhook {webhook_id} belongs to another channel.")
    return webhook


# --- webhooks -----------------------------------------------------------------------------------------------

@router.post("/webhooks", status_code=201, response_model=WebhookCreated, summary="Register a callback 注册回调",
             responses={403: {"description": "Not an intake principal or admin, or another owner named"},
                        422: {"description": "Invalid url or events, a host that is or resolves to a loopback, "
                                              "private, link-local or otherwise non-public address (or does "
                                              "not resolve, or not within OPS_WEBHOOK_RESOLVE_TIMEOUT_SECONDS), "
                                              "or an admin without owner"}})
async def register_webhook(body: WebhookIn, response: Response, principal: Principal = Depends(authenticate),
                           rt: Runtime = Depends(runtime)):
    require_channel_or_admin(principal)
    if principal.has(Role.admin):
        owner = body.owner or (principal.sub if principal.has(Role.intake) else None)
        if owner is None:
            raise invalid("owner", "an admin names the intake principal (its token's sub) the webhook reports to")
    else:
        if body.owner not in (None, principal.sub):
            raise Problem(403, "out-of-scope", "Outside your scope",
                          "An intake channel registers webhooks for its own tickets only.")
        owner = principal.sub
    refusal = await webhook_events.registration_refusal(rt, body.url)
    if refusal is not None:
        raise invalid("url", f"{refusal}: callbacks go to public addresses only")
    now = datetime.now(UTC)
    webhook_id = "wh_" + secrets.token_hex(8)
    doc = {"_id": webhook_id, "owner": owner, "url": body.url, "description": body.description,
           "events": body.events, "secret": rules.new_secret(), "created_at": now, "created_by": principal.sub,
           LIST_KEY: list_key(now, webhook_id)}
    await rt.store[WEBHOOKS].insert_one(doc)
    webhook_events.registry(rt).invalidate()
    response.headers["Location"] = f"/v1/webhooks/{webhook_id}"
    return WebhookCreated(**WebhookOut.of(doc).model_dump(), secret=doc["secret"])


@router.get("/webhooks", response_model=WebhookPage, summary="Callbacks, newest first (without secrets)")
async def list_webhooks(principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime),
                        params: PageParams = Depends(page_params),
                        owner: str | None = Query(None, max_length=200, description="admins: one owner's")):
    require_channel_or_admin(principal)
    if not principal.has(Role.admin):
        if owner not in (None, principal.sub):
            return WebhookPage(items=[], next_cursor=None)
        owner = principal.sub
    query = {"owner": eq(owner)} if owner is not None else {}
    docs, next_cursor = await keyed_page(rt.store[WEBHOOKS], [query], params, LIST_KEY, projection={"secret": 0})
    return WebhookPage(items=[WebhookOut.of(d) for d in docs], next_cursor=next_cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut, summary="One callback (without its secret)")
async def get_webhook(webhook_id: str, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    return WebhookOut.of(await load_webhook(rt, principal, webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a callback and its deliveries")
async def delete_webhook(webhook_id: str, principal: Principal = Depends(authenticate),
                         rt: Runtime = Depends(runtime)):
    await load_webhook(rt, principal, webhook_id)
    await rt.store[WEBHOOKS].delete_one({"_id": webhook_id})
    webhook_events.registry(rt).invalidate()
    # a delivery made meanwhile by the fan-out is dropped by the delivery job, which finds no webhook for it
    await rt.store[DELIVERIES].delete_many({"webhook_id": eq(webhook_id)})
    return Response(status_code=204)


# --- deliveries ---------------------------------------------------------------------------------------------

@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage,
            summary="A callback's deliveries, newest first, with their attempts")
async def list_deliveries(webhook_id: str, principal: Principal = Depends(authenticate),
                          rt: Runtime = Depends(runtime), params: PageParams = Depends(page_params),
                          status: Literal["pending", "delivered", "failed"] | None = None):
    await load_webhook(rt, principal, webhook_id)
    query: dict[str, Any] = {"webhook_id": eq(webhook_id)}
    if status is not None:
        query["status"] = eq(status)
    docs, next_cursor = await keyed_page(rt.store[DELIVERIES], [query], params, LIST_KEY)
    return DeliveryPage(items=[DeliveryOut.of(d) for d in docs], next_cursor=next_cursor)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryOut,
             summary="Send a delivery again 重新投递 (a failed one, or a delivered one the receiver lost)",
             responses={409: {"description": "The delivery is still pending"}})
async def redeliver(delivery_id: str, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_channel_or_admin(principal)
    doc = await rt.store[DELIVERIES].find_one({"_id": delivery_id})
    if doc is None:
        raise Problem(404, "not-found", "Delivery not found", f"No delivery {delivery_id}.")
    if not owns(principal, doc):
        raise Problem(403, "out-of-scope", "Outside your scope", f"Delivery {delivery_id} belongs to another channel.")
    if doc["status"] == "pending":
        raise Problem(409, "delivery-pending", "Delivery pending",
                      "The delivery is still being attempted; its next attempt is scheduled.")
    now = datetime.now(UTC)
    # a fresh round of the retry schedule, attempts kept; the same webhook-id, so a receiver that has it drops it
    again = {**doc, "status": "pending", "due_at": now.timestamp(), "round_attempts": 0, "redelivered_at": now,
             "failed_at": None}
    if not await replace_guarded(rt.store[DELIVERIES], again):
        raise Problem(409, "busy", "Delivery busy", "The delivery changed meanwhile; read it again.")
    return DeliveryOut.of(again)
