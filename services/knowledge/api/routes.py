"""The knowledge REST API (SPEC §5): articles with their versions and KCS states (candidates: api/candidates.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from contracts.events import ArticleArchived, ArticlePublished
from contracts.vocabulary import ArticleType, Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate, require_roles
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem
from services.kit.store import ConcurrencyConflict
from services.knowledge.api.models import ArticleEdit, ArticleIn, ArticleOut, ArticlePage
from services.knowledge.domain import articles
from services.knowledge.domain.articles import STATE_LABELS, TYPE_LABELS, ArticleState, IllegalTransition
from services.knowledge.store.collections import ARTICLE_ORDER, ARTICLES, filters, next_article_number

router = APIRouter(prefix="/v1", tags=["knowledge"])

AUTHORS = (Role.agent, Role.complaint_handler, Role.product_manager)
PROBLEM = {"content": {"application/problem+json": {}}}
Rt = Annotated[Runtime, Depends(runtime)]
Paging = Annotated[PageParams, Depends(page_params)]
Reader = Annotated[Principal, Depends(authenticate)]
Author = Annotated[Principal, Depends(require_roles(*AUTHORS))]
Validator = Annotated[Principal, Depends(require_roles(Role.product_manager))]
IfMatch = Annotated[str | None, Header(description="the version the change is based on (412 if it is not current)")]
EVENT_OF = {"publish": ("knowledge.article.published", ArticlePublished),
            "archive": ("knowledge.article.archived", ArticleArchived)}


# --- articles -------------------------------------------------------------------------------------------


@router.post("/articles", status_code=201, response_model=ArticleOut, summary="Write a new article (a draft, v1)",
             responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def create_article(body: ArticleIn, response: Response, rt: Rt, principal: Author):
    id = articles.article_id(await next_article_number(rt.store))
    article = articles.new_article(id, type=body.type, product_code=body.product_code, title=body.title,
                                   body=body.body, tags=body.tags, actor=principal.sub, at=_now())
    await rt.store.insert(ARTICLES, article)
    response.headers["Location"] = f"/v1/articles/{id}"
    return _answer(article, response)


@router.get("/articles", response_model=ArticlePage, summary="List articles, newest first",
            responses={401: PROBLEM})
async def list_articles(rt: Rt, principal: Reader, params: Paging, product_code: str | None = None,
                        type: ArticleType | None = None, state: ArticleState | None = None):
    docs, cursor = await page(rt.store[ARTICLES], filters(product_code=product_code, type=type, state=state),
                              params, ARTICLE_ORDER)
    return {"items": [_view(d) for d in docs], "next_cursor": cursor}


@router.get("/articles/{article_id}", response_model=ArticleOut, summary="One article (?version= for a past one)",
            responses={401: PROBLEM, 404: PROBLEM})
async def get_article(article_id: str, response: Response, rt: Rt, principal: Reader,
                      version: Annotated[int | None, Query(ge=1)] = None):
    article = await _article(rt, article_id)
    if version is None:
        return _answer(article, response)
    old = articles.at_version(article, version)
    if old is None:
        raise Problem(404, "not-found", "Version not found",
                      f"{article_id} has versions 1 to {article['version']}.")
    return _view(old, latest=article["version"])


@router.put("/articles/{article_id}", response_model=ArticleOut, summary="Edit: a new version",
            responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM})
async def edit_article(article_id: str, body: ArticleEdit, response: Response, rt: Rt, principal: Author,
                       if_match: IfMatch = None):
    article = await _article(rt, article_id)
    _check_version(article, if_match)
    try:
        edited = articles.edit(article, title=body.title, body=body.body, tags=body.tags, actor=principal.sub,
                               at=_now())
    except IllegalTransition as error:
        raise _illegal(error) from error
    return _answer(await _replace(rt, edited), response)


@router.post("/articles/{article_id}/publish", response_model=ArticleOut, summary="Publish (draft → published)",
             responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 412: PROBLEM})
async def publish_article(article_id: str, response: Response, rt: Rt, principal: Validator,
                          if_match: IfMatch = None):
    return _answer(await _transition(rt, article_id, "publish", principal, if_match), response)


@router.post("/articles/{article_id}/archive", response_model=ArticleOut,
             summary="Archive (draft or published → archived)",
             responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 412: PROBLEM})
async def archive_article(article_id: str, response: Response, rt: Rt, principal: Validator,
                          if_match: IfMatch = None):
    return _answer(await _transition(rt, article_id, "archive", principal, if_match), response)


async def _transition(rt: Runtime, article_id: str, action: str, principal: Principal,
                      if_match: str | None) -> dict[str, Any]:
    article = await _article(rt, article_id)
    _check_scope(principal, article)
    _check_version(article, if_match)
    try:
        changed = articles.transition(article, action, actor=principal.sub, at=_now())
    except IllegalTransition as error:
        raise _illegal(error) from error
    event_type, model = EVENT_OF[action]
    payload = model(article_id=changed["_id"], type=changed["type"], product_code=changed["product_code"],
                    title=changed["title"], version=changed["version"])
    event = rt.event(payload, type=event_type, subject=changed["_id"], sequence=changed["version"])
    return await _replace(rt, changed, [event])


async def _article(rt: Runtime, article_id: str) -> dict[str, Any]:
    article = await rt.store[ARTICLES].find_one({"_id": article_id})
    if article is None:
        raise Problem(404, "not-found", "Article not found", f"No article {article_id}.")
    return article


async def _replace(rt: Runtime, article: dict[str, Any], events=()) -> dict[str, Any]:
    try:
        return await rt.store.replace(ARTICLES, article, events)
    except ConcurrencyConflict as error:
        raise Problem(409, "conflict", "Changed meanwhile",
                      "The article changed while this request was handled; read it again and retry.") from error


def _check_version(article: dict[str, Any], if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    raw = if_match.strip().removeprefix("W/").strip('"')
    if raw != str(article["version"]):
        raise Problem(412, "precondition-failed", "Version mismatch",
                      f"If-Match names version {raw}, the article is at version {article['version']}.",
                      current_version=article["version"])


def _check_scope(principal: Principal, article: dict[str, Any]) -> None:
    """A product manager validates the knowledge of their own products only (general articles: any of them)."""
    if principal.has(Role.admin) or article["product_code"] is None:
        return
    if article["product_code"] not in principal.products:
        raise Problem(403, "forbidden", "Not your product",
                      f"{article['_id']} belongs to product {article['product_code']}, "
                      "which is not among your products.")


def _illegal(error: IllegalTransition) -> Problem:
    return Problem(409, "illegal-state", "Not allowed in this state", f"Cannot {error.action} an article that is "
                   f"{error.state} ({STATE_LABELS[ArticleState(error.state)]}).", state=error.state)


def _answer(article: dict[str, Any], response: Response) -> dict[str, Any]:
    response.headers["ETag"] = f'"{article["version"]}"'
    return _view(article)


def _view(article: dict[str, Any], latest: int | None = None) -> dict[str, Any]:
    return {
        "id": article["_id"], "type": article["type"], "type_label": TYPE_LABELS[ArticleType(article["type"])],
        "product_code": article["product_code"], "title": article["title"], "body": article["body"],
        "tags": article["tags"], "state": article["state"],
        "state_label": STATE_LABELS[ArticleState(article["state"])], "version": article["version"],
        "latest_version": latest or article["version"],
        **{f: article.get(f) for f in ("created_at", "created_by", "updated_at", "updated_by", "published_at",
                                       "archived_at")},
        "reuse_count": article["reuse_count"], "reuse_by_month": article.get("reuse_by_month") or {},
        "versions": [{k: v[k] for k in ("version", "state", "changed_by", "changed_at")}
                     for v in article["versions"]],
    }


def _now() -> datetime:
    return datetime.now(UTC)
