"""Subscription/revenue imports over HTTP against the real store, and their join with tickets fed through the
analytics event handler. An import replaces whole months across products, so each test owns its year (20xx)
and its product codes; the roles tests (test_imports_roles.py) use years of their own."""

import io
import uuid
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from contracts.events import Envelope, TicketClosed, TicketOpened
from services.analytics.events.handlers import apply_ticket_event
from services.analytics.store import subscriptions as stored
from tests.support import database, eventually

HEADER = "month,product_code,city,industry,subscribers,revenue_cny\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def product() -> str:
    return "p_" + uuid.uuid4().hex[:8]


async def upload(client, headers, content: bytes, filename="2026年1月用户及收入.csv", content_type="text/csv"):
    return await client.post("/v1/imports/subscriptions", headers=headers,
                             files={"file": (filename, content, content_type)})


async def metrics(client, headers, **params) -> dict:
    response = await client.get("/v1/metrics/subscriptions", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def counted(client, headers, code: str, opened: int, merged: int = 0) -> bool:
    response = await client.get("/v1/metrics/summary", params={"product_code": code}, headers=headers)
    body = response.json()
    return body["opened"] == opened and body["merged"] == merged and body["lag"]["pending_tickets"] == 0


async def stored_rows(infra, **query) -> list[dict]:
    async with database(infra, "analytics") as db:
        return await db[stored.ROWS].find(query).to_list()


def cells(body) -> dict[tuple, dict]:
    return {(c["month"], c["city"]): c for c in body["items"]}


async def test_good_csv_is_stored_and_answered(client, analyst, infra):
    code = product()
    csv = (HEADER + f"2031-01,{code},济南,government,1000,35800.50\n"
                    f"2031-01,{code},济南,education,1000,0.50\n"
                    f"2031-01,{code},青岛,finance,400,1200\n").encode()
    response = await upload(client, analyst, csv)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["months"] == ["2031-01"] and body["replaced_months"] == [] and body["rows"] == 3
    assert body["format"] == "csv" and body["imported_by"] == "analyst-test"

    figures = await metrics(client, analyst, product_code=code, **{"from": "2031-01", "to": "2031-01"})
    assert figures["months"] == ["2031-01"] and figures["months_on_record"] == ["2031-01"]
    assert cells(figures) == {
        ("2031-01", "济南"): {"month": "2031-01", "product_code": code, "city": "济南", "subscribers": 2000,
                             "revenue_cny": "35801.00", "complaints": 0, "complaints_per_1000": 0.0},
        ("2031-01", "青岛"): {"month": "2031-01", "product_code": code, "city": "青岛", "subscribers": 400,
                             "revenue_cny": "1200.00", "complaints": 0, "complaints_per_1000": 0.0},
    }
    assert figures["revenue_trend"] == [{"product_code": code, "months": [
        {"month": "2031-01", "revenue_cny": "37001.00", "change_cny": None, "change_rate": None}]}]

    listed = (await client.get("/v1/imports/subscriptions", headers=analyst)).json()
    mine = next(i for i in listed["items"] if i["import_id"] == body["import_id"])
    assert mine["status"] == "current" and mine["current_months"] == ["2031-01"] and mine["rows"] == 3
    assert mine["filename"] == "2026年1月用户及收入.csv"
    assert listed["months_on_record"]["2031-01"] == body["import_id"]


async def test_good_xlsx_as_the_raw_body(client, analyst):
    code = product()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["月份", "产品编码", "产品名称", "地市", "行业", "用户数", "收入(元)"])
    sheet.append(["2032-05", code, "移动办公", "烟台", "制造", 250, 5000.25])
    sheet.append([datetime(2032, 6, 1), code, "移动办公", "烟台", "制造", 260, 5100])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = await client.post("/v1/imports/subscriptions", content=buffer.getvalue(),
                                 headers={**analyst, "Content-Type": XLSX})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["format"] == "xlsx" and body["months"] == ["2032-05", "2032-06"] and body["rows"] == 2
    assert body["ignored_columns"] == ["产品名称"]
    figures = await metrics(client, analyst, product_code=code, **{"from": "2032-05", "to": "2032-06"})
    assert [(c["month"], c["subscribers"], c["revenue_cny"]) for c in figures["items"]] == \
        [("2032-05", 250, "5000.25"), ("2032-06", 260, "5100.00")]
    assert figures["revenue_trend"][0]["months"][1] == {"month": "2032-06", "revenue_cny": "5100.00",
                                                        "change_cny": "99.75", "change_rate": 0.0199}


