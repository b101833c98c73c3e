"""Rebuilding the ticket read model from scratch (docs/analytics-rebuild.md): analytics asks ticketing for the
current state of every ticket (kit/replay.py) and applies each `ticket.snapshot` through the very function that
applies the live ticket events (events/handlers.py `apply_ticket_event`), so whatever the read model keeps of a
ticket, a snapshot keeps the same way, order tolerant by `sequence` against the live events running beside it.

The snapshots come on a queue of their own, bound to its own address alone (`to.<queue>`): ticketing sends them to
it by name, so the live queue and every other subscriber of `ticket.*` never see them.
"""

from __future__ import annotations

from contracts.events import Envelope, ReplayCompleted, TicketSnapshot
from services.analytics.events.handlers import apply_ticket_event
from services.analytics.store.collections import REBUILDS
from services.kit.app import Runtime
from services.kit.consumer import PoisonMessage, Subscription
from services.kit.replay import COMPLETED, ReplayRequests

QUEUE = "analytics.rebuild"
SNAPSHOT = "ticket.snapshot"
BREACHED = "ticket.sla_breached"


def requests_of(rt: Runtime) -> ReplayRequests:
    return ReplayRequests(rt, REBUILDS, QUEUE)


def subscriptions(rt: Runtime) -> list[Subscription]:
    requests = requests_of(rt)

    async def on_message(envelope: Envelope) -> None:
        if envelope.type == SNAPSHOT:
            await apply_snapshot(rt, envelope)
            await requests.received(envelope.payload(TicketSnapshot).request_id, envelope.subject)
        elif envelope.type == COMPLETED:
            done = envelope.payload(ReplayCompleted)
            await requests.completed(done.request_id, done.count)
        else:
            raise PoisonMessage(f"{envelope.type!r} has no business on {QUEUE}")

    return [Subscription(QUEUE, (SNAPSHOT, COMPLETED), on_message, direct=True)]


async def apply_snapshot(rt: Runtime, envelope: Envelope) -> None:
    """The snapshot as the live events would have left the ticket's document: its state (a closing reason only
    once there is one, as only `ticket.closed` carries it), then one `ticket.sla_breached` per deadline the ticket
    breached, at the snapshot's sequence (what the read model keeps of the breaches is their history)."""
    snapshot = envelope.payload(TicketSnapshot)  # a ValidationError sends the message to the DLQ
    data = {k: v for k, v in envelope.data.items() if not (k == "close_reason" and v is None)}
    await apply_ticket_event(rt, envelope.model_copy(update={"data": data}))
    for deadline in snapshot.breached_deadlines:
        await apply_ticket_event(rt, envelope.model_copy(update={"type": BREACHED,
                                                                 "data": {**data, "deadline": deadline}}))
