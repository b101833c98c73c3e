"""The monthly report (domain/report.py) as files: one table as CSV, the whole report as XLSX.

- CSV: one table, Chinese headers, UTF-8 with a byte-order mark (Excel opens a BOM-less UTF-8 CSV as the local
  code page and garbles Chinese); rates as fractions (0.9512), empty cells for "no data".
- XLSX (XlsxWriter): a cover sheet 说明 (month, scope, generated_at and as_of in Asia/Shanghai, whether the
  month is complete and the report the kept one, the thresholds, the sheets), then one sheet per table named by
  its Chinese title (≤ 31 characters, Excel's limit), a header row, rates as percentages, column widths from
  the content, and a native Excel chart beside every table that has a chart spec and rows.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import urllib.parse
from datetime import datetime
from typing import Any

import xlsxwriter

from services.analytics.domain.period import LOCAL_ZONE
from services.analytics.domain.report import Report, Table

CSV_MEDIA = "text/csv; charset=utf-8"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
COVER = "说明"


def csv_bytes(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if row.get(c.key) is None else row.get(c.key) for c in table.columns])
    return (BOM + out.getvalue()).encode("utf-8")


def filenames(report: Report, extension: str, table: Table | None = None) -> tuple[str, str]:
    """(ASCII name, Chinese name) of a report file."""
    scope_ascii = report.product_code or ("city" if report.city else "all")
    ascii_name = "-".join(p for p in ("monthly-report", report.month, _ascii(scope_ascii),
                                      table.name if table else None) if p)
    scope = report.product_code or report.city or "全省"
    chinese = "-".join(p for p in ("客服投诉月度分析", report.month, scope, table.title if table else None) if p)
    return f"{ascii_name}.{extension}", f"{chinese}.{extension}"


def content_disposition(ascii_name: str, utf8_name: str) -> str:
    """RFC 6266 with RFC 5987's `filename*` for the Chinese name, and an ASCII `filename` for clients that know
    only that one."""
    return (f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{urllib.parse.quote(utf8_name, safe='')}")


def _ascii(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _local(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def sheet_names(report: Report) -> list[str]:
    """A valid, distinct sheet name per table: its title without the characters Excel forbids, ≤ 31 chars."""
    used = {COVER}
    names = []
    for table in report.tables:
        base = _SHEET_FORBIDDEN.sub("", table.title)[:SHEET_NAME_MAX] or table.name[:SHEET_NAME_MAX]
        name, n = base, 2
        while name in used:
            suffix = f"({n})"
            name, n = base[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
        used.add(name)
        names.append(name)
    return names


def _width(value: Any) -> int:
    """Display width: a CJK character takes two columns."""
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def xlsx_bytes(report: Report) -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "default_date_format": "yyyy-mm-dd hh:mm:ss"})
    workbook.set_properties({"title": f"客服投诉月度分析 {report.month}", "subject": report.scope_label,
                             "company": "信息化中心"})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                                  "valign": "vcenter"})
    title = workbook.add_format({"bold": True, "font_size": 14})
    formats = {"rate": workbook.add_format({"num_format": "0.0%"}),
               "hours": workbook.add_format({"num_format": "0.00"}),
               "number": workbook.add_format({"num_format": "0.00"}),
               "int": workbook.add_format({"num_format": "0"}), "text": None}
    names = sheet_names(report)
    _cover(workbook.add_worksheet(COVER), report, names, title, header)
    for table, name in zip(report.tables, names, strict=True):
        sheet = workbook.add_worksheet(name)
        for col, column in enumerate(table.columns):
            sheet.write(0, col, column.header, header)
            widths = [_width(column.header), *(_width(r.get(column.key)) for r in table.rows)]
            sheet.set_column(col, col, min(max(widths) + 2, 60), formats[column.type])
        for row_number, row in enumerate(table.rows, start=1):
            for col, column in enumerate(table.columns):
                value = row.get(column.key)
                if value is None:
                    sheet.write_blank(row_number, col, None)
                elif column.type == "text":
                    sheet.write_string(row_number, col, str(value))
                else:
                    sheet.write_number(row_number, col, value, formats[column.type])
        sheet.freeze_panes(1, 0)
        if not table.rows:
            sheet.write(2, 0, "本月无数据")
        elif table.chart is not None:
            _chart(workbook, sheet, name, table)
    workbook.close()
    return out.getvalue()


def _cover(sheet, report: Report, names: list[str], title, header) -> None:
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 70)
    sheet.write(0, 0, f"客服分析与投诉分析 {report.month}", title)
    lines = [("月份", report.month), ("范围", report.scope_label),
             ("统计周期", f"{_local(report.period_start)} 至 {_local(report.period_end)}（不含）"),
             ("生成时间", _local(report.generated_at)), ("数据截至", _local(report.as_of)),
             ("是否完整月份", "是" if report.complete else "否（本月未结束，数据仍会变化）"),
             ("是否存档报告", "是（每月1日生成并保存）" if report.kept else "否（按需生成）"),
             ("热点问题数", report.thresholds.top_questions),
             ("集中问题门槛", f"同一产品同一问题本月受理不少于 {report.thresholds.concentrated_min_tickets} 单"),
             ("FAQ候选门槛", f"同一产品同一问题理解偏差类投诉不少于 {report.thresholds.misunderstanding_min_tickets} 单"),
             ("时区", "Asia/Shanghai")]
    for row, (label, value) in enumerate(lines, start=2):
        sheet.write(row, 0, label, header)
        sheet.write(row, 1, value)
    start = len(lines) + 3
    sheet.write(start, 0, "工作表", header)
    sheet.write(start, 1, "内容", header)
    for offset, (table, name) in enumerate(zip(report.tables, names, strict=True), start=1):
        sheet.write_url(start + offset, 0, f"internal:'{name}'!A1", string=name)
        sheet.write(start + offset, 1, table.description or table.title)


def _chart(workbook, sheet, name: str, table: Table) -> None:
    spec = table.chart
    keys = [c.key for c in table.columns]
    category = keys.index(spec.category)
    values = [keys.index(v) for v in spec.values if v in keys][: 1 if spec.kind == "pie" else None]
    last = len(table.rows)
    chart = workbook.add_chart({"type": {"bar": "column", "line": "line", "pie": "pie"}[spec.kind]})
    for col in values:
        chart.add_series({"name": [name, 0, col], "categories": [name, 1, category, last, category],
                          "values": [name, 1, col, last, col],
                          **({"data_labels": {"percentage": True}} if spec.kind == "pie" else {})})
    chart.set_title({"name": spec.title})
    if spec.kind != "pie" and any(table.columns[c].type == "rate" for c in values):
        chart.set_y_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_size({"width": 720, "height": 360})
    sheet.insert_chart(1, len(table.columns) + 1, chart)