async def test_bad_rows_are_each_named_and_nothing_is_stored(client, analyst, infra):
    code = product()
    csv = (HEADER + f"2033-01,{code},济南,government,10,100\n"
                    f"2033-01,{code},北京,government,10,100\n"
                    f"2033-01,{code},青岛,government,-5,100.123\n"
                    f"2033-01,{code},济南,government,20,200\n").encode()
    async with database(infra, "analytics") as db:
        imports_before = len(await db[stored.IMPORTS].find({}, {"_id": 1}).to_list())
    response = await upload(client, analyst, csv)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/import-rejected" and problem["error_count"] == 4
    assert [(e["line"], e["field"]) for e in problem["errors"]] == \
        [(3, "city"), (4, "subscribers"), (4, "revenue_cny"), (5, "product_code")]
    assert "line 2" in problem["errors"][-1]["message"]
    assert await stored_rows(infra, product_code=code) == []
    async with database(infra, "analytics") as db:
        assert len(await db[stored.IMPORTS].find({}, {"_id": 1}).to_list()) == imports_before
    figures = await metrics(client, analyst, product_code=code, **{"from": "2033-01", "to": "2033-01"})
    assert figures["items"] == [] and figures["months_on_record"] == []


async def test_reimporting_a_month_replaces_it_and_leaves_other_months(client, analyst, infra):
    code, other = product(), product()
    first = await upload(client, analyst, (HEADER + f"2034-01,{code},济南,government,100,1000\n"
                                                    f"2034-01,{other},济南,government,7,70\n"
                                                    f"2034-02,{code},济南,government,110,1100\n").encode())
    assert first.status_code == 201, first.text
    second = await upload(client, analyst, (HEADER + f"2034-01,{code},济南,government,150,1500\n"
                                                     f"2034-01,{code},淄博,government,50,500\n").encode())
    assert second.status_code == 201, second.text
    assert second.json()["replaced_months"] == ["2034-01"]
    figures = await metrics(client, analyst, product_code=code, **{"from": "2034-01", "to": "2034-02"})
    assert [(c["month"], c["city"], c["subscribers"]) for c in figures["items"]] == \
        [("2034-01", "济南", 150), ("2034-01", "淄博", 50), ("2034-02", "济南", 110)]
    # the month is replaced whole: the other product's January row went with the first import's January
    assert (await metrics(client, analyst, product_code=other, **{"from": "2034-01", "to": "2034-01"}))["items"] == []
    first_id, second_id = first.json()["import_id"], second.json()["import_id"]
    assert {(r["import_id"], r["month"]) for r in await stored_rows(infra, month_key=203401)} == \
        {(second_id, "2034-01")}  # the replaced rows are gone from the store, not just hidden
    assert len(await stored_rows(infra, import_id=first_id)) == 1  # its February stays
    listed = (await client.get("/v1/imports/subscriptions", headers=analyst)).json()["items"]
    listed = {i["import_id"]: i for i in listed}
    assert listed[first_id]["current_months"] == ["2034-02"] and listed[second_id]["current_months"] == ["2034-01"]


