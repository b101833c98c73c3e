"""Chinese word segmentation for search: the words a text is indexed under and the words a query asks for.

Both sides go through the same steps, so that a query word meets the indexed word it was cut from:
NFKC (full-width letters and digits become ASCII), lower case, segmentation by jieba's dictionary and HMM
(rjieba, the binding of jieba-rs: same dictionary and algorithm as `jieba`, but it loads in ~0.2 s and ~33 MB
instead of ~1.6 s and ~80 MB and cuts a 50-character text in ~9 µs instead of ~250 µs, which matters on the
intake path), then every piece split at anything that is neither a letter nor a digit, and stop words dropped.

- `index_words(*texts)` cuts in jieba's search mode, which also yields the dictionary words inside a long word
  (集团通讯录 → 集团, 通讯, 通讯录, 集团通讯录), so a query for a part finds the whole;
- `query_words(text)` cuts in precise mode: every word of the query must be found (the caller ANDs them).

The words are what a text index tokenises on both document stores: MongoDB's text index (default_language
"none": no stemming, no stop words) and nx-27017's SQLite FTS5 (unicode61) both split at whitespace and
punctuation and keep runs of letters and digits whole, so words joined by spaces are indexed as they are.

`in_period(word, period)` makes a word that only texts of one period carry (e.g. 密码 of November 2026): a search
that wants the newest matches first can ask one period at a time instead of sorting every match (see
services/ticketing/store/search.py). The period mark is a private-use character: no text ever yields it, because
segmentation keeps only letters and digits, and both stores' tokenisers keep it inside the word.

The segmenter is rjieba's process-wide instance, loaded on first use with DOMAIN_WORDS added, so results depend
only on the input (and this file).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache

# Product and platform names of the catalog (the source document and lifecycle's seed), and the telecom words
# that requesters use, which jieba's general dictionary would cut apart (外勤通 → 外勤/通, 登不上 → 登/不/上).
DOMAIN_WORDS: tuple[str, ...] = (
    # platforms
    "信息化云平台", "视频监控平台", "一卡通平台", "校讯通平台", "信息化云", "视频监控", "一卡通", "校讯通",
    # products named in the source document and lifecycle's sample products
    "移动办公", "集团通讯录", "外勤通", "企业彩铃", "云视讯", "云盘", "和对讲", "车务通", "企业邮箱", "集团短信",
    "云主机", "电子签章", "智慧党建", "移动考勤", "电子发票助手", "电子发票", "云建站", "云传真", "集团流量池",
    "流量池", "千里眼", "看店宝", "智慧工地", "明厨亮灶", "云监控", "智慧农业监控", "校园一卡通", "企业一卡通",
    "门禁考勤", "智慧食堂", "智慧停车", "智慧校园", "家校通知", "成绩通", "平安校园", "校车通", "作业辅导",
    # telecom and service words
    "资费", "补卡", "套餐", "宽带", "专线", "彩铃", "登不上", "打不开", "收不到", "连不上", "用不了", "欠费", "停机",
    "复机", "销户", "携号转网", "流量包", "话费", "账单", "扣费", "退费", "验证码", "二维码", "实名认证", "集团客户",
    "客户经理", "信息化中心", "工单", "口径", "故障", "投诉",
)

# Words too common to narrow a search: particles, pronouns, question words.
STOP_WORDS: frozenset[str] = frozenset((
    "的 了 着 过 吗 呢 啊 吧 呀 哦 嘛 么 是 在 和 与 及 或 也 都 就 还 又 很 被 把 给 让 从 对 向 "
    "我 你 您 他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些 请 请问 问 一下 一个 有 个 "
    "怎么 怎么办 怎样 如何 什么 为什么 为何 哪里 哪个 谢谢 the a an of to and or is are in on for"
).split())

PERIOD_MARK = "\ue000"
_PIECE = re.compile(r"[^\W_]+")  # runs of letters and digits (no underscore, no punctuation, no private use)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@cache
def _segmenter():
    import rjieba  # loaded on first use: processes that never segment pay nothing

    for word in DOMAIN_WORDS:
        rjieba.add_word(word, 2000, None)  # frequency that beats the general dictionary's split of these words
    return rjieba


def searchable(pieces: Iterable[str]) -> Iterator[str]:
    """The words in a segmenter's output, repetitions kept: each piece split at anything that is neither a letter
    nor a digit, stop words dropped (what knowledge's ranked search counts, services/knowledge/domain/search.py)."""
    for piece in pieces:
        if piece.isdecimal() or (piece.isalnum() and piece.isidentifier()):  # the usual piece, one word already (no regex: 3× faster)
            if piece not in STOP_WORDS:
                yield piece
            continue
        for word in _PIECE.findall(piece):
            if word not in STOP_WORDS:
                yield word


def _words(pieces: Iterable[str], seen: dict[str, None]) -> None:
    for word in searchable(pieces):
        seen.setdefault(word)


def index_words(*texts: str | None) -> list[str]:
    """Every word `texts` should be found by, each once, in order of first appearance."""
    segmenter = _segmenter()
    seen: dict[str, None] = {}
    for text in texts:
        if text:
            _words(segmenter.cut_for_search(normalise(text)), seen)
    return list(seen)


def query_words(text: str) -> list[str]:
    """The words a search for `text` requires, each once, in the query's order (empty: nothing to search for)."""
    seen: dict[str, None] = {}
    _words(_segmenter().cut(normalise(text)), seen)
    return list(seen)


def in_period(word: str, period: str) -> str:
    """`word` as carried only by texts of `period` (letters and digits, e.g. "202611")."""
    return f"{word}{PERIOD_MARK}{period}"


def phrase_search(words: Iterable[str]) -> str:
    """A `$text` `$search` string that requires every word: each quoted, because MongoDB ORs bare words and
    ANDs quoted phrases (nx-27017 quotes every word itself and FTS5 ANDs them, so both read this the same)."""
    return " ".join(f'"{word}"' for word in words)
