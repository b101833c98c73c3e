"""The report as files (services/analytics/api/report_files.py): CSV with BOM and Chinese headers, XLSX read back
with openpyxl (a reader that is not the writer) and unzipped to find the native charts."""

import csv
import io
import urllib.parse
import zipfile
from datetime import UTC, datetime, timedelta

import openpyxl

from services.analytics.api import report_files as files
from services.analytics.domain import report as r
from tests.analytics.test_domain import T0
from tests.analytics.test_report_domain import NOW, t


def sample() -> r.Report:
    answered = dict(first_response_at=T0 + timedelta(hours=1), resolved_at=T0 + timedelta(hours=4),
                    closed_at=T0 + timedelta(hours=5), status="closed", responded_timely=True, timely=True,
                    satisfied=True)
    tickets = [t(f"ZX-{i}", "通讯录同步失败", city=("济南", "青岛")[i % 2], **answered) for i in range(4)]
    tickets += [t("TS-9", "不会设置彩铃", kind="complaint", cause="usage_misunderstanding", **answered),
                t("TS-8", "彩铃不会设置", kind="complaint", cause="usage_misunderstanding", **answered)]
    kcs = [{"product_code": "P1", "month": "2026-03", "closed": 6, "linked": 2, "link_rate": 0.3333, "new": 2,
            "known": 4, "promoted": 0, "dismissed": 0}]
    return r.build_report("2026-03", tickets, kcs, generated_at=NOW, as_of=T0 + timedelta(days=1))


def test_csv_is_one_table_with_a_bom_and_chinese_headers():
    report = sample()
    body = files.csv_bytes(report.table("city_timeliness"))
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["地市", "受理量", "答复量", "归档量"]
    assert [row[0] for row in rows[1:]] == ["济南", "青岛"]
    assert rows[1][1] == "4" and rows[1][5] == "1.0"  # 济南: ZX-0, ZX-2 and the two complaints, all in time
    empty = files.csv_bytes(r.Table(name="x", title="x", columns=[r.Column(key="a", header="甲", type="rate"),
                                                                   r.Column(key="b", header="乙", type="int")],
                                    rows=[{"a": None, "b": 0}]))
    assert empty.decode("utf-8-sig").splitlines() == ["甲,乙", ",0"]  # no data is an empty cell, 0 is 0


def test_content_disposition_names_the_file_in_ascii_and_in_chinese():
    report = sample()
    ascii_name, name = files.filenames(report, "csv", report.table("top_questions"))
    assert ascii_name == "monthly-report-2026-03-all-top_questions.csv"
    assert name == "客服投诉月度分析-2026-03-全省-热点问题.csv"
    header = files.content_disposition(ascii_name, name)
    assert header.startswith(f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'')
    assert urllib.parse.unquote(header.split("''", 1)[1]) == name
    assert header.isascii()


def test_sheet_names_are_valid_distinct_and_at_most_31_characters():
    long = r.Table(name="a", title="很长的标题" * 10 + "[x]:*?/\\", columns=[], rows=[])
    report = sample().model_copy(update={"tables": [long, long, r.Table(name="b", title="说明", columns=[], rows=[])]})
    names = files.sheet_names(report)
    assert len(set(names)) == 3 and all(len(n) <= 31 for n in names)
    assert not any(ch in n for n in names for ch in "[]:*?/\\") and "说明" not in names


def test_xlsx_has_a_cover_a_sheet_per_table_and_native_charts():
    report = sample()
    body = files.xlsx_bytes(report)
    book = openpyxl.load_workbook(io.BytesIO(body))
    titles = [table.title for table in report.tables]
    assert book.sheetnames == ["说明", *titles]
    cover = {row[0]: row[1] for row in book["说明"].iter_rows(min_row=3, max_col=2, values_only=True) if row[0]}
    assert cover["月份"] == "2026-03" and cover["范围"] == "全省"
    assert cover["生成时间"] == "2026-04-01 10:00:00" and cover["数据截至"] == "2026-03-03 09:00:00"
    assert cover["是否完整月份"] == "是"
    city = book["地市及时率与满意度"]
    assert [c.value for c in city[1]][:3] == ["地市", "受理量", "答复量"]
    assert city["A2"].value == "济南" and city["B2"].value == 4 and city["F2"].value == 1
    assert city["F2"].number_format == "0.0%"
    assert city.column_dimensions["A"].width >= 6
    misunderstood = book["理解偏差类投诉（FAQ候选）"]
    assert misunderstood["B2"].value == "不会设置彩铃" and misunderstood["C2"].value == 2
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
        charted = [table for table in report.tables if table.chart and table.rows]
        assert len(charts) == len(charted) >= 5
        xml = "".join(archive.read(n).decode("utf-8") for n in charts)
    assert "<c:barChart>" in xml and "<c:pieChart>" in xml
    assert "地市及时率与满意度!$A$2:$A$3" in xml  # the categories are the table's own cells


def test_an_empty_table_says_so_and_draws_no_chart():
    report = r.build_report("2026-03", [], [], generated_at=datetime(2026, 3, 5, tzinfo=UTC), as_of=None)
    body = files.xlsx_bytes(report)
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book["热点问题"]["A3"].value == "本月无数据"
    cover = {row[0]: row[1] for row in book["说明"].iter_rows(min_row=3, max_col=2, values_only=True) if row[0]}
    assert cover["数据截至"] == "—" and cover["是否完整月份"].startswith("否")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        # the kinds and channels are listed with zeros: their charts exist, the empty tables' do not
        assert len([n for n in archive.namelist() if n.startswith("xl/charts/chart")]) == 2
