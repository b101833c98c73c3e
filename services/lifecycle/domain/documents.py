"""Gate documents (SPEC §3): typed, versioned, with owner and approval. A new document of a type already on
file is its next version; a gate looks at the newest version of each type and counts it once it is approved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# The delivery documents handed to the promotion office (信息化推进室) at 产品交付 (source §3.1 step 13 "交付产品,
# 包含各项产品文档"; §2.4 step 9 names what development leaves beside the manuals: 培训材料, 开放能力库).
DELIVERY_DOCUMENTS: tuple[str, ...] = ("training_material", "capability_catalog", "handover_record")

DOCUMENT_LABELS: dict[str, str] = {
    "research_report": "调研报告",
    "function_proposal": "功能建议书",
    "schedule": "工程进度表",
    "initiation_request": "立项申请",
    "technical_spec": "技术规范书",
    "contract": "合同",
    "test_case_list": "功能测试列表",
    "om_manual": "操作维护手册",
    "test_report": "测试报告",
    "trial_evaluation": "试用评估",
    "user_manual": "操作手册",
    "process_description": "流程说明",
    "function_intro": "功能介绍",
    "tariff_table": "资费表",
    "trial_commercial_evaluation": "试商用评估",
    "summary": "试商用总结",
    "training_material": "培训材料",
    "capability_catalog": "开放能力库",
    "handover_record": "交付确认单（信息化推进室签收）",
    # Documents of the sub-flows that no gate names but a step is documented with.
    "procurement_request": "采购申请",
    "tender_document": "招标书",
    "bid_evaluation": "评标报告",
    "optimisation_plan": "优化方案",
    "other": "其他文档",
}
DOCUMENT_TYPES: tuple[str, ...] = tuple(DOCUMENT_LABELS)

# What a vendor may file for its own product (the centre reviews it, source §2.4 step 5): never approved by itself.
VENDOR_DOCUMENTS = frozenset({"test_case_list", "om_manual", "user_manual", "function_intro", "training_material",
                              "capability_catalog", "other"})


def document_id(product_code: str, doc_type: str, version: int) -> str:
    return f"{product_code}:{doc_type}:v{version}"


def new_document(product_code: str, data: dict[str, Any], *, version: int, owner: str, at: datetime,
                 recorded_at: datetime, approved_by: str | None) -> dict[str, Any]:
    approved = bool(data.get("approved"))
    return {
        "_id": document_id(product_code, data["type"], version),
        "product_code": product_code,
        "type": data["type"],
        "version": version,
        "title": data["title"],
        "ref": data["ref"],
        "approved": approved,
        "approved_by": approved_by if approved else None,
        "approved_at": at if approved else None,
        "owner": owner,
        "at": at,
        "recorded_at": recorded_at,
    }


def approve(doc: dict[str, Any], *, by: str, at: datetime) -> dict[str, Any]:
    return {**doc, "approved": True, "approved_by": by, "approved_at": at}


def newest_by_type(docs: list[dict[str, Any]]) -> dict[str, bool]:
    """Type → whether its newest version is approved."""
    newest: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc["type"] not in newest or doc["version"] > newest[doc["type"]]["version"]:
            newest[doc["type"]] = doc
    return {t: bool(d["approved"]) for t, d in newest.items()}


def newest_decisions(decisions: list[dict[str, Any]]) -> dict[str, str]:
    """Kind → outcome of its newest decision (by `at`, then by when it was recorded)."""
    out: dict[str, tuple] = {}
    for d in decisions:
        key = (d["at"], d["recorded_at"])
        if d["kind"] not in out or key > out[d["kind"]][0]:
            out[d["kind"]] = (key, d["outcome"])
    return {k: v[1] for k, v in out.items()}
