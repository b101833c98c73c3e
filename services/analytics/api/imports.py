"""Subscriptions and revenue (数据提取): the billing system's monthly export in, complaints per 1,000 subscribers and
the revenue trend out (docs/analytics-imports.md).

- `POST /v1/imports/subscriptions`: the export as the billing system saves it, CSV or XLSX, uploaded as a
  multipart form part `file` (what a browser or `curl -F file=@…` sends), or as the raw body with Content-Type
  `text/csv` or the XLSX media type (what a script posts). All or nothing: any bad row is a 422 naming each line
  and field, and nothing is stored; the months of the file replace whatever those months held.
- `GET /v1/imports/subscriptions`: the imports on record, newest first, with the months each is still current for.
- `GET /v1/metrics/subscriptions`: per product × city × month subscribers, revenue, complaints and complaints per
  1,000 subscribers; per product the revenue by month and its change on the month before.

Importing is for analysts (数据提取员) and admins. Reading is also for product managers, who see only the products
of their token (another product_code is 403, none given means theirs), and account managers, who see only their
token's city (another city is 403).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from contracts.vocabulary import CITIES, Role
from services.analytics.domain import subscriptions as domain
from services.analytics.domain.period import LOCAL_ZONE
from services.analytics.domain.subscriptions import ImportRejected, MAX_BYTES, month_span, previous_month
from services.analytics.domain.scope import PROVINCE_WIDE, narrow
from services.analytics.store import subscriptions as stored
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.problems import Problem, invalid
from services.kit.uploads import read_file, too_large

router = APIRouter(prefix="/v1", tags=["subscriptions"])

IMPORTERS = (Role.analyst,)  # and admin (require_roles lets admin through)
READERS = (Role.analyst, Role.product_manager, Role.account_manager)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RAW_TYPES = {"text/csv", "text/plain", XLSX_TYPE, "application/octet-stream"}
DEFAULT_MONTHS = 12
MAX_SPAN = 36

CSV_EXAMPLE = ("月份,产品编码,地市,行业,用户数,收入(元)\n"
               "2026-01,mobile_office,济南,政府,1200,35800.00\n"
               "2026-01,mobile_office,青岛,教育,860,21500.50\n")

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {"file": {
                    "type": "string", "format": "binary",
                    "description": "计费系统导出的用户及收入文件: CSV (UTF-8 or GBK) or XLSX, judged by content; columns "
                                   "month/月份, product_code/产品编码, city/地市, industry/行业, subscribers/用户数, "
                                   f"revenue_cny/收入(元); at most {MAX_BYTES // 2**20} MB, {domain.MAX_ROWS} rows"}}},
                "examples": {"月度导出": {"summary": "2026年1月用户及收入.xlsx",
                                         "value": {"file": "(binary content of 2026年1月用户及收入.xlsx)"}}},
            },
            "text/csv": {
                "schema": {"type": "string", "description": "the CSV itself as the body (UTF-8 or GBK)"},
                "examples": {"月度导出": {"summary": "2026年1月用户及收入.csv", "value": CSV_EXAMPLE}},
            },
            XLSX_TYPE: {
                "schema": {"type": "string", "format": "binary", "description": "the XLSX workbook itself as the body"},
                "examples": {"月度导出": {"summary": "2026年1月用户及收入.xlsx",
                                         "value": "(binary content of 2026年1月用户及收入.xlsx)"}},
            },
        },
    },
}


class ImportRowError(BaseModel):
    line: int | None = Field(description="行号: the spreadsheet row (the header is 1); null for the whole file")
    field: str = Field(description="字段: month, product_code, city, industry, subscribers, revenue_cny, header or file")
    message: str


class ImportProblem(BaseModel):
    """The 422 of a refused file (application/problem+json)."""
    type: str = Field(examples=["/problems/import-rejected"])
    title: str
    status: int
    detail: str | None = None
    errors: list[ImportRowError] = Field(description="每个错误: line and field (at most 200)")
    error_count: int = Field(description="错误总数")


class SubscriptionImportOut(BaseModel):
    import_id: str = Field(description="导入批次号")
    months: list[str] = Field(description="月份: every month of the file, now current")
    replaced_months: list[str] = Field(description="被替换的月份: months that held an earlier import")
    rows: int = Field(description="行数")
    format: str = Field(description="csv or xlsx")
    ignored_columns: list[str] = Field(description="未识别的列 (ignored), e.g. 产品名称")
    imported_by: str
    imported_at: datetime


class SubscriptionImportRecord(BaseModel):
    import_id: str
    status: str = Field(description="current (its rows are stored), staging (being written) or abandoned")
    months: list[str] = Field(description="月份 of the file")
    current_months: list[str] = Field(description="the months this import is still the data of (later imports "
                                                  "replace months)")
    rows: int
    format: str | None = None
    filename: str | None = None
    imported_by: str | None = None
    imported_at: datetime | None = None


class SubscriptionImportList(BaseModel):
    items: list[SubscriptionImportRecord]
    months_on_record: dict[str, str] = Field(description="month → the import current for it")
    next_cursor: str | None = None  # the list shape of SPEC §5; the newest 200 imports are one page


class SubscriptionCell(BaseModel):
    month: str
    product_code: str
    city: str
    subscribers: int | None = Field(description="用户数 (all industries); null when no import covers the cell")
    revenue_cny: str | None = Field(description="收入(元), exact, two decimals")
    complaints: int = Field(description="投诉量: complaints received in the month (Asia/Shanghai)")
    complaints_per_1000: float | None = Field(description="千户投诉率: complaints per 1,000 subscribers; null when "
                                                          "subscribers is 0 or unknown")


class RevenuePoint(BaseModel):
    month: str
    revenue_cny: str | None = Field(description="收入(元) of the product over the cities asked for")
    change_cny: str | None = Field(description="环比变化(元) on the month before; null when either month is missing")
    change_rate: float | None = Field(description="环比 (change ÷ the month before's revenue)")


class RevenueTrend(BaseModel):
    product_code: str
    months: list[RevenuePoint]


class SubscriptionFilters(BaseModel):
    from_: str = Field(alias="from")
    to: str
    product_code: str | None = None
    city: str | None = None

    model_config = {"populate_by_name": True}


class SubscriptionMetrics(BaseModel):
    filters: SubscriptionFilters
    months: list[str] = Field(description="the months answered, `from` to `to`")
    months_on_record: list[str] = Field(description="those of them some import covers")
    items: list[SubscriptionCell]
    revenue_trend: list[RevenueTrend]


# --- import -----------------------------------------------------------------------------------------------------

@router.post("/imports/subscriptions", status_code=201, response_model=SubscriptionImportOut,
             summary="导入用户及收入 (CSV or XLSX billing export; replaces its months)", openapi_extra=UPLOAD_BODY,
             responses={413: {"description": f"Over {MAX_BYTES // 2**20} MB; nothing stored"},
                        415: {"description": "Neither multipart/form-data nor a CSV/XLSX body"},
                        422: {"model": ImportProblem,
                              "description": "Bad rows, each named by `line` and `field` in `errors`; nothing stored"}})
async def import_subscriptions(request: Request, principal: Principal = Depends(require_roles(*IMPORTERS)),
                               rt: Runtime = Depends(runtime)) -> dict:
    content, filename, sha256 = await receive(request)
    try:
        parsed = await run_in_threadpool(domain.parse_file, content)  # XLSX parsing is CPU: off the event loop
    except ImportRejected as rejected:
        raise rejection(rejected) from None
    record = await stored.import_rows(rt.store, parsed, imported_by=principal.sub, filename=filename, sha256=sha256)
    return {"import_id": record["_id"], "months": record["months"],
            "replaced_months": sorted(m for m, before in record["replaced"].items() if before),
            "rows": record["rows"], "format": record["format"], "ignored_columns": record["ignored_columns"],
            "imported_by": record["imported_by"], "imported_at": record["imported_at"]}


async def receive(request: Request) -> tuple[bytes, str | None, str | None]:
    """The file's bytes, name and SHA-256, from a multipart part `file` or from the raw body."""
    media_type = parse_options_header(request.headers.get("content-type"))[0].decode("latin-1").lower()
    if media_type == "multipart/form-data":
        received = await read_file(request, max_bytes=MAX_BYTES)
        try:
            filename = received.filename[:255] if received.filename else None  # kept for the record only
            return received.content.read(), filename, received.sha256
        finally:
            received.close()
    if media_type not in RAW_TYPES:
        raise Problem(415, "unsupported-media-type", "Unsupported request body",
                      "Send the export as multipart/form-data with a part named 'file', or as the body with "
                      f"Content-Type text/csv or {XLSX_TYPE}.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BYTES:
        raise too_large(MAX_BYTES)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BYTES:
                raise too_large(MAX_BYTES)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "incomplete-body", "Incomplete request body", "The upload ended early.") from None
    content = b"".join(chunks)
    return content, None, hashlib.sha256(content).hexdigest()


