"""Parsing and validating subscription/revenue exports (services/analytics/domain/subscriptions.py), pure."""

import io
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest

from services.analytics.domain.subscriptions import (ImportRejected, figures, month_span, parse_file,
                                                     parse_revenue_fen, parse_subscribers, per_thousand, yuan)

HEADER = "month,product_code,city,industry,subscribers,revenue_cny\n"


def errors_of(content: bytes) -> list[tuple]:
    with pytest.raises(ImportRejected) as caught:
        parse_file(content)
    return [(e.line, e.field) for e in caught.value.errors]


def test_english_header_rows_and_exact_fen():
    parsed = parse_file((HEADER + "2026-01,mobile_office,济南,government,1200,35800.5\n"
                                  "2026-02,mobile_office,青岛,教育,860,0.07\n").encode())
    assert parsed.format == "csv" and parsed.months == ["2026-01", "2026-02"]
    first, second = parsed.rows
    assert (first.line, first.city, first.industry, first.subscribers, first.revenue_fen) == \
        (2, "济南", "government", 1200, 3580050)
    assert (second.industry, second.revenue_fen) == ("education", 7)


def test_chinese_headers_in_any_order_bom_and_extra_columns():
    text = "\ufeff地市,产品名称,月份,产品编码,行业,用户数,收入（元）\r\n济南市,移动办公,2026/03,mobile_office,金融,10,\"1,234.50\"\r\n"
    parsed = parse_file(text.encode("utf-8"))
    (row,) = parsed.rows
    assert (row.month, row.city, row.industry, row.revenue_fen) == ("2026-03", "济南", "finance", 123450)
    assert parsed.ignored_columns == ["产品名称"]


def test_gbk_csv_as_chinese_excel_saves_it():
    text = "月份,产品编码,地市,行业,用户数,收入(元)\r\n2026-01,mobile_office,淄博,制造,5,100\r\n"
    parsed = parse_file(text.encode("gbk"))
    assert parsed.rows[0].city == "淄博" and parsed.rows[0].industry == "manufacturing"


def test_every_bad_row_is_named_by_line_and_field():
    content = (HEADER + "2026-13,mobile_office,济南,government,1,1\n"      # line 2: month
                        "2026-01,mobile_office,北京,government,1,1\n"      # line 3: city
                        "2026-01,mobile_office,济南,mining,-1,1.234\n"     # line 4: industry, subscribers, revenue
                        "2026-01,mobile_office,济南,government,1,1\n"      # fine
                        "2026-01,mobile_office,济南,government,2,2\n"      # line 6: duplicate of line 5
                        "2026-01,,济南,government,1,\n").encode()          # line 7: product_code, revenue empty
    assert errors_of(content) == [(2, "month"), (3, "city"), (4, "industry"), (4, "subscribers"),
                                  (4, "revenue_cny"), (6, "product_code"), (7, "product_code"), (7, "revenue_cny")]


def test_quoted_newline_keeps_later_line_numbers_right():
    content = (HEADER + '2026-01,mobile_office,济南,government,1,1\n'
                        '"2026-01",mobile_office,"青\n岛",government,1,1\n'
                        '2026-01,mobile_office,烟台,government,x,1\n').encode()
    assert errors_of(content) == [(3, "city"), (5, "subscribers")]


def test_empty_file_header_only_and_wrong_header():
    assert errors_of(b"") == [(None, "file")]
    assert errors_of(b"\xef\xbb\xbf\r\n \r\n") == [(None, "file")]
    assert errors_of(HEADER.encode()) == [(1, "file")]
    assert errors_of(b"month,product,city,sector,users,revenue\n2026-01,a,\xe6\xb5\x8e\xe5\x8d\x97,x,1,1\n") == \
        [(1, "industry"), (1, "subscribers")]
    assert errors_of(b"month,month,product_code,city,industry,subscribers,revenue_cny\n") == [(1, "month")]


def test_not_text_and_broken_xlsx_are_named_not_raised():
    assert errors_of(b"\x00\x01\x02garbage\xff\xfe") == [(None, "file")]
    assert errors_of(b"PK\x03\x04 not really a zip") == [(None, "file")]


def test_xlsx_with_number_and_date_cells():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["月份", "产品编码", "地市", "行业", "用户数", "收入(元)"])
    sheet.append([datetime(2026, 4, 1), "mobile_office", "威海", "energy", 300, 4500.25])
    sheet.append(["2026-04", "mobile_office", "日照", "其他", 7.0, 12])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["2026-04", "mobile_office", "日照", "其他", 1.5, 12.345])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(ImportRejected) as caught:
        parse_file(buffer.getvalue())
    assert [(e.line, e.field) for e in caught.value.errors] == [(5, "subscribers"), (5, "revenue_cny")]
    sheet.delete_rows(5)
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_file(buffer.getvalue())
    assert parsed.format == "xlsx"
    assert [(r.line, r.month, r.subscribers, r.revenue_fen, r.industry) for r in parsed.rows] == \
        [(2, "2026-04", 300, 450025, "energy"), (3, "2026-04", 7, 1200, "other")]


