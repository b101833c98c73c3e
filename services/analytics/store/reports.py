"""Where the monthly reports' figures come from (`assemble`), where reports are kept (`reports`), and the job that
keeps each month's reports (`ensure_monthly_reports`).

Figures: one query of the per-ticket read model (`tickets`) for every ticket table of a report (the tickets that
can count in the month, with only the fields the tables read) and one of `kcs` (the KCS figures knowledge
publishes, events/kcs.py). Pre-aggregated counters can later replace the ticket query table by table without
changing the report model (domain/report.py).

The job keeps last month's reports, and those of older months it missed (a watermark, `REPORT_JOB`), from the 1st.

Kept reports: one document per month and scope, `_id` = `<YYYY-MM>:<product_code or *>`, holding the report's JSON
model; files (CSV, XLSX) are rendered from it on each request. A kept report is written once (an insert: the
second writer's DuplicateKeyError means "already kept") and never changed, so what was sent to the product
managers on the 1st stays what the API answers; `?fresh=true` answers the read model's current figures instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pymongo.errors
import structlog
from pymongo import IndexModel

from services.analytics.domain.report import Report, build_report, counted_products, month_period, previous_month
from services.analytics.domain.subscriptions import figures as subscription_figures
from services.analytics.store import subscriptions, watermarks
from services.analytics.store.collections import SUMMARY_FIELDS, TICKETS, newest_event_time
from services.kit.store import Store, eq

log = structlog.get_logger()

KCS = "kcs"          # knowledge's KCS figures, `_id` = `<product_code>:<YYYY-MM>` (events/kcs.py)
REPORTS = "reports"  # kept monthly reports, `_id` = report_id(month, product_code)
REPORT_JOB = "report_job"  # the monthly_reports job's watermark: `_id` WATERMARK, `through` = last month kept (YYYY-MM)
WATERMARK = "monthly"
CATCH_UP_MONTHS = 12       # the most months one run keeps, counted back from last month
ALL = "*"

INDEXES = {
    KCS: [IndexModel([("month", 1)])],
    REPORTS: [IndexModel([("month", 1)])],
}

REPORT_FIELDS = (*SUMMARY_FIELDS, "product_code", "city", "kind", "channel", "cause", "title")


def report_id(month: str, product_code: str | None) -> str:
    return f"{month}:{product_code or ALL}"


async def month_tickets(store: Store, month: str, *, product_code: str | None = None,
                        city: str | None = None) -> list[dict[str, Any]]:
    """The read-model documents that can count in `month`: opened before its end, or received before it (a ticket
    counts as opened on the requester's contact, `received_at`, which a late relay or an import puts before its
    `opened_at`: domain/report.opened_in), and not closed before its start (a ticket closed before the month has
    every moment before it, and is in no backlog of it)."""
    period = month_period(month)
    clauses: list[dict[str, Any]] = [{"$or": [{"opened_at": {"$lt": period.end}},
                                              {"received_at": {"$lt": period.end}}]}]
    if product_code:
        clauses.append({"product_code": eq(product_code)})
    if city:
        clauses.append({"city": eq(city)})
    # `$and` spelled out: nx-27017 answered `{product_code, opened_at, $or}` with other products' tickets too (a
    # field beside a top-level `$or`, kit/store.py); the range over datetimes is a scan there either way.
    clauses.append({"$or": [{"closed_at": None}, {"closed_at": {"$gte": period.start}}]})
    return await store[TICKETS].find({"$and": clauses}, {f: 1 for f in REPORT_FIELDS}).to_list()


async def month_kcs(store: Store, month: str, *, product_code: str | None = None) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"month": eq(month)}
    if product_code:
        query["product_code"] = eq(product_code)
    return await store[KCS].find(query).to_list()


async def month_subscriptions(store: Store, month: str, *, product_code: str | None = None,
                              city: str | None = None) -> list[dict[str, Any]]:
    """The month's cells of the subscriptions join: subscribers and revenue as imported, complaints from the
    counters, complaints per 1,000 subscribers (store/subscriptions.py)."""
    try:
        rows = await subscriptions.subscription_rows(store, [month], product_code, city)
    except subscriptions.ReadConflict:
        rows = await subscriptions.subscription_rows(store, [month], product_code, city)  # replaced meanwhile: once more
    complaints = await subscriptions.complaints_by_product_city_month(store, [month], product_code, city)
    return subscription_figures(rows, complaints, [month])["items"]


async def assemble(store: Store, month: str, product_code: str | None = None, city: str | None = None, *,
                   now: datetime) -> Report:
    """The report of `month` from the read models as they are now (a city's report has no KCS table: KCS is
    counted per product only)."""
    tickets = await month_tickets(store, month, product_code=product_code, city=city)
    kcs = None if city else await month_kcs(store, month, product_code=product_code)
    joined = await month_subscriptions(store, month, product_code=product_code, city=city)
    return build_report(month, tickets, kcs, product_code=product_code, city=city, generated_at=now,
                        subscriptions=joined,
                        as_of=await newest_event_time(store[TICKETS]))


async def kept_report(store: Store, month: str, product_code: str | None) -> Report | None:
    doc = await store[REPORTS].find_one({"_id": report_id(month, product_code)})
    return Report.model_validate({**doc["report"], "kept": True}) if doc else None


async def keep(store: Store, report: Report, *, products: Sequence[str] = ()) -> Report:
    """Keep `report` as its month's, unless one is kept already: the kept one is answered either way."""
    doc = {"_id": report_id(report.month, report.product_code), "month": report.month,
           "product_code": report.product_code or ALL, "products": list(products),
           "report": report.model_dump(mode="json", exclude={"kept"})}
    try:
        await store.insert(REPORTS, doc)
    except pymongo.errors.DuplicateKeyError:
        kept = await kept_report(store, report.month, report.product_code)
        if kept is not None:
            return kept
        raise
    return report.model_copy(update={"kept": True})