def rejection(rejected: ImportRejected) -> Problem:
    first = rejected.errors[0]
    where = f"line {first.line}, " if first.line is not None else ""
    more = f" (and {rejected.error_count - 1} more)" if rejected.error_count > 1 else ""
    return Problem(422, "import-rejected", "Import rejected: nothing was stored",
                   f"{where}{first.field}: {first.message}{more}",
                   errors=[e.as_dict() for e in rejected.errors], error_count=rejected.error_count)


@router.get("/imports/subscriptions", response_model=SubscriptionImportList,
            summary="导入记录 (the imports on record and the months each is current for)")
async def list_imports(principal: Principal = Depends(require_roles(*READERS)), rt: Runtime = Depends(runtime)) -> dict:
    records = await stored.imports_on_record(rt.store)
    months = await stored.current_months(rt.store)
    return {"items": [{**r, "import_id": r["_id"]} for r in records],
            "months_on_record": {m: e["import_id"] for m, e in sorted(months.items())}}


# --- figures ----------------------------------------------------------------------------------------------------

def parse_month_param(value: str, field: str) -> str:
    try:
        return domain.parse_month(value)
    except ValueError as error:
        raise invalid(field, str(error)) from None


def scope(principal: Principal, product_code: str | None, city: str | None):
    """The product and city filters a principal may ask with, by the metrics' one rule (domain/scope.py): a
    product manager only the token's products, an account manager only the token's city (403 beyond)."""
    if principal.has(Role.account_manager) and not principal.has(*PROVINCE_WIDE) and not principal.city:
        raise Problem(403, "forbidden", "Forbidden", "An account manager's token names no city.")
    allowed = narrow(principal, {"product_code": product_code, "city": city})
    products = allowed.get("product_code")
    cities = allowed.get("city")
    return (product_code if product_code is not None else sorted(products) if products is not None else None,
            next(iter(cities)) if cities else None)


