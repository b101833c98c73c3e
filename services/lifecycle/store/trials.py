"""Where trials, their feedback and the trainings of their pilot cities are kept, and how they read on the
product's timeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from services.kit.app import Runtime
from services.lifecycle.domain import trials
from services.lifecycle.store import documents as documents_store
from services.lifecycle.store.collections import PRODUCTS, TRAININGS, TRIALS
from services.lifecycle.store.timeline import Source, register

TRIAL_FEEDBACK = "trial_feedback"  # _id = ticket id: a suggestion or complaint raised during a trial stage

INDEXES = {
    TRIAL_FEEDBACK: [IndexModel([("product_code", ASCENDING), ("stage", ASCENDING), ("at", DESCENDING)])],
    TRAININGS: [IndexModel([("product_code", ASCENDING), ("held_on", ASCENDING)])],
    TRIALS: [IndexModel([("product_code", ASCENDING)])],
}


def _trial_summary(doc: dict[str, Any]) -> str:
    label = trials.TRIAL_LABELS.get(doc["stage"], doc["stage"])
    parts = [f"{label}：试点地市 {len(doc.get('pilot_cities', []))} 个，试点客户 {len(doc.get('pilot_customers', []))} 家"]
    if doc.get("tariff"):
        parts.append(f"资费《{doc['tariff']['name']}》")
    if doc.get("evaluation"):
        parts.append(f"评估：{trials.CONCLUSION_LABELS[doc['evaluation']['conclusion']]}")
    return "，".join(parts)


register(
    Source(TRIALS, "trial", "试用/试商用", _trial_summary,
           detail=lambda d: {"stage": d["stage"], "pilot_cities": d.get("pilot_cities", [])}),
    Source(TRAININGS, "training", "培训", lambda d: f"培训 {'、'.join(d['cities'])}（{d['attendance']} 人）",
           detail=lambda d: {"held_on": d["held_on"], "cities": d["cities"]}),
    Source(TRIAL_FEEDBACK, "trial_feedback", "试用反馈",
           lambda d: f"{trials.TRIAL_LABELS.get(d['stage'], d['stage'])}期间{d['kind_label']}：{d.get('title') or d['ticket_id']}",
           detail=lambda d: {"ticket_id": d["ticket_id"], "state": d["state"]}),
)


async def file_document(rt: Runtime, code: str, *, doc_type: str, title: str, ref: str, approved: bool, by: str,
                        at: datetime) -> dict[str, Any]:
    """File a gate document as the next version of its type, so that what a trial route records is also what
    the stage's gate sees."""
    return await documents_store.file_document(
        rt, code, {"type": doc_type, "title": title, "ref": ref, "approved": approved}, owner=by,
        at=at.astimezone(UTC), recorded_at=datetime.now(UTC), approved_by=by)


async def feedback_counts(rt: Runtime, code: str, stage: str) -> dict[str, int]:
    out = {"suggestion": 0, "complaint": 0, "open": 0, "closed": 0}
    for doc in await rt.store[TRIAL_FEEDBACK].find({"product_code": code, "stage": stage},
                                                    {"kind": 1, "state": 1}).to_list():
        out[doc["kind"]] = out.get(doc["kind"], 0) + 1
        out[doc["state"]] = out.get(doc["state"], 0) + 1
    return out


# what feedback_stage and entered_at read of a product: its documents and gate records stay in the store
TRIAL_STAGE_FIELDS = {"stage": 1, "stage_entered_at": 1, "created_at": 1}


class ProductStages:
    """Each product's stage and since when, as trial feedback reads them, held by this process for `ttl` seconds.

    Every complaint and suggestion opened asks it (0.4 store reads a ticket at intake load, each a command that costs
    nx-27017 more than the handler's own work), and a product's stage changes a few times in its life. A stage
    change through this process is seen at once (`forget`); through another replica, within `ttl`. That widens by
    `ttl` a window the handler always had: it judges a ticket by the stage when its event is handled, not when it
    was opened."""

    def __init__(self, rt: Runtime, ttl: float = 2.0):
        self.rt, self.ttl = rt, ttl
        self._held: dict[str, tuple[float, dict[str, Any] | None]] = {}

    async def get(self, code: str) -> dict[str, Any] | None:
        now = time.monotonic()
        held = self._held.get(code)
        if held is not None and held[0] > now:
            return held[1]
        product = await self.rt.store[PRODUCTS].find_one({"_id": code}, TRIAL_STAGE_FIELDS)
        if len(self._held) > MAX_HELD:
            self._held.clear()  # a province has hundreds of products: only unknown codes could grow it this far
        self._held[code] = (now + self.ttl, product)
        return product

    def forget(self, code: str) -> None:
        self._held.pop(code, None)


MAX_HELD = 10_000


def stages_of(rt: Runtime) -> ProductStages:
    if "product_stages" not in rt.extras:
        rt.extras["product_stages"] = ProductStages(rt)
    return rt.extras["product_stages"]
