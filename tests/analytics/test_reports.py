"""Integration tests of the monthly reports: tickets applied to the read model in the real store (the handler the
consumer runs), KCS figures through the real broker, then the report over HTTP as JSON, CSV and XLSX, kept or
generated, and the job that keeps last month's reports. Each test has its own product codes; the job test has a
month of its own (June 2025), so its province-wide report holds its tickets only."""

import io
import urllib.parse
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from contracts.events import Envelope, KcsMeasured
from services.analytics import jobs
from services.analytics.domain.report import month_of
from services.analytics.events.handlers import apply_ticket_event
from services.analytics.events.kcs import apply_kcs_event
from services.analytics.store.reports import KCS, REPORTS, ensure_monthly_reports
from tests.analytics.test_api import closed, opened, product
from tests.support import eventually, publish, token

URL = "/v1/reports/monthly/{}"


@pytest.fixture
def rt(app, client):
    return app.state.runtime


@pytest.fixture
def analyst(infra):
    return token(infra, "analyst")


def kcs_event(code: str, month: str, sequence: int, **figures) -> Envelope:
    values = dict(closed=5, linked=2, reuses=2, link_rate=0.4, new=2, known=3, promoted=1, dismissed=0) | figures
    return Envelope.wrap(KcsMeasured(product_code=code, month=month, version=sequence, **values),
                         type="knowledge.kcs.measured", source="knowledge", subject=f"{code}:{month}",
                         sequence=sequence, correlationid="test-" + uuid.uuid4().hex[:8])


async def feed_march(rt, code: str) -> None:
    """Three consultations of one question (concentrated), two misunderstanding complaints of another (FAQ)."""
    for ticket_id, city, title in (("ZX-1", "济南", "通讯录同步失败"), ("ZX-2", "青岛", "请问通讯录同步失败怎么办"),
                                   ("ZX-3", "济南", "通讯录同步失败")):
        await apply_ticket_event(rt, _opened(code, ticket_id, city, title, kind="consultation"))
        await apply_ticket_event(rt, _closed(code, ticket_id, city, title, kind="consultation", cause="other"))
    for ticket_id in ("TS-4", "TS-5"):
        await apply_ticket_event(rt, _closed(code, ticket_id, "青岛", "不会设置彩铃", kind="complaint",
                                             satisfied=False))


def _opened(code, ticket_id, city, title, **changes) -> Envelope:
    envelope = opened(f"{code}-{ticket_id}", code, city=city, **changes)
    return envelope.model_copy(update={"data": {**envelope.data, "title": title}})


def _closed(code, ticket_id, city, title, **changes) -> Envelope:
    envelope = closed(f"{code}-{ticket_id}", code, city=city, **changes)
    return envelope.model_copy(update={"data": {**envelope.data, "title": title}})


