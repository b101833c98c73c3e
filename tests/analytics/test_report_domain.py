"""Unit tests of the monthly report's model and rules (services/analytics/domain/report.py), and of the ticket
title the read model keeps for them."""

from datetime import UTC, datetime, timedelta

import pytest

from services.analytics.domain import report as r
from services.analytics.domain.tickets import apply_event
from tests.analytics.test_domain import T0, ticket

NOW = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 April in Shanghai: March is complete
MARCH = r.month_period("2026-03")


def t(ticket_id, title, *, product="P1", kind="consultation", city="济南", channel="call_center", **fields):
    return ticket(ticket_id, title=title, product_code=product, kind=kind, city=city, channel=channel, **fields)


# --- the read model keeps the title -------------------------------------------------------------------------

def test_a_later_event_without_a_title_keeps_it():
    doc = apply_event(None, event_type="ticket.opened", sequence=1, event_time=T0, state=t("ZX-1", "通讯录同步失败"))
    later = {k: v for k, v in t("ZX-1", None, status="in_progress").items() if k != "title"}
    doc = apply_event(doc, event_type="ticket.assigned", sequence=2, event_time=T0, state=later)
    assert doc["title"] == "通讯录同步失败" and doc["status"] == "in_progress"


def test_a_late_ticket_opened_brings_the_title_and_nothing_else():
    later = {k: v for k, v in t("ZX-1", None, status="in_progress").items() if k != "title"}
    doc = apply_event(None, event_type="ticket.assigned", sequence=2, event_time=T0, state=later)
    doc = apply_event(doc, event_type="ticket.opened", sequence=1, event_time=T0, state=t("ZX-1", "通讯录同步失败"))
    assert doc["title"] == "通讯录同步失败" and doc["status"] == "in_progress" and doc["sequence"] == 2
    assert apply_event(doc, event_type="ticket.opened", sequence=1, event_time=T0,
                       state=t("ZX-1", "通讯录同步失败")) is None  # a duplicate now changes nothing


# --- months -----------------------------------------------------------------------------------------------

