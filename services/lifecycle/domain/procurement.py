"""Procurement (立项招标, source §2.3 steps 4–9) as a sub-flow of the stage `initiation`.

The six steps follow Shandong's tendering process in a fixed order, each dated and documented once: a step
cannot be recorded before the one it follows (a bid is not evaluated before the tender went out), and its date
is never before its predecessor's. Confirming the winning bidder is what names the product's vendor; the signed
contract is the `contract` document that the initiation → development gate asks for."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any


class Step(StrEnum):
    procurement_request = "procurement_request"
    tender_preparation = "tender_preparation"
    tender_issued = "tender_issued"
    bid_evaluation = "bid_evaluation"
    winner_confirmed = "winner_confirmed"
    contract_signed = "contract_signed"


STEPS: tuple[Step, ...] = tuple(Step)
STEP_LABELS: dict[Step, str] = {
    Step.procurement_request: "采购申请",
    Step.tender_preparation: "标书制作",
    Step.tender_issued: "发标",
    Step.bid_evaluation: "评标",
    Step.winner_confirmed: "确认中标商",
    Step.contract_signed: "合同签订",
}
# The gate-document type a step's document is filed as (domain/documents.py), so that the documents list and the
# gates see it without a second entry. A step without a type keeps its document reference on the step alone.
STEP_DOCUMENT_TYPES: dict[Step, str] = {
    Step.procurement_request: "procurement_request",
    Step.tender_preparation: "tender_document",
    Step.bid_evaluation: "bid_evaluation",
    Step.contract_signed: "contract",
}


class OutOfOrder(Exception):
    """The step's predecessor is not recorded yet (or the step itself already is)."""

    def __init__(self, message: str, *, missing: Step | None = None):
        super().__init__(message)
        self.missing = missing


def step_id(product_code: str, step: Step) -> str:
    return f"{product_code}:{step.value}"


def previous(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index - 1] if index else None


def next_step(done: set[Step]) -> Step | None:
    return next((s for s in STEPS if s not in done), None)


def check_step(step: Step, recorded: dict[Step, datetime], at: datetime) -> str | None:
    """Raise OutOfOrder when `step` may not come now (naming the first step still missing); return why `at`
    is refused (field `at`), or None."""
    if step in recorded:
        raise OutOfOrder(f"{step.value} ({STEP_LABELS[step]}) is already recorded")
    lacking = next((s for s in STEPS[:STEPS.index(step)] if s not in recorded), None)
    if lacking is not None:
        raise OutOfOrder(f"{step.value} ({STEP_LABELS[step]}) comes after {lacking.value} ({STEP_LABELS[lacking]}), "
                         "which is not recorded yet", missing=lacking)
    before = previous(step)
    if before is not None and at < recorded[before]:
        return f"must not be before {before.value} ({STEP_LABELS[before]}, {recorded[before].isoformat()})"
    return None


def record(product_code: str, data: dict[str, Any], *, at: datetime, by: str, recorded_at: datetime) -> dict[str, Any]:
    step = Step(data["step"])
    return {
        "_id": step_id(product_code, step),
        "product_code": product_code,
        "step": step.value,
        "at": at,
        "by": by,
        "note": data.get("note"),
        "document": data.get("document"),
        "vendor": data.get("vendor") if step == Step.winner_confirmed else None,
        "amount_cny": data.get("amount_cny"),
        "recorded_at": recorded_at,
    }


def overview(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The six steps in order, each done (with its record) or pending."""
    by_step = {Step(r["step"]): r for r in records}
    out = []
    for step in STEPS:
        r = by_step.get(step)
        out.append({"step": step.value, "step_label": STEP_LABELS[step], "status": "done" if r else "pending",
                    "status_label": "已完成" if r else "待办", "at": r and r["at"], "by": r and r["by"],
                    "note": r and r.get("note"), "document": r and r.get("document"),
                    "vendor": r and r.get("vendor"), "amount_cny": r and r.get("amount_cny")})
    return out


def summary(r: dict[str, Any]) -> str:
    """How a step reads on the product's timeline."""
    text = f"立项招标：{STEP_LABELS[Step(r['step'])]}"
    if r.get("vendor"):
        text += f"，中标商 {r['vendor']}"
    if r.get("amount_cny") is not None:
        text += f"，金额 {r['amount_cny']} 元"
    if r.get("document"):
        text += f"《{r['document']['title']}》"
    return text