async def test_gbk_csv_as_the_body(client, analyst):
    code = product()
    text = f"月份,产品编码,地市,行业,用户数,收入(元)\r\n2035-03,{code},德州市,农业,30,300.3\r\n"
    response = await client.post("/v1/imports/subscriptions", content=text.encode("gbk"),
                                 headers={**analyst, "Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    figures = await metrics(client, analyst, product_code=code, **{"from": "2035-03", "to": "2035-03"})
    assert [(c["city"], c["subscribers"], c["revenue_cny"]) for c in figures["items"]] == [("德州", 30, "300.30")]


@pytest.mark.parametrize("content, field, line", [
    (b"", "file", None),
    (b"\xef\xbb\xbf", "file", None),
    (HEADER.encode(), "file", 1),
    ("月份,产品,地市,用户数,收入(元)\n2036-01,x,济南,1,1\n".encode(), "product_code", 1),
])
async def test_empty_file_and_wrong_header(client, analyst, content, field, line):
    response = await upload(client, analyst, content)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert (errors[0]["line"], errors[0]["field"]) == (line, field)


async def test_wrong_header_names_every_missing_column(client, analyst):
    response = await upload(client, analyst, b"a,b,c\n1,2,3\n")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == \
        ["month", "product_code", "city", "industry", "subscribers", "revenue_cny"]


async def test_other_bodies_and_parameters_are_refused_with_problems(client, analyst):
    response = await client.post("/v1/imports/subscriptions", json={"月份": "2026-01"}, headers=analyst)
    assert response.status_code == 415 and response.json()["type"] == "/problems/unsupported-media-type"
    response = await client.post("/v1/imports/subscriptions", files={"other": ("a.csv", b"x")}, headers=analyst)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "file"
    for params, field in (({"from": "2026-13"}, "from"), ({"to": "202601"}, "to"),
                          ({"from": "2026-03", "to": "2026-01"}, "from"), ({"from": "2020-01", "to": "2026-01"}, "to"),
                          ({"city": "北京"}, "city")):
        response = await client.get("/v1/metrics/subscriptions", params=params, headers=analyst)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"] == field


def complaint(ticket_id: str, code: str, city: str, opened_at: datetime, *, kind="complaint",
              received_at: datetime | None = None) -> Envelope:
    payload = TicketOpened(ticket_id=ticket_id, kind=kind, status="new", channel="call_center", product_code=code,
                           city=city, industry="education", priority="normal", tier=1, tier_reached=1,
                           opened_at=opened_at, received_at=received_at, respond_by=opened_at + timedelta(hours=4),
                           resolve_by=opened_at + timedelta(days=7), title="通讯录同步失败",
                           description="集团通讯录在手机端无法同步")
    return Envelope.wrap(payload, type="ticket.opened", source="ticketing", subject=ticket_id, sequence=1,
                         correlationid="test-" + uuid.uuid4().hex[:8])


def merged(ticket_id: str, code: str, city: str, opened_at: datetime) -> Envelope:
    payload = TicketClosed(ticket_id=ticket_id, kind="complaint", status="closed", channel="call_center",
                           product_code=code, city=city, priority="normal", tier=1, tier_reached=1, opened_at=opened_at,
                           closed_at=opened_at + timedelta(hours=1), respond_by=opened_at + timedelta(hours=4),
                           resolve_by=opened_at + timedelta(days=7), title="同一投诉", description="重复来电",
                           answer="", close_reason="merged", merged_into="TS-1")
    return Envelope.wrap(payload, type="ticket.closed", source="ticketing", subject=ticket_id, sequence=3,
                         correlationid="test-" + uuid.uuid4().hex[:8])


async def test_complaints_per_thousand_subscribers_join_ticket_figures(app, client, analyst):
    code = product()
    rt = app.state.runtime
    shanghai_april = datetime(2037, 3, 31, 16, 30, tzinfo=UTC)  # 2037-04-01 00:30 in Shanghai
    for envelope in (
        complaint(f"TS-{code}-1", code, "济南", datetime(2037, 3, 10, 2, tzinfo=UTC)),
        complaint(f"TS-{code}-2", code, "济南", datetime(2037, 3, 20, 2, tzinfo=UTC)),
        complaint(f"TS-{code}-3", code, "济南", shanghai_april),                     # April in Shanghai
        complaint(f"TS-{code}-4", code, "济南", datetime(2037, 4, 3, tzinfo=UTC),    # received in March, filed late
                  received_at=datetime(2037, 3, 30, tzinfo=UTC)),
        complaint(f"ZX-{code}-5", code, "济南", datetime(2037, 3, 11, tzinfo=UTC), kind="consultation"),
        complaint(f"TS-{code}-6", code, "青岛", datetime(2037, 3, 12, tzinfo=UTC)),  # no subscription row
        complaint(f"TS-{code}-7", code, "济南", datetime(2037, 2, 27, tzinfo=UTC)),  # before the range
        merged(f"TS-{code}-8", code, "济南", datetime(2037, 3, 15, tzinfo=UTC)),    # a duplicate of another
    ):
        await apply_ticket_event(rt, envelope)
    response = await upload(client, analyst, (HEADER + f"2037-03,{code},济南,government,1500,3000\n"
                                                       f"2037-03,{code},济南,education,500,1000\n"
                                                       f"2037-04,{code},济南,government,0,0\n").encode())
    assert response.status_code == 201, response.text
    # the join reads the counters: wait for the counters job to have counted these tickets
    # 7 opened and the duplicate as merged: the summary and the join count it the same way (not a complaint)
    await eventually(lambda: counted(client, analyst, code, 7, merged=1), timeout=20, what="tickets counted")
    figures = await metrics(client, analyst, product_code=code, **{"from": "2037-03", "to": "2037-04"})
    assert [(c["month"], c["city"], c["subscribers"], c["complaints"], c["complaints_per_1000"])
            for c in figures["items"]] == [
        ("2037-03", "济南", 2000, 3, 1.5),
        ("2037-03", "青岛", None, 1, None),
        ("2037-04", "济南", 0, 1, None),
    ]
    assert figures["revenue_trend"] == [{"product_code": code, "months": [
        {"month": "2037-03", "revenue_cny": "4000.00", "change_cny": None, "change_rate": None},
        {"month": "2037-04", "revenue_cny": "0.00", "change_cny": "-4000.00", "change_rate": -1.0}]}]
    by_city = await metrics(client, analyst, product_code=code, city="青岛", **{"from": "2037-03", "to": "2037-03"})
    assert [(c["city"], c["complaints"]) for c in by_city["items"]] == [("青岛", 1)]


async def test_a_crashed_import_leaves_nothing_visible_and_the_next_one_sweeps_it(client, analyst, infra):
    code = product()
    good = await upload(client, analyst, (HEADER + f"2038-01,{code},济南,government,10,10\n").encode())
    assert good.status_code == 201
    # A crash after staging: an import's rows that no pointer names, its record still `staging`, an hour old.
    dead = "dead" + uuid.uuid4().hex[:8]
    async with database(infra, "analytics") as db:
        await db[stored.IMPORTS].insert_one({"_id": dead, "status": "staging", "months": ["2038-01"], "rows": 1,
                                             "imported_at": datetime.now(UTC) - timedelta(hours=2)})
        await db[stored.ROWS].insert_one({"_id": f"{dead}-2", "import_id": dead, "month": "2038-01",
                                          "month_key": 203801, "product_code": code, "city": "济南",
                                          "industry": "other", "subscribers": 999, "revenue_fen": 1})
    figures = await metrics(client, analyst, product_code=code, **{"from": "2038-01", "to": "2038-01"})
    assert [c["subscribers"] for c in figures["items"]] == [10]  # the staged row is not seen
    again = await upload(client, analyst, (HEADER + f"2038-02,{code},济南,government,10,10\n").encode())
    assert again.status_code == 201
    assert await stored_rows(infra, import_id=dead) == []
    async with database(infra, "analytics") as db:
        assert (await db[stored.IMPORTS].find_one({"_id": dead}))["status"] == "abandoned"


async def test_over_the_size_limit_is_413_and_nothing_is_stored(client, analyst):
    from services.analytics.domain.subscriptions import MAX_BYTES

    too_big = HEADER.encode() + b"x" * MAX_BYTES
    for response in (await upload(client, analyst, too_big),
                     await client.post("/v1/imports/subscriptions", content=too_big,
                                       headers={**analyst, "Content-Type": "text/csv"})):
        assert response.status_code == 413 and response.json()["type"] == "/problems/too-large"


async def test_a_reader_during_replacements_sees_each_month_whole_from_one_import(app, client, analyst):
    """Imports replace a month over and over while readers read it: every read shows all the rows of one import,
    never a mix, never a month half deleted."""
    import asyncio

    code = product()
    rt = app.state.runtime
    cities = ("济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁")

    def export(n: int) -> bytes:
        return (HEADER + "".join(f"2039-01,{code},{city},{industry},{n},{n}\n" for city in cities
                                 for industry in ("government", "education", "finance", "retail"))).encode()

    first = await upload(client, analyst, export(1))
    assert first.status_code == 201
    done = asyncio.Event()
    seen: list[set] = []

    async def read_repeatedly():
        while not done.is_set():
            rows = await stored.subscription_rows(rt.store, ["2039-01"], code, None)
            seen.append({(r["import_id"], r["subscribers"]) for r in rows} | {("count", len(rows))})
            await asyncio.sleep(0)

    readers = [asyncio.create_task(read_repeatedly()) for _ in range(4)]
    for n in range(2, 6):
        assert (await upload(client, analyst, export(n))).status_code == 201
    done.set()
    await asyncio.gather(*readers)
    assert len(seen) > 4
    for snapshot in seen:
        assert ("count", 32) in snapshot and len(snapshot) == 2, snapshot  # 32 rows, one import, one figure
    figures = await metrics(client, analyst, product_code=code, **{"from": "2039-01", "to": "2039-01"})
    assert {c["subscribers"] for c in figures["items"]} == {5 * 4}


async def test_two_imports_of_one_month_at_once_leave_one_of_them_whole(client, analyst, infra):
    import asyncio

    code = product()
    exports = [(HEADER + "".join(f"2040-01,{code},{city},other,{n},{n}\n" for city in ("济南", "青岛", "淄博"))).encode()
               for n in (1, 2)]
    answers = await asyncio.gather(*(upload(client, analyst, e) for e in exports))
    assert [a.status_code for a in answers] == [201, 201]
    rows = await stored_rows(infra, month_key=204001)
    assert len(rows) == 3 and len({r["import_id"] for r in rows}) == 1 and len({r["subscribers"] for r in rows}) == 1
    listed = (await client.get("/v1/imports/subscriptions", headers=analyst)).json()
    assert listed["months_on_record"]["2040-01"] == rows[0]["import_id"]
