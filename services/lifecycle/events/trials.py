"""Trial feedback from ticketing and trainings from knowledge, kept where the trial's view and gate read them.

- `ticket.opened` / `ticket.closed` (on lifecycle's ticket queue, events/handlers.py): a suggestion or complaint about a product
  in trial or trial-commercial, opened after the stage began, is linked to that stage (`trial_feedback`, one
  document per ticket); its closure adds the answer. Idempotent and order-tolerant (domain/trials.merge_feedback).
- `knowledge.training.recorded` (queue `lifecycle.trainings`): one `trainings` document per session; a record is
  written once, so the same event twice changes nothing."""

from __future__ import annotations

from contracts.events import Envelope, TicketClosed, TicketOpened, TrainingRecorded
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.lifecycle.domain import trials
from services.lifecycle.store.collections import TRAININGS
from services.lifecycle.store.gates import entered_at
from services.lifecycle.store.trials import TRIAL_FEEDBACK, stages_of

FEEDBACK_EVENTS = ("ticket.opened", "ticket.closed")
TRAININGS_QUEUE = "lifecycle.trainings"
FEEDBACK_KIND_VALUES = frozenset(kind.value for kind in trials.FEEDBACK_KINDS)


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def on_training(envelope: Envelope) -> None:
        await record_training(rt, envelope)

    return [Subscription(TRAININGS_QUEUE, ("knowledge.training.recorded",), on_training)]


async def record_feedback(rt: Runtime, envelope: Envelope) -> None:
    """Link the ticket to the running trial stage of its product, or update the link already made (a ticket
    linked once stays linked, whatever stage the product has reached when it closes).

    Every ticket's opening and closure comes here, so the reads are only those that can change the answer: none
    for a kind that is never trial feedback (consultations, faults: kinds never change), and for an opening only
    the product, since an opening is a ticket's first version and merge_feedback drops it beside any link a later
    event made first. At intake load the two reads per ticket this saves were a fifth of the store's commands."""
    if envelope.data.get("kind") not in FEEDBACK_KIND_VALUES:
        return
    model = TicketClosed if envelope.type == "ticket.closed" else TicketOpened
    ticket = envelope.payload(model)
    current = None if envelope.type == "ticket.opened" else \
        await rt.store[TRIAL_FEEDBACK].find_one({"_id": ticket.ticket_id}, {"stage": 1})
    stage = current["stage"] if current else None
    if stage is None:
        product = await stages_of(rt).get(ticket.product_code)
        stage = trials.feedback_stage(ticket, product, entered_at(product) if product else None)
        if stage is None:
            return

    def decide(doc):
        new = trials.merge_feedback(doc, ticket, stage=stage, event_type=envelope.type, sequence=envelope.sequence)
        return None if new is None else (new, [])

    await rt.store.change(TRIAL_FEEDBACK, ticket.ticket_id, decide)


async def record_training(rt: Runtime, envelope: Envelope) -> None:
    record = trials.training_record(envelope.payload(TrainingRecorded))
    await rt.store.change(TRAININGS, record["_id"], lambda doc: None if doc is not None else (record, []))