async def get(client, headers, month, **params):
    response = await client.get(URL.format(month), params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def test_a_products_month_as_json_from_tickets_and_kcs_events(client, rt, infra, analyst):
    code = product()
    await feed_march(rt, code)
    # the newer figures first, then an older version and a duplicate: the newest stays
    await publish(infra, kcs_event(code, "2026-03", 3, closed=7, linked=4, link_rate=0.5714),
                  kcs_event(code, "2026-03", 2, closed=1), kcs_event(code, "2026-03", 3, closed=7))
    sentinel = product()
    await publish(infra, kcs_event(sentinel, "2026-03", 1))

    async def handled():
        newest = await rt.store[KCS].find_one({"_id": f"{code}:2026-03"})
        return newest and newest["version"] == 3 and await rt.store[KCS].find_one({"_id": f"{sentinel}:2026-03"})

    await eventually(handled, timeout=15, what="the KCS events handled")
    body = (await get(client, analyst, "2026-03", product_code=code)).json()
    assert body["month"] == "2026-03" and body["product_code"] == code and body["city"] is None
    assert body["complete"] is True and body["kept"] is True
    tables = {t["name"]: t for t in body["tables"]}
    assert list(tables) == ["overview", "city_timeliness", "volumes_by_kind", "volumes_by_channel", "top_questions",
                            "concentrated_problems", "misunderstanding_complaints", "kcs", "subscriptions"]
    assert tables["overview"]["rows"][0]["opened"] == 5 and tables["overview"]["rows"][0]["closed"] == 5
    cities = {row["city"]: row for row in tables["city_timeliness"]["rows"]}
    assert list(cities) == ["济南", "青岛"]
    assert cities["青岛"]["opened"] == 3 and cities["青岛"]["satisfaction"] == pytest.approx(1 / 3, abs=1e-4)
    assert cities["济南"]["response_timeliness"] == 1.0 and cities["济南"]["avg_hours"] == 6.0
    kinds = {row["kind"]: row["opened"] for row in tables["volumes_by_kind"]["rows"]}
    assert kinds == {"consultation": 3, "complaint": 2, "suggestion": 0, "fault": 0}
    assert [(row["question"], row["tickets"]) for row in tables["top_questions"]["rows"]] == [
        ("通讯录同步失败", 3), ("不会设置彩铃", 2)]
    assert [(row["product_code"], row["question"], row["tickets"], row["cities"])
            for row in tables["concentrated_problems"]["rows"]] == [(code, "通讯录同步失败", 3, "济南、青岛")]
    assert [(row["question"], row["tickets"]) for row in tables["misunderstanding_complaints"]["rows"]] == [
        ("不会设置彩铃", 2)]
    assert tables["kcs"]["rows"] == [{"product_code": code, "closed": 7, "linked": 4, "link_rate": 0.5714, "new": 2,
                                      "known": 3, "promoted": 1, "dismissed": 0}]
    assert tables["concentrated_problems"]["columns"][1] == {"key": "question", "header": "问题", "type": "text"}
    assert tables["city_timeliness"]["chart"]["kind"] == "bar"

    # kept: a late ticket does not change it; ?fresh=true answers the current figures and keeps nothing new
    await apply_ticket_event(rt, _opened(code, "ZX-6", "烟台", "通讯录同步失败"))
    again = (await get(client, analyst, "2026-03", product_code=code)).json()
    assert again["generated_at"] == body["generated_at"] and again["tables"] == body["tables"]
    fresh = (await get(client, analyst, "2026-03", product_code=code, fresh="true")).json()
    assert fresh["kept"] is False and fresh["tables"][0]["rows"][0]["opened"] == 6
    assert (await get(client, analyst, "2026-03", product_code=code)).json()["generated_at"] == body["generated_at"]
    one = (await get(client, analyst, "2026-03", product_code=code, table="kcs")).json()
    assert [t["name"] for t in one["tables"]] == ["kcs"]


async def test_a_ticket_received_in_the_month_but_filed_after_it_counts_in_its_questions(client, rt, analyst):
    # history imported in April of contacts made in March: March's figures count them, so must its question tables
    code = product()
    received, filed = datetime(2026, 3, 30, 2, tzinfo=UTC), datetime(2026, 4, 2, 2, tzinfo=UTC)
    for ticket_id in ("ZX-L1", "ZX-L2", "ZX-L3"):
        await apply_ticket_event(rt, _opened(
            code, ticket_id, "济南", "补卡怎么办理", kind="consultation", received_at=received, opened_at=filed,
            respond_by=filed + timedelta(hours=4), resolve_by=filed + timedelta(days=7)))

    async def tables(month):
        body = (await get(client, analyst, month, product_code=code, fresh="true")).json()
        return {t["name"]: t for t in body["tables"]}

    march = await tables("2026-03")
    assert march["overview"]["rows"][0]["opened"] == 3  # as the metrics count them (before: 0)
    assert [(row["question"], row["tickets"]) for row in march["top_questions"]["rows"]] == [("补卡怎么办理", 3)]
    assert (await tables("2026-04"))["top_questions"]["rows"] == []


async def test_csv_and_xlsx_downloads(client, rt, analyst):
    code = product()
    await feed_march(rt, code)
    response = await get(client, analyst, "2026-03", product_code=code, format="csv", table="concentrated_problems")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("产品编码,问题,工单数") and lines[1].startswith(f"{code},通讯录同步失败,3,")
    disposition = response.headers["content-disposition"]
    assert f'filename="monthly-report-2026-03-{code}-concentrated_problems.csv"' in disposition
    chinese = urllib.parse.unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert chinese == f"客服投诉月度分析-2026-03-{code}-集中问题（转产品经理）.csv"

    response = await get(client, analyst, "2026-03", product_code=code, format="xlsx")
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert response.headers["x-report-kept"] == "true" and response.headers["x-report-complete"] == "true"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == "说明" and "集中问题（转产品经理）" in book.sheetnames and len(book.sheetnames) == 10
    cover = {row[0]: row[1] for row in book["说明"].iter_rows(min_row=3, max_col=2, values_only=True) if row[0]}
    assert cover["月份"] == "2026-03" and cover["范围"] == f"产品 {code}" and cover["是否存档报告"].startswith("是")
    sheet = book["理解偏差类投诉（FAQ候选）"]
    assert [sheet["B1"].value, sheet["B2"].value, sheet["C2"].value] == ["问题", "不会设置彩铃", 2]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert len([n for n in archive.namelist() if n.startswith("xl/charts/chart")]) >= 5


async def test_the_current_month_is_generated_and_not_kept(client, rt, analyst):
    code = product()
    now = datetime.now(UTC)
    await apply_ticket_event(rt, _opened(code, "ZX-1", "济南", "怎么导出通讯录", opened_at=now - timedelta(minutes=5),
                                         respond_by=now + timedelta(hours=4), resolve_by=now + timedelta(days=2)))
    month = month_of(now)
    body = (await get(client, analyst, month, product_code=code)).json()
    assert body["complete"] is False and body["kept"] is False
    assert body["tables"][0]["rows"][0]["opened"] == 1 and body["tables"][0]["rows"][0]["backlog"] == 1
    assert await rt.store[REPORTS].find_one({"_id": f"{month}:{code}"}) is None


async def test_the_job_keeps_last_months_reports_exactly_once(client, rt, analyst):
    codes = sorted([product(), product()])
    june = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)
    for code in codes:
        await apply_ticket_event(rt, _closed(code, "ZX-1", "济南", "通讯录同步失败", opened_at=june,
                                             first_response_at=june + timedelta(hours=1),
                                             resolved_at=june + timedelta(hours=6), closed_at=june + timedelta(days=1),
                                             respond_by=june + timedelta(hours=4), resolve_by=june + timedelta(days=7)))
    await apply_kcs_event(rt, kcs_event(codes[0], "2025-06", 1))
    first_of_july = datetime(2025, 6, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 July in Shanghai
    made = await ensure_monthly_reports(rt.store, now=first_of_july)
    assert made == [f"2025-06:{codes[0]}", f"2025-06:{codes[1]}", "2025-06:*"]
    assert await ensure_monthly_reports(rt.store, now=first_of_july + timedelta(hours=1)) == []
    assert await ensure_monthly_reports(rt.store, now=datetime(2025, 7, 20, tzinfo=UTC)) == []
    kept = await rt.store[REPORTS].find({"month": "2025-06"}, {"_id": 1}).to_list()
    assert sorted(d["_id"] for d in kept) == sorted(made)

    body = (await get(client, analyst, "2025-06")).json()
    assert body["kept"] is True and body["product_code"] is None
    assert datetime.fromisoformat(body["generated_at"]) == first_of_july
    overview = {t["name"]: t for t in body["tables"]}
    assert overview["overview"]["rows"][0]["opened"] == 2
    assert [row["product_code"] for row in overview["kcs"]["rows"]] == [codes[0]]
    mine = (await get(client, analyst, "2025-06", product_code=codes[1])).json()
    assert mine["kept"] is True and mine["tables"][0]["rows"][0]["closed"] == 1
    assert "monthly_reports" in [job.name for job in jobs.jobs(rt)]


async def test_a_job_cut_short_is_finished_by_the_next_run(rt):
    code = product()
    may = datetime(2025, 5, 12, 2, 0, tzinfo=UTC)
    await apply_ticket_event(rt, _opened(code, "ZX-1", "济南", "彩铃设置失败", opened_at=may,
                                         respond_by=may + timedelta(hours=4), resolve_by=may + timedelta(days=7)))
    first_of_june = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)
    await rt.store.insert(REPORTS, {"_id": "2025-05:*", "month": "2025-05", "product_code": "*",
                                    "products": [code], "report": {}})  # the province-wide one, its product's lost
    assert await ensure_monthly_reports(rt.store, now=first_of_june) == [f"2025-05:{code}"]
    assert await ensure_monthly_reports(rt.store, now=first_of_june) == []


