"""Ranked Chinese search over knowledge articles and candidates: analysis, an inverted index, BM25F, snippets.

Pure: no store, no broker, no clock. The service keeps one `SearchIndex` of articles and one of candidates per
API replica (services/knowledge/store/search_index.py feeds them from the store); the relevance and speed
benchmarks and tests drive the same code in-process.

Analysis. Texts and queries go through the same steps: NFKC + lower case (kit/text.normalise), jieba's search
mode (rjieba, the jieba-rs binding the project already segments with: same dictionary and algorithm as `jieba`,
~25× faster, kit/text.py) with a dictionary of its own — kit's DOMAIN_WORDS, the telecom terms below, the
catalog's product names and every synonym — then stop words out (kit/text.searchable), and for queries the
colloquial filler words below (咋办, 啥, 一直, …). The dictionary belongs to the `Analyzer` instance, not to the
process-wide segmenter that ticketing's search shares, so a product name or an admin's synonym changes only this
index (and a removed synonym goes away with the next analyzer).

Query syntax: free text; every word is optional and ranked (no AND), `-词` leaves out documents containing 词
(as written, after width and case folding). Each query word that belongs to a synonym group (kept as data,
`GET/PUT /v1/synonyms`) is one slot whose alternatives are the whole group; a document scores a slot by its best
alternative, synonyms at `SYNONYM_WEIGHT` of the word itself, so 登不上 finds 无法登录 but an article that says
登不上 still comes first.

Ranking: BM25F (Robertson & Zaragoza 2009) with per-field weights and length normalisation — title 3, tags 2,
body 1 — combined before saturation (k1 = 1.2), so a word twice in the title does not count as two documents'
worth. Per posting the index keeps the saturated weight quantised to 1/255 (a small int that CPython shares): a
query adds `idf × weight` over the postings of its words with no per-document arithmetic, ~40 bytes a posting.
Length normalisation uses the average field lengths frozen at the last (re)build; when they drift by more than
`REWEIGH_DRIFT` the weights are recomputed.

Snippets: the passage (run of sentences up to `SNIPPET_WIDTH` characters) of the body with the most weight of
matched words, with `highlights` as [start, end) character offsets into the returned snippet text (and
`title_highlights` into the title). Offsets, not `<em>` markup: the text stays plain, so a client escapes it
once and cannot be tricked by an article that contains markup.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import rjieba

from services.kit.text import DOMAIN_WORDS, normalise, searchable

# Telecom and service words requesters and articles use, so the segmenter keeps them whole (the first line is the
# issue's list; many are in jieba's general dictionary already, adding them again does no harm).
TELECOM_TERMS: tuple[str, ...] = (
    "资费", "流量", "套餐", "集团通讯录", "移动办公", "外勤通", "补卡", "彩铃", "专线", "短信", "验证码",
    "月租", "包月", "功能费", "话费", "欠费", "停机", "复机", "开户", "销户", "过户", "退订", "订购", "开通", "续费",
    "扣费", "退费", "账单", "发票", "流量包", "定向流量", "视频彩铃", "集团彩铃", "宽带", "互联网专线", "短信验证码",
    "实名认证", "重置密码", "管理后台", "管理员", "客户端", "通讯录", "打卡", "考勤", "审批", "定位", "签到", "轨迹",
    "导入", "导出", "模板", "同步", "闪退", "白屏", "卡顿", "黑屏", "转圈", "异常", "报错", "登不上", "登录不了",
    "无法登录", "登录失败", "打不开", "收不到", "导不进", "多少钱", "收费标准", "免费试用", "试用期", "集团客户",
    "客户经理", "工号", "手机号", "副卡", "主卡", "携号转网", "漫游",
)

# Words of spoken questions that carry no subject (咋办 "what now", 一直 "keeps on"): dropped from queries only.
QUERY_FILLERS: frozenset[str] = frozenset((
    "咋 咋办 咋整 咋弄 咋回事 啥 为啥 干啥 怎么弄 怎么搞 怎么回事 是不是 能不能 可不可以 可以 一下 老是 总是 一直 "
    "就是 还是 现在 今天 昨天 突然 帮忙 麻烦 问下 问问 想问 知道 需要 要 想 去 来 上 下 里 会 能 说 看 了 不 没 没有 "
    "得 地 呢 呀 啦 哈 嗯 喂 你好 您好 好的 一直 老 又 再 还 这边 那边 客户 用户 我的 他的 我们 他们 它们 一个 每个"
).split())

FIELDS = ("title", "tags", "body")
FIELD_WEIGHTS = {"title": 3.0, "tags": 2.0, "body": 1.0}
FIELD_B = {"title": 0.5, "tags": 0.3, "body": 0.75}   # length normalisation per field (0: none, 1: full)
K1 = 1.2
SYNONYM_WEIGHT = 0.85
QUANTUM = 255          # saturated weights in (0, 1] kept as ints 1..255
REWEIGH_DRIFT = 0.25   # recompute the weights when an average field length moved this much since the last build
SNIPPET_WIDTH = 120
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
_EXCLUDED = re.compile(r"(?:^|\s)-(\S+)")


# --- analysis ---------------------------------------------------------------------------------------------


class Analyzer:
    """jieba's search mode with a dictionary of its own: kit's domain words, TELECOM_TERMS and `words` (the
    catalog's product names, every synonym). Immutable: a new word list is a new analyzer (and a rebuild)."""

    def __init__(self, words: Iterable[str] = ()):
        self.words = frozenset(w for w in (normalise(x).strip() for x in (*DOMAIN_WORDS, *TELECOM_TERMS, *words))
                               if w)
        self._jieba: rjieba.Jieba | None = None

    @property
    def segmenter(self) -> rjieba.Jieba:
        """Made on first use: each instance holds a copy of jieba's dictionary (~24 MB), and the analyzers a
        replica makes as placeholders before its first load never segment anything."""
        if self._jieba is None:
            jieba = rjieba.Jieba()
            for word in sorted(self.words):
                jieba.add_word(word, 2000, None)  # as kit/text.py: beats the general dictionary's split
            self._jieba = jieba
        return self._jieba

    def tokens(self, text: str | None) -> list[str]:
        """Every word of `text` with repetitions (search mode: 集团通讯录 also yields 集团, 通讯, 通讯录)."""
        if not text:
            return []
        return list(searchable(self.segmenter.cut_for_search(normalise(text))))

    def query_tokens(self, text: str) -> list[str]:
        seen: dict[str, None] = {}
        for token in self.tokens(text):
            if token not in QUERY_FILLERS:
                seen.setdefault(token)
        return list(seen)


@dataclass(frozen=True)
class Synonyms:
    """Groups of words that mean the same to a requester ([资费, 收费, 多少钱, 价格]); a word in one group only."""

    groups: tuple[tuple[str, ...], ...] = ()
    _group_of: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for index, group in enumerate(self.groups):
            for word in group:
                self._group_of.setdefault(normalise(word).strip(), index)

    @classmethod
    def of(cls, groups: Iterable[Iterable[str]]) -> Synonyms:
        return cls(tuple(tuple(g) for g in groups))

    def group(self, word: str) -> int | None:
        return self._group_of.get(word)

    def members(self, index: int) -> list[str]:
        return [normalise(w).strip() for w in self.groups[index]]

    @property
    def words(self) -> list[str]:
        return list(self._group_of)


@dataclass(frozen=True)
class Slot:
    """One thing the query asks for: a word, or a synonym group, each alternative with its weight."""

    word: str
    alternatives: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Query:
    text: str
    slots: tuple[Slot, ...]
    excluded: tuple[str, ...] = ()

    @property
    def words(self) -> list[str]:
        return [s.word for s in self.slots]

    @property
    def expanded(self) -> dict[str, list[str]]:
        """The synonyms each word brought in (only words that brought some)."""
        return {s.word: [a for a, _ in s.alternatives if a != s.word] for s in self.slots if len(s.alternatives) > 1}


def parse_query(text: str, analyzer: Analyzer, synonyms: Synonyms | None = None) -> Query:
    excluded = tuple(dict.fromkeys(normalise(m) for m in _EXCLUDED.findall(text)))
    rest = _EXCLUDED.sub(" ", text)
    slots: dict[Any, Slot] = {}
    for token in analyzer.query_tokens(rest):
        group = synonyms.group(token) if synonyms else None
        if group is None:
            slots.setdefault(token, Slot(token, ((token, 1.0),)))
        elif ("group", group) not in slots:
            alternatives = [(token, 1.0)] + [(w, SYNONYM_WEIGHT) for w in synonyms.members(group) if w != token]
            slots[("group", group)] = Slot(token, tuple(alternatives))
    return Query(text, tuple(slots.values()), excluded)


# --- the index --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """What a document is found by (title, tags, body) and filtered on (`attrs`: type, product_code, state…)."""

    id: str
    title: str
    body: str = ""
    tags: tuple[str, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Hit:
    id: str
    score: float
    doc: Doc
    snippet: str = ""
    highlights: list[list[int]] = field(default_factory=list)
    title_highlights: list[list[int]] = field(default_factory=list)


class SearchIndex:
    """An inverted index with BM25F weights. `upsert`/`remove` keep it current one document at a time; `build`
    loads many at once (one pass for the average lengths, one for the weights).

    Postings are kept twice: a dict per word (slot → weight), which updates cheaply, and, made when a query
    first needs them after a change, two numpy arrays per word (slots, weights), so a query adds a word's
    postings to a score vector in one vectorised step instead of a Python loop over thousands of documents.
    The attributes in `FILTERED` (state, audience, type, product) are kept as integer codes in arrays too, so
    that filtering is a vectorised mask over the matched documents."""

    FILTERED = ("state", "audience", "type", "product_code")

    def __init__(self, analyzer: Analyzer | None = None, *, weights: Mapping[str, float] | None = None):
        self.analyzer = analyzer or Analyzer()
        self.weights = {**FIELD_WEIGHTS, **(weights or {})}
        self._slot_of: dict[str, int] = {}
        self._docs: list[Doc | None] = []
        self._lengths: list[tuple[int, int, int]] = []
        self._free: list[int] = []
        self._postings: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._codes: dict[str, np.ndarray] = {name: np.zeros(0, dtype=np.int32) for name in self.FILTERED}
        self._code_of: dict[str, dict[Any, int]] = {name: {} for name in self.FILTERED}
        self._totals = [0, 0, 0]
        self._avg = (1.0, 1.0, 1.0)

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._slot_of

    def get(self, doc_id: str) -> Doc | None:
        slot = self._slot_of.get(doc_id)
        return None if slot is None else self._docs[slot]

    # --- writing ---

    def _analyse(self, doc: Doc) -> tuple[Counter, Counter, Counter]:
        tags: list[str] = []
        for tag in doc.tags:
            tags += self.analyzer.tokens(tag)
        return Counter(self.analyzer.tokens(doc.title)), Counter(tags), Counter(self.analyzer.tokens(doc.body))

    def _grow(self, size: int) -> None:
        if size <= len(self._alive):
            return
        capacity = max(size, 2 * len(self._alive), 64)
        alive = np.zeros(capacity, dtype=bool)
        alive[:len(self._alive)] = self._alive
        self._alive = alive
        for name, codes in self._codes.items():
            grown = np.zeros(capacity, dtype=np.int32)
            grown[:len(codes)] = codes
            self._codes[name] = grown

    def _code(self, name: str, value: Any) -> int:
        codes = self._code_of[name]
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes) + 1  # 0: no document
        return code

    def _insert(self, doc: Doc, fields: tuple[Counter, Counter, Counter]) -> None:
        lengths = tuple(sum(c.values()) for c in fields)
        slot = self._free.pop() if self._free else len(self._docs)
        if slot == len(self._docs):
            self._docs.append(doc)
            self._lengths.append(lengths)
        else:
            self._docs[slot], self._lengths[slot] = doc, lengths
        self._grow(slot + 1)
        self._alive[slot] = True
        for name in self.FILTERED:
            self._codes[name][slot] = self._code(name, doc.attrs.get(name))
        self._slot_of[doc.id] = slot
        pseudo: dict[str, float] = {}
        for i, name in enumerate(FIELDS):
            self._totals[i] += lengths[i]
            if not fields[i]:
                continue
            b = FIELD_B[name]
            norm = self.weights.get(name, 0.0) / (1 - b + b * lengths[i] / self._avg[i])
            if not norm:
                continue
            get = pseudo.get
            for term, tf in fields[i].items():
                pseudo[term] = get(term, 0.0) + tf * norm
        postings, arrays = self._postings, self._arrays
        for term, value in pseudo.items():
            postings.setdefault(term, {})[slot] = max(1, int(QUANTUM * value / (K1 + value) + 0.5))
            arrays.pop(term, None)

    def _delete(self, doc_id: str) -> None:
        slot = self._slot_of.pop(doc_id, None)
        if slot is None:
            return
        doc = self._docs[slot]
        for term in set().union(*self._analyse(doc)):
            postings = self._postings.get(term)
            if postings is not None:
                postings.pop(slot, None)
                self._arrays.pop(term, None)
                if not postings:
                    del self._postings[term]
        for i in range(3):
            self._totals[i] -= self._lengths[slot][i]
        self._docs[slot] = None
        self._alive[slot] = False
        self._free.append(slot)

    def upsert(self, doc: Doc) -> None:
        self._delete(doc.id)
        self._insert(doc, self._analyse(doc))
        if self._drifted():
            self.build(list(self.documents()))

    def remove(self, doc_id: str) -> None:
        self._delete(doc_id)

    def build(self, docs: Iterable[Doc]) -> SearchIndex:
        """Replace the contents with `docs` (the last of two with one id wins)."""
        unique = {d.id: d for d in docs}
        analysed = [(d, self._analyse(d)) for d in unique.values()]
        self.__init__(self.analyzer, weights=self.weights)
        self._grow(len(analysed))
        if analysed:
            sums = [0, 0, 0]
            for _, fields in analysed:
                for i in range(3):
                    sums[i] += sum(fields[i].values())
            self._avg = tuple(max(1.0, s / len(analysed)) for s in sums)
        for doc, fields in analysed:
            self._insert(doc, fields)
        return self

    def _drifted(self) -> bool:
        n = len(self._slot_of)
        if n < 8:  # tiny: recompute at every change, it costs nothing
            return n > 0
        return any(abs(max(1.0, total / n) - avg) > REWEIGH_DRIFT * avg for total, avg in zip(self._totals, self._avg))

    def documents(self) -> Iterable[Doc]:
        return (d for d in self._docs if d is not None)

    # --- reading ---

    def idf(self, term: str) -> float:
        df = len(self._postings.get(term, ()))
        n = len(self._slot_of)
        return math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else 0.0

    def _array(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        arrays = self._arrays.get(term)
        if arrays is None:
            postings = self._postings.get(term)
            if not postings:
                return None
            arrays = self._arrays[term] = (np.fromiter(postings.keys(), dtype=np.int64, count=len(postings)),
                                           np.fromiter(postings.values(), dtype=np.float32, count=len(postings)))
        return arrays

    def search(self, query: Query, *, where: Mapping[str, Iterable[Any]] | None = None,
               accept: Callable[[Doc], bool] | None = None, limit: int = 10, offset: int = 0,
               snippets: bool = True) -> tuple[list[Hit], int]:
        """The best `limit` documents after `offset`, and how many matched in all. `where` keeps the documents
        whose attribute (one of FILTERED) has one of the given values; `accept` is any further test, run on the
        matched documents only."""
        size = len(self._docs)
        scores = np.zeros(size, dtype=np.float32)
        for slot in query.slots:
            if len(slot.alternatives) == 1:
                arrays = self._array(slot.word)
                if arrays is not None:
                    scores[arrays[0]] += arrays[1] * np.float32(self.idf(slot.word) / QUANTUM)
                continue
            best = np.zeros(size, dtype=np.float32)
            for term, weight in slot.alternatives:
                arrays = self._array(term)
                if arrays is not None:
                    idx, w = arrays
                    best[idx] = np.maximum(best[idx], w * np.float32(weight * self.idf(term) / QUANTUM))
            scores += best
        mask = scores > 0
        mask &= self._alive[:size]
        for name, values in (where or {}).items():
            allowed = np.zeros(len(self._code_of[name]) + 1, dtype=bool)  # code → allowed: one gather, no sort
            allowed[[self._code_of[name][v] for v in values if v in self._code_of[name]]] = True
            mask &= allowed[self._codes[name][:size]]
        matched = np.flatnonzero(mask)
        docs = self._docs
        if accept is not None or query.excluded:
            excluded = query.excluded
            matched = np.array([s for s in matched.tolist()
                                if (accept is None or accept(docs[s]))
                                and not (excluded and _contains_any(docs[s], excluded))], dtype=np.int64)
        total = len(matched)
        wanted = min(total, offset + limit)
        if wanted == 0:
            return [], total
        values = scores[matched]
        if wanted < total:
            part = np.argpartition(-values, wanted - 1)[:wanted]
            matched, values = matched[part], values[part]
        top = sorted(zip(matched.tolist(), values.tolist()), key=lambda item: (-item[1], docs[item[0]].id))
        hits = [Hit(docs[s].id, round(score, 4), docs[s]) for s, score in top[offset:wanted]]
        if snippets:
            for hit in hits:
                self.highlight(hit, query)
        return hits, total

    def highlight(self, hit: Hit, query: Query) -> None:
        slot = self._slot_of.get(hit.doc.id)
        terms: dict[str, float] = {}
        for s in query.slots:
            for term, weight in s.alternatives:
                if slot in self._postings.get(term, ()):
                    terms[term] = max(terms.get(term, 0.0), weight * self.idf(term))
        hit.snippet, hit.highlights = snippet(hit.doc.body, terms)
        hit.title_highlights = spans(hit.doc.title, terms)


def _contains_any(doc: Doc, words: Sequence[str]) -> bool:
    text = normalise(" ".join((doc.title, doc.body, *doc.tags)))
    return any(w in text for w in words)


# --- snippets -----------------------------------------------------------------------------------------------


def _normalised_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalise(text)` and, for each of its characters, the offset of the character of `text` it came from."""
    folded = normalise(text)
    if len(folded) == len(text):
        return folded, list(range(len(text)))
    out, origin = [], []
    for i, ch in enumerate(text):
        piece = normalise(ch)
        out.append(piece)
        origin += [i] * len(piece)
    return "".join(out), origin


def _marks(folded: str, terms: Mapping[str, float]) -> list[tuple[int, int]]:
    """[start, end) runs of `folded` covered by an occurrence of a term; one-character terms only when no longer
    term occurs (a lone 钱 or 月 would light up half a text)."""
    longer = [t for t in terms if len(t) > 1 and t in folded]
    chosen = longer or [t for t in terms if t in folded]
    covered = [False] * len(folded)
    for term in chosen:
        start = folded.find(term)
        while start >= 0:
            for i in range(start, start + len(term)):
                covered[i] = True
            start = folded.find(term, start + 1)
    runs, start = [], None
    for i, on in enumerate([*covered, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i))
            start = None
    return runs


def spans(text: str, terms: Mapping[str, float]) -> list[list[int]]:
    """Where the terms occur in `text`, as [start, end) offsets of `text` itself."""
    if not text or not terms:
        return []
    folded, origin = _normalised_with_offsets(text)
    return [[origin[a], origin[b - 1] + 1] for a, b in _marks(folded, terms)]


def snippet(text: str, terms: Mapping[str, float], width: int = SNIPPET_WIDTH) -> tuple[str, list[list[int]]]:
    """The passage of `text` (whole sentences up to `width` characters, cut to `width` around its first match
    when one sentence is longer) holding the most weight of `terms`, and the highlighted spans in it."""
    if not text:
        return "", []
    folded, origin = _normalised_with_offsets(text)
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(folded):
        bounds.append((start, m.end()))
        start = m.end()
    if start < len(folded):
        bounds.append((start, len(folded)))
    best, best_score = (0, min(len(folded), width)), -1.0
    for i in range(len(bounds)):
        a, b = bounds[i][0], bounds[i][1]
        j = i
        while j + 1 < len(bounds) and bounds[j + 1][1] - a <= width:
            j += 1
            b = bounds[j][1]
        window = folded[a:b]
        score = sum(weight for term, weight in terms.items() if term in window)
        if score > best_score + 1e-9:
            best, best_score = (a, b), score
    a, b = best
    if b - a > width:
        first = min((p for p in (folded.find(t, a, b) for t in terms) if p >= 0), default=a)
        a = max(a, min(first - width // 4, b - width))
        b = a + width
    a, b = origin[a] if a < len(origin) else len(text), (origin[b - 1] + 1) if b > 0 else 0
    passage = text[a:b].strip()
    lead = len(text[a:b]) - len(text[a:b].lstrip())
    a += lead
    prefix = "…" if a > 0 else ""
    suffix = "…" if a + len(passage) < len(text.rstrip()) else ""
    marks = spans(passage, terms)
    return prefix + passage + suffix, [[s + len(prefix), e + len(prefix)] for s, e in marks]


# --- answers from candidates ----------------------------------------------------------------------------------


ANSWER_TEXT_FLOOR = 0.3  # a candidate's text score must reach this share of the best one's to be suggested


def rank_by_occurrences(hits: Sequence[Hit], occurrences: Callable[[Hit], int], limit: int) -> list[tuple[Hit, float]]:
    """Candidates ranked by text score × occurrences, among those whose text score is at least ANSWER_TEXT_FLOOR
    of the best: a question asked 500 times that shares one common word with the ticket must not bury the one
    asked 20 times that is the ticket's question."""
    if not hits:
        return []
    floor = ANSWER_TEXT_FLOOR * max(h.score for h in hits)
    ranked = [(h, h.score * max(1, occurrences(h))) for h in hits if h.score >= floor]
    ranked.sort(key=lambda pair: (-pair[1], pair[0].id))
    return ranked[:limit]
