"""Subscriptions and revenue (数据提取) as a billing system exports them: parsing and row-by-row validation, pure.

A file is CSV or XLSX (told apart by content: an XLSX is a ZIP archive), one header row, then one row per month ×
product × city × industry with the subscriber count and the revenue in yuan. Everything is checked before anything
is stored, and a file is taken whole or not at all: `parse_file` returns every row, or raises `ImportRejected`
naming each bad line (the spreadsheet's own row number, the header being line 1) and field.

- Header: the English field names or the Chinese headings a billing export uses (月份, 产品编码, 地市, 行业, 用户数,
  收入(元), … see HEADER_ALIASES), in any order and case, with or without a BOM; columns it does not know (产品名称,
  say) are ignored and named in the answer.
- CSV text: UTF-8 with or without a BOM, or GBK/GB18030, as Chinese Excel saves "CSV (逗号分隔)"; comma-separated,
  or tab-separated when the header has tabs and no commas (what copying from a sheet gives).
- month: YYYY-MM (or YYYY/MM; an XLSX date cell counts as its month); city: one of contracts.vocabulary.CITIES (a
  trailing 市 is dropped); industry: an Industry value or its Chinese label (INDUSTRY_LABELS); subscribers: a
  non-negative whole number; revenue_cny: a non-negative amount in yuan with at most 2 decimals, kept as integer
  fen (分) so that sums never drift the way floats do.
- The same (month, product_code, city, industry) twice is an error on the later line, naming the earlier one.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.vocabulary import CITIES, INDUSTRY_LABELS, Industry

FIELDS = ("month", "product_code", "city", "industry", "subscribers", "revenue_cny")

# Limits of one import: a month of every product (≈35) × city (16) × industry (10) is ≈5,600 rows; this leaves room
# for a year of a dozen products, while keeping one request's store writes to seconds.
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_ERRORS = 200  # errors listed in a rejection; `error_count` tells how many there were in all
MAX_MONTHS = 36   # distinct months in one file
# What an XLSX may unpack to: a 10 MB archive of repeated cells could otherwise expand to gigabytes in memory.
MAX_XLSX_UNPACKED = 200 * 1024 * 1024
HEADER_SEARCH = 10  # non-blank records looked at for the header (a report title may stand above it)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old .xls workbook
PRODUCT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
MAX_REVENUE_FEN = 10**15  # 10 trillion yuan: beyond that it is a unit mistake, not a revenue
MAX_SUBSCRIBERS = 10**9

# Other names billing systems give the same industries.
_INDUSTRY_SYNONYMS = {
    "政务": Industry.government, "政府机关": Industry.government, "党政": Industry.government,
    "教育行业": Industry.education, "医疗卫生": Industry.healthcare, "卫生": Industry.healthcare,
    "金融行业": Industry.finance, "工业": Industry.manufacturing, "工业制造": Industry.manufacturing,
    "制造业": Industry.manufacturing, "交通": Industry.transport, "物流": Industry.transport,
    "交通运输": Industry.transport, "商贸": Industry.retail, "商贸零售": Industry.retail, "零售业": Industry.retail, "农业农村": Industry.agriculture,
    "能源行业": Industry.energy, "其它": Industry.other,
}

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "month": ("month", "月份", "账期", "统计月份", "账务月份", "年月"),
    "product_code": ("product_code", "product", "产品编码", "产品代码", "产品编号"),
    "city": ("city", "地市", "城市", "地市名称", "地市公司"),
    "industry": ("industry", "行业", "行业类别", "所属行业"),
    "subscribers": ("subscribers", "用户数", "订购用户数", "用户数量", "订购数"),
    "revenue_cny": ("revenue_cny", "revenue", "收入(元)", "收入", "收入元", "营业收入(元)", "出账收入(元)"),
}


def _header_key(text: str) -> str:
    """A heading as compared: no BOM, no spaces, ASCII case folded, full-width brackets as ASCII ones."""
    text = text.replace("\ufeff", "").replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", text).lower()


_HEADERS = {_header_key(alias): name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
_INDUSTRIES = {**{i.value: i for i in Industry}, **{label: i for i, label in INDUSTRY_LABELS.items()},
               **_INDUSTRY_SYNONYMS}
_MONTH = re.compile(r"^(\d{4})[-/](\d{2})$")
_WHOLE = re.compile(r"^\d+$")
_AMOUNT = re.compile(r"^(\d+)(?:\.(\d*))?$")
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")  # 1,234,567.50 as Excel formats it


@dataclass(frozen=True)
class RowError:
    line: int | None  # 1 is the header; a row's line is its spreadsheet row (CSV: the line it starts on); None:
    #                   the file as a whole (empty, unreadable, too large, too many months)
    field: str    # one of FIELDS, or "file" / "header"
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


class ImportRejected(ValueError):
    """The file is refused whole: `errors` (at most MAX_ERRORS of them), `error_count` how many were found."""

    def __init__(self, errors: Sequence[RowError], error_count: int | None = None):
        self.errors = list(errors)[:MAX_ERRORS]
        self.error_count = error_count if error_count is not None else len(errors)
        first = self.errors[0] if self.errors else RowError(None, "file", "rejected")
        super().__init__(f"line {first.line}, {first.field}: {first.message}")


@dataclass(frozen=True)
class Row:
    line: int
    month: str          # YYYY-MM
    product_code: str
    city: str
    industry: str       # an Industry value
    subscribers: int
    revenue_fen: int    # revenue in fen (分): yuan × 100, exact

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.month, self.product_code, self.city, self.industry


@dataclass
class Parsed:
    format: str                       # "csv" | "xlsx"
    rows: list[Row]
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def months(self) -> list[str]:
        return sorted({r.month for r in self.rows})


# --- the whole file ---------------------------------------------------------------------------------------------

def detect_format(content: bytes) -> str:
    if content[:8] == OLE_MAGIC:
        raise ImportRejected([RowError(None, "file", "an old Excel .xls workbook: save it as .xlsx or CSV")])
    return "xlsx" if content[:4] == b"PK\x03\x04" else "csv"


def parse_file(content: bytes) -> Parsed:
    """Every row of a CSV or XLSX export, validated; ImportRejected naming each bad line and field otherwise."""
    if not content.strip():
        raise ImportRejected([RowError(None, "file", "the file is empty")])
    if len(content) > MAX_BYTES:
        raise ImportRejected([RowError(None, "file", f"the file is over {MAX_BYTES} bytes")])
    kind = detect_format(content)
    records = read_xlsx(content) if kind == "xlsx" else read_csv(decode_text(content))
    rows, ignored = parse_records(records)
    return Parsed(kind, rows, ignored)


def decode_text(content: bytes) -> str:
    """CSV bytes as text: UTF-8 (a BOM or not), else GB18030, the superset of GBK that Chinese Excel writes;
    UTF-16 with its BOM is Excel's "Unicode 文本" (tab-separated)."""
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportRejected([RowError(None, "file", "UTF-16 text that cannot be read")]) from None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError as error:
        raise ImportRejected([RowError(None, "file", "the text is neither UTF-8 nor GBK; save the CSV as UTF-8 "
                                                  f"(byte {error.start} cannot be read)")]) from None


