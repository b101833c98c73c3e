"""The knowledge REST API (SPEC §5): articles with their versions and KCS states (candidates: api/candidates.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from contracts.events import ArticleArchived, ArticlePublished
from contracts.vocabulary import AUDIENCE_LABELS, ArticleType, Audience, Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate, require_roles
from services.kit.catalog import supplied_by
from services.kit.clock import stored_now
from services.kit.pagination import PageParams, page, page_params
from services.kit.preconditions import check_version, parse_if_match
from services.kit.problems import Problem
from services.kit.store import ConcurrencyConflict
from services.knowledge.api.models import (
    ArticleAction,
    ArticleDiff,
    ArticleEdit,
    ArticleIn,
    ArticleOut,
    ArticlePage,
)
from services.knowledge.domain import articles
from services.knowledge.domain.articles import STATE_LABELS, TYPE_LABELS, ArticleState, IllegalTransition
from services.knowledge.store.collections import ARTICLE_ORDER, ARTICLES, PRODUCTS, filters, next_article_number

router = APIRouter(prefix="/v1", tags=["knowledge"])

AUTHORS = (Role.agent, Role.complaint_handler, Role.product_manager)
PROBLEM = {"content": {"application/problem+json": {}}}
Rt = Annotated[Runtime, Depends(runtime)]
Paging = Annotated[PageParams, Depends(page_params)]
Reader = Annotated[Principal, Depends(authenticate)]
Author = Annotated[Principal, Depends(require_roles(*AUTHORS))]
# Publish and archive: a product manager of the article's product (checked per article), or an admin.
Validator = Annotated[Principal, Depends(require_roles(Role.product_manager, Role.admin))]
IfMatch = Annotated[str | None, Header(description="the version the change is based on, its ETag: required "
                                                   "(428 without it), 412 if it is not current")]
# The optional body of publish and archive: no body is no note.
Why = Annotated[ArticleAction, Body(default_factory=ArticleAction)]
CHANGE_ERRORS = {401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM, 428: PROBLEM}
EVENT_OF = {"publish": ("knowledge.article.published", ArticlePublished),
            "archive": ("knowledge.article.archived", ArticleArchived)}


# --- articles -------------------------------------------------------------------------------------------


@router.post("/articles", status_code=201, response_model=ArticleOut, summary="Write a new article (a draft, v1)",
             responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def create_article(body: ArticleIn, response: Response, rt: Rt, principal: Author):
    check_product(principal, body.product_code, authors=True)
    id = articles.article_id(await next_article_number(rt.store))
    article = articles.new_article(id, type=body.type, product_code=body.product_code, title=body.title,
                                   body=body.body, tags=body.tags, audience=body.audience, note=body.note,
                                   actor=principal.sub, at=_now())
    await rt.store.insert(ARTICLES, article)
    response.headers["Location"] = f"/v1/articles/{id}"
    return _answer(article, response, await reach_of(rt, principal))


@router.get("/articles", response_model=ArticlePage, summary="List the articles you may read, newest first",
            description="Only articles whose audience is one of yours (by role: staff all, account managers "
                        "account_manager and customer, channels customer); drafts only for staff; a vendor only "
                        "those of the products it supplies. Asking for an audience, a state or (a vendor) a product "
                        "outside that is a 403 naming the parameter.",
            responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def list_articles(rt: Rt, principal: Reader, params: Paging, product_code: str | None = None,
                        type: ArticleType | None = None, state: ArticleState | None = None,
                        audience: Audience | None = None):
    allowed = narrowed(await reach_of(rt, principal), audience=audience.value if audience else None,
                       states=[state.value] if state else None, product_code=product_code)
    query = articles.visibility_query(allowed)
    if query is None:
        return {"items": [], "next_cursor": None}  # a vendor that supplies no product known here
    docs, cursor = await page(rt.store[ARTICLES], {**query, **filters(type=type)}, params, ARTICLE_ORDER)
    return {"items": [_view(d, allowed) for d in docs], "next_cursor": cursor}


@router.get("/articles/{article_id}", response_model=ArticleOut, summary="One article (?version= for a past one)",
            description="404 for an article (or version) outside your audiences, a draft if you are not staff, or "
                        "(a vendor) an article of a product it does not supply.",
            responses={401: PROBLEM, 404: PROBLEM})
async def get_article(article_id: str, response: Response, rt: Rt, principal: Reader,
                      version: Annotated[int | None, Query(ge=1)] = None):
    allowed = await reach_of(rt, principal)
    article = await _readable_article(rt, article_id, allowed)
    if version is None:
        return _answer(article, response, allowed)
    return _view(_readable_version(article, version, allowed), allowed, latest=article)


@router.get("/articles/{article_id}/diff", response_model=ArticleDiff,
            summary="What changed between two versions, field by field",
            description="title, tags, audience and state as their two values; the body as a unified diff and as "
                        "structured line changes. 404 for a version that does not exist or that you may not read.",
            responses={401: PROBLEM, 404: PROBLEM, 422: PROBLEM})
async def diff_article(article_id: str, rt: Rt, principal: Reader,
                       from_: Annotated[int, Query(alias="from", ge=1, description="older version")],
                       to: Annotated[int, Query(ge=1, description="newer version")]):
    allowed = await reach_of(rt, principal)
    article = await _readable_article(rt, article_id, allowed)
    old, new = (_readable_version(article, v, allowed, snapshot=True) for v in (from_, to))
    return {"article_id": article_id, "from_version": _version_info(old), "to_version": _version_info(new),
            "fields": articles.diff(old, new)}


@router.put("/articles/{article_id}", response_model=ArticleOut, summary="Edit: a new version (If-Match required)",
            responses=CHANGE_ERRORS)
async def edit_article(article_id: str, body: ArticleEdit, response: Response, rt: Rt, principal: Author,
                       if_match: IfMatch = None):
    allowed = await reach_of(rt, principal)
    article = await _readable_article(rt, article_id, allowed)
    check_product(principal, article["product_code"], authors=True)
    check_if_match(article, if_match)
    try:
        edited = articles.edit(article, title=body.title, body=body.body, tags=body.tags, audience=body.audience,
                               note=body.note, actor=principal.sub, at=_now())
    except IllegalTransition as error:
        raise _illegal(error) from error
    return _answer(await replace_article(rt, edited), response, allowed)


@router.post("/articles/{article_id}/publish", response_model=ArticleOut,
             summary="Publish (draft → published; If-Match required)",
             description="By a product manager of the article's product (any for a general article), or an admin.",
             responses=CHANGE_ERRORS)
async def publish_article(article_id: str, response: Response, rt: Rt, principal: Validator,
                          body: Why, if_match: IfMatch = None):
    changed, allowed = await _transition(rt, article_id, "publish", principal, if_match, body)
    return _answer(changed, response, allowed)


@router.post("/articles/{article_id}/archive", response_model=ArticleOut,
             summary="Archive (draft or published → archived; If-Match required)",
             description="By a product manager of the article's product (any for a general article), or an admin.",
             responses=CHANGE_ERRORS)
async def archive_article(article_id: str, response: Response, rt: Rt, principal: Validator,
                          body: Why, if_match: IfMatch = None):
    changed, allowed = await _transition(rt, article_id, "archive", principal, if_match, body)
    return _answer(changed, response, allowed)


async def _transition(rt: Runtime, article_id: str, action: str, principal: Principal, if_match: str | None,
                      body: ArticleAction) -> tuple[dict[str, Any], articles.Reach]:
    allowed = await reach_of(rt, principal)
    article = await _readable_article(rt, article_id, allowed)
    check_product(principal, article["product_code"], what=article["_id"])
    check_if_match(article, if_match)
    try:
        changed = articles.transition(article, action, actor=principal.sub, at=_now(), note=body.note)
    except IllegalTransition as error:
        raise _illegal(error) from error
    event_type, model = EVENT_OF[action]
    payload = model(article_id=changed["_id"], type=changed["type"], product_code=changed["product_code"],
                    title=changed["title"], version=changed["version"], audience=changed["audience"])
    event = rt.event(payload, type=event_type, subject=changed["_id"], sequence=changed["version"])
    return await replace_article(rt, changed, [event]), allowed


async def _article(rt: Runtime, article_id: str) -> dict[str, Any]:
    article = await rt.store[ARTICLES].find_one({"_id": article_id})
    if article is None:
        raise _not_found(article_id)
    return article


async def reach_of(rt: Runtime, principal: Principal) -> articles.Reach:
    """What `principal` reads (domain/articles.py `reach`): for a vendor, with the products the catalog says it
    supplies, read from the store at each request (a product's vendor changes by lifecycle's events)."""
    supplied = None
    if articles.vendor_bound(principal.roles):
        supplied = await supplied_by(rt.store, PRODUCTS, principal.vendor)
    return articles.reach(principal.roles, supplied=supplied)


def narrowed(allowed: articles.Reach, **asked) -> articles.Reach:
    """`articles.narrowed`, refusing with a 403 that names the parameter asked outside the caller's reach."""
    try:
        return articles.narrowed(allowed, **asked)
    except articles.OutOfReach as error:
        raise out_of_reach(error) from error


