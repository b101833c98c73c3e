"""Candidates grown from closed tickets (SPEC §5, issue 9 point 3): list, read, promote to an article, dismiss.

Only a product manager of the candidate's product (scope `products`) or an admin promotes or dismisses; both are
decisions of an open candidate, and a decided candidate keeps counting the closes that reach it, silently (it is
no longer listed as open). Each decision is recounted into the month's KCS figures (events/handlers.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.events import CandidateUpdated
from contracts.vocabulary import ArticleType, Audience, Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.clock import stored_now
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem, invalid
from services.kit.store import ConcurrencyConflict
from services.knowledge.api.models import CandidateOut, CandidatePage
from services.knowledge.api.routes import check_if_match, check_product, replace_article
from services.knowledge.domain import articles, candidates, kcs
from services.knowledge.domain.articles import TYPE_LABELS, IllegalTransition
from services.knowledge.events.handlers import CANDIDATE_UPDATED, count_decisions
from services.knowledge.store.collections import ARTICLES, CANDIDATE_ORDER, CANDIDATES, filters, next_article_number

log = structlog.get_logger()
router = APIRouter(prefix="/v1", tags=["candidates"])

CANDIDATE_READERS = (Role.agent, Role.complaint_handler, Role.product_manager, Role.analyst)
PROBLEM = {"content": {"application/problem+json": {}}}
Rt = Annotated[Runtime, Depends(runtime)]
Paging = Annotated[PageParams, Depends(page_params)]
CandidateReader = Annotated[Principal, Depends(require_roles(*CANDIDATE_READERS))]
Decider = Annotated[Principal, Depends(require_roles(Role.product_manager))]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class PromoteIn(BaseModel):
    """`mode` new: a draft article of the candidate's type and product, titled with its most frequent question and
    with its most frequent accepted answer as body (either may be given instead). `mode` version (or an
    `article_id`): a new version of that article of the same product, its body followed by the answer;
    `If-Match` names the article's version (required: 428 without it, 412 when stale). Each version carries a
    `note` saying why (default: 由候选条目 … 提升), as every article version does."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"mode": "new", "title": "移动办公如何登录？", "tags": ["登录"]},
        {"mode": "new", "title": "移动办公登录失败怎么办", "body": "请用户确认客户端版本不低于3.2.5，并使用手机号加短信验证码登录。"},
        {"mode": "version", "article_id": "KB-000123", "body": "补充：登录提示“账号未开通”时，请联系客户经理开通。"},
    ]})

    mode: Literal["new", "version"] | None = Field(None, description="new 新建草稿 | version 作为已有知识的新版本 "
                                                                      "(default: version when article_id is given)")
    article_id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^KB-\d{6}$")] | None = Field(
        None, description="知识编号 of the article that gets the new version (mode version)")
    title: Annotated[Text, StringConstraints(max_length=200)] | None = Field(None, description="标题 (default: "
                                                                                                "the top question)")
    body: Annotated[Text, StringConstraints(max_length=50_000)] | None = Field(
        None, description="正文 (new) or the text appended (version); default: the best answer")
    tags: list[Tag] = Field(default_factory=list, max_length=20, description="标签 (new only)")
    audience: Audience | None = Field(None, description="读者范围 (new only; default internal, as for any new "
                                                        "article)")
    note: Annotated[Text, StringConstraints(max_length=500)] | None = Field(
        None, description="修改说明 of the version (default: 由候选条目 … 提升)")


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "个案问题，由客户所在集团的网络策略导致，不具有普遍性"},
    ]})

    reason: Annotated[Text, StringConstraints(max_length=500)] = Field(description="驳回原因")


class ArticleRef(BaseModel):
    id: str = Field(description="知识编号")
    type: ArticleType
    product_code: str | None
    title: str
    state: str = Field(description="draft 草稿 (new) or the article's state (version)")
    version: int


class PromotionOut(BaseModel):
    candidate: CandidateOut
    article: ArticleRef
    created: bool = Field(description="true: a new draft article; false: a new version of the chosen article")


@router.get("/candidates", response_model=CandidatePage, summary="Candidates grown from closed tickets, most "
            "frequent first", responses={401: PROBLEM, 403: PROBLEM})