def read_csv(text: str) -> Iterator[tuple[int, list[Any]]]:
    """(line, cells) of each record, the line being where the record starts (a quoted cell may span lines)."""
    if "\x00" in text:
        raise ImportRejected([RowError(None, "file", "the file is neither CSV text nor an XLSX workbook")])
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    ended = 0
    try:
        for cells in reader:
            start, ended = ended + 1, reader.line_num
            yield start, cells
    except csv.Error as error:
        raise ImportRejected([RowError(reader.line_num, "file", f"not readable as CSV: {error}")]) from None


def read_xlsx(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cell values) of the workbook's first sheet, streamed (openpyxl's read-only mode)."""
    import openpyxl  # imported here: only XLSX uploads pay for it

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise _unreadable(error) from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise ImportRejected([RowError(None, "file", f"the workbook unpacks to {unpacked} bytes; at most "
                                                     f"{MAX_XLSX_UNPACKED}")])
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - a ZIP that is no workbook (a .docx, a damaged file): named, never a 500
        raise _unreadable(error) from None
    try:
        if not workbook.worksheets:
            raise ImportRejected([RowError(None, "file", "the workbook has no sheet")])
        sheet = workbook.worksheets[0]
        # The dimension an exporter wrote may be wrong, and read-only mode stops at it: read every row there is.
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            yield number, list(values)
    except ImportRejected:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged sheet is the sender's problem, named, never a 500
        raise _unreadable(error) from None
    finally:
        workbook.close()


def _unreadable(error: Exception) -> ImportRejected:
    return ImportRejected([RowError(None, "file", f"not a readable XLSX workbook ({type(error).__name__})")])


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_records(records: Iterable[tuple[int, list[Any]]]) -> tuple[list[Row], list[str]]:
    """The rows under the header, validated; blank records are skipped. The header is the first of the first
    HEADER_SEARCH non-blank records that names at least three of the fields (a report title may stand above it;
    what stands above the header is not read), else the first non-blank record, whose faults are then named."""
    records = iter(records)
    candidates: list[tuple[int, list[Any]]] = []
    header = None
    for line, cells in records:
        if all(_blank(c) for c in cells):
            continue
        candidates.append((line, cells))
        if _known_headings(cells) >= 3:
            header = (line, cells)
            break
        if len(candidates) >= HEADER_SEARCH:
            break
    if not candidates:
        raise ImportRejected([RowError(None, "file", "the file is empty")])
    if header is None:
        header = candidates[0]
    columns, ignored = read_header(*header)
    errors: list[RowError] = []
    error_count = 0
    data_rows = 0
    rows: list[Row] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    months: set[str] = set()
    for line, cells in records:
        if all(_blank(c) for c in cells):
            continue
        data_rows += 1
        if data_rows > MAX_ROWS:
            raise ImportRejected([RowError(line, "file", f"more than {MAX_ROWS} rows; split the file by month")])
        row, row_errors = parse_row(line, cells, columns)
        if row is not None:
            if (earlier := seen.get(row.key)) is not None:
                row_errors = [RowError(line, "product_code", f"the same month, product_code, city and industry as "
                                                             f"line {earlier}")]
            else:
                seen[row.key] = line
                months.add(row.month)
        if row_errors:
            error_count += len(row_errors)
            if len(errors) < MAX_ERRORS:
                errors.extend(row_errors)
        elif row is not None:
            rows.append(row)
    if len(months) > MAX_MONTHS:
        errors.append(RowError(None, "month", f"{len(months)} months in one file; at most {MAX_MONTHS}"))
        error_count += 1
    if errors:
        raise ImportRejected(errors, error_count)
    if not rows:
        raise ImportRejected([RowError(header[0], "file", "a header but no rows")])
    return rows, ignored


def _known_headings(cells: Sequence[Any]) -> int:
    return len({_HEADERS.get(_header_key(str(c))) for c in cells if not _blank(c)} - {None})


def read_header(line: int, cells: Sequence[Any]) -> tuple[dict[str, int], list[str]]:
    """Column index of each field, and the headings ignored; every missing or doubled field is an error."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    errors: list[RowError] = []
    for index, cell in enumerate(cells):
        heading = "" if cell is None else str(cell).strip().replace("\ufeff", "")
        if not heading:
            continue
        name = _HEADERS.get(_header_key(heading))
        if name is None:
            ignored.append(heading)
        elif name in columns:
            errors.append(RowError(line, name, f"two columns are {name}: {cells[columns[name]]!s} and {heading}"))
        else:
            columns[name] = index
    for name in FIELDS:
        if name not in columns:
            errors.append(RowError(line, name, f"no column {name} in the header (accepted headings: "
                                               f"{', '.join(HEADER_ALIASES[name])})"))
    if errors:
        raise ImportRejected(errors)
    return columns, ignored


