"""KCS measures per product and month (issue 9, point 6), and the month of an instant on the operator's calendar.

Per product and month (Asia/Shanghai, the business calendar of SPEC §3):
- `closed`: closed tickets that feed knowledge — they named an article, or they grow a candidate (a consultation,
  or a complaint of cause 理解偏差 / 计费问题 / 产品缺陷; SPEC §5); merged duplicates and other tickets do not;
- `linked`: those that named an existing article (a reuse); `link_rate` = linked ÷ closed;
- `new`: those that started a new candidate; `known`: those that joined an existing candidate or named an article
  (KCS "new versus known": how much of the demand the knowledge base already knew);
- `promoted` / `dismissed`: candidates of the product promoted to an article or dismissed in that month.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
NEW, KNOWN, REUSE = "new", "known", "reuse"
COUNTERS = ("closed", "linked", "new", "known", "promoted", "dismissed")


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of `moment` in Asia/Shanghai (a naive instant is taken as UTC, as the store gives them back)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m")


def valid_month(text: str) -> bool:
    return bool(MONTH.match(text))


def measures_id(product_code: str, month: str) -> str:
    return f"{product_code}:{month}"


def empty(product_code: str, month: str) -> dict[str, Any]:
    return {"_id": measures_id(product_code, month), "product_code": product_code, "month": month,
            **{c: 0 for c in COUNTERS}, "version": 0}


def count_close(measures: dict[str, Any], outcome: str) -> dict[str, Any]:
    """The figures after one more close that feeds knowledge: `reuse` (named an article), `new` or `known`."""
    changed = {**measures, "closed": measures["closed"] + 1, "version": measures["version"] + 1}
    if outcome == REUSE:
        changed["linked"] += 1
        changed["known"] += 1
    elif outcome == NEW:
        changed["new"] += 1
    else:
        changed["known"] += 1
    return changed


def with_decisions(measures: dict[str, Any], *, promoted: int, dismissed: int) -> dict[str, Any] | None:
    """The figures with the month's promoted and dismissed counts, or None if they do not change. The counts are
    recounted from the candidates; they only grow (a decided candidate stays decided), so a replica's older
    recount never lowers a newer one."""
    promoted, dismissed = max(promoted, measures["promoted"]), max(dismissed, measures["dismissed"])
    if (promoted, dismissed) == (measures["promoted"], measures["dismissed"]):
        return None
    return {**measures, "promoted": promoted, "dismissed": dismissed, "version": measures["version"] + 1}


def link_rate(measures: dict[str, Any]) -> float | None:
    return round(measures["linked"] / measures["closed"], 4) if measures["closed"] else None


def view(measures: dict[str, Any]) -> dict[str, Any]:
    return {"product_code": measures["product_code"], "month": measures["month"],
            **{c: measures[c] for c in COUNTERS}, "reuses": measures["linked"], "link_rate": link_rate(measures),
            "version": measures["version"]}