def out_of_reach(error: articles.OutOfReach) -> Problem:
    return Problem(403, "forbidden", "Outside what you may read", f"{error.parameter}: {error.message}.",
                   parameter=error.parameter)


async def _readable_article(rt: Runtime, article_id: str, allowed: articles.Reach) -> dict[str, Any]:
    """The article, or 404 when it does not exist or the caller may not read it (not there, to them)."""
    article = await _article(rt, article_id)
    if not articles.readable(article, allowed):
        raise _not_found(article_id)
    return article


def _readable_version(article: dict[str, Any], version: int, allowed: articles.Reach, *,
                      snapshot: bool = False) -> dict[str, Any]:
    found = articles.snapshot_of(article, version)
    if found is None or not articles.readable(found, allowed, product_code=article["product_code"]):
        raise Problem(404, "not-found", "Version not found",
                      f"{article['_id']} has no version {version} that you may read.", version=version)
    return found if snapshot else articles.at_version(article, version)


def _not_found(article_id: str) -> Problem:
    return Problem(404, "not-found", "Article not found", f"No article {article_id}.")


# --- the articles' write rules, shared by every route that writes an article (candidates' promote, the monthly
# FAQ's publish): scope, If-Match, and writing through the Store (its `_changed` stamp is what search sees) ------


