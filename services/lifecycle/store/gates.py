"""The facts a gate looks at (domain/gates.Facts), read from the product's records."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo
from typing import Any

from contracts.vocabulary import Stage
from services.kit.app import Runtime
from services.lifecycle.domain import documents
from services.lifecycle.domain.gates import Facts
from services.lifecycle.store.collections import DECISIONS, DOCUMENTS, ISSUES, TRAININGS, TRIALS

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def entered_at(product: dict[str, Any]) -> datetime:
    return product.get("stage_entered_at") or product["created_at"]


async def gather(rt: Runtime, product: dict[str, Any]) -> Facts:
    return (await gather_many(rt, [product]))[product["code"]]


async def gather_many(rt: Runtime, products: list[dict[str, Any]]) -> dict[str, Facts]:
    """The facts of many products with one read per kind of record (the portfolio judges every gate at once)."""
    codes = [p["code"] for p in products]
    in_codes = {"product_code": {"$in": codes}} if len(codes) > 1 else {"product_code": codes[0] if codes else None}
    by_code: dict[str, dict[str, list]] = {c: {"docs": [], "decisions": [], "trainings": []} for c in codes}
    for key, collection, projection in (("docs", DOCUMENTS, {"product_code": 1, "type": 1, "version": 1, "approved": 1}),
                                        ("decisions", DECISIONS, None), ("trainings", TRAININGS, None)):
        for doc in await rt.store[collection].find(in_codes, projection).to_list():
            by_code[doc["product_code"]][key].append(doc)
    trials = {d["product_code"]: d for d in await rt.store[TRIALS].find(
        {**in_codes, "stage": Stage.trial.value}).to_list()}
    blocking: dict[str, int] = {}
    for issue in await rt.store[ISSUES].find({**in_codes, "blocking": True, "state": "open"},
                                             {"product_code": 1}).to_list():
        blocking[issue["product_code"]] = blocking.get(issue["product_code"], 0) + 1
    out: dict[str, Facts] = {}
    for product in products:
        code, stage, records = product["code"], Stage(product["stage"]), by_code[product["code"]]
        since = entered_at(product).astimezone(LOCAL_ZONE).date().isoformat()  # held_on is a Beijing date
        trained = {city for t in records["trainings"] if str(t["held_on"]) >= since for city in t["cities"]}
        out[code] = Facts(stage=stage, entered_at=entered_at(product),
                          documents=documents.newest_by_type(records["docs"]),
                          decisions=documents.newest_decisions(records["decisions"]), vendor=product.get("vendor"),
                          budget_cny=product.get("budget_cny"),
                          pilot_cities=frozenset(trials.get(code, {}).get("pilot_cities", [])),
                          trained_cities=frozenset(trained) if stage == Stage.trial else frozenset(),
                          open_blocking_issues=blocking.get(code, 0))
    return out
