"""The facts a gate looks at (domain/gates.Facts), read from the product's records."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts.vocabulary import Stage
from services.kit.app import Runtime
from services.kit.store import eq
from services.lifecycle.domain import documents
from services.lifecycle.domain.gates import GATE_DOCUMENTS, NEXT, Facts
from services.lifecycle.store.collections import DECISIONS, DOCUMENTS, ISSUES, TRAININGS, TRIALS

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
# The decision kinds the step out of a stage looks at (domain/gates.missing): the rest of a product's decisions
# are not read.
DECISION_KINDS: dict[Stage, str] = {Stage.review: "review", Stage.initiation: "decision_meeting"}


def entered_at(product: dict[str, Any]) -> datetime:
    return product.get("stage_entered_at") or product["created_at"]


def _one_of(values: list[str]) -> dict[str, Any]:
    """A field among `values`: one value as `$eq`, which nx-27017 serves from the field's index (a bare value
    there also tests array containment and scans the collection; `$in` scans it in any case), several as `$in`
    (one scan for all of them)."""
    return eq(values[0]) if len(values) == 1 else {"$in": list(values)}


async def gather(rt: Runtime, product: dict[str, Any]) -> Facts:
    return (await gather_many(rt, [product]))[product["code"]]


async def gather_many(rt: Runtime, products: list[dict[str, Any]]) -> dict[str, Facts]:
    """What the step out of each product's stage looks at (`domain/gates.missing`), with one read per kind of
    record for all products (the portfolio judges every gate at once). Only the records that step can look at
    are read: the gate documents of its step (not every document of the product), the decision kind of review
    and initiation, trials and trainings in trial, open blocking issues in testing; a product with no step ahead
    (delivered, retired) reads nothing. Facts of another step would be incomplete: `gates.missing` only ever
    judges the step to `NEXT[stage]` (a retirement or the way back to development needs nothing)."""
    stages = {p["code"]: Stage(p["stage"]) for p in products}
    step_types = {code: GATE_DOCUMENTS.get((stage, NEXT[stage]), ()) if stage in NEXT else ()
                  for code, stage in stages.items()}

    def among(wanted) -> list[str]:
        return [code for code, stage in stages.items() if wanted(code, stage)]

    async def read(collection: str, codes: list[str], query: dict[str, Any], projection=None) -> list[dict]:
        if not codes:
            return []
        return await rt.store[collection].find({"product_code": _one_of(codes), **query}, projection).to_list(None)

    doc_codes = among(lambda code, _: bool(step_types[code]))
    types = sorted({t for code in doc_codes for t in step_types[code]})
    docs = await read(DOCUMENTS, doc_codes, {"type": _one_of(types)},
                      {"product_code": 1, "type": 1, "version": 1, "approved": 1}) if types else []
    decision_codes = among(lambda _, stage: stage in DECISION_KINDS)
    kinds = sorted({DECISION_KINDS[stages[c]] for c in decision_codes})
    decisions = await read(DECISIONS, decision_codes, {"kind": _one_of(kinds)}) \
        if kinds else []
    trial_codes = among(lambda _, stage: stage == Stage.trial)
    trainings = await read(TRAININGS, trial_codes, {})
    trials = {d["product_code"]: d for d in await read(TRIALS, trial_codes, {"stage": eq(Stage.trial.value)})}
    issues = await read(ISSUES, among(lambda _, stage: stage == Stage.testing),
                        {"blocking": True, "state": eq("open")}, {"product_code": 1})

    by_code: dict[str, dict[str, list]] = {c: {"docs": [], "decisions": [], "trainings": []} for c in stages}
    for key, found in (("docs", docs), ("decisions", decisions), ("trainings", trainings)):
        for doc in found:
            by_code[doc["product_code"]][key].append(doc)
    blocking: dict[str, int] = {}
    for issue in issues:
        blocking[issue["product_code"]] = blocking.get(issue["product_code"], 0) + 1
    out: dict[str, Facts] = {}
    for product in products:
        code, stage, records = product["code"], stages[product["code"]], by_code[product["code"]]
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
