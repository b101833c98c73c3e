"""A ticket merged into another (close_reason `merged`, dataversion 2 of ticket.closed; or ticket.merged) is the
requester's contact that the other ticket already counts: it is in no figure but `merged` (counted on the day it
was opened), in the pure contribution (domain/counters.py), the reports' summaries (domain/metrics.summarize) and
the metrics API alike, and a merge that comes after the ticket was counted as open moves it out of the figures."""

from datetime import timedelta

from contracts.events import Envelope, TicketClosed, TicketMerged
from services.analytics.domain import counters as c
from services.analytics.domain import report as r
from services.analytics.domain.metrics import summarize
from services.analytics.domain.tickets import EXTRA_FIELDS, apply_event, snapshot
from services.analytics.events.handlers import apply_ticket_event
from services.analytics.store.counters import COUNTER_BATCHES, META, CountersJob
from tests.analytics.test_api import OPENED_AT, closed, opened, product, state, wrap
from tests.analytics.test_counters import caught_up, figures, quiet  # noqa: F401 - quiet is a fixture
from tests.analytics.test_domain import MARCH, T0, ticket
from tests.support import token


def merged_closure(**changes) -> dict:
    payload = TicketClosed(ticket_id="ZX-9", kind="consultation", status="closed", channel="call_center",
                           product_code="P1", city="济南", priority="normal", tier=1, tier_reached=2, opened_at=T0,
                           closed_at=T0 + timedelta(hours=1), respond_by=T0 + timedelta(hours=4),
                           resolve_by=T0 + timedelta(days=2), title="同一问题", description="重复来电", answer="",
                           close_reason="merged", merged_into="ZX-8", paused_seconds=120, **changes)
    envelope = Envelope.wrap(payload, type="ticket.closed", source="ticketing", subject="ZX-9", sequence=3,
                             correlationid="t")
    assert envelope.dataversion == "2"
    event = envelope.payload(TicketClosed)
    state_ = snapshot({**event.model_dump(), **{k: v for k, v in envelope.data.items() if k in EXTRA_FIELDS}})
    return apply_event(None, event_type="ticket.closed", sequence=3, event_time=T0, state=state_)


def test_a_merged_closure_counts_as_merged_and_in_no_other_figure():
    doc = merged_closure(first_response_at=T0 + timedelta(minutes=30), responded_timely=True)
    assert doc["status"] == "closed" and doc["close_reason"] == "merged" and doc["sla_breached"] is False
    keys = c.dimension_keys(doc)
    assert c.contribution(doc) == {("20260302", keys): {"merged": 1}}

    answered = ticket("ZX-8", status="closed", resolved_at=T0 + timedelta(hours=2), closed_at=T0 + timedelta(hours=3),
                      timely=True, satisfied=True)
    summary = summarize([doc, answered], MARCH)
    assert (summary["count"], summary["opened"], summary["closed"], summary["resolved"], summary["backlog"],
            summary["merged"]) == (1, 1, 1, 1, 0, 1)
    assert summary["satisfaction_rate"] == 1.0 and summary["timeliness_rate"] == {"response": None,
                                                                                  "resolution": 1.0}
    assert summary["escalation_rate"]["tier2"] == 0.0  # the duplicate's own escalation is not the contact's


def test_a_merge_after_the_ticket_was_counted_open_moves_it_out_of_opened_and_backlog():
    before = c.contribution(ticket("ZX-9", received_at=T0 - timedelta(hours=2), tier_reached=2))
    after = c.contribution(ticket("ZX-9", received_at=T0 - timedelta(hours=2), tier_reached=2, status="closed",
                                  closed_at=T0 + timedelta(days=3), close_reason="merged"))
    keys = c.dimension_keys(ticket("ZX-9"))
    # on the day of the requester's contact, not on the merge's day: opened + merged is every ticket filed that day
    assert c.difference(after, before) == {("20260302", keys): {"opened": -1, "tier2": -1, "merged": 1}}
    april = MARCH.__class__(MARCH.end, MARCH.end + timedelta(days=30))
    assert summarize([ticket("ZX-9", status="closed", closed_at=T0 + timedelta(days=40), close_reason="merged")],
                     april)["backlog"] == 0  # not carried into a later period's backlog either


def test_reports_leave_merged_duplicates_out_of_volumes_and_questions():
    def t(tid, **fields):
        return ticket(tid, title="通讯录同步失败", channel="call_center", **fields)

    tickets = [t("ZX-1"), t("ZX-2"), t("ZX-3", status="closed", closed_at=T0 + timedelta(hours=1),
                                       close_reason="merged")]
    overview = r.overview_table(tickets, MARCH).rows[0]
    assert (overview["opened"], overview["closed"], overview["backlog"], overview["merged"]) == (2, 0, 2, 1)
    kinds = {row["kind"]: row for row in r.volumes_by_kind_table(tickets, MARCH).rows}
    assert (kinds["consultation"]["opened"], kinds["consultation"]["closed"], kinds["consultation"]["merged"]) \
        == (2, 0, 1)
    assert r.top_questions_table(tickets, MARCH).rows[0]["tickets"] == 2
    assert r.concentrated_problems_table(tickets, MARCH).rows == []  # two asks of one question, not three