async def list_candidates(rt: Rt, principal: CandidateReader, params: Paging, product_code: str | None = None,
                          type: ArticleType | None = None,
                          state: Annotated[Literal["open", "promoted", "dismissed", "all"],
                                           Query(description="open (default): still to decide")] = "open"):
    docs, cursor = await page(rt.store[CANDIDATES], filters(product_code=product_code, type=type,
                                                            state=None if state == "all" else state),
                              params, CANDIDATE_ORDER)
    return {"items": [_candidate(d) for d in docs], "next_cursor": cursor}


@router.get("/candidates/{candidate_id}", response_model=CandidateOut, summary="One candidate",
            responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
async def get_candidate(candidate_id: str, rt: Rt, principal: CandidateReader):
    return _candidate(await _stored(rt, candidate_id))


@router.post("/candidates/{candidate_id}/promote", status_code=201, response_model=PromotionOut,
             summary="Promote: a draft article, or a new version of a chosen article",
             responses={200: {"model": PromotionOut, "description": "a new version of the chosen article"},
                        401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM,
                        428: PROBLEM})
async def promote(candidate_id: str, body: PromoteIn, response: Response, rt: Rt, principal: Decider,
                  if_match: Annotated[str | None, Header(description="version of the chosen article, its ETag (mode "
                                                                     "version): required (428 without it), 412 if "
                                                                     "it is not current")] = None):
    candidate = await _stored(rt, candidate_id)
    check_product(principal, candidate["product_code"], what=candidate["_id"])
    _check_open(candidate)
    mode = body.mode or ("version" if body.article_id else "new")
    if mode == "new" and body.article_id:
        raise invalid("article_id", "a new article is made for mode new; leave article_id out or use mode version")
    if mode == "version" and not body.article_id:
        raise invalid("article_id", "mode version needs the id of the article to update")
    if mode == "version" and body.audience is not None:
        raise invalid("audience", "the audience of an existing article is changed by editing it (PUT)")
    text = body.body or candidates.best_answer(candidate)
    if not text:
        raise invalid("body", "the candidate has no accepted answer yet: give the body")
    now = stored_now()
    note = body.note or promotion_note(candidate)
    if mode == "new":
        id = articles.article_id(await next_article_number(rt.store))
        article = articles.new_article(id, type=candidate["type"], product_code=candidate["product_code"],
                                       title=body.title or candidate["question"], body=text, tags=body.tags,
                                       audience=body.audience or articles.DEFAULT_AUDIENCE, note=note,
                                       actor=principal.sub, at=now)
        article["from_candidate"] = candidate_id
        article = await rt.store.insert(ARTICLES, article)
    else:
        article = await _edited(rt, candidate, body, text, note, principal, if_match, now)
    details = {"article_id": article["_id"], "article_version": article["version"], "mode": mode}
    try:
        decided = await _decide(rt, candidate_id, candidates.PROMOTED, principal, now, details)
    except Problem:
        if mode == "new":  # the draft was made for this promotion only: archive it, through the Store (search sees it)
            await _withdraw(rt, article, principal, now)
        raise
    response.status_code = 201 if mode == "new" else 200
    if mode == "new":
        response.headers["Location"] = f"/v1/articles/{article['_id']}"
    return {"candidate": _candidate(decided), "created": mode == "new",
            "article": {f: article[f] for f in ("type", "product_code", "title", "state", "version")}
            | {"id": article["_id"]}}


@router.post("/candidates/{candidate_id}/dismiss", response_model=CandidateOut,
             summary="Dismiss: set aside for good (later similar closes count onto it silently)",
             responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 422: PROBLEM})
async def dismiss(candidate_id: str, body: DismissIn, rt: Rt, principal: Decider):
    candidate = await _stored(rt, candidate_id)
    check_product(principal, candidate["product_code"], what=candidate["_id"])
    _check_open(candidate)
    return _candidate(await _decide(rt, candidate_id, candidates.DISMISSED, principal, stored_now(),
                                    {"reason": body.reason}))


async def _stored(rt: Runtime, candidate_id: str) -> dict[str, Any]:
    doc = await rt.store[CANDIDATES].find_one({"_id": candidate_id})
    if doc is None:
        raise Problem(404, "not-found", "Candidate not found", f"No candidate {candidate_id}.")
    return doc


