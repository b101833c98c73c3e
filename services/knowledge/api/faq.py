"""The monthly FAQ of a product (issue 9, point 5): `GET /v1/faq/monthly/{month}` as JSON, Markdown or DOCX, and
`POST /v1/faq/monthly/{month}/publish` to make it the month's `faq` article in one call.

Publishing makes a draft the first time (the product manager reviews and publishes it as any article), and a new
version of that same article each later time (it keeps its state: a published FAQ stays published, with the
month's newer figures), so re-publishing after late closes never makes a second FAQ of one month. Both go by the
articles' rules (api/routes.py): the product manager's own products, a `note` on the version, If-Match on the new
version of the existing article (428 without it, 412 when stale), written through the Store so search sees it.

Who reads which FAQ: the centre's staff (front line, product managers, analysts) the working one, with the
candidates' answers nobody has reviewed yet — what the product manager turns into articles; the account managers,
who hand the FAQ to their customers (客服分析 for the cities), the reviewed one: only questions answered by a
published article they may read (by the articles' rule, domain/articles.py), a candidate's closes counted on the
article it was promoted to, the rest left out and only counted (`unreviewed_closes`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, Field

from contracts.vocabulary import ArticleType, Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.clock import stored_now
from services.kit.preconditions import parse_if_match
from services.kit.problems import Problem
from services.kit.store import eq
from services.knowledge.api.routes import check_if_match, check_product, narrowed, reach_of, replace_article
from services.knowledge.domain import articles, candidates, faq, kcs
from services.knowledge.domain.articles import ArticleState, IllegalTransition
from services.knowledge.store.collections import ARTICLES, CANDIDATES, CLOSURES, next_article_number

router = APIRouter(prefix="/v1", tags=["faq"])

READERS = (Role.agent, Role.ops_engineer, Role.complaint_handler, Role.product_manager, Role.analyst,
           Role.account_manager)
PROBLEM = {"content": {"application/problem+json": {}}}
Rt = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Publisher = Annotated[Principal, Depends(require_roles(Role.product_manager))]
Month = Annotated[str, Path(pattern=kcs.MONTH.pattern, description="月份 YYYY-MM (Asia/Shanghai)",
                            examples=["2026-03"])]
Product = Annotated[str, Query(min_length=1, max_length=64, description="产品编码", examples=["mobile_office"])]
Limit = Annotated[int, Query(ge=1, le=100, description="entries at most")]
IfMatch = Annotated[str | None, Header(description="the month's article's version (its ETag, as the last publish "
                                                   "answered it): required once the article exists (428 without "
                                                   "it), 412 if it is not current")]
MEDIA = {"md": "text/markdown; charset=utf-8",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


class FaqEntry(BaseModel):
    question: str = Field(description="问题: the month's most frequent phrasing")
    answer: str = Field(description="答复: the month's most frequent accepted answer (or the article's body)")
    count: int = Field(description="本月次数: closed tickets of the month")
    misunderstanding_complaints: int = Field(description="of which complaints of cause usage_misunderstanding 理解偏差")
    candidate_id: str | None = Field(description="the candidate the tickets grew")
    article_id: str | None = Field(description="the article the tickets were answered from")
    type: ArticleType | None
    cities: list[str] = Field(description="地市 the tickets came from")


class MonthlyFaq(BaseModel):
    product_code: str
    month: str
    closes: int = Field(description="closed tickets the entries count")
    reviewed_only: bool = Field(description="true: reviewed content only, for readers outside the centre's staff "
                                            "(account managers): every answer is a published article they may "
                                            "read; false: the staff's working FAQ, with candidates' unreviewed "
                                            "answers")
    unreviewed_closes: int = Field(description="closed tickets of questions left out for want of a reviewed "
                                               "answer (reviewed FAQ only; 0 in the working one)")
    misunderstandings: list[FaqEntry] = Field(description="理解偏差类投诉 first, for the account managers")
    questions: list[FaqEntry] = Field(description="the other frequent questions, most frequent first")


class FaqPublished(BaseModel):
    action: Literal["created", "new_version"] = Field(description="created: a new draft faq article; new_version: "
                                                                  "a new version of the month's faq article")
    article_id: str
    version: int
    state: str
    title: str


@router.get("/faq/monthly/{month}", response_model=MonthlyFaq,
            summary="The month's FAQ of a product (JSON, or ?format=md / docx to download)",
            responses={200: {"content": {MEDIA["md"]: {}, MEDIA["docx"]: {}}}, 401: PROBLEM, 403: PROBLEM,
                       422: PROBLEM})
async def monthly_faq(month: Month, rt: Rt, principal: Reader, product_code: Product, limit: Limit = 20,
                      format: Annotated[Literal["json", "md", "docx"], Query(description="json | md | docx")] = "json"):
    allowed = narrowed(await reach_of(rt, principal), product_code=product_code)
    built = await _build(rt, product_code, month, limit, None if reviews(principal) else allowed)
    if format == "json":
        return built
    filename = f"faq-{_ascii(product_code)}-{month}.{format}"
    content = faq.markdown(built).encode() if format == "md" else faq.docx(built)
    return Response(content, media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/faq/monthly/{month}/publish", response_model=FaqPublished, status_code=201,
             summary="Make the month's FAQ the product's faq article: a draft the first time, then new versions",
             responses={200: {"model": FaqPublished, "description": "a new version of the month's article"},
                        401: PROBLEM, 403: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM, 428: PROBLEM})
async def publish_faq(month: Month, response: Response, rt: Rt, principal: Publisher, product_code: Product,
                      limit: Limit = 20, if_match: IfMatch = None):
    check_product(principal, product_code)
    built = await _build(rt, product_code, month, limit)
    if not built["closes"]:
        raise Problem(409, "empty-faq", "Nothing to publish",
                      f"No closed ticket of {product_code} in {month} fed the knowledge base.")
    key, title, body, now = f"{product_code}:{month}", faq.title(built), faq.markdown(built), stored_now()
    note = f"{month} 月度FAQ：由 {built['closes']} 张已关闭工单整理"
    existing = await rt.store[ARTICLES].find_one({"faq_month": eq(key), "state": {"$in": ["draft", "published"]}})
    if existing is None:
        if parse_if_match(if_match, what="article") is not None:
            raise Problem(412, "precondition-failed", "Version mismatch",
                          f"If-Match names a version, but {month}'s FAQ of {product_code} has no article yet.")
        id = articles.article_id(await next_article_number(rt.store))
        article = {**articles.new_article(id, type=ArticleType.faq, product_code=product_code, title=title,
                                          body=body, tags=["月度FAQ", month], note=note, actor=principal.sub,
                                          at=now),
                   "faq_month": key}
        article = await rt.store.insert(ARTICLES, article)
        action = "created"
        response.headers["Location"] = f"/v1/articles/{id}"
    else:
        check_if_match(existing, if_match)
        try:
            edited = articles.edit(existing, title=title, body=body, tags=existing["tags"], note=note,
                                   actor=principal.sub, at=now)
        except IllegalTransition as error:  # not reached: only drafts and published articles are looked for
            raise Problem(409, "illegal-state", "Not allowed in this state",
                          f"{existing['_id']} is {error.state}.", state=error.state) from error
        article = await replace_article(rt, edited)
        action = "new_version"
        response.status_code = 200
    response.headers["ETag"] = f'"{article["version"]}"'
    return {"action": action, "article_id": article["_id"], "version": article["version"],
            "state": article["state"], "title": article["title"]}


async def _build(rt: Runtime, product_code: str, month: str, limit: int,
                 allowed: articles.Reach | None = None) -> dict[str, Any]:
    """The month's FAQ: the staff's working one (`allowed` None), or the reviewed one for a reader of reach
    `allowed` (published articles they may read only, domain/faq.py)."""
    fields = {f: 1 for f in ("candidate_id", "article_id", "kind", "cause", "question", "answer", "city", "type")}
    closures = await rt.store[CLOSURES].find({"product_code": eq(product_code), "month": eq(month),
                                              "state": eq("counted")}, fields).to_list()
    candidate_ids = sorted({c["candidate_id"] for c in closures if c.get("candidate_id")})
    found_candidates = {d["_id"]: d for d in await rt.store[CANDIDATES].find(
        {"_id": {"$in": candidate_ids}}, {"state": 1, "question": 1, "answers": 1, "type": 1,
                                         candidates.PROMOTED: 1}).to_list()}
    article_ids = {c["article_id"] for c in closures if c.get("article_id")}
    if allowed is not None:  # the articles the candidates were promoted to answer for them
        article_ids |= {d[candidates.PROMOTED]["article_id"] for d in found_candidates.values()
                        if (d.get(candidates.PROMOTED) or {}).get("article_id")}
    found_articles = {d["_id"]: d for d in await rt.store[ARTICLES].find(
        {"_id": {"$in": sorted(article_ids)}},
        {"title": 1, "body": 1, "type": 1, "state": 1, "audience": 1, "product_code": 1}).to_list()}
    reviewed = None if allowed is None else (
        lambda article: article["state"] == ArticleState.published.value and articles.readable(article, allowed))
    return faq.monthly(product_code, month, closures, found_candidates, found_articles, limit=limit,
                       reviewed=reviewed)


def reviews(principal: Principal) -> bool:
    """Whether the reader gets the working FAQ, unreviewed candidate answers included: the centre's staff, who
    read drafts too (articles.DRAFT_READERS); the account managers get the reviewed FAQ."""
    return articles.reads_drafts(principal.roles)


def _ascii(text: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in text)
