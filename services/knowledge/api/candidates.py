"""Candidates grown from closed tickets (SPEC §5, issue 9 point 3): list, read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from contracts.vocabulary import ArticleType, Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, require_roles
from services.kit.pagination import PageParams, page, page_params
from services.kit.problems import Problem
from services.knowledge.api.models import CandidateOut, CandidatePage
from services.knowledge.domain.articles import TYPE_LABELS
from services.knowledge.store.collections import CANDIDATE_ORDER, CANDIDATES, filters

router = APIRouter(prefix="/v1", tags=["candidates"])

CANDIDATE_READERS = (Role.agent, Role.complaint_handler, Role.product_manager, Role.analyst)
PROBLEM = {"content": {"application/problem+json": {}}}
Rt = Annotated[Runtime, Depends(runtime)]
Paging = Annotated[PageParams, Depends(page_params)]
CandidateReader = Annotated[Principal, Depends(require_roles(*CANDIDATE_READERS))]


@router.get("/candidates", response_model=CandidatePage, summary="Candidates grown from closed tickets, most "
            "frequent first", responses={401: PROBLEM, 403: PROBLEM})
async def list_candidates(rt: Rt, principal: CandidateReader, params: Paging, product_code: str | None = None,
                          type: ArticleType | None = None):
    docs, cursor = await page(rt.store[CANDIDATES], filters(product_code=product_code, type=type), params,
                              CANDIDATE_ORDER)
    return {"items": [_candidate(d) for d in docs], "next_cursor": cursor}


@router.get("/candidates/{candidate_id}", response_model=CandidateOut, summary="One candidate",
            responses={401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
async def get_candidate(candidate_id: str, rt: Rt, principal: CandidateReader):
    doc = await rt.store[CANDIDATES].find_one({"_id": candidate_id})
    if doc is None:
        raise Problem(404, "not-found", "Candidate not found", f"No candidate {candidate_id}.")
    return _candidate(doc)


def _candidate(doc: dict[str, Any]) -> dict[str, Any]:
    fields = ("product_code", "type", "question", "normalised_question", "occurrences", "ticket_ids",
              "first_seen", "last_seen", "state", "version")
    return {"id": doc["_id"], **{f: doc[f] for f in fields}, "type_label": TYPE_LABELS[ArticleType(doc["type"])],
            "questions": [{"question": q["question"], "count": q["count"]} for q in doc.get("questions", [])],
            "answers": [{"answer": a["answer"], "count": a["count"]} for a in doc["answers"]]}
