"""Imported subscriptions/revenue (数据提取) in the analytics store, and the complaint counts they are joined with.

Three collections:
- `subscription_rows`: one document per imported row, tagged with the import that brought it (`import_id`);
- `subscription_imports`: one document per import (who, when, which file, months, rows, `status`);
- `subscription_current`: one document, `_id` "months", saying which import is current for each month, and which
  (import, month) rows are superseded and still to be deleted (`garbage`).

Replacing months is three steps, none of which leaves a month half-replaced or lost to a reader:
1. the new rows are written under a new import id (status `staging`); nobody reads them yet;
2. the one pointer document is switched, every month of the import at once (one document write: atomic on MongoDB
   and nx-27017 alike), the rows it replaces listed in `garbage` in that same write;
3. the replaced rows are deleted, then taken off `garbage`.
A reader takes the pointer, reads the rows of the imports it names, and reads the pointer's revision again: if a
switch (and so a deletion) happened in between it reads again, so it sees one import of each month, whole.

A crash leaves nothing visible that should not be: after 1, rows of an import no pointer names (status `staging`);
after 2, `garbage` still listed. The next import sweeps both first (`sweep`): garbage is deleted; a staging import
older than STALE_STAGING whose id the pointer names is marked current (the crash came after 2), otherwise its rows
are deleted and it is marked `abandoned`. Concurrent imports serialise on the pointer's revision guard
(Store.change): the later switch wins and lists the earlier one's rows of the same month as garbage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from bson import ObjectId
from pymongo import DESCENDING, IndexModel

from services.analytics.domain.subscriptions import Parsed, month_key
from services.analytics.store.metrics import monthly_sums
from services.kit.store import REVISION, Store, eq, flat_and

log = structlog.get_logger()

ROWS = "subscription_rows"
IMPORTS = "subscription_imports"
CURRENT = "subscription_current"
POINTER_ID = "months"

INDEXES = {
    ROWS: [
        IndexModel([("month_key", 1)]),
        IndexModel([("product_code", 1), ("month_key", 1)]),
        IndexModel([("city", 1), ("month_key", 1)]),
        IndexModel([("import_id", 1), ("month_key", 1)]),
    ],
    IMPORTS: [IndexModel([("imported_at", DESCENDING)]), IndexModel([("status", 1)])],
}

INSERT_CHUNK = 1000
STALE_STAGING = timedelta(hours=1)  # an import still staging after this died (a live one takes seconds)
READ_ATTEMPTS = 5
ROW_FIELDS = ("import_id", "month", "product_code", "city", "subscribers", "revenue_fen")


class ReadConflict(Exception):
    """Months kept being replaced while they were read."""


# --- writing ----------------------------------------------------------------------------------------------------

async def import_rows(store: Store, parsed: Parsed, *, imported_by: str, filename: str | None, sha256: str | None,
                      now: datetime | None = None) -> dict[str, Any]:
    """Store a validated file as the current data of its months; the import's record (with `replaced`: the
    import each month had before, None for a new month)."""
    now = now or datetime.now(UTC)
    await sweep(store, now)
    import_id = str(ObjectId())
    record = {"_id": import_id, "status": "staging", "months": parsed.months, "rows": len(parsed.rows),
              "format": parsed.format, "filename": filename, "sha256": sha256, "imported_by": imported_by,
              "imported_at": now, "ignored_columns": parsed.ignored_columns}
    await store[IMPORTS].insert_one(record)
    docs = [{"_id": f"{import_id}-{row.line}", "import_id": import_id, "month": row.month,
             "month_key": month_key(row.month), "product_code": row.product_code, "city": row.city,
             "industry": row.industry, "subscribers": row.subscribers, "revenue_fen": row.revenue_fen,
             "line": row.line} for row in parsed.rows]
    for start in range(0, len(docs), INSERT_CHUNK):
        await store[ROWS].insert_many(docs[start:start + INSERT_CHUNK], ordered=False)

    replaced: dict[str, str | None] = {}

    def switch(current: dict[str, Any] | None):
        months = dict((current or {}).get("months", {}))
        garbage = list((current or {}).get("garbage", []))
        replaced.clear()
        for month in parsed.months:
            before = months.get(month)
            replaced[month] = before["import_id"] if before else None
            if before:
                garbage.append({"import_id": before["import_id"], "month": month})
            months[month] = {"import_id": import_id, "since": now.isoformat()}
        return {"_id": POINTER_ID, "months": months, "garbage": garbage}, []

    await store.change(CURRENT, POINTER_ID, switch)
    record = {**record, "status": "current"}
    await store[IMPORTS].replace_one({"_id": import_id}, record)
    await collect_garbage(store)
    log.info("subscriptions.imported", import_id=import_id, months=parsed.months, rows=len(docs),
             replaced={m: i for m, i in replaced.items() if i})
    return {**record, "replaced": dict(replaced)}


async def collect_garbage(store: Store) -> None:
    """Delete the rows the pointer lists as superseded, then take them off the list."""
    pointer = await store[CURRENT].find_one({"_id": eq(POINTER_ID)}, {"garbage": 1})
    garbage = [(g["import_id"], g["month"]) for g in (pointer or {}).get("garbage", [])]
    if not garbage:
        return
    for import_id, month in garbage:
        await store[ROWS].delete_many({"import_id": eq(import_id), "month_key": eq(month_key(month))})
    done = set(garbage)

    def forget(current: dict[str, Any] | None):
        if current is None:
            return None
        left = [g for g in current.get("garbage", []) if (g["import_id"], g["month"]) not in done]
        if len(left) == len(current.get("garbage", [])):
            return None
        return {**current, "garbage": left}, []

    await store.change(CURRENT, POINTER_ID, forget)


async def sweep(store: Store, now: datetime) -> None:
    """What a crashed import left behind (see the module docstring)."""
    await collect_garbage(store)
    staging = await store[IMPORTS].find({"status": eq("staging")}).to_list()
    if not staging:
        return
    pointer = await store[CURRENT].find_one({"_id": eq(POINTER_ID)}, {"months": 1})
    named = {entry["import_id"] for entry in (pointer or {}).get("months", {}).values()}
    for record in staging:
        imported_at = record.get("imported_at")
        if isinstance(imported_at, datetime) and now - imported_at < STALE_STAGING and record["_id"] not in named:
            continue  # maybe another replica's import, under way
        if record["_id"] in named:
            status = "current"
        else:
            await store[ROWS].delete_many({"import_id": eq(record["_id"])})
            status = "abandoned"
        await store[IMPORTS].replace_one({"_id": record["_id"]}, {**record, "status": status})
        log.warning("subscriptions.staging_swept", import_id=record["_id"], status=status)


# --- reading ----------------------------------------------------------------------------------------------------

async def current_months(store: Store) -> dict[str, dict[str, Any]]:
    """Month → {import_id, since} of every month on record."""
    pointer = await store[CURRENT].find_one({"_id": eq(POINTER_ID)}, {"months": 1})
    return dict((pointer or {}).get("months", {}))


async def imports_on_record(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    """The newest imports first, each with the months it is still the current data of."""
    months = await current_months(store)
    records = await store[IMPORTS].find({}, {"_id": 1, "status": 1, "months": 1, "rows": 1, "format": 1,
                                             "filename": 1, "imported_by": 1, "imported_at": 1}) \
        .sort("imported_at", DESCENDING).limit(limit).to_list()
    for record in records:
        record["current_months"] = sorted(m for m, entry in months.items() if entry["import_id"] == record["_id"])
    return records


async def subscription_rows(store: Store, months: Sequence[str], product_code: str | Collection[str] | None,
                            city: str | None) -> list[dict[str, Any]]:
    """The current rows of `months` (YYYY-MM) matching the filters, each month from one import, whole."""
    if not months:
        return []
    for _ in range(READ_ATTEMPTS):
        pointer = await store[CURRENT].find_one({"_id": eq(POINTER_ID)}, {"months": 1, REVISION: 1})
        current = {m: e["import_id"] for m, e in (pointer or {}).get("months", {}).items() if m in set(months)}
        if not current:
            return []
        query = flat_and({"month_key": {"$gte": month_key(min(current)), "$lte": month_key(max(current))}},
                         _product_filter(product_code), {"city": eq(city)} if city else None)
        docs = await store[ROWS].find(query, {f: 1 for f in ROW_FIELDS}).to_list()
        again = await store[CURRENT].find_one({"_id": eq(POINTER_ID)}, {REVISION: 1})
        if (again or {}).get(REVISION) == (pointer or {}).get(REVISION):
            return [d for d in docs if current.get(d["month"]) == d["import_id"]]
        await asyncio.sleep(0.05)
    raise ReadConflict("the months were replaced while they were read; ask again")


def _product_filter(product_code: str | Collection[str] | None) -> dict[str, Any] | None:
    if product_code is None:
        return None
    if isinstance(product_code, str):
        return {"product_code": eq(product_code)}
    return {"product_code": {"$in": sorted(product_code)}}


async def complaints_by_product_city_month(store: Store, months: Sequence[str],
                                           product_code: str | Collection[str] | None,
                                           city: str | None) -> dict[tuple[str, str, str], int]:
    """Complaints opened in each of `months` by (product_code, city, month), from the counters (store/metrics.py):
    tickets of kind complaint counted in the Asia/Shanghai month of `received_at` (when the requester contacted
    the channel) or, without it, of `opened_at`. `product_code` is one code, a collection of codes (a product
    manager's), or None for all. A ticket merged into another (close_reason `merged`: the same complaint filed
    twice) is not a complaint of its own: the counters do not count it as opened (domain/counters.py)."""
    if not months:
        return {}
    allowed: dict[str, frozenset[str]] = {"kind": frozenset(["complaint"])}
    if product_code is not None:
        allowed["product_code"] = frozenset([product_code] if isinstance(product_code, str) else product_code)
    if city:
        allowed["city"] = frozenset([city])
    firsts = {date(int(m[:4]), int(m[5:7]), 1): m for m in months}
    sums = await monthly_sums(store, sorted(firsts), allowed, ("product_code", "city"))
    counts: dict[tuple[str, str, str], int] = {}
    for first, groups in sums.items():
        for (product, group_city), measures in groups.items():
            complaints = measures.get("opened", 0)
            if complaints:
                counts[(product, group_city, firsts[first])] = complaints
    return counts


__all__ = ["INDEXES", "ReadConflict", "collect_garbage", "complaints_by_product_city_month", "current_months",
           "import_rows", "imports_on_record", "subscription_rows", "sweep"]
