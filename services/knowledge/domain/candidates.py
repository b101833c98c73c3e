"""Candidates: unvalidated FAQ / handbook / service-script entries grown from closed tickets (SPEC §3, §5).

A candidate gathers the closed tickets of one product and article type that ask the same question — the same once
normalised, or similar enough (`similarity` ≥ `SIMILARITY_THRESHOLD`, measured on tests/knowledge/
similar_questions.py) — with the answers they were given, so that a product manager sees which questions keep
coming back (共性问题) and turns them into an article (promote) or sets them aside (dismiss).

A candidate stays small however many tickets reach it: it keeps counters and bounded samples (the most frequent
phrasings, the most frequent answers, the latest ticket ids), never a list of every ticket. Whether a ticket is
already counted is answered by its own small `closures` document (events/handlers.py, kit/once.py), not by the candidate.

Which words make the question: the ticket's **title only**. The description is the requester's own account,
full of ticket-specific detail (names, numbers, dates, 集团 names), so two tickets asking the same thing almost
never share it and grouping on it would give one candidate per ticket. The title is the front line's summary
of the question (受理/建档), which is what repeats.

Everything here is pure; the handler reads, calls these functions, and writes whole documents.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from contracts.events import TicketClosed
from contracts.vocabulary import ArticleType, Cause, Kind
from services.kit import text

OPEN, PROMOTED, DISMISSED = "open", "promoted", "dismissed"
STATES = (OPEN, PROMOTED, DISMISSED)
MAX_ANSWERS = 10     # distinct answers kept per candidate (the most frequent); later tickets are still counted
MAX_QUESTIONS = 10   # distinct phrasings kept per candidate (the most frequent)
MAX_TICKET_IDS = 20  # the latest ticket ids kept as a sample; `occurrences` counts them all
# Jaccard similarity of two questions' word sets at or above which they are one question. Chosen on the labelled
# set tests/knowledge/similar_questions.py (tests/knowledge/test_similarity.py prints precision and recall).
SIMILARITY_THRESHOLD = 0.55

_COMPLAINT_RULES: dict[Cause, ArticleType] = {
    Cause.usage_misunderstanding: ArticleType.faq,          # 理解偏差 → FAQ for account managers
    Cause.billing_error: ArticleType.complaint_guide,       # 计费问题 → 投诉指导手册
    Cause.product_defect: ArticleType.complaint_guide,      # 产品缺陷 → 投诉指导手册
}

_SPACES = re.compile(r"\s+")
# A space next to a non-ASCII character (Chinese) separates nothing: Chinese is written without spaces.
_SPACE_BY_CJK = re.compile(r" (?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) ")

# Words that say nothing about which question it is, beyond kit/text.py's stop words: the product's own name (the
# candidate is already per product), and the filler of a ticket title (怎么办, 方法, 一直 …).
_FILLER = frozenset("提示 时 里 这个 月 一直 已 就 方法 使用 办 怎么 怎样 呢 吗 一下 多少 问题 情况 反映 客户 用户 咨询".split())
# Ways of saying one thing that segmentation keeps apart, mapped onto one spelling (a word may become two). Small
# on purpose: search's synonyms (GET/PUT /v1/synonyms) are the admin-edited list; these are the question words
# that decide whether two titles ask the same, and they are tested on the labelled set.
CANONICAL: dict[str, str] = {
    "登陆": "登录", "登不上": "登录 失败", "登录不了": "登录 失败",
    "无法": "失败", "不能": "失败", "不了": "失败", "不到": "失败", "报错": "失败", "错误": "失败", "不成功": "失败",
    "异常": "失败",
    "忘了": "忘记", "收费": "资费", "多少钱": "资费", "钱": "资费", "费用": "资费", "价格": "资费",
    "新增": "添加", "新加": "添加", "人员": "员工", "成员": "员工", "同事": "员工", "移除": "删除",
    "偏差": "不准", "漂移": "不准", "搜不到": "查不到", "多收": "扣费", "多扣": "扣费",
}


def candidate_type(kind: Kind | str, cause: Cause | str | None) -> ArticleType | None:
    """Which kind of article a closed ticket feeds (SPEC §5), or None when it feeds none.

    Consultations feed 客服口径 whatever their cause; complaints feed FAQ or 投诉指导手册 by cause; suggestions,
    faults and complaints with other causes feed lifecycle's backlog or nothing, not the knowledge base.
    """
    if kind == Kind.consultation:
        return ArticleType.service_script
    if kind == Kind.complaint and cause is not None:
        return _COMPLAINT_RULES.get(Cause(cause))
    return None


def normalise(question: str) -> str:
    """The comparable form of a question: width-folded (NFKC), lower case, punctuation (ASCII and Chinese) and
    symbols removed, runs of whitespace collapsed, and no space next to a Chinese character."""
    folded = unicodedata.normalize("NFKC", question).lower()
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded)
    return _SPACE_BY_CJK.sub("", _SPACES.sub(" ", cleaned).strip())


@cache
def _context_words() -> frozenset[str]:
    """Product and platform names and the dictionary words inside them (集团通讯录 → 集团, 通讯, 通讯录)."""
    names = text.DOMAIN_WORDS[:text.DOMAIN_WORDS.index("资费")]  # the catalog names come first (kit/text.py)
    return frozenset(text.index_words(*names))


def signature(question: str) -> frozenset[str]:
    """The words that say what a question asks: segmented (kit/text.py), without stop words, filler and product
    names, each in its canonical spelling. Empty when nothing is left (then only an identical title matches)."""
    words: set[str] = set()
    context = _context_words()
    for word in text.query_words(question):
        if word in context or word in _FILLER:
            continue
        words.update(CANONICAL.get(word, word).split())
    return frozenset(words)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two signatures (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def best_match(question: frozenset[str], candidates: Mapping[str, Iterable[frozenset[str]]],
               threshold: float = SIMILARITY_THRESHOLD) -> str | None:
    """The id of the candidate whose closest phrasing is most similar to `question`, if at least `threshold`
    (ties: the first in `candidates`' order)."""
    best, best_score = None, threshold
    for candidate_id, phrasings in candidates.items():
        score = max((similarity(question, p) for p in phrasings), default=0.0)
        if score > best_score or (best is None and score >= best_score):
            best, best_score = candidate_id, score
    return best


def question_of(ticket: TicketClosed) -> str:
    return ticket.title  # see the module docstring for why the description is left out


def candidate_id(product_code: str, type: ArticleType | str, normalised_question: str) -> str:
    """Deterministic, so that every replica and every redelivery of a new question lands on the same document."""
    digest = hashlib.sha1(normalised_question.encode()).hexdigest()[:12]
    return f"{product_code}:{ArticleType(type).value}:{digest}"


def answered(ticket: TicketClosed) -> bool:
    """Whether the closure carries an answer the knowledge base learns from: a duplicate closed into another
    ticket (close_reason `merged`) answered nothing itself; the ticket it was merged into counts when it closes."""
    return ticket.close_reason != "merged"


def feeds(ticket: TicketClosed) -> ArticleType | None:
    """The article type a closed ticket that named no article grows a candidate of, or None."""
    if not answered(ticket) or ticket.knowledge_article_id:
        return None
    type = candidate_type(ticket.kind, ticket.cause)
    if type is None or not normalise(question_of(ticket)):  # a title of punctuation only asks nothing
        return None
    return type


def key_of(ticket: TicketClosed) -> str | None:
    """The id of the candidate a closed ticket starts when no similar one exists, or None when it feeds none."""
    type = feeds(ticket)
    if type is None:
        return None
    return candidate_id(ticket.product_code, type, normalise(question_of(ticket)))


def accepted_answer(ticket: TicketClosed) -> str:
    """The answer the candidate learns from the ticket. Until auto-close every close was a satisfied requester's;
    a ticket closed for want of feedback (`no_feedback`) still shows its question recurring, but nobody accepted
    its answer: it counts as an occurrence and its answer is not kept."""
    return ticket.answer if ticket.close_reason != "no_feedback" else ""


def seen_at(ticket: TicketClosed) -> datetime:
    return ticket.closed_at or ticket.resolved_at or ticket.opened_at


def _counted(entries: list[dict[str, Any]], field: str, value: str, limit: int) -> list[dict[str, Any]]:
    """`entries` ({field, count, normalised}) with one more `value`: an equal one (once normalised) counts up,
    a new one is added while there is room, and the list stays most frequent first (stable: first seen first)."""
    key = normalise(value)
    if not key:
        return entries
    for i, entry in enumerate(entries):
        if entry["normalised"] == key:
            bumped = [*entries[:i], {**entry, "count": entry["count"] + 1}, *entries[i + 1:]]
            return sorted(bumped, key=lambda e: -e["count"])
    if len(entries) >= limit:
        return entries
    return [*entries, {field: value, "normalised": key, "count": 1}]


def new_candidate(id: str, ticket: TicketClosed, type: ArticleType | str) -> dict[str, Any]:
    """A candidate with nothing counted yet (`grow` counts the ticket that starts it)."""
    question = question_of(ticket)
    seen = seen_at(ticket)
    return {
        "_id": id, "product_code": ticket.product_code, "type": ArticleType(type).value, "question": question,
        "normalised_question": normalise(question), "questions": [], "answers": [], "occurrences": 0,
        "ticket_ids": [], "first_seen": seen, "last_seen": seen, "state": OPEN, "version": 0,
    }


def grow(candidate: dict[str, Any] | None, ticket: TicketClosed) -> dict[str, Any] | None:
    """The candidate after counting `ticket`; None for a ticket that feeds no candidate. `candidate` None starts
    the one of the ticket's own question (`key_of`). Whether the ticket was counted already is the caller's
    business (events/handlers.py, kit/once.py). Keys this function does not know (bookkeeping) are kept."""
    if candidate is None:
        type = feeds(ticket)
        if type is None:
            return None
        candidate = new_candidate(candidate_id(ticket.product_code, type, normalise(question_of(ticket))), ticket,
                                  type)
    questions = _counted(candidate["questions"], "question", question_of(ticket), MAX_QUESTIONS)
    seen = seen_at(ticket)
    return {
        **candidate,
        # the most frequent phrasing names the candidate (the first one until another overtakes it)
        "question": questions[0]["question"] if questions else candidate["question"],
        "questions": questions,
        "signatures": [" ".join(sorted(signature(q["question"]))) for q in questions],
        "answers": _counted(candidate["answers"], "answer", accepted_answer(ticket), MAX_ANSWERS),
        "occurrences": candidate["occurrences"] + 1,
        "ticket_ids": [*candidate["ticket_ids"], ticket.ticket_id][-MAX_TICKET_IDS:],
        # Tickets may arrive out of order: the window is the earliest and latest close, not the arrival order.
        "first_seen": min(candidate["first_seen"], seen),
        "last_seen": max(candidate["last_seen"], seen),
        "version": candidate["version"] + 1,
    }


def phrasings(candidate: Mapping[str, Any]) -> list[frozenset[str]]:
    """The stored signatures of a candidate's phrasings (what `best_match` compares a new question with)."""
    return [frozenset(s.split()) for s in candidate.get("signatures") or ()]


def best_answer(candidate: Mapping[str, Any]) -> str | None:
    answers = candidate.get("answers") or []
    return answers[0]["answer"] if answers else None


class NotOpen(Exception):
    def __init__(self, state: str):
        super().__init__(f"the candidate is {state}")
        self.state = state


def decide(candidate: dict[str, Any], state: str, *, actor: str, at: datetime, month: str,
           **details: Any) -> dict[str, Any]:
    """The candidate promoted or dismissed (only an open one; later closes still count onto it, silently)."""
    if candidate["state"] != OPEN:
        raise NotOpen(candidate["state"])
    return {**candidate, "state": state, "decided_by": actor, "decided_at": at, "decided_month": month,
            state: details, "version": candidate["version"] + 1}
