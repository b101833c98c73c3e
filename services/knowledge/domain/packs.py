"""The trial-commercial pack (试商用准备, source §3.1 step 6): when a product enters trial, knowledge opens the
drafts its product manager will fill in before the trial-commercial notice goes out: 操作手册, 流程说明, 功能介绍,
资费表 and the training material for the cities. Pure: which drafts, with what skeleton."""

from __future__ import annotations

from contracts.vocabulary import ArticleType

TRIAL_COMMERCIAL_PACK: tuple[tuple[str, ArticleType, str, str], ...] = (
    # (key, type, title, skeleton of the body)
    ("user_manual", ArticleType.manual, "操作手册", "一、登录与开通\n二、主要功能操作\n三、常见问题\n"),
    ("process_description", ArticleType.manual, "流程说明", "一、开通流程\n二、变更与退订流程\n三、故障报障流程\n"),
    ("function_intro", ArticleType.manual, "功能介绍", "一、产品定位\n二、功能清单\n三、适用行业与典型场景\n"),
    ("tariff_table", ArticleType.tariff, "资费表", "资费与信息化产品推进室共同制定。\n| 套餐 | 资费 | 说明 |\n|---|---|---|\n"),
    ("training", ArticleType.training, "地市培训材料", "一、产品介绍\n二、销售要点\n三、操作演示\n四、答疑\n"),
)


def pack_id(product_code: str, sequence: int) -> str:
    """One pack per entry into trial (a product that goes back and enters trial again gets a new one)."""
    return f"{product_code}:trial:{sequence}"


def draft_title(product_name: str | None, product_code: str, title: str) -> str:
    return f"{product_name or product_code}{title}（试商用）"
