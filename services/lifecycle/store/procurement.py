"""The procurement steps' collection (立项招标), its index and how its records read on the product's timeline."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from services.kit.app import Runtime
from services.lifecycle.domain import documents
from services.lifecycle.domain.procurement import STEP_LABELS, Step, summary
from services.lifecycle.store.collections import DOCUMENTS
from services.lifecycle.store.timeline import Source, register

PROCUREMENT = "procurement_steps"  # _id = "<code>:<step>": one record per step (domain/procurement.py)

INDEXES = {PROCUREMENT: [IndexModel([("product_code", ASCENDING), ("at", ASCENDING)])]}

register(Source(PROCUREMENT, "procurement_step", "立项招标", summary,
                detail=lambda r: {"step": r["step"], "step_label": STEP_LABELS[Step(r["step"])],
                                  "vendor": r.get("vendor"), "document": r.get("document")}))


async def steps(rt: Runtime, code: str) -> list[dict[str, Any]]:
    return await rt.store[PROCUREMENT].find({"product_code": code}).sort("at", 1).to_list(None)


async def file_document(rt: Runtime, code: str, data: dict[str, Any], **fields) -> dict[str, Any]:
    """Insert `data` ({type, title, ref, approved}) as the next version of its type. Two filers racing for one
    version: the loser takes the next one."""
    newest = await rt.store[DOCUMENTS].find({"product_code": code, "type": data["type"]}, {"version": 1}) \
        .sort("version", -1).limit(1).to_list()
    version = newest[0]["version"] + 1 if newest else 1
    for _ in range(5):
        doc = documents.new_document(code, data, version=version, **fields)
        try:
            return await rt.store.insert(DOCUMENTS, doc)
        except DuplicateKeyError:
            version += 1
    raise DuplicateKeyError(f"no free version of {code}:{data['type']}")