# --- one row ----------------------------------------------------------------------------------------------------

def parse_row(line: int, cells: Sequence[Any], columns: dict[str, int]) -> tuple[Row | None, list[RowError]]:
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    for name, parse in _PARSERS.items():
        index = columns[name]
        raw = cells[index] if index < len(cells) else None
        if _blank(raw):
            errors.append(RowError(line, name, "is empty"))
            continue
        try:
            values[name] = parse(raw)
        except ValueError as error:
            errors.append(RowError(line, name, str(error)))
    if errors:
        return None, errors
    return Row(line=line, month=values["month"], product_code=values["product_code"], city=values["city"],
               industry=values["industry"], subscribers=values["subscribers"],
               revenue_fen=values["revenue_cny"]), []


def parse_month(value: Any) -> str:
    if isinstance(value, datetime | date):  # an XLSX date cell: the month it falls in
        year, month = value.year, value.month
    else:
        text = str(value).strip()
        match = _MONTH.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a month written YYYY-MM, e.g. 2026-01")
        year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise ValueError(f"{value!s}: there is no month {month}")
    if not 2000 <= year <= 2099:
        raise ValueError(f"{value!s}: the year {year} is out of range")
    return f"{year:04d}-{month:02d}"


def parse_product_code(value: Any) -> str:
    text = str(value).strip()
    if not PRODUCT_CODE.match(text):
        raise ValueError(f"{text!r} is not a product code (letters, digits, _ . -, at most 40, e.g. mobile_office)")
    return text


