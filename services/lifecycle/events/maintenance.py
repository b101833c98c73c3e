"""Fault tickets → lifecycle's own fault read model (`faults`, one document per ticket), from which the maintenance
view counts faults per product and platform without calling ticketing.

Every ticket event carries the ticket's whole state, so the handler keeps the newest by `sequence`: a repeated
event or an older one arriving late changes nothing, and any one event alone rebuilds the document. Events of
the other kinds are read too: a newer one about a recorded fault means the ticket was reclassified, and the
fault is then counted no more (domain/maintenance.fault_record)."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import EVENT_TYPES, Envelope
from contracts.vocabulary import Kind
from services.kit.app import Runtime
from services.lifecycle.domain import maintenance
from services.lifecycle.store.maintenance import FAULTS

# on lifecycle's ticket queue (events/handlers.py); reopened too: a fault whose restore the requester refused is open again
FAULT_EVENTS = ("ticket.opened", "ticket.resolved", "ticket.reopened", "ticket.closed")


async def record_fault(rt: Runtime, envelope: Envelope) -> None:
    if envelope.type == "ticket.opened" and envelope.data.get("kind") != Kind.fault.value:
        return  # a ticket opened as another kind has no fault document to drop; not even parsed (every intake)
    ticket = envelope.payload(EVENT_TYPES[envelope.type])
    state = ticket.model_dump()

    def decide(current):
        doc = maintenance.fault_record(current, state, sequence=envelope.sequence, recorded_at=datetime.now(UTC))
        return None if doc is None else (doc, [])

    await rt.store.change(FAULTS, ticket.ticket_id, decide)
