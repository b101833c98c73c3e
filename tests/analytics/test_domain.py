"""Unit tests of the analytics domain: the per-ticket read model, the period and the summary figures."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.analytics.domain.counters import rate
from services.analytics.domain.metrics import summarize
from services.analytics.domain.period import Period, PeriodError, parse_bound, parse_period
from services.analytics.domain.tickets import apply_event, snapshot

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
MARCH = Period(datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 31, 16, tzinfo=UTC))  # Shanghai days


def ticket(ticket_id="ZX-1", **fields):
    base = {"ticket_id": ticket_id, "kind": "consultation", "status": "new", "product_code": "P1", "city": "济南",
            "tier": 1, "tier_reached": 1, "opened_at": T0, "first_response_at": None, "resolved_at": None,
            "closed_at": None, "responded_timely": None, "timely": None, "satisfied": None, "reopen_count": 0}
    return {**base, **fields}


# --- read model ----------------------------------------------------------------------------------------


def apply(current, sequence, state, event_type="ticket.assigned", at=T0, deadline=None):
    return apply_event(current, event_type=event_type, sequence=sequence, event_time=at, state=state,
                       breach_deadline=deadline)


def test_first_event_creates_the_document_keyed_by_ticket():
    doc = apply(None, 1, ticket(), "ticket.opened")
    assert doc["_id"] == "ZX-1" and doc["sequence"] == 1 and doc["status"] == "new"
    assert doc["sla_breached"] is False and doc["breached_deadlines"] == []
    assert doc["event_time"] == T0


def test_newer_event_replaces_state_and_keeps_bookkeeping_fields():
    stored = {**apply(None, 1, ticket(), "ticket.opened"), "_rev": 3}
    doc = apply(stored, 2, ticket(status="in_progress", assignee="a1"), at=T0 + timedelta(minutes=5))
    assert doc["status"] == "in_progress" and doc["sequence"] == 2 and doc["_rev"] == 3
    assert doc["event_time"] == T0 + timedelta(minutes=5)


@pytest.mark.parametrize("sequence", [1, 4, 5])
def test_duplicate_or_older_event_changes_nothing(sequence):
    stored = apply(None, 5, ticket(status="closed"), "ticket.closed")
    assert apply(stored, sequence, ticket(status="new"), "ticket.opened") is None


def test_breach_is_sticky_when_a_newer_snapshot_arrives_after_it():
    breached = apply(None, 3, ticket(status="in_progress"), "ticket.sla_breached", deadline="respond")
    later = apply(breached, 4, ticket(status="resolved", timely=True), "ticket.resolved")
    assert later["sla_breached"] is True and later["breached_deadlines"] == ["respond"]


def test_stale_breach_is_recorded_without_rolling_back_the_state():
    closed = apply(None, 6, ticket(status="closed"), "ticket.closed", at=T0 + timedelta(days=2))
    doc = apply(closed, 3, ticket(status="in_progress"), "ticket.sla_breached", at=T0, deadline="resolve")
    assert doc["status"] == "closed" and doc["sequence"] == 6
    assert doc["sla_breached"] is True and doc["breached_deadlines"] == ["resolve"]
    assert doc["event_time"] == T0 + timedelta(days=2)  # never moves back
    assert apply(doc, 3, ticket(status="in_progress"), "ticket.sla_breached", deadline="resolve") is None


def test_late_resolution_in_the_snapshot_counts_as_a_breach():
    assert apply(None, 4, ticket(status="resolved", timely=False), "ticket.resolved")["sla_breached"] is True
    assert apply(None, 2, ticket(responded_timely=False))["sla_breached"] is True


def test_snapshot_stores_plain_values_and_utc_datetimes():
    from contracts.vocabulary import Kind

    shanghai = timezone(timedelta(hours=8))
    state = snapshot({"kind": Kind.fault, "opened_at": datetime(2026, 3, 2, 9, 0, tzinfo=shanghai),
                      "resolved_at": datetime(2026, 3, 2, 2, 0)})
    assert state["kind"] == "fault" and type(state["kind"]) is str
    assert state["opened_at"] == T0 and state["opened_at"].tzinfo is UTC
    assert state["resolved_at"] == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


# --- period --------------------------------------------------------------------------------------------


def test_dates_are_shanghai_days_and_a_date_to_includes_the_whole_day():
    period = parse_period("2026-03-01", "2026-03-31")
    assert period.start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert period.contains(datetime(2026, 2, 28, 16, 0, tzinfo=UTC))          # 00:00 Mar 1 in Shanghai
    assert not period.contains(datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC))
    assert period.contains(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC))     # 23:59:59 Mar 31
    assert not period.contains(datetime(2026, 3, 31, 16, 0, tzinfo=UTC))


def test_datetimes_with_and_without_offset():
    assert parse_bound("2026-03-02T01:00:00Z", field="from", upper=False) == T0
    assert parse_bound("2026-03-02T09:00:00+08:00", field="to", upper=True) == T0
    assert parse_bound("2026-03-02T09:00:00", field="to", upper=True) == T0  # naive = Shanghai time


def test_open_ended_periods():
    assert parse_period(None, None) == Period()
    assert Period().contains(T0) and not Period().contains(None)
    assert parse_period("2026-03-01", None).end is None


@pytest.mark.parametrize("start,end,field", [("2026-03-05", "2026-03-04", "from"), ("yesterday", None, "from"),
                                             (None, "2026-13-01", "to"),
                                             ("2026-03-02T10:00:00Z", "2026-03-02T09:00:00Z", "from")])
def test_bad_periods_are_refused_naming_the_field(start, end, field):
    with pytest.raises(PeriodError) as caught:
        parse_period(start, end)
    assert caught.value.field == field


def test_a_one_day_period_and_an_empty_instant_are_valid():
    day = parse_period("2026-03-02", "2026-03-02")
    assert day.end - day.start == timedelta(days=1)
    instant = parse_period("2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z")
    assert not instant.contains(datetime(2026, 3, 2, 9, tzinfo=UTC))


# --- figures -------------------------------------------------------------------------------------------


def test_rates_are_none_without_a_denominator():
    assert rate(0, 0) is None and rate(0, 3) == 0.0 and rate(2, 3) == 0.6667
    summary = summarize([], MARCH)
    assert summary["opened"] == summary["count"] == summary["backlog"] == 0
    assert summary["timeliness_rate"] == {"response": None, "resolution": None}
    assert summary["satisfaction_rate"] is None and summary["reopen_rate"] is None
    assert summary["resolution_hours"] == {"avg": None, "p90": None}
    assert summary["escalation_rate"] == {"tier2": None, "tier3": None}


def closed_after(ticket_id: str, hours: float) -> dict:
    return ticket(ticket_id, status="resolved", resolved_at=T0 + timedelta(hours=hours), timely=True)


def test_p90_is_the_counters_histogram_edge():
    # the same arithmetic as the counters: nearest rank over 15-minute buckets up to 4 h
    tickets = [closed_after(f"T{n}", hours) for n, hours in enumerate((0.2, 0.7, 1.1, 1.6, 3.9))]
    assert summarize(tickets, MARCH)["resolution_hours"]["p90"] == 4.0


def test_each_figure_counts_on_its_own_timestamp():
    feb = datetime(2026, 2, 20, tzinfo=UTC)
    tickets = [
        # opened in February, resolved and closed (satisfied) in March
        ticket("A", status="closed", opened_at=feb, first_response_at=feb + timedelta(hours=1),
               responded_timely=True, resolved_at=T0, closed_at=T0 + timedelta(days=1), timely=False,
               satisfied=True),
        # opened in March, resolved in March after 10 h, still waiting for feedback
        ticket("B", status="resolved", first_response_at=T0 + timedelta(hours=1), responded_timely=False,
               resolved_at=T0 + timedelta(hours=10), timely=True, tier_reached=2),
        # opened in March, still open, escalated to the vendor
        ticket("C", status="escalated", first_response_at=T0 + timedelta(minutes=30), responded_timely=True,
               tier_reached=3),
        # opened in April: outside the period, not backlog of March
        ticket("D", opened_at=datetime(2026, 4, 2, tzinfo=UTC)),
        # opened and closed in January: nothing to do with March
        ticket("E", status="closed", opened_at=datetime(2026, 1, 5, tzinfo=UTC),
               resolved_at=datetime(2026, 1, 6, tzinfo=UTC), closed_at=datetime(2026, 1, 7, tzinfo=UTC),
               timely=True, satisfied=False),
    ]
    summary = summarize(tickets, MARCH)
    assert (summary["opened"], summary["resolved"], summary["closed"], summary["backlog"]) == (2, 2, 1, 2)
    assert summary["count"] == 3  # A, B, C
    assert summary["timeliness_rate"] == {"response": 0.5, "resolution": 0.5}  # B late, C on time; A in February
    assert summary["satisfaction_rate"] == 1.0
    hours_a = (T0 - datetime(2026, 2, 20, tzinfo=UTC)).total_seconds() / 3600  # 241 h
    # p90 is the upper edge of A's histogram bucket, (240, 252] h (domain/counters.py HOUR_EDGES)
    assert summary["resolution_hours"] == {"avg": round((hours_a + 10) / 2, 2), "p90": 252.0}
    assert summary["escalation_rate"] == {"tier2": 1.0, "tier3": 0.5}
    assert summary["reopen_rate"] == 0.0


def test_a_ticket_closed_for_want_of_feedback_is_neither_satisfied_nor_unsatisfied():
    closed = dict(status="closed", resolved_at=T0, closed_at=T0 + timedelta(days=3), timely=True)
    tickets = [ticket("A", **closed, satisfied=True), ticket("B", **closed, satisfied=False),
               # auto-closed (ticket.closed with close_reason no_feedback carries satisfied None)
               ticket("C", **closed, satisfied=None, close_reason="no_feedback")]
    summary = summarize(tickets, MARCH)
    assert summary["closed"] == 3 and summary["satisfaction_rate"] == 0.5


def test_an_update_breach_and_its_new_fields_count_as_a_breach():
    state = snapshot(ticket(status="in_progress", kind="complaint"))
    doc = apply(None, 2, state, event_type="ticket.sla_breached", deadline="update")
    assert doc["sla_breached"] is True and doc["breached_deadlines"] == ["update"]
    assert apply(doc, 2, state, event_type="ticket.sla_breached", deadline="update") is None  # once


def test_reopened_tickets_count_their_last_resolution_once():
    tickets = [
        ticket("R", status="resolved", resolved_at=T0 + timedelta(days=3), reopen_count=1, timely=True),
        ticket("S", status="in_progress", resolved_at=None, reopen_count=2),  # reopened, not resolved again
        ticket("T", status="closed", resolved_at=T0 + timedelta(hours=4), closed_at=T0 + timedelta(days=1),
               timely=True, satisfied=None, close_reason="no_feedback"),
    ]
    summary = summarize(tickets, MARCH)
    assert summary["resolved"] == 2 and summary["reopen_rate"] == 0.5
    assert summary["backlog"] == 2
    assert summary["satisfaction_rate"] is None  # closed without feedback has no say


def test_unknown_timeliness_is_left_out_of_the_rate():
    tickets = [ticket("U", status="resolved", resolved_at=T0 + timedelta(hours=1), timely=None),
               ticket("V", status="resolved", resolved_at=T0 + timedelta(hours=2), timely=False)]
    assert summarize(tickets, MARCH)["timeliness_rate"]["resolution"] == 0.0


def test_period_edges_are_inclusive_start_exclusive_end():
    start, end = MARCH.start, MARCH.end
    tickets = [ticket("edge-start", opened_at=start), ticket("edge-end", opened_at=end),
               ticket("before", opened_at=start - timedelta(microseconds=1))]
    summary = summarize(tickets, MARCH)
    assert summary["opened"] == 1
    assert summary["backlog"] == 2  # "before" is backlog carried into March; "edge-end" opened after it


def test_open_period_counts_everything():
    tickets = [ticket("A", status="closed", resolved_at=T0, closed_at=T0, satisfied=False), ticket("B")]
    summary = summarize(tickets, Period())
    assert (summary["opened"], summary["resolved"], summary["closed"], summary["backlog"]) == (2, 1, 1, 1)
    assert summary["satisfaction_rate"] == 0.0
    assert summary["resolution_hours"] == {"avg": 0.0, "p90": 0.25}  # within the first bucket, [0, 15 min]
