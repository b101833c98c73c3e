"""Relevance of the knowledge search over the labelled questions: MRR@10 and recall@3, in-process (pure engine).

MRR@10: the mean over questions of 1/rank of the first relevant article within the first 10 (0 if none).
recall@3: the mean over questions of the share of its relevant articles found in the first 3 (capped at the
three a screen shows: a question with four relevant articles scores 1 when three of them fill the top 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.knowledge.domain.search import Analyzer, Doc, SearchIndex, Synonyms, parse_query
from services.knowledge.domain.synonyms import DEFAULT_GROUPS
from tests.knowledge.relevance.corpus import ARTICLES
from tests.knowledge.relevance.questions import HELD_OUT, QUESTIONS


@dataclass
class Result:
    mrr_at_10: float
    recall_at_3: float
    misses: list[tuple[str, list[str], set[str]]]  # question, top 3 ids, relevant ids (first relevant beyond 3)


def build(synonyms: Synonyms) -> SearchIndex:
    analyzer = Analyzer(synonyms.words)
    return SearchIndex(analyzer).build(
        Doc(a["id"], a["title"], a["body"], tuple(a["tags"]),
            {"type": a["type"], "product_code": a["product_code"], "state": a["state"], "audience": a["audience"]})
        for a in ARTICLES)


def evaluate(groups=DEFAULT_GROUPS, questions=QUESTIONS) -> Result:
    synonyms = Synonyms.of(groups)
    index = build(synonyms)
    rr, recall, misses = [], [], []
    for text, product, relevant in questions:
        def accept(doc, product=product):
            return doc.attrs["state"] == "published" and (product is None or doc.attrs["product_code"] == product)

        hits, _ = index.search(parse_query(text, index.analyzer, synonyms), accept=accept, limit=10,
                               snippets=False)
        ids = [h.id for h in hits]
        rank = next((i + 1 for i, id in enumerate(ids) if id in relevant), None)
        rr.append(1 / rank if rank else 0.0)
        recall.append(len(relevant & set(ids[:3])) / min(3, len(relevant)))
        if rank is None or rank > 3 or recall[-1] < 1:
            misses.append((text, ids[:3], relevant))
    return Result(sum(rr) / len(rr), sum(recall) / len(recall), misses)