def parse_city(value: Any) -> str:
    text = str(value).strip()
    city = text[:-1] if text.endswith("市") and text[:-1] in CITIES else text
    if city not in CITIES:
        raise ValueError(f"{text!r} is not one of the cities: {', '.join(CITIES)}")
    return city


def parse_industry(value: Any) -> str:
    text = str(value).strip()
    industry = _INDUSTRIES.get(text) or _INDUSTRIES.get(text.lower())
    if industry is None:
        raise ValueError(f"{text!r} is not an industry: one of "
                         + ", ".join(f"{i.value} ({INDUSTRY_LABELS[i]})" for i in Industry))
    return industry.value


def parse_subscribers(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number of subscribers")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):  # an XLSX number cell, read to the 15 digits Excel shows
        shown = float(f"{value:.15g}")
        if not shown.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        number = int(shown)
    else:
        text = str(value).strip()
        if _GROUPED.match(text):
            text = text.replace(",", "")
        if text.endswith(".0") or text.endswith(".00"):  # what a spreadsheet writes for a whole number cell
            text = text.split(".", 1)[0]
        if text.startswith("-") and _WHOLE.match(text[1:]):
            raise ValueError(f"{text} is negative")
        if not _WHOLE.match(text):
            raise ValueError(f"{text!r} is not a whole number")
        number = int(text)
    if number < 0:
        raise ValueError(f"{number} is negative")
    if number > MAX_SUBSCRIBERS:
        raise ValueError(f"{number} is beyond any plausible count (at most {MAX_SUBSCRIBERS})")
    return number


def parse_revenue_fen(value: Any) -> int:
    """Yuan as written (1234.5, 1,234.50) to exact integer fen; more than 2 decimals or a sign is an error."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):  # an XLSX number cell, to the 15 significant digits Excel shows (a formula's
        amount = Decimal(f"{value:.15g}")  # 0.1 + 0.2 is stored as 0.30000000000000004 and shown as 0.3)
    elif isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).strip().removeprefix("¥").removeprefix("￥").strip()
        if _GROUPED.match(text):
            text = text.replace(",", "")
        if text.startswith("-"):
            raise ValueError(f"{text} is negative")
        if not _AMOUNT.match(text):
            raise ValueError(f"{text!r} is not an amount in yuan, e.g. 12800.50")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not an amount in yuan, e.g. 12800.50") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    if amount < 0:
        raise ValueError(f"{amount} is negative")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} has more than 2 decimals (yuan to the fen)")
    fen_int = int(fen)
    if fen_int > MAX_REVENUE_FEN:
        raise ValueError(f"{amount} is beyond any plausible revenue")
    return fen_int


_PARSERS = {"month": parse_month, "product_code": parse_product_code, "city": parse_city,
            "industry": parse_industry, "subscribers": parse_subscribers, "revenue_cny": parse_revenue_fen}


# --- the figures ------------------------------------------------------------------------------------------------

def yuan(fen: int) -> Decimal:
    """Integer fen as an exact Decimal of yuan with two places (12345 → Decimal('123.45'))."""
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def per_thousand(complaints: int, subscribers: int | None) -> float | None:
    """Complaints per 1,000 subscribers (4 decimals); None without subscribers (no base is not a 0 rate)."""
    if not subscribers:
        return None
    return round(complaints * 1000 / subscribers, 4)


def month_span(start: str, end: str) -> list[str]:
    """Every month from `start` to `end`, both included (YYYY-MM)."""
    year, month = int(start[:4]), int(start[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def previous_month(month: str) -> str:
    year, m = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if m == 1 else f"{year:04d}-{m - 1:02d}"


def month_key(month: str) -> int:
    """2026-01 → 202601: what the store filters and sorts on (a text that starts like a date takes nx-27017's
    datetime path, see kit/store.py)."""
    return int(month[:4]) * 100 + int(month[5:7])


def figures(rows: Iterable[dict[str, Any]], complaints: dict[tuple[str, str, str], int],
            months: Sequence[str]) -> dict[str, Any]:
    """Per product × month × city of `months` (in that order): subscribers, revenue, complaints, complaints per
    1,000 subscribers; and per product the revenue of each month with its change on the month before.

    `rows` are stored subscription rows (month, product_code, city, subscribers, revenue_fen; every industry of a
    cell is summed), the month before the first of `months` included so that its change can be told;
    `complaints` the complaint counts by (product_code, city, month). A cell with complaints and no subscription
    row has subscribers None; a month with no revenue row for a product has revenue None."""
    wanted = set(months)
    cells: dict[tuple[str, str, str], dict[str, int]] = {}
    for row in rows:
        cell = cells.setdefault((row["product_code"], row["city"], row["month"]), {"subscribers": 0, "fen": 0})
        cell["subscribers"] += row["subscribers"]
        cell["fen"] += row["revenue_fen"]
    order = {city: n for n, city in enumerate(CITIES)}  # the cities in their usual order, not by code point
    keys = sorted((k for k in set(cells) | {k for k, n in complaints.items() if n} if k[2] in wanted),
                  key=lambda k: (k[0], k[2], order.get(k[1], len(order)), k[1]))
    items = []
    for product_code, city, month in keys:
        cell = cells.get((product_code, city, month))
        count = complaints.get((product_code, city, month), 0)
        items.append({"month": month, "product_code": product_code, "city": city,
                      "subscribers": cell["subscribers"] if cell else None,
                      "revenue_cny": str(yuan(cell["fen"])) if cell else None,
                      "complaints": count,
                      "complaints_per_1000": per_thousand(count, cell["subscribers"] if cell else None)})
    revenue: dict[str, dict[str, int]] = {}
    for (product_code, _city, month), cell in cells.items():
        by_month = revenue.setdefault(product_code, {})
        by_month[month] = by_month.get(month, 0) + cell["fen"]
    trend = []
    for product_code in sorted(p for p, by_month in revenue.items() if wanted & set(by_month)):
        by_month, points = revenue[product_code], []
        for month in months:
            fen, before = by_month.get(month), by_month.get(previous_month(month))
            change = fen - before if fen is not None and before is not None else None
            points.append({"month": month, "revenue_cny": str(yuan(fen)) if fen is not None else None,
                           "change_cny": str(yuan(change)) if change is not None else None,
                           "change_rate": round(change / before, 4) if change is not None and before else None})
        trend.append({"product_code": product_code, "months": points})
    return {"items": items, "revenue_trend": trend}