def test_a_month_is_the_shanghai_calendar_month():
    assert MARCH.start == datetime(2026, 2, 28, 16, tzinfo=UTC) and MARCH.end == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert r.month_period("2026-12").end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert r.previous_month(datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == "2025-12"  # 08:30 on 1 Jan in Shanghai
    assert r.previous_month(datetime(2026, 3, 31, 15, 59, tzinfo=UTC)) == "2026-02"  # 23:59 on 31 March
    assert r.previous_month(datetime(2026, 3, 31, 16, 0, tzinfo=UTC)) == "2026-03"   # 00:00 on 1 April


@pytest.mark.parametrize("text", ["2026-13", "2026-3", "26-03", "2026-00", "march", "", "2026-03-01"])
def test_malformed_months_are_refused(text):
    with pytest.raises(r.MonthError):
        r.parse_month(text)


# --- questions ----------------------------------------------------------------------------------------------

def test_titles_with_the_same_words_are_one_question():
    assert r.question_key("请问通讯录同步失败怎么办") == r.question_key("通讯录 同步失败") == r.question_key("同步失败，通讯录！")
    assert r.question_key("通讯录同步失败") != r.question_key("彩铃设置失败")
    assert r.question_key("？？") == "" and r.question_key(None) == ""


def test_concentrated_problems_are_per_product_questions_with_at_least_n_tickets():
    tickets = [t("ZX-1", "通讯录同步失败", city="青岛"), t("TS-2", "请问通讯录同步失败怎么办", kind="complaint"),
               t("GZ-3", "通讯录同步失败", kind="fault"), t("ZX-4", "通讯录同步失败"),
               t("JY-5", "通讯录同步失败", kind="suggestion"),                       # suggestions go to the backlog
               t("ZX-6", "通讯录同步失败", product="P2"), t("ZX-7", "通讯录同步失败", product="P2"),  # 2 < 3
               t("ZX-8", "彩铃设置失败", product="P2"), t("ZX-9", "彩铃设置失败", product="P2"),
               t("ZX-10", "彩铃设置失败", product="P2"),
               t("ZX-11", "通讯录同步失败", opened_at=MARCH.start - timedelta(seconds=1))]  # February
    rows = r.concentrated_problems_table(tickets, MARCH).rows
    assert [(row["product_code"], row["question"], row["tickets"]) for row in rows] == [
        ("P1", "通讯录同步失败", 4), ("P2", "彩铃设置失败", 3)]
    first = rows[0]
    assert (first["consultation"], first["complaint"], first["fault"]) == (2, 1, 1)
    assert first["cities"] == "济南、青岛" and first["sample_tickets"].split("、")[0] == "ZX-1"
    assert r.concentrated_problems_table(tickets, MARCH, min_tickets=2).rows[1]["tickets"] == 3


def test_misunderstanding_complaints_are_grouped_by_product_and_question_in_the_month_resolved():
    resolved = dict(cause="usage_misunderstanding", resolved_at=T0 + timedelta(hours=2), status="resolved")
    tickets = [t("TS-1", "不会设置彩铃", kind="complaint", **resolved),
               t("TS-2", "彩铃 不会设置", kind="complaint", **resolved),
               t("TS-3", "不会设置彩铃", kind="complaint", **{**resolved, "cause": "billing_error"}),
               t("ZX-4", "不会设置彩铃", **resolved),                                  # a consultation
               t("TS-5", "不会设置彩铃", kind="complaint",
                 **{**resolved, "resolved_at": MARCH.end}),                            # resolved in April
               t("TS-6", "流量包怎么退订", kind="complaint", **resolved)]              # alone: 1 < 2
    rows = r.misunderstanding_complaints_table(tickets, MARCH).rows
    assert [(row["product_code"], row["question"], row["tickets"]) for row in rows] == [("P1", "不会设置彩铃", 2)]
    assert len(r.misunderstanding_complaints_table(tickets, MARCH, min_tickets=1).rows) == 2


def test_top_questions_rank_every_kind_and_stop_at_the_limit():
    tickets = [t(f"ZX-{i}", "通讯录同步失败", product=f"P{i % 2}") for i in range(3)] + \
              [t("JY-9", "希望增加导出功能", kind="suggestion"), t("ZX-8", "彩铃设置失败"), t("ZX-7", "彩铃设置失败")]
    rows = r.top_questions_table(tickets, MARCH).rows
    assert [(row["rank"], row["question"], row["tickets"]) for row in rows] == [
        (1, "通讯录同步失败", 3), (2, "彩铃设置失败", 2), (3, "希望增加导出功能", 1)]
    assert rows[0]["products"] == "P0、P1" and rows[2]["suggestion"] == 1
    assert len(r.top_questions_table(tickets, MARCH, limit=2).rows) == 2


# --- figures --------------------------------------------------------------------------------------------------

def test_city_timeliness_is_the_summary_of_each_city_in_the_cities_order():
    answered = dict(first_response_at=T0 + timedelta(hours=1), resolved_at=T0 + timedelta(hours=4),
                    closed_at=T0 + timedelta(hours=5), status="closed")
    tickets = [t("A", "q", city="青岛", **answered, responded_timely=True, timely=False, satisfied=True),
               t("B", "q", city="青岛", **answered, responded_timely=False, timely=True, satisfied=False),
               t("C", "q", city="济南", **answered, responded_timely=True, timely=True, satisfied=True),
               t("D", "q", city="烟台", status="closed", opened_at=MARCH.start - timedelta(days=40),
                 closed_at=MARCH.start - timedelta(days=30))]  # nothing in March: no row
    table = r.city_timeliness_table(tickets, MARCH)
    assert [row["city"] for row in table.rows] == ["济南", "青岛"]
    qingdao = table.rows[1]
    assert (qingdao["opened"], qingdao["response_timeliness"], qingdao["resolution_timeliness"],
            qingdao["satisfaction"], qingdao["avg_hours"]) == (2, 0.5, 0.5, 0.5, 4.0)
    assert table.chart.kind == "bar" and table.chart.category == "city"


def test_volumes_count_each_figure_on_its_own_moment_and_list_every_kind_and_channel():
    tickets = [t("A", "q", kind="complaint"), t("B", "q", kind="complaint", channel="customer"),
               t("C", "q", opened_at=MARCH.start - timedelta(days=3), resolved_at=T0, closed_at=T0,
                 status="closed")]
    kinds = {row["kind"]: row for row in r.volumes_by_kind_table(tickets, MARCH).rows}
    assert list(kinds) == ["consultation", "complaint", "suggestion", "fault"]
    assert (kinds["complaint"]["opened"], kinds["complaint"]["label"]) == (2, "投诉")
    assert (kinds["consultation"]["opened"], kinds["consultation"]["resolved"], kinds["consultation"]["closed"]) \
        == (0, 1, 1)
    channels = {row["channel"]: row["opened"] for row in r.volumes_by_channel_table(tickets, MARCH).rows}
    assert channels == {"account_manager": 0, "product_owner": 0, "call_center": 1, "customer": 1}


def test_the_report_holds_every_table_in_order_and_round_trips_as_json():
    tickets = [t("ZX-1", "通讯录同步失败")]
    kcs = [{"product_code": "P1", "month": "2026-03", "closed": 4, "linked": 3, "link_rate": 0.75, "new": 1,
            "known": 3, "promoted": 1, "dismissed": 0}]
    joined = [{"product_code": "P1", "city": "济南", "subscribers": 2000, "revenue_cny": "4000.00", "complaints": 3,
               "complaints_per_1000": 1.5, "month": "2026-03"}]
    report = r.build_report("2026-03", tickets, kcs, generated_at=NOW, as_of=T0, subscriptions=joined)
    assert [table.name for table in report.tables] == list(r.TABLES)
    assert report.table("subscriptions").rows == [{"product_code": "P1", "city": "济南", "subscribers": 2000,
                                                   "revenue_cny": "4000.00", "complaints": 3,
                                                   "complaints_per_1000": 1.5}]
    assert report.complete and not report.kept and report.scope_label == "全省"
    assert report.table("kcs").rows == [{"product_code": "P1", "closed": 4, "linked": 3, "link_rate": 0.75,
                                         "new": 1, "known": 3, "promoted": 1, "dismissed": 0}]
    assert report.table("overview").rows[0]["opened"] == 1
    again = r.Report.model_validate(report.model_dump(mode="json"))
    assert again == report
    for table in report.tables:
        keys = [c.key for c in table.columns]
        assert all(set(row) <= set(keys) for row in table.rows), table.name
        if table.chart:
            assert table.chart.category in keys and set(table.chart.values) <= set(keys), table.name


def test_a_city_report_has_no_kcs_and_the_current_month_is_not_complete():
    report = r.build_report("2026-03", [], None, city="青岛", generated_at=T0, as_of=None)
    assert "kcs" not in [table.name for table in report.tables]
    assert not report.complete and report.scope_label == "地市 青岛"
    assert report.table("city_timeliness").rows == [] and report.table("overview").rows[0]["opened"] == 0


def test_counted_products_are_those_with_a_figure_or_a_backlog_in_the_month():
    tickets = [t("A", "q", product="P1"),
               t("B", "q", product="P2", opened_at=MARCH.start - timedelta(days=5)),  # open at March's end
               t("C", "q", product="P3", opened_at=MARCH.end + timedelta(days=1)),
               t("D", "q", product="P4", status="closed", opened_at=MARCH.start - timedelta(days=5),
                 closed_at=MARCH.start - timedelta(days=1))]
    assert r.counted_products(tickets, MARCH) == {"P1", "P2"}
