"""Possible duplicates at intake (重复工单): open tickets of the same customer group and product whose text is like
the new one's. Pure: the words come from services/kit/text.py, the candidates from store/duplicates.py.

Similarity is the Jaccard index of the two tickets' word sets — the share of their distinct words that both
have — over the words of title and description as the search index holds them (jieba's search mode, stop words
dropped), without the words of the customer group's name, which every candidate shares by construction. With
the default threshold 0.5: the same fault told twice (移动办公无法登录 / 客户反映移动办公登录失败，提示密码错误 and
移动办公登录不上 / 客户说移动办公登录失败，一直提示密码错误) scores 0.64; another question on the same product
(考勤打卡定位不准) 0.14; a neighbouring one (如何修改移动办公的登录密码) 0.43.

Candidates are found without a scan: every ticket stores a key of its product and customer group (`group_key`)
beside its sort key, with an index on both, so the group's newest open tickets of the last two weeks are one
index range read newest first, at most `duplicate_candidates` of them, whatever the group's size. Their words are
those the search index holds (`search_text`, segmented as the search segments). Why not a text query: the local
store ANDs the words of a text query and has no OR (services/kit/store.py), so "any of the new ticket's words"
would be one query per word; a text query for a key word marked with the week (tried first) costs what all the
group's tickets of the week cost, since the text index scores every match before it sorts and limits (5.6 ms of
nx-27017's CPU for a group with 200 tickets that week, and far more for the single group of a load test).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.kit import text


def group_of(group_name: str, group_code: str | None) -> str:
    """Which customer group a ticket is of: its group code (集团编号) when given, else its name as written."""
    return f"code:{group_code.strip().lower()}" if group_code and group_code.strip() else \
        f"name:{text.normalise(group_name).strip()}"


def group_key(product_code: str, group: str) -> str:
    """The stored key of a ticket's product and customer group (`dup_key`), which an index of its own keeps in
    opening order: a hash, so it is short and the same on both stores whatever the group's name holds."""
    return "dup" + hashlib.blake2b(f"{product_code}\x1f{group}".encode(), digest_size=10).hexdigest()


def significant_words(title: str, description: str, group_name: str) -> list[str]:
    """The words a ticket is compared by: those of its title and description, less those of its group's name."""
    group_words = set(text.index_words(group_name))
    return [word for word in text.index_words(title, description) if word not in group_words]


def stored_words(search_text: str, group_name: str) -> list[str]:
    """`significant_words` of a stored ticket, read back from its indexed words (store/listing.search_text), which
    also hold its group's and its period-marked words."""
    group_words = set(text.index_words(group_name))
    return [word for word in search_text.split() if text.PERIOD_MARK not in word and word not in group_words]


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard index of the two word sets: |a ∩ b| / |a ∪ b|, 0 for two empty sets."""
    first, second = set(a), set(b)
    union = first | second
    return len(first & second) / len(union) if union else 0.0


@dataclass(frozen=True)
class PossibleDuplicate:
    ticket_id: str
    title: str
    status: str
    opened_at: datetime
    similarity: float
    shared_words: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    ticket_id: str
    title: str
    status: str
    opened_at: datetime
    words: Sequence[str]


def rank(words: Sequence[str], candidates: Iterable[Candidate], *, threshold: float,
         limit: int) -> list[PossibleDuplicate]:
    """The candidates at least `threshold` similar to `words`, most similar first (then newest), at most `limit`;
    shared words in the new ticket's order."""
    found = []
    for candidate in candidates:
        score = similarity(words, candidate.words)
        if score >= threshold:
            theirs = set(candidate.words)
            found.append(PossibleDuplicate(candidate.ticket_id, candidate.title, candidate.status,
                                           candidate.opened_at, round(score, 3),
                                           tuple(word for word in words if word in theirs)))
    found.sort(key=lambda d: (-d.similarity, -d.opened_at.timestamp()))
    return found[:limit]
