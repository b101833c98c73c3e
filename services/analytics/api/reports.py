"""`GET /v1/reports/monthly/{YYYY-MM}`: the monthly report (客服分析, 投诉分析) as JSON, CSV (one table) or XLSX.

Which report answers (docs/analytics-reports.md):
- a complete month (before the current one, Asia/Shanghai): the kept report — kept by the `monthly_reports` job on
  the 1st of the next month, or on the first request for it; `?fresh=true` answers the read model's current
  figures instead and leaves the kept report as it is;
- the current month: generated on each request, never kept (`complete: false`, `kept: false`);
- a city's report (an account manager's): generated on each request, never kept.

Who reads what (SPEC §1):
- analyst, admin, agent, complaint_handler: any report (province-wide, or one product's with `product_code`);
- product_manager: only the report of one of the products of their token (`product_code` required: 403 without
  it or for another product — a province-wide report shows every product's problems);
- account_manager: only their city's — the report is the city's whatever else is asked (`city` in the answer),
  without KCS (counted per product, not per city); 403 without a city in the token;
- everyone else (ops_engineer, vendor, intake): 403.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Path, Query, Response

from contracts.vocabulary import Role
from services.analytics.api.report_files import (CSV_MEDIA, XLSX_MEDIA, content_disposition, csv_bytes, filenames,
                                                 xlsx_bytes)
from services.analytics.domain.report import TABLES, MonthError, Report, month_period, parse_month
from services.analytics.store.reports import assemble, keep, kept_report
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.problems import Problem, invalid
from services.kit.store import Store

router = APIRouter(prefix="/v1", tags=["reports"])

FULL_READERS = (Role.analyst, Role.agent, Role.complaint_handler)  # and admin (require_roles lets admin through)
READERS = (*FULL_READERS, Role.product_manager, Role.account_manager)
FORMATS = ("json", "csv", "xlsx")
PROBLEM = {"content": {"application/problem+json": {}}}


def report_scope(principal: Principal, product_code: str | None) -> tuple[str | None, str | None]:
    """(product_code, city) of the report `principal` may read when asking for `product_code`, or 403."""
    if principal.has(*FULL_READERS, Role.admin):
        return product_code, None
    if principal.has(Role.product_manager) and product_code and product_code in principal.products:
        return product_code, None
    if principal.has(Role.account_manager):
        if not principal.city:
            raise Problem(403, "forbidden", "Forbidden", "An account manager's token names no city.")
        return product_code, principal.city
    mine = ", ".join(principal.products) or "none"
    detail = (f"A product manager reads the report of one of their products ({mine}): add product_code."
              if product_code is None else f"{product_code!r} is not one of your products ({mine}).")
    raise Problem(403, "forbidden", "Forbidden", detail)


def has_figures(report: Report) -> bool:
    overview = report.table("overview").rows[0]
    return any(overview.get(k) for k in ("opened", "resolved", "closed", "backlog", "merged")) or any(
        t.rows for t in report.tables if t.name == "kcs")


async def obtain(store: Store, month: str, product_code: str | None, city: str | None, *, fresh: bool,
                 now: datetime) -> Report:
    if city or fresh or now < month_period(month).end:
        return await assemble(store, month, product_code, city, now=now)
    kept = await kept_report(store, month, product_code)
    if kept is not None:
        return kept
    report = await assemble(store, month, product_code, now=now)
    # A product nobody filed a ticket for (a typo, say) is answered but not kept: no empty report stays forever.
    return await keep(store, report) if has_figures(report) else report


@router.get("/reports/monthly/{month}", response_model=Report,
            summary="月度分析 (客服分析, 投诉分析): JSON, CSV (one table) or XLSX",
            responses={200: {"content": {CSV_MEDIA: {}, XLSX_MEDIA: {}}}, 401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def monthly_report(
    month: str = Path(description="月份 YYYY-MM (Asia/Shanghai), not after the current month",
                      examples=["2026-03"]),
    format: str = Query("json", description="json | csv (one table: `table` required) | xlsx"),
    product_code: str | None = Query(None, min_length=1, max_length=64, description="产品编码: one product's report"),
    table: str | None = Query(None, description=f"only this table: {' | '.join(TABLES)}"),
    fresh: bool = Query(False, description="the read model's current figures, not the kept report"),
    principal: Principal = Depends(require_roles(*READERS)),
    rt: Runtime = Depends(runtime),
):
    try:
        parse_month(month)
    except MonthError as error:
        raise invalid("month", str(error)) from error
    if format not in FORMATS:
        raise invalid("format", f"{format!r} is not one of: {', '.join(FORMATS)}")
    if table is not None and table not in TABLES:
        raise invalid("table", f"{table!r} is not one of: {', '.join(TABLES)}")
    if format == "csv" and table is None:
        raise invalid("table", f"a CSV holds one table: name it, one of: {', '.join(TABLES)}")
    now = datetime.now(UTC)
    if month_period(month).start > now:
        raise invalid("month", f"{month} has not begun")
    product, city = report_scope(principal, product_code)
    report = await obtain(rt.store, month, product, city, fresh=fresh, now=now)
    chosen = None
    if table is not None:
        chosen = next((t for t in report.tables if t.name == table), None)
        if chosen is None:
            raise invalid("table", f"{table!r} is not in a city's report (KCS is counted per product)")
        report = report.model_copy(update={"tables": [chosen]})
    if format == "json":
        return report
    headers = {"X-Report-Complete": str(report.complete).lower(), "X-Report-Kept": str(report.kept).lower()}
    if format == "csv":
        ascii_name, name = filenames(report, "csv", chosen)
        return Response(csv_bytes(chosen), media_type=CSV_MEDIA,
                        headers={**headers, "Content-Disposition": content_disposition(ascii_name, name)})
    ascii_name, name = filenames(report, "xlsx", chosen)
    return Response(xlsx_bytes(report), media_type=XLSX_MEDIA,
                    headers={**headers, "Content-Disposition": content_disposition(ascii_name, name)})
