"""Where trials, their feedback and the trainings of their pilot cities are kept, and how they read on the
product's timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from services.kit.app import Runtime
from services.lifecycle.domain import trials
from services.lifecycle.store import documents as documents_store
from services.lifecycle.store.collections import TRAININGS, TRIALS
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