@pytest.mark.parametrize("text, fen", [("0", 0), ("12.3", 1230), ("12.30", 1230), ("¥1,000.01", 100001),
                                       (0.1, 10), (4500.25, 450025), (7, 700)])
def test_revenue_to_fen(text, fen):
    assert parse_revenue_fen(text) == fen


@pytest.mark.parametrize("text", ["-1", "1.001", "abc", "1e3", "nan", "1,23", True])
def test_revenue_refused(text):
    with pytest.raises(ValueError):
        parse_revenue_fen(text)


@pytest.mark.parametrize("text", ["-3", "1.5", "x", 2.5, True])
def test_subscribers_refused(text):
    with pytest.raises(ValueError):
        parse_subscribers(text)


def test_figures_sum_industries_and_trend_has_change_on_the_month_before():
    rows = [
        {"month": "2025-12", "product_code": "p", "city": "济南", "subscribers": 900, "revenue_fen": 100000},
        {"month": "2026-01", "product_code": "p", "city": "济南", "subscribers": 1000, "revenue_fen": 110010},
        {"month": "2026-01", "product_code": "p", "city": "济南", "subscribers": 1000, "revenue_fen": 1},
        {"month": "2026-01", "product_code": "p", "city": "青岛", "subscribers": 0, "revenue_fen": 0},
    ]
    out = figures(rows, {("p", "济南", "2026-01"): 3, ("p", "青岛", "2026-01"): 1, ("p", "烟台", "2026-01"): 2},
                  ["2026-01", "2026-02"])
    assert out["items"] == [
        {"month": "2026-01", "product_code": "p", "city": "济南", "subscribers": 2000, "revenue_cny": "1100.11",
         "complaints": 3, "complaints_per_1000": 1.5},
        {"month": "2026-01", "product_code": "p", "city": "青岛", "subscribers": 0, "revenue_cny": "0.00",
         "complaints": 1, "complaints_per_1000": None},
        {"month": "2026-01", "product_code": "p", "city": "烟台", "subscribers": None, "revenue_cny": None,
         "complaints": 2, "complaints_per_1000": None},
    ]
    assert out["revenue_trend"] == [{"product_code": "p", "months": [
        {"month": "2026-01", "revenue_cny": "1100.11", "change_cny": "100.11", "change_rate": 0.1001},
        {"month": "2026-02", "revenue_cny": None, "change_cny": None, "change_rate": None}]}]


def test_small_helpers():
    assert yuan(12345) == Decimal("123.45") and str(yuan(0)) == "0.00"
    assert per_thousand(1, 0) is None and per_thousand(2, 3) == 666.6667
    assert month_span("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_a_title_row_above_the_header_is_skipped_and_lines_stay_the_files_own():
    text = "2026年1月集团产品用户及收入报表,,,,,\n\n" + HEADER + "2026-01,mobile_office,济南,government,1,1\n" \
        "2026-01,mobile_office,济南,government,1,1\n"
    assert errors_of(text.encode()) == [(5, "product_code")]
    parsed = parse_file(text.encode().rsplit(b"2026-01", 1)[0])
    assert [r.line for r in parsed.rows] == [4]


def test_excel_unicode_text_and_old_xls():
    text = "月份\t产品编码\t地市\t行业\t用户数\t收入(元)\r\n2026-01\tmobile_office\t东营\t能源\t3\t9.9\r\n"
    (row,) = parse_file(text.encode("utf-16")).rows
    assert (row.city, row.industry, row.revenue_fen) == ("东营", "energy", 990)
    assert errors_of(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100) == [(None, "file")]


def test_formula_floats_read_as_excel_shows_them():
    assert parse_revenue_fen(0.1 + 0.2) == 30 and parse_subscribers(3 * 0.1 * 10) == 3


def test_an_xlsx_that_unpacks_too_large_is_refused_before_it_is_read(monkeypatch):
    import services.analytics.domain.subscriptions as module

    workbook = openpyxl.Workbook()
    workbook.active.append(["month"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    monkeypatch.setattr(module, "MAX_XLSX_UNPACKED", 100)
    with pytest.raises(ImportRejected) as caught:
        parse_file(buffer.getvalue())
    assert "unpacks to" in caught.value.errors[0].message


def test_xlsx_lines_are_the_sheets_rows_and_a_wrong_dimension_loses_nothing():
    import re
    import zipfile

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.cell(row=3, column=1, value="月份")
    for column, heading in enumerate(["产品编码", "地市", "行业", "用户数", "收入(元)"], start=2):
        sheet.cell(row=3, column=column, value=heading)
    for row in (4, 7):
        for column, value in enumerate(["2026-01", "mobile_office", "济南" if row == 4 else "青岛", "其他", 1, 1],
                                       start=1):
            sheet.cell(row=row, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    # what some exporters write: a dimension that covers the header alone
    source, patched = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:F3"', data)
            target.writestr(item, data)
    assert [(r.line, r.city) for r in parse_file(patched.getvalue()).rows] == [(4, "济南"), (7, "青岛")]
