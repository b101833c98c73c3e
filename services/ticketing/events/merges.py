"""The second half of a merge: the target ticket takes the closed duplicate's notes and requester.

A merge changes two documents and the store has no multi-document transaction (nx-27017 has none worth the
name, see services/kit/store.py). So the merge is written as an outbox of its own:

1. the source's closure (status closed, close_reason `merged`, `merged_into`) and its `ticket.merged` event are one
   document write (routes.act): from then on the merge cannot be lost, the event is owed and will be published;
2. the request then writes the target's half at once (`complete`), so that its answer and a read of the target
   right after show the merge;
3. ticketing consumes its own `ticket.merged` and writes the target's half again: the same function, idempotent
   through the target's `merged_from`, so it changes nothing when step 2 landed and finishes the merge when the
   process died between 1 and 2 (or step 2 failed). A failing target write is retried, then dead-lettered.

Nothing is half-done for a reader for long: between 1 and 3 the source already names its target. The notes are
read from the stored source, which no action changes once closed, so the event need not carry internal notes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from contracts.events import Envelope
from services.kit.app import Runtime
from services.kit.consumer import PoisonMessage, Subscription
from services.ticketing.domain.ticket import Actor
from services.ticketing.store.collections import TICKETS, from_document, to_document

log = structlog.get_logger()
QUEUE = "ticketing.merges"


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_ticket_merged(envelope: Envelope) -> None:
        await complete(rt, envelope.subject)

    return [Subscription(QUEUE, ("ticket.merged",), on_ticket_merged)]


async def complete(rt: Runtime, source_id: str) -> bool:
    """Write the target's half of the merge of `source_id`; False when it was written before."""
    source_doc = await rt.store[TICKETS].find_one({"_id": source_id})
    if source_doc is None:
        raise PoisonMessage(f"ticket {source_id} does not exist")
    source = from_document(source_doc)
    if source.merged_into is None:
        raise PoisonMessage(f"ticket {source_id} was not merged")
    merge = next(h for h in reversed(source.history) if h.action == "merge")
    actor = Actor(sub=merge.actor, name=merge.actor_name)  # who merged, whichever process finishes it
    absorbed: list[bool] = []

    def decide(doc: dict[str, Any] | None):
        if doc is None:
            raise PoisonMessage(f"the target {source.merged_into} of {source_id} does not exist")
        target = from_document(doc)
        if not target.absorb(source, actor, datetime.now(UTC)):
            return None
        absorbed.append(True)
        extra = {"responded_late": target.responded_timely is False, "resolved_late": target.timely is False}
        return {**doc, **to_document(target, extra)}, []

    await rt.store.change(TICKETS, source.merged_into, decide)
    if absorbed:
        log.info("merge.completed", ticket_id=source_id, into=source.merged_into)
    return bool(absorbed)