@pytest.mark.parametrize("month,params,field", [
    ("2026-13", {}, "month"), ("2026-3", {}, "month"), ("march", {}, "month"), ("2999-01", {}, "month"),
    ("2026-03", {"format": "pdf"}, "format"), ("2026-03", {"table": "everything"}, "table"),
    ("2026-03", {"format": "csv"}, "table"), ("2026-03", {"product_code": ""}, "query.product_code"),
])
async def test_bad_input_is_a_problem_naming_the_field(client, analyst, month, params, field):
    response = await client.get(URL.format(month), params=params, headers=analyst)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_kcs_figures_newest_version_wins_and_a_wrong_subject_is_poison(rt):
    from services.kit.consumer import PoisonMessage

    code = product()
    await apply_kcs_event(rt, kcs_event(code, "2026-02", 2, closed=9))
    await apply_kcs_event(rt, kcs_event(code, "2026-02", 1, closed=1))  # older, arrives late
    await apply_kcs_event(rt, kcs_event(code, "2026-02", 2, closed=9))  # the same again
    doc = await rt.store[KCS].find_one({"_id": f"{code}:2026-02"})
    assert (doc["closed"], doc["version"], doc["month"], doc["product_code"]) == (9, 2, "2026-02", code)
    wrong = kcs_event(code, "2026-02", 3).model_copy(update={"subject": f"{code}:2026-01"})
    with pytest.raises(PoisonMessage):
        await apply_kcs_event(rt, wrong)
