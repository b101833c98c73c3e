"""A ticket merged into another (close_reason `merged`, dataversion 2 of ticket.closed) reaches the read model as a
closed ticket that was never resolved and gave no feedback: it leaves the backlog and is in no rate."""

from datetime import timedelta

from contracts.events import Envelope, TicketClosed
from services.analytics.domain.metrics import summarize
from services.analytics.domain.tickets import EXTRA_FIELDS, apply_event, snapshot
from tests.analytics.test_domain import MARCH, T0, ticket


def test_a_merged_closure_from_its_event_is_closed_and_counted_in_no_rate():
    payload = TicketClosed(ticket_id="ZX-9", kind="consultation", status="closed", channel="call_center",
                           product_code="P1", city="济南", priority="normal", tier=1, tier_reached=1, opened_at=T0,
                           closed_at=T0 + timedelta(hours=1), respond_by=T0 + timedelta(hours=4),
                           resolve_by=T0 + timedelta(days=2), title="同一问题", description="重复来电", answer="",
                           close_reason="merged", merged_into="ZX-8", paused_seconds=120)
    envelope = Envelope.wrap(payload, type="ticket.closed", source="ticketing", subject="ZX-9", sequence=3,
                             correlationid="t")
    assert envelope.dataversion == "2"
    event = envelope.payload(TicketClosed)
    state = snapshot({**event.model_dump(), **{k: v for k, v in envelope.data.items() if k in EXTRA_FIELDS}})
    doc = apply_event(None, event_type="ticket.closed", sequence=3, event_time=T0, state=state)
    assert doc["status"] == "closed" and doc["close_reason"] == "merged" and doc["sla_breached"] is False

    answered = ticket("ZX-8", status="closed", resolved_at=T0 + timedelta(hours=2), closed_at=T0 + timedelta(hours=3),
                      timely=True, satisfied=True)
    summary = summarize([doc, answered], MARCH)
    assert (summary["closed"], summary["resolved"], summary["backlog"]) == (2, 1, 0)
    assert summary["satisfaction_rate"] == 1.0 and summary["timeliness_rate"]["resolution"] == 1.0