def _check_open(candidate: dict[str, Any]) -> None:
    if candidate["state"] != candidates.OPEN:
        raise _not_open(candidate["state"])


def _not_open(state: str) -> Problem:
    return Problem(409, "illegal-state", "Already decided", f"The candidate is {state}; only an open candidate "
                   "is promoted or dismissed.", state=state)


def promotion_note(candidate: dict[str, Any]) -> str:
    """Why the version exists, as the articles' rules want on every version (domain/articles.py)."""
    return f"由候选条目 {candidate['_id']} 提升（{candidate['occurrences']} 张已关闭工单）"


async def _edited(rt: Runtime, candidate: dict[str, Any], body: PromoteIn, text: str, note: str,
                  principal: Principal, if_match: str | None, now: datetime) -> dict[str, Any]:
    """A new version of the chosen article, by the articles' rules (api/routes.py): the same product as the
    candidate, If-Match required (428/412), a note, written through the Store."""
    article = await rt.store[ARTICLES].find_one({"_id": body.article_id})
    if article is None:
        raise invalid("article_id", f"no article {body.article_id}")
    if article["product_code"] != candidate["product_code"]:
        raise invalid("article_id", f"{body.article_id} belongs to product {article['product_code']}, the "
                                    f"candidate to {candidate['product_code']}")
    check_if_match(article, if_match)
    try:
        edited = articles.edit(article, title=body.title or article["title"], body=f"{article['body']}\n\n{text}",
                               tags=article["tags"], note=note, actor=principal.sub, at=now)
    except IllegalTransition as error:
        raise Problem(409, "illegal-state", "Not allowed in this state",
                      f"Cannot add a version to an article that is {error.state}.", state=error.state) from error
    return await replace_article(rt, edited)


async def _withdraw(rt: Runtime, article: dict[str, Any], principal: Principal, now: datetime) -> None:
    """Archive the draft a promotion made when the candidate was decided meanwhile by someone else."""
    withdrawn = articles.transition(article, "archive", actor=principal.sub, at=now,
                                    note=f"候选条目 {article['from_candidate']} 已被他人处理，此草稿作废")
    try:
        await rt.store.replace(ARTICLES, withdrawn)
    except ConcurrencyConflict:
        log.warning("candidate.promotion_draft_left", article_id=article["_id"])


async def _decide(rt: Runtime, candidate_id: str, state: str, principal: Principal, now: datetime,
                  details: dict[str, Any]) -> dict[str, Any]:
    month = kcs.month_of(now)

    def decide(current):
        changed = candidates.decide(current, state, actor=principal.sub, at=now, month=month, **details)
        event = rt.event(CandidateUpdated(candidate_id=candidate_id, product_code=changed["product_code"],
                                          type=changed["type"], question=changed["question"],
                                          occurrences=changed["occurrences"], ticket_ids=changed["ticket_ids"],
                                          state=changed["state"]),
                         type=CANDIDATE_UPDATED, subject=candidate_id, sequence=changed["version"])
        return changed, [event]

    try:
        decided = await rt.store.change(CANDIDATES, candidate_id, decide)
    except candidates.NotOpen as error:
        raise _not_open(error.state) from error
    except ConcurrencyConflict as error:
        raise Problem(409, "conflict", "Changed meanwhile", "The candidate kept changing; retry.") from error
    await count_decisions(rt, decided["product_code"], month)
    return decided


def _candidate(doc: dict[str, Any]) -> dict[str, Any]:
    fields = ("product_code", "type", "question", "normalised_question", "occurrences", "ticket_ids",
              "first_seen", "last_seen", "state", "version")
    return {"id": doc["_id"], **{f: doc[f] for f in fields}, "type_label": TYPE_LABELS[ArticleType(doc["type"])],
            "questions": [{"question": q["question"], "count": q["count"]} for q in doc.get("questions", [])],
            "answers": [{"answer": a["answer"], "count": a["count"]} for a in doc["answers"]],
            "decision": ({"state": doc["state"], "by": doc.get("decided_by"), "at": doc.get("decided_at"),
                          **doc.get(doc["state"], {})} if doc["state"] != candidates.OPEN else None)}
