"""The monthly FAQ of a product (客服分析 / 投诉分析, issue 9 point 5): its most frequent questions of the month with
their best answers, the misunderstanding-driven complaints (理解偏差) first, for the account managers who explain
the product to their customers. Built from the month's `closures` records (one per closed ticket that fed
knowledge) and the candidates and articles they were counted on; rendered as Markdown or DOCX (python-docx).

Two FAQs of one month: the centre's staff get the working one, candidates' unreviewed answers included (what the
product manager reviews before publishing it); the account managers, who take it to their customers, get the
reviewed one, built from published articles they may read only (`monthly(reviewed=...)`).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.knowledge.domain import candidates as candidate_rules

MISUNDERSTANDING = "usage_misunderstanding"


def _most_common(values: Iterable[str]) -> str | None:
    counted = Counter(v for v in values if v and v.strip())
    return counted.most_common(1)[0][0] if counted else None  # ties: the first seen (Counter keeps insertion order)


def monthly(product_code: str, month: str, closures: list[Mapping[str, Any]],
            candidates: Mapping[str, Mapping[str, Any]], articles: Mapping[str, Mapping[str, Any]],
            *, limit: int = 20, reviewed: Callable[[Mapping[str, Any]], bool] | None = None) -> dict[str, Any]:
    """The FAQ: entries grouped by what they were counted on (a candidate, or the article a ticket named), a
    dismissed candidate's left out (its product manager judged it no FAQ material). An entry's question is the
    month's most frequent phrasing (an article's title), its answer the month's most frequent accepted answer,
    else the candidate's best one (an article's body).

    With `reviewed` (whether the reader may take an article as a reviewed answer: published, and readable by
    them), the FAQ holds reviewed content only, for readers outside the centre's staff (the account managers):
    each entry is an article `reviewed` admits, with its title and body; a candidate's closes count on the
    article it was promoted to, if that one is admitted; every other close (a candidate not promoted, an article
    not published or not for them) is left out, its question and answer unshown, and only counted in
    `unreviewed_closes`."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    unreviewed = 0
    for closure in closures:
        key = closure.get("candidate_id") or closure.get("article_id")
        if key is None:
            continue
        candidate = candidates.get(key) if closure.get("candidate_id") else None
        if candidate is not None and candidate.get("state") == candidate_rules.DISMISSED:
            continue
        if reviewed is not None:
            if closure.get("candidate_id"):
                key = ((candidate or {}).get(candidate_rules.PROMOTED) or {}).get("article_id")
            if key is None or key not in articles or not reviewed(articles[key]):
                unreviewed += 1
                continue
            closure = {**closure, "article_id": key, "candidate_id": None}
        groups.setdefault(key, []).append(closure)
    entries = []
    for key, members in groups.items():
        article = articles.get(key) if members[0].get("article_id") else None
        candidate = candidates.get(key) or {}
        if article is not None:
            question, answer = article["title"], article["body"]
        else:
            question = _most_common(m.get("question") for m in members) or candidate.get("question") or ""
            answer = _most_common(m.get("answer") for m in members) or candidate_rules.best_answer(candidate) or ""
        misunderstood = sum(1 for m in members if m.get("kind") == "complaint" and m.get("cause") == MISUNDERSTANDING)
        entries.append({
            "question": question, "answer": answer, "count": len(members), "misunderstanding_complaints": misunderstood,
            "candidate_id": None if article is not None else key, "article_id": key if article is not None else None,
            "type": (article or candidate).get("type") or members[0].get("type"),
            "cities": sorted({m["city"] for m in members if m.get("city")}),
        })
    entries.sort(key=lambda e: (-e["misunderstanding_complaints"], -e["count"], e["question"]))
    first = [e for e in entries if e["misunderstanding_complaints"]]
    rest = sorted((e for e in entries if not e["misunderstanding_complaints"]), key=lambda e: (-e["count"],
                                                                                                e["question"]))
    return {"product_code": product_code, "month": month, "closes": sum(e["count"] for e in entries),
            "reviewed_only": reviewed is not None, "unreviewed_closes": unreviewed,
            "misunderstandings": first[:limit], "questions": rest[:max(0, limit - len(first[:limit]))]}


def _preamble(faq: Mapping[str, Any]) -> str:
    if not faq.get("reviewed_only"):
        return f"本月共 {faq['closes']} 张已关闭工单涉及以下问题（由知识库按月自动整理，发布前请产品经理审核）。"
    text = f"本月共 {faq['closes']} 张已关闭工单涉及以下问题，答复均来自已发布的知识。"
    if faq.get("unreviewed_closes"):
        text += f"另有 {faq['unreviewed_closes']} 张工单的问题尚无审核过的答复，未列入。"
    return text


def title(faq: Mapping[str, Any]) -> str:
    year, month = faq["month"].split("-")
    return f"{faq['product_code']} {year}年{int(month)}月常见问题 (FAQ)"


def markdown(faq: Mapping[str, Any]) -> str:
    lines = [f"# {title(faq)}", "", _preamble(faq), ""]
    number = 0
    for heading, entries in (("一、理解偏差类投诉（供客户经理向客户解释）", faq["misunderstandings"]),
                             ("二、常见问题", faq["questions"])):
        if not entries:
            continue
        lines += [f"## {heading}", ""]
        for entry in entries:
            number += 1
            tally = f"本月 {entry['count']} 次"
            if entry["misunderstanding_complaints"]:
                tally += f"，其中理解偏差投诉 {entry['misunderstanding_complaints']} 次"
            lines += [f"### {number}. {entry['question']}", "", f"**答：** {entry['answer'] or '（暂无被认可的答复）'}",
                      "", f"*{tally}*", ""]
    if number == 0:
        lines += ["本月没有可整理的问题。", ""]
    return "\n".join(lines)


def docx(faq: Mapping[str, Any]) -> bytes:
    from docx import Document  # python-docx, loaded only when a Word file is asked for

    document = Document()
    document.add_heading(title(faq), level=0)
    document.add_paragraph(_preamble(faq))
    number = 0
    for heading, entries in (("一、理解偏差类投诉（供客户经理向客户解释）", faq["misunderstandings"]),
                             ("二、常见问题", faq["questions"])):
        if not entries:
            continue
        document.add_heading(heading, level=1)
        for entry in entries:
            number += 1
            document.add_heading(f"{number}. {entry['question']}", level=2)
            answer = document.add_paragraph()
            answer.add_run("答：").bold = True
            answer.add_run(entry["answer"] or "（暂无被认可的答复）")
            tally = f"本月 {entry['count']} 次"
            if entry["misunderstanding_complaints"]:
                tally += f"，其中理解偏差投诉 {entry['misunderstanding_complaints']} 次"
            document.add_paragraph().add_run(tally).italic = True
    if number == 0:
        document.add_paragraph("本月没有可整理的问题。")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
