"""The facts a gate looks at (domain/gates.Facts), read from the product's records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.vocabulary import Stage
from services.kit.app import Runtime
from services.lifecycle.domain import documents
from services.lifecycle.domain.gates import Facts
from services.lifecycle.store.collections import DECISIONS, DOCUMENTS, ISSUES, TRAININGS, TRIALS


def entered_at(product: dict[str, Any]) -> datetime:
    return product.get("stage_entered_at") or product["created_at"]


async def gather(rt: Runtime, product: dict[str, Any]) -> Facts:
    code, stage = product["code"], Stage(product["stage"])
    docs = await rt.store[DOCUMENTS].find({"product_code": code}, {"type": 1, "version": 1, "approved": 1}).to_list()
    decisions = await rt.store[DECISIONS].find({"product_code": code}).to_list()
    pilots: set[str] = set()
    trained: set[str] = set()
    if stage == Stage.trial:
        trial = await rt.store[TRIALS].find_one({"_id": f"{code}:{Stage.trial.value}"})
        pilots = set((trial or {}).get("pilot_cities", []))
        since = entered_at(product).date().isoformat()
        for training in await rt.store[TRAININGS].find({"product_code": code}).to_list():
            if str(training["held_on"]) >= since:
                trained |= set(training["cities"])
    blocking = 0
    if stage == Stage.testing:
        blocking = await rt.store[ISSUES].count_documents({"product_code": code, "blocking": True, "state": "open"})
    return Facts(stage=stage, entered_at=entered_at(product), documents=documents.newest_by_type(docs),
                 decisions=documents.newest_decisions(decisions), vendor=product.get("vendor"),
                 budget_cny=product.get("budget_cny"), pilot_cities=frozenset(pilots),
                 trained_cities=frozenset(trained), open_blocking_issues=blocking)
