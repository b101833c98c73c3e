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
import heapq
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.vocabulary import TicketStatus
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


OPEN_STATUSES = frozenset(s.value for s in TicketStatus if s not in (TicketStatus.resolved, TicketStatus.closed))


@dataclass(slots=True)
class Recent:
    """What the index holds of one ticket: enough to rank it, not to show it (the answer reads the store)."""

    ticket_id: str
    key: str | None  # None: only a status change was heard of, before the opening itself (events may cross)
    opened_at: datetime
    status: str
    sequence: int
    words: tuple[str, ...]  # distinct, each the one shared copy of the word (see RecentTickets.opened)


class RecentTickets:
    """The tickets opened in the last `window`, by product and customer group key, in memory: the intake ranks
    its possible duplicates from here instead of asking the store each time (issue 8's intake budget).

    It holds every ticket opened after `complete_since` (None until the first load), so for a key it answers
    from memory when the window lies inside that span, and also when it holds at least `wanted` open tickets of
    the key newer than `complete_since` (the newest are all it would show). Otherwise `candidates` answers None
    and the caller asks the store. Beyond `max_tickets` the oldest are dropped and `complete_since` moves past
    them: memory stays bounded and the answer stays right, only slower.

    Each ticket carries its `sequence` (the ticket's version): an older state than the one held changes nothing,
    so the order in which the load and events arrive does not matter.
    """

    def __init__(self, window: timedelta, max_tickets: int):
        self.window, self.max_tickets = window, max_tickets
        self.complete_since: datetime | None = None
        self._by_id: dict[str, Recent] = {}
        self._by_key: dict[str, dict[str, Recent]] = {}
        self._by_age: list[tuple[datetime, str]] = []  # a heap: the oldest opening first

    def __len__(self) -> int:
        return len(self._by_id)

    def holds_opening(self, ticket_id: str) -> bool:
        held = self._by_id.get(ticket_id)
        return held is not None and held.key is not None

    def loaded(self, since: datetime) -> None:
        """Every ticket opened after `since` has been added (a load from the store, with events running)."""
        self.complete_since = since if self.complete_since is None else min(self.complete_since, since)

    def opened(self, ticket_id: str, key: str, opened_at: datetime, status: str, sequence: int,
               words: Iterable[str]) -> None:
        held = self._by_id.get(ticket_id)
        if held is not None and held.key is not None:
            if sequence > held.sequence:
                held.status, held.sequence = sys.intern(status), sequence
            return
        if held is not None and held.sequence > sequence:  # a later status arrived first: it stands
            status, sequence = held.status, held.sequence
        # A tuple of interned words rather than a frozenset of the ticket's own strings: the tickets of two weeks
        # share a small vocabulary, and a set's hash table is five times the size of a tuple of its words. Kept
        # as sets, a ticket took 3.4 KB (~160 MiB at the default 50,000 tickets, beyond the 150 MiB a process
        # may use); as tuples of shared words, see test_duplicates.py's bound. Only the ≤ `candidates` tickets of
        # one key are compared at an intake, so making their sets then costs little.
        key = sys.intern(key)
        recent = Recent(ticket_id, key, opened_at, sys.intern(status), sequence,
                        tuple(dict.fromkeys(sys.intern(word) for word in words)))
        self._by_id[ticket_id] = recent
        self._by_key.setdefault(key, {})[ticket_id] = recent
        heapq.heappush(self._by_age, (opened_at, ticket_id))
        self._bound()

    def status_changed(self, ticket_id: str, status: str, sequence: int, opened_at: datetime) -> None:
        held = self._by_id.get(ticket_id)
        if held is None:
            if self.complete_since is not None and opened_at > self.complete_since:
                # its opening is still on the way: remember the later status so that the opening does not undo it
                self._by_id[ticket_id] = Recent(ticket_id, None, opened_at, status, sequence, ())
                heapq.heappush(self._by_age, (opened_at, ticket_id))
                self._bound()
            return
        if sequence > held.sequence:
            held.status, held.sequence = sys.intern(status), sequence

    def candidates(self, key: str, now: datetime, wanted: int) -> list[Recent] | None:
        """The key's open tickets of the window, newest first, at most `wanted`; None when memory cannot say."""
        if self.complete_since is None:
            return None
        self._expire(now)
        since = now - self.window
        held = sorted((r for r in self._by_key.get(key, {}).values()
                       if r.opened_at > since and r.status in OPEN_STATUSES),
                      key=lambda r: r.opened_at, reverse=True)
        if self.complete_since <= since:
            return held[:wanted]
        known = [r for r in held if r.opened_at > self.complete_since]
        return known[:wanted] if len(known) >= wanted else None

    def _expire(self, now: datetime) -> None:
        since = now - self.window
        while self._by_age and self._by_age[0][0] <= since:
            self._drop(heapq.heappop(self._by_age)[1])

    def _bound(self) -> None:
        while len(self._by_id) > self.max_tickets:
            opened_at, ticket_id = heapq.heappop(self._by_age)
            self._drop(ticket_id)
            self.complete_since = opened_at if self.complete_since is None else max(self.complete_since, opened_at)

    def _drop(self, ticket_id: str) -> None:
        recent = self._by_id.pop(ticket_id, None)
        if recent is not None and recent.key is not None:
            group = self._by_key.get(recent.key)
            if group is not None:
                group.pop(ticket_id, None)
                if not group:
                    del self._by_key[recent.key]
