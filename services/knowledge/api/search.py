"""Knowledge search (`GET /v1/search`), answer suggestions for the front line (`GET /v1/suggestions`) and the
synonyms an admin edits (`GET/PUT /v1/synonyms`). The engine is services/knowledge/domain/search.py, the
per-replica index services/knowledge/store/search_index.py; docs/knowledge-search.md describes both.

Who may do what (SPEC §1):
- search: every role, over what it may read by the articles' own rule (domain/articles.py `reach`, the one
  `GET /v1/articles` applies: audiences by role, intake only customer text, account managers theirs and the
  customers'; drafts for staff only, vendors included; a vendor only the products it supplies). `audience=`,
  `include_drafts=true` and `product_code=` narrow that further, and asking for more than one's reach is a 403
  naming the parameter, as on `GET /v1/articles`. Product managers search every product: reading is not
  scoped, publishing is.
- suggestions: the front line — agents, ops engineers, complaint handlers, product managers, account managers —
  over the published articles they read (the same rule). Candidate answers are unvalidated text from closed tickets (KCS: not yet reviewed), so account managers get
  the articles only, as they do not read candidates either.
- synonyms: staff (articles.STAFF) read them, admins change them, If-Match required as on every change in
  knowledge (428 without it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import StringConstraints

from contracts.vocabulary import ArticleType, Audience, Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate, require_roles
from services.kit.preconditions import check_version, parse_if_match
from services.kit.problems import Problem, invalid
from services.kit.store import ConcurrencyConflict
from services.knowledge.api.routes import narrowed, reach_of
from services.knowledge.api.search_models import SearchPage, Suggestions, SynonymsIn, SynonymsOut
from services.knowledge.domain import articles
from services.knowledge.domain.articles import STAFF, TYPE_LABELS, ArticleState
from services.knowledge.domain.candidates import OPEN
from services.knowledge.domain.search import parse_query, rank_by_occurrences
from services.knowledge.domain.synonyms import SYNONYMS_ID, InvalidSynonyms, clean_groups, replaced
from services.knowledge.store.collections import CANDIDATES, SYNONYMS
from services.knowledge.store.search_index import LiveSearch

router = APIRouter(prefix="/v1", tags=["search"])

SUGGESTION_USERS = (Role.agent, Role.ops_engineer, Role.complaint_handler, Role.product_manager,
                    Role.account_manager)
ANSWER_READERS = (Role.agent, Role.ops_engineer, Role.complaint_handler, Role.product_manager)
SYNONYM_READERS = tuple(r for r in Role if r in STAFF)
MAX_RESULTS = 200  # how deep a ranked list pages: nobody reads result 201
PROBLEM = {"content": {"application/problem+json": {}}}

Rt = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[Principal, Depends(authenticate)]
SuggestionUser = Annotated[Principal, Depends(require_roles(*SUGGESTION_USERS))]
SynonymReader = Annotated[Principal, Depends(require_roles(*SYNONYM_READERS))]
Admin = Annotated[Principal, Depends(require_roles())]
SearchText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
TicketText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ProductCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def live(rt: Runtime) -> LiveSearch:
    return rt.extras["search"]


def readable_published(allowed: articles.Reach) -> dict[str, frozenset[str]]:
    """The index filter of what a principal of reach `allowed` reads (articles.reach), published articles only."""
    return {**allowed.fields(), "state": frozenset({ArticleState.published.value})}


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or int(cursor) >= MAX_RESULTS:
        raise invalid("cursor", "pass back the next_cursor of the previous page")
    return int(cursor)


@router.get("/search", response_model=SearchPage, summary="Ranked search of articles (Chinese segmentation, "
            "synonyms, highlighted snippets)", responses={401: PROBLEM, 403: PROBLEM, 422: PROBLEM})
async def search_articles(
        rt: Rt, principal: Reader,
        q: Annotated[SearchText, Query(description="free text, e.g. 登不上去咋办; `-词` leaves out articles "
                                                   "containing 词", examples=["移动办公登不上去咋办"])],
        product_code: Annotated[ProductCode | None, Query(description="产品编码")] = None,
        type: Annotated[ArticleType | None, Query(description="文章类型")] = None,
        audience: Annotated[Audience | None, Query(description="only articles for this audience (读者范围)")] = None,
        include_drafts: Annotated[bool, Query(description="drafts too (staff only)")] = False,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None):
    offset = _offset(cursor)
    states = [ArticleState.published.value, *([ArticleState.draft.value] if include_drafts else [])]
    allowed = narrowed(await reach_of(rt, principal), audience=audience.value if audience else None,
                       states=states, product_code=product_code, states_parameter="include_drafts")
    where = allowed.fields()
    search = live(rt)
    query = parse_query(q, search.articles.analyzer, search.synonyms)
    where |= {"type": (type.value,)} if type else {}
    limit = min(limit, MAX_RESULTS - offset)
    hits, total = search.articles.search(query, where=where, limit=limit, offset=offset)
    following = offset + len(hits)
    return {"items": [_hit(h) for h in hits], "total": total, "words": query.words, "expanded": query.expanded,
            "next_cursor": str(following) if following < min(total, MAX_RESULTS) else None}


def _hit(hit) -> dict[str, Any]:
    a = hit.doc.attrs
    return {"id": hit.id, "type": a["type"], "type_label": TYPE_LABELS[ArticleType(a["type"])],
            "product_code": a["product_code"], "title": hit.doc.title, "title_highlights": hit.title_highlights,
            "snippet": hit.snippet, "highlights": hit.highlights, "audience": a["audience"], "state": a["state"],
            "version": a["version"], "score": hit.score}


@router.get("/suggestions", response_model=Suggestions, summary="Answer suggestions for a ticket's text: the best "
            "published articles and the most frequent candidate answers", responses={401: PROBLEM, 403: PROBLEM,
                                                                                   422: PROBLEM})
async def suggestions(
        rt: Rt, principal: SuggestionUser,
        q: Annotated[TicketText, Query(description="the ticket's title and description",
                                       examples=["集团通讯录导不进去，提示第3行手机号格式错误"])],
        product_code: Annotated[ProductCode | None, Query(description="产品编码")] = None,
        limit: Annotated[int, Query(ge=1, le=20, description="articles and answers, each")] = 5):
    search = live(rt)
    query = parse_query(q, search.articles.analyzer, search.synonyms)
    allowed = narrowed(await reach_of(rt, principal), product_code=product_code)
    hits, _ = search.articles.search(query, where=readable_published(allowed), limit=limit)
    found = [{"id": h.id, "title": h.doc.title, "type": h.doc.attrs["type"],
              "type_label": TYPE_LABELS[ArticleType(h.doc.attrs["type"])],
              "product_code": h.doc.attrs["product_code"], "snippet": h.snippet, "highlights": h.highlights,
              "score": h.score} for h in hits]
    answers = await _answers(rt, search, query, allowed, limit) if principal.has(*ANSWER_READERS, Role.admin) \
        else []
    return {"articles": found, "answers": answers, "words": query.words}


async def _answers(rt: Runtime, search: LiveSearch, query, allowed: articles.Reach, limit: int) -> list[dict]:
    """Open candidates (of the products in reach) by text score × occurrences; each read again from the store (a
    few documents by id), so a candidate promoted or dismissed a moment ago on another replica is not suggested."""
    products = {} if allowed.product_code is None else {"product_code": allowed.product_code}
    hits, _ = search.candidates.search(query, where={"state": (OPEN,), **products}, limit=50, snippets=False)
    ranked = rank_by_occurrences(hits, lambda h: h.doc.attrs["occurrences"], limit)
    if not ranked:
        return []
    stored = {d["_id"]: d for d in await rt.store[CANDIDATES].find(
        {"_id": {"$in": [h.id for h, _ in ranked]}}).to_list()}
    out = []
    for hit, _ in ranked:
        doc = stored.get(hit.id)
        if doc is None or doc.get("state") != OPEN or not doc.get("answers"):
            continue
        best = max(doc["answers"], key=_answer_count)  # max keeps the first of equals: the earliest answer
        occurrences = int(doc.get("occurrences") or 0)
        out.append({"candidate_id": doc["_id"], "question": doc.get("question", ""), "answer": best["answer"],
                    "answer_count": _answer_count(best), "occurrences": occurrences, "type": doc["type"],
                    "score": round(hit.score * max(1, occurrences), 4)})
    out.sort(key=lambda a: -a["score"])
    return out


def _answer_count(answer: dict[str, Any]) -> int:
    """How many tickets an answer closed: a `count` where the candidate keeps one, else its ticket ids."""
    count = answer.get("count")
    return int(count) if isinstance(count, int) else len(answer.get("ticket_ids") or ())


# --- synonyms ---------------------------------------------------------------------------------------------


@router.get("/synonyms", response_model=SynonymsOut, summary="The search synonyms (同义词)",
            responses={401: PROBLEM, 403: PROBLEM})
async def get_synonyms(rt: Rt, response: Response, principal: SynonymReader):
    doc = await _synonyms(rt)
    response.headers["ETag"] = f'"{doc["version"]}"'
    return _synonyms_view(doc)


@router.put("/synonyms", response_model=SynonymsOut, summary="Replace the search synonyms (admin)",
            responses={401: PROBLEM, 403: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM, 428: PROBLEM})
async def put_synonyms(body: SynonymsIn, rt: Rt, response: Response, principal: Admin,
                       if_match: Annotated[str | None, Header(
                           description="the version the change is based on, its ETag: required (428 without it), "
                                       "412 if it is not current")] = None):
    current = await _synonyms(rt)
    check_version(current["version"], parse_if_match(if_match, what="synonyms", required=True), what="synonyms")
    try:
        groups = clean_groups(body.groups)
    except InvalidSynonyms as error:
        raise Problem(422, "validation-error", "Invalid request", str(error), errors=[
            {**e, "type": "value_error"} for e in error.errors]) from error
    try:
        written = await rt.store.replace(SYNONYMS, replaced(current, groups, actor=principal.sub,
                                                            at=datetime.now(UTC)))
    except ConcurrencyConflict as error:
        raise Problem(409, "conflict", "Changed meanwhile",
                      "The synonyms changed while this request was handled; read them again and retry.") from error
    response.headers["ETag"] = f'"{written["version"]}"'
    return _synonyms_view(written)


async def _synonyms(rt: Runtime) -> dict[str, Any]:
    doc = await rt.store[SYNONYMS].find_one({"_id": SYNONYMS_ID})
    if doc is None:  # a worker-only replica or a store emptied by hand: seed as the API replicas do at start
        await live(rt).seed_synonyms()
        doc = await rt.store[SYNONYMS].find_one({"_id": SYNONYMS_ID})
    return doc


def _synonyms_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {f: doc[f] for f in ("groups", "version", "updated_at", "updated_by")}
