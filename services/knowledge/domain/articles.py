"""Knowledge articles and their KCS life: draft (work in progress) → published (validated) → archived.

Every change to an article — an edit, a publication, an archiving — makes a new version, and each version is
kept whole in the document's `versions` list, so that any past version stays readable exactly as it was (SPEC
§3). `version` is also the article's optimistic-concurrency token (`If-Match`) and the `sequence` of the events
it emits. Reuse counts are not versions: they record how the article is used, not what it says.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from contracts.vocabulary import ArticleType

ID_PREFIX = "KB"


class ArticleState(StrEnum):
    draft = "draft"          # 草稿
    published = "published"  # 已发布
    archived = "archived"    # 已归档


STATE_LABELS = {ArticleState.draft: "草稿", ArticleState.published: "已发布", ArticleState.archived: "已归档"}
TYPE_LABELS = {
    ArticleType.service_script: "客服口径", ArticleType.complaint_guide: "投诉指导手册", ArticleType.faq: "FAQ",
    ArticleType.manual: "操作手册", ArticleType.tariff: "资费表", ArticleType.training: "培训材料",
}

# action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[ArticleState], ArticleState]] = {
    "publish": (frozenset({ArticleState.draft}), ArticleState.published),
    "archive": (frozenset({ArticleState.draft, ArticleState.published}), ArticleState.archived),
}
EDITABLE = frozenset({ArticleState.draft, ArticleState.published})
# Fields a version snapshot holds: what the article said and in which state, by whom and when.
CONTENT = ("type", "product_code", "title", "body", "tags", "state")


class IllegalTransition(Exception):
    def __init__(self, action: str, state: str):
        super().__init__(f"cannot {action} an article that is {state}")
        self.action, self.state = action, state


def article_id(number: int) -> str:
    return f"{ID_PREFIX}-{number:06d}"


def _snapshot(article: dict[str, Any], actor: str, at: datetime) -> dict[str, Any]:
    return {"version": article["version"], **{f: article[f] for f in CONTENT}, "changed_by": actor, "changed_at": at}


def _with_version(article: dict[str, Any], changes: dict[str, Any], actor: str, at: datetime) -> dict[str, Any]:
    new = {**article, **changes, "version": article["version"] + 1, "updated_at": at, "updated_by": actor}
    return {**new, "versions": [*article["versions"], _snapshot(new, actor, at)]}


def new_article(id: str, *, type: ArticleType, product_code: str | None, title: str, body: str, tags: list[str],
                actor: str, at: datetime) -> dict[str, Any]:
    article = {
        "_id": id, "type": ArticleType(type).value, "product_code": product_code, "title": title, "body": body,
        "tags": _clean_tags(tags), "state": ArticleState.draft.value, "version": 1,
        "created_at": at, "created_by": actor, "updated_at": at, "updated_by": actor,
        "published_at": None, "archived_at": None, "reuse_count": 0, "reuse_by_month": {}, "last_reused_at": None,
    }
    return {**article, "versions": [_snapshot(article, actor, at)]}


def edit(article: dict[str, Any], *, title: str, body: str, tags: list[str], actor: str,
         at: datetime) -> dict[str, Any]:
    """A new version with new content; the state stays (editing a published article keeps it published)."""
    if article["state"] not in EDITABLE:
        raise IllegalTransition("edit", article["state"])
    return _with_version(article, {"title": title, "body": body, "tags": _clean_tags(tags)}, actor, at)


def transition(article: dict[str, Any], action: str, *, actor: str, at: datetime) -> dict[str, Any]:
    sources, target = TRANSITIONS[action]
    if article["state"] not in sources:
        raise IllegalTransition(action, article["state"])
    return _with_version(article, {"state": target.value, f"{target.value}_at": at}, actor, at)


def at_version(article: dict[str, Any], version: int) -> dict[str, Any] | None:
    """The article as it was at `version` (what it said and its state then), or None if there is no such version."""
    for snapshot in article["versions"]:
        if snapshot["version"] == version:
            return {**article, **{f: snapshot[f] for f in CONTENT}, "version": version,
                    "updated_at": snapshot["changed_at"], "updated_by": snapshot["changed_by"]}
    return None


def count_reuse(article: dict[str, Any], month: str, at: datetime) -> dict[str, Any]:
    """The article after one more closed ticket answered from it, counted in total and in `month` (YYYY-MM,
    Asia/Shanghai). Whether that ticket is already counted is answered by its `closures` record
    (events/handlers.py), not by a list of tickets on the article, which would grow without bound."""
    last = article.get("last_reused_at")
    by_month = dict(article.get("reuse_by_month") or {})
    by_month[month] = by_month.get(month, 0) + 1
    return {**article, "reuse_count": article["reuse_count"] + 1, "reuse_by_month": by_month,
            "last_reused_at": at if last is None else max(last, at)}


def _clean_tags(tags: list[str]) -> list[str]:
    seen: list[str] = []
    for tag in (t.strip() for t in tags):
        if tag and tag not in seen:
            seen.append(tag)
    return seen
