"""The procurement steps' collection (立项招标), its index and how its records read on the product's timeline."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel

from services.kit.app import Runtime
from services.lifecycle.domain.procurement import STEP_LABELS, Step, summary
from services.lifecycle.store.timeline import Source, register

PROCUREMENT = "procurement_steps"  # _id = "<code>:<step>": one record per step (domain/procurement.py)

INDEXES = {PROCUREMENT: [IndexModel([("product_code", ASCENDING), ("at", ASCENDING)])]}

register(Source(PROCUREMENT, "procurement_step", "立项招标", summary,
                detail=lambda r: {"step": r["step"], "step_label": STEP_LABELS[Step(r["step"])],
                                  "vendor": r.get("vendor"), "document": r.get("document")}))


async def steps(rt: Runtime, code: str) -> list[dict[str, Any]]:
    return await rt.store[PROCUREMENT].find({"product_code": code}).sort("at", 1).to_list(None)