@router.get("/metrics/subscriptions", response_model=SubscriptionMetrics, response_model_by_alias=True,
            summary="千户投诉率与收入趋势 (complaints per 1,000 subscribers by product × city × month; revenue trend)")
async def subscription_metrics(
    from_: str | None = Query(None, alias="from", description="first month, YYYY-MM (default: 11 months before `to`)"),
    to: str | None = Query(None, description="last month, YYYY-MM, included (default: the newest month on record)"),
    product_code: str | None = Query(None, min_length=1, max_length=64),
    city: str | None = Query(None, description="one of the 16 cities, e.g. 济南"),
    principal: Principal = Depends(require_roles(*READERS)),
    rt: Runtime = Depends(runtime),
) -> dict:
    if city is not None and city not in CITIES:
        raise invalid("city", f"{city!r} is not one of the cities: {', '.join(CITIES)}")
    first = parse_month_param(from_, "from") if from_ else None
    last = parse_month_param(to, "to") if to else None
    products, city_filter = scope(principal, product_code, city)
    on_record = await stored.current_months(rt.store)
    if last is None:
        last = max(on_record) if on_record else (first or datetime.now(LOCAL_ZONE).strftime("%Y-%m"))
        last = max(last, first) if first else last
    if first is None:
        first = last
        for _ in range(DEFAULT_MONTHS - 1):
            first = previous_month(first)
    if first > last:
        raise invalid("from", "must not be after `to`")
    months = month_span(first, last)
    if len(months) > MAX_SPAN:
        raise invalid("to", f"{len(months)} months asked; at most {MAX_SPAN} at once")
    if isinstance(products, list) and not products:
        rows, complaints = [], {}
    else:
        try:
            rows = await stored.subscription_rows(rt.store, [previous_month(first), *months], products, city_filter)
        except stored.ReadConflict as error:
            raise Problem(503, "busy", "Months being replaced", str(error), headers={"Retry-After": "1"}) from None
        complaints = await stored.complaints_by_product_city_month(rt.store, months, products, city_filter)
    figures = domain.figures(rows, complaints, months)
    return {"filters": {"from": first, "to": last, "product_code": product_code, "city": city},
            "months": months, "months_on_record": sorted(set(on_record) & set(months)),
            **figures}