def merged_event(ticket_id: str, code: str, into: str, sequence: int) -> Envelope:
    closed_at = OPENED_AT + timedelta(days=2)
    payload = TicketMerged(**state(ticket_id, code, status="closed", closed_at=closed_at, tier_reached=2),
                           into=into, customer={"name": "张三", "group_name": "某集团"}, filed_by="agent-1",
                           moved_notes=0)
    return wrap(payload, "ticket.merged", sequence)


def merged_closed_event(ticket_id: str, code: str, into: str, sequence: int) -> Envelope:
    closed_at = OPENED_AT + timedelta(days=2)
    payload = TicketClosed(**state(ticket_id, code, status="closed", closed_at=closed_at, tier_reached=2),
                           title="通讯录同步失败", description="重复来电", answer="", close_reason="merged",
                           merged_into=into)
    return wrap(payload, "ticket.closed", sequence)


async def test_a_merge_through_the_consumer_corrects_summary_breakdown_and_timeseries(client, infra, send):
    code = product()
    g1, g2, g3, g4 = (f"TS-{code}-{n}" for n in range(1, 5))  # the database is shared with other modules' tickets
    analyst = token(infra, "analyst")
    period = {"product_code": code, "from": "2026-03-01", "to": "2026-03-31"}
    await send(opened(g1, code), opened(g2, code), opened(g3, code), closed(g4, code))
    body = await caught_up(client, analyst, lambda b: b["opened"] == 4, **period)
    assert (body["backlog"], body["merged"], body["escalation_rate"]["tier2"]) == (3, 0, 0.25)

    # g2 merged into g1: ticketing's ticket.merged and ticket.closed carry one sequence; the first to arrive is
    # the one the read model keeps, so each must say it was a merge. g3 is heard of only through ticket.merged.
    await send(merged_event(g2, code, g1, 2), merged_closed_event(g2, code, g1, 2), merged_event(g3, code, g1, 2))
    body = await caught_up(client, analyst, lambda b: b["merged"] == 2, **period)
    assert (body["count"], body["opened"], body["closed"], body["backlog"], body["merged"]) == (2, 2, 1, 1, 2)
    assert body["escalation_rate"]["tier2"] == 0.5 and body["satisfaction_rate"] == 1.0

    by_city = await figures(client, analyst, "/v1/metrics/breakdown", dimension="city", **period)
    assert [(i["key"], i["opened"], i["backlog"], i["merged"]) for i in by_city["items"]] == [("济南", 2, 1, 2)]
    series = await figures(client, analyst, "/v1/metrics/timeseries", metric="merged", interval="month", **period)
    assert [p["value"] for p in series["points"]] == [2]
    opened_series = await figures(client, analyst, "/v1/metrics/timeseries", metric="opened", interval="month",
                                  **period)
    assert [p["value"] for p in opened_series["points"]] == [2]


async def test_merged_tickets_counted_by_the_old_rule_are_recounted_once(quiet, infra, monkeypatch):
    """A store whose counters hold merged duplicates as opened and closed (the rule before `merged` stood alone)
    is corrected by the counters job's first run on the new rule, not only for tickets that change later."""
    app, client = quiet
    rt = app.state.runtime
    analyst = token(infra, "analyst")
    code = product()
    await CountersJob(rt.store, "tickets").run()  # whatever other tests left is counted first

    def old_rule(doc):
        if not c.is_merged(doc):
            return real(doc)
        counted = real({**doc, "close_reason": "satisfied"})
        day = next(iter(counted))
        counted[day] = {**counted[day], "merged": 1}
        return counted

    real = c.contribution
    await apply_ticket_event(rt, opened(f"TS-{code}-1", code))
    await apply_ticket_event(rt, merged_closed_event(f"TS-{code}-2", code, f"TS-{code}-1", 2))
    monkeypatch.setattr(c, "contribution", old_rule)
    await CountersJob(rt.store, "tickets").run()
    body = await figures(client, analyst, product_code=code)
    assert (body["opened"], body["closed"], body["merged"]) == (2, 1, 1)  # as the old code had counted it

    monkeypatch.setattr(c, "contribution", real)
    meta = await rt.store[COUNTER_BATCHES].find_one({"_id": META})
    await rt.store[COUNTER_BATCHES].replace_one({"_id": META}, {k: v for k, v in meta.items() if k != "rule"})
    await CountersJob(rt.store, "tickets").run()
    body = await figures(client, analyst, product_code=code)
    assert (body["opened"], body["closed"], body["backlog"], body["merged"]) == (1, 0, 1, 1)
    assert (await rt.store[COUNTER_BATCHES].find_one({"_id": META}))["rule"] == c.RULE