def months_to_keep(previous: str, through: str | None) -> list[str]:
    """Every month after the watermark up to `previous` (last month), at most `CATCH_UP_MONTHS` of them; last month
    alone before the first run (a new service keeps no reports of history it never watched) or when the watermark
    is already past it."""
    if through is None or through >= previous:
        return [previous]
    months = [previous]
    while len(months) < CATCH_UP_MONTHS:
        year, number = int(months[0][:4]), int(months[0][5:7])
        before = f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"
        if before <= through:
            break
        months.insert(0, before)
    return months


async def kept_through(store: Store) -> str | None:
    """The last month the job has kept every report of (its watermark, YYYY-MM), None before its first run."""
    return await watermarks.through(store, REPORT_JOB, WATERMARK)


async def ensure_monthly_reports(store: Store, *, now: datetime) -> list[str]:
    """Keep the reports of every month since the last one kept (`months_to_keep`: normally just last month; the
    months missed while no replica ran the job, up to `CATCH_UP_MONTHS`), oldest first, then move the watermark to
    last month, never back. The ids it kept now; none when all were kept already, so a second run keeps nothing and
    a run cut short is finished by the next (`ensure_month_reports`)."""
    previous = previous_month(now)
    made = []
    for month in months_to_keep(previous, await kept_through(store)):
        made += await ensure_month_reports(store, month, now=now)
    await watermarks.advance(store, REPORT_JOB, WATERMARK, previous, now)
    return made


async def ensure_month_reports(store: Store, month: str, *, now: datetime) -> list[str]:
    """Make sure `month`'s (Asia/Shanghai) province-wide report and one per product with figures in it are
    kept; the ids it kept now (none when all were kept already). Idempotent: a second run keeps nothing.

    The products' reports go first and the province-wide one last, listing the products it was made with; so a
    run that finds the province-wide one and every product it lists has nothing to do (one query), and a run
    cut short is finished by the next."""
    existing = {d["_id"]: d for d in await store[REPORTS].find({"month": eq(month)},
                                                               {"_id": 1, "products": 1}).to_list()}
    whole = existing.get(report_id(month, None))
    if whole is not None and all(report_id(month, p) in existing for p in whole.get("products", ())):
        return []
    tickets = await month_tickets(store, month)
    kcs = await month_kcs(store, month)
    joined = await month_subscriptions(store, month)
    as_of = await newest_event_time(store[TICKETS])
    period = month_period(month)
    products = sorted(counted_products(tickets, period) | {m["product_code"] for m in kcs})
    made = []
    for product in products:
        if report_id(month, product) not in existing:
            report = build_report(month, [t for t in tickets if t.get("product_code") == product],
                                  [m for m in kcs if m["product_code"] == product], product_code=product,
                                  generated_at=now, as_of=as_of,
                                  subscriptions=[i for i in joined if i["product_code"] == product])
            await keep(store, report)
            made.append(report_id(month, product))
    if whole is None:
        await keep(store, build_report(month, tickets, kcs, generated_at=now, as_of=as_of, subscriptions=joined),
                   products=products)
        made.append(report_id(month, None))
    log.info("reports.kept", month=month, kept=made)
    return made
