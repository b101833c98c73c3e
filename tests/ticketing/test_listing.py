"""Unit tests of the list's derived fields (services/ticketing/store/listing.py) and the search's slices."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.vocabulary import Cause, Channel, Kind
from services.kit import text
from services.ticketing.domain import sla
from services.ticketing.domain.ticket import Actor, Customer, Ticket
from tests.ticketing.test_sla import PausableTicket
from services.ticketing.api.routes import breach_filters, unraised_breaches
from services.ticketing.domain import schedule
from services.ticketing.store import listing, scheduled, search
from services.ticketing.store.collections import from_document, to_document

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ME = Actor(sub="agent-1")


def opened(kind=Kind.consultation, at=T0, ticket_id="ZX-20261125-00001", **kw) -> Ticket:
    ticket, _ = Ticket.open(id=ticket_id, kind=kind, channel=Channel.call_center, product_code="mobile_office",
                            city="济南", title="忘记密码了怎么办", description="移动办公登录提示密码错误",
                            customer=Customer(name="张三", group_name="济南市教育局"), actor=ME, now=at, **kw)
    return ticket


def test_sort_keys_order_as_opened_then_id_and_never_look_like_dates_to_nx():
    early, late = opened(), opened(at=T0 + timedelta(microseconds=1))
    same_time = opened(ticket_id="ZX-20261125-00002")
    assert listing.sort_key(early) < listing.sort_key(same_time) < listing.sort_key(late)
    assert listing.sort_key(early) == "20261125T090000.000000Z|ZX-20261125-00001"
    assert listing.NEVER > listing.instant_text(datetime(9999, 12, 31, tzinfo=UTC))


def histories():
    """Tickets in every shape the breach rule distinguishes."""
    fresh = opened()
    answered_in_time = opened(); answered_in_time.add_note("已收到", "requester", ME, T0 + timedelta(hours=1))
    answered_late = opened(); answered_late.add_note("已收到", "requester", ME, T0 + timedelta(days=1))
    assigned_only = opened(); assigned_only.assign("a", ME, T0 + timedelta(hours=1))  # no response yet
    resolved_in_time = opened(); resolved_in_time.assign("a", ME, T0 + timedelta(hours=1))
    resolved_in_time.resolve("答复", Cause.other, None, ME, T0 + timedelta(hours=2))
    resolved_late = opened(); resolved_late.assign("a", ME, T0 + timedelta(hours=1))
    resolved_late.resolve("答复", Cause.other, None, ME, T0 + timedelta(days=9))
    closed_late = resolved_late.model_copy(deep=True)
    closed_late.give_feedback(True, 5, None, ME, T0 + timedelta(days=10))
    reopened = resolved_in_time.model_copy(deep=True)
    reopened.give_feedback(False, 1, "没解决", ME, T0 + timedelta(hours=3))
    fault = opened(kind=Kind.fault, severity=1)
    complaint = opened(kind=Kind.complaint, ticket_id="TS-20261125-00001")  # with an update clock
    complaint_noted = complaint.model_copy(deep=True)
    complaint_noted.add_note("正在处理", "requester", ME, T0 + timedelta(hours=2))
    complaint_noted.recalculate_sla(sla.DEFAULT_CONFIG, T0 + timedelta(hours=2))  # as every action's write does
    paused = PausableTicket.model_validate(complaint_noted.model_dump())
    paused.pauses = [{"start": T0 + timedelta(hours=2), "end": None}]
    return [fresh, answered_in_time, answered_late, assigned_only, resolved_in_time, resolved_late, closed_late,
            reopened, fault, complaint, complaint_noted, paused]


@pytest.mark.parametrize("ticket", histories())
def test_breach_key_answers_exactly_what_ticket_breached_answers(ticket):
    key = listing.breach_key(ticket)
    moments = [T0 + offset for offset in (timedelta(0), timedelta(minutes=15), timedelta(hours=4),
                                           timedelta(hours=4, microseconds=1), timedelta(days=1),
                                           timedelta(days=2, hours=1), timedelta(days=30))]
    moments += [ticket.respond_by, ticket.resolve_by, ticket.resolve_by + timedelta(microseconds=1)]
    moments += [ticket.update_by, ticket.update_by + timedelta(microseconds=1)] if ticket.update_by else []
    moments += [T0 + timedelta(days=15), T0 + timedelta(days=15, microseconds=1)]  # a complaint's limit
    for now in (m for m in moments if m >= ticket.updated_at):  # a list is read after the ticket's last change
        offset = now - T0
        assert (key < listing.instant_text(now)) == ticket.breached(now), (offset, key)


def breach_moments(ticket):
    moments = [T0 + timedelta(days=d, minutes=m) for d in (0, 1, 2, 5, 15, 30) for m in (0, 15, 241)]
    moments += [ticket.respond_by, ticket.resolve_by, ticket.resolve_by + timedelta(microseconds=1)]
    moments += [ticket.update_by, ticket.update_by + timedelta(microseconds=1)] if ticket.update_by else []
    return [m for m in moments if m >= ticket.updated_at]


def listed_as_breached(ticket, now) -> bool:
    """What GET /v1/tickets?breached=true asks of the stored fields (api/routes.py): the ids that
    `unraised_breaches` finds, then the alternatives of `breach_filters`."""
    fields = listing.derived_fields(ticket)
    ops = {"$eq": lambda a, b: a == b, "$lt": lambda a, b: a < b, "$gte": lambda a, b: a >= b}

    def matches(query):
        return all(ops[op](fields[field], value) for field, condition in query.items()
                   for op, value in condition.items())

    unraised = [fields[listing.SORT_KEY]] if matches(unraised_breaches(now)) else []
    return any(matches(alternative) for alternative in breach_filters(True, now, unraised))


def with_breaches_raised(ticket, at):
    """The ticket as the breach job writes it at `at`: what was due then is recorded."""
    raised = ticket.model_copy(deep=True)
    due = schedule.breaches_due(raised, at)
    if due:  # Ticket.record_breaches' change of state (its history entry needs a real pause, which `paused` fakes)
        raised.sla_breaches, raised.updated_at = [*raised.sla_breaches, *due], at
    return raised


@pytest.mark.parametrize("ticket", histories())
def test_breached_true_is_the_flag_plus_what_the_breach_job_has_still_to_raise(ticket):
    for now in breach_moments(ticket):
        assert listed_as_breached(ticket, now) == ticket.breached(now), (now - T0, listing.derived_fields(ticket))
        # and once the job has raised what was due at some earlier moment, the answer is the same
        for job_ran in (m for m in breach_moments(ticket) if m <= now):
            raised = with_breaches_raised(ticket, job_ran)
            assert listed_as_breached(raised, now) == raised.breached(now) == ticket.breached(now), (
                now - T0, job_ran - T0)


def test_the_breach_flag_is_set_by_a_raised_breach_and_by_a_write_after_the_moment():
    fresh = opened()
    assert listing.breach_seen(fresh) == "n"
    late = fresh.respond_by + timedelta(minutes=1)
    raised = with_breaches_raised(fresh, late)
    assert raised.sla_breaches and listing.breach_seen(raised) == "y"
    noted_late = fresh.model_copy(deep=True)
    noted_late.add_note("内部记录", "internal", ME, late)  # any write after the moment: breached as stored
    assert listing.breach_seen(noted_late) == "y"


def test_the_document_carries_the_derived_fields_and_reads_back_as_the_ticket():
    ticket = opened()
    doc = to_document(ticket, {"idempotency_key": "k"})
    assert doc["sort_key"].endswith("|" + ticket.id) and doc["breach_key"] == "20261126T040000.000000Z"
    words = doc["search_text"].split()
    assert {"密码", "忘记", "移动办公", "济南市", "教育局"} <= set(words)
    assert text.in_period("密码", "20261123") in words
    assert from_document(doc) == ticket


def test_search_slices_go_back_week_by_week_then_ask_the_plain_words_for_the_rest():
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday: its week began on Monday the 23rd
    slices = list(search.newest_first(["密码"], now)(None))
    assert len(slices) == search.WEEK_SLICES + 1
    assert slices[0] == {"$text": {"$search": text.phrase_search([text.in_period("密码", "20261123")])}}
    assert slices[1] == {"$text": {"$search": text.phrase_search([text.in_period("密码", "20261116")])},
                         "sort_key": {"$lt": "20261123T000000.000000Z"}}
    assert slices[-1] == {"$text": {"$search": '"密码"'}, "sort_key": {"$lt": "20261019T000000.000000Z"}}
    after = list(search.newest_first(["密码", "重置"], now)("20260101T010000.000000Z|ZX-1"))
    assert after[0]["sort_key"] == {"$lt": "20260101T010000.000000Z|ZX-1"}
    assert after[0]["$text"]["$search"] == text.phrase_search([text.in_period(w, "20251229") for w in ("密码", "重置")])
    assert after[1]["sort_key"] == {"$lt": "20251229T000000.000000Z"}


def test_a_ticket_carries_the_week_of_its_opening():
    sunday_night = opened(at=datetime(2026, 11, 29, 23, 59, tzinfo=UTC))
    assert text.in_period("密码", "20261123") in listing.search_text(sunday_night).split()
    assert listing.week_of(datetime(2026, 11, 30, tzinfo=UTC)) == datetime(2026, 11, 30, tzinfo=UTC)