def check_if_match(article: dict[str, Any], if_match: str | None) -> None:
    """A change of an existing article names the version it is based on: 428 without If-Match, 412 if stale."""
    check_version(article["version"], parse_if_match(if_match, what="article", required=True), what="article")


async def replace_article(rt: Runtime, article: dict[str, Any], events=()) -> dict[str, Any]:
    try:
        return await rt.store.replace(ARTICLES, article, events)
    except ConcurrencyConflict as error:
        raise Problem(409, "conflict", "Changed meanwhile",
                      "The article changed while this request was handled; read it again and retry.") from error


def check_product(principal: Principal, product_code: str | None, *, what: str | None = None,
                  authors: bool = False) -> None:
    """A product manager works on the knowledge of their own products only (scope `products`); a general
    article (no product) is any product manager's. An admin is not scoped, nor, with `authors`, the front-line
    authors, who write for every product. `what` names the thing refused (an article, a candidate)."""
    if product_code is None or principal.has(Role.admin):
        return
    if authors and principal.has(Role.agent, Role.complaint_handler):
        return
    if product_code not in principal.products:
        raise Problem(403, "forbidden", "Not your product",
                      f"{what} belongs to product {product_code}, which is not among your products." if what else
                      f"Product {product_code} is not among your products.")


def _illegal(error: IllegalTransition) -> Problem:
    return Problem(409, "illegal-state", "Not allowed in this state", f"Cannot {error.action} an article that is "
                   f"{error.state} ({STATE_LABELS[ArticleState(error.state)]}).", state=error.state)


def _answer(article: dict[str, Any], response: Response, allowed: articles.Reach) -> dict[str, Any]:
    response.headers["ETag"] = f'"{article["version"]}"'
    return _view(article, allowed)


def _version_info(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"version": snapshot["version"], "state": snapshot["state"], "audience": articles.audience_of(snapshot),
            "changed_by": snapshot["changed_by"], "changed_at": snapshot["changed_at"],
            "note": snapshot.get("note")}


def _view(article: dict[str, Any], allowed: articles.Reach, latest: dict[str, Any] | None = None) -> dict[str, Any]:
    """An article (or a past version of it) as the caller may see it: `versions` lists only those they may read."""
    latest = latest or article
    audience = Audience(articles.audience_of(article))
    return {
        "id": article["_id"], "type": article["type"], "type_label": TYPE_LABELS[ArticleType(article["type"])],
        "product_code": article["product_code"], "title": article["title"], "body": article["body"],
        "tags": article["tags"], "audience": audience.value, "audience_label": AUDIENCE_LABELS[audience],
        "state": article["state"], "state_label": STATE_LABELS[ArticleState(article["state"])],
        "version": article["version"], "latest_version": latest["version"],
        **{f: article.get(f) for f in ("created_at", "created_by", "updated_at", "updated_by", "published_at",
                                       "archived_at")},
        "reuse_count": article["reuse_count"], "reuse_by_month": article.get("reuse_by_month") or {},
        "versions": [_version_info(v) for v in latest["versions"]
                     if articles.readable(v, allowed, product_code=latest["product_code"])],
    }


_now = stored_now  # to the millisecond, as the store keeps it: a write's answer says what a later read says
