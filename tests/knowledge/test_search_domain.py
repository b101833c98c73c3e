"""The search engine's pure parts (services/knowledge/domain/search.py, domain/synonyms.py): no store, no broker."""

from __future__ import annotations

import pytest

from services.knowledge.domain.search import (
    Analyzer,
    Doc,
    Hit,
    SearchIndex,
    Synonyms,
    parse_query,
    rank_by_occurrences,
    snippet,
    spans,
)
from services.knowledge.domain.synonyms import DEFAULT_GROUPS, InvalidSynonyms, clean_groups

SYNONYMS = Synonyms.of([["资费", "收费", "多少钱"], ["登不上", "无法登录", "登录失败"]])


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer(["蓝鲸渔联", *SYNONYMS.words])


def test_segmentation_keeps_domain_words_and_drops_fillers(analyzer):
    assert "外勤通" in analyzer.tokens("外勤通打卡定位失败")
    assert {"集团", "通讯录", "集团通讯录"} <= set(analyzer.tokens("集团通讯录"))  # search mode: parts and whole
    assert "蓝鲸渔联" in analyzer.tokens("蓝鲸渔联打不开")
    assert "蓝鲸渔联" not in Analyzer().tokens("蓝鲸渔联打不开")  # the dictionary is the instance's own
    assert analyzer.query_tokens("登不上去咋办啊") == ["登不上"]
    assert analyzer.tokens("ＡＢＣ１２３") == ["abc123"]  # width and case folded


def test_query_synonym_slots_and_exclusions(analyzer):
    query = parse_query("这个多少钱 -收费 登录失败", analyzer, SYNONYMS)
    assert "多少钱" in query.words and "这个" not in query.words and query.excluded == ("收费",)
    slot = next(s for s in query.slots if s.word == "多少钱")
    assert slot.alternatives[0] == ("多少钱", 1.0) and {a for a, _ in slot.alternatives} == {"资费", "收费", "多少钱"}
    assert "登录失败" in query.expanded
    once = parse_query("登不上 无法登录", analyzer, SYNONYMS)
    assert len([s for s in once.slots if len(s.alternatives) > 1]) == 1  # one group, one slot


def _index(analyzer, *docs):
    return SearchIndex(analyzer).build(docs)


def test_title_weighs_above_body_and_tags_count(analyzer):
    index = _index(analyzer,
                   Doc("body", "常见问题", "集团彩铃设置后24小时生效。"),
                   Doc("title", "集团彩铃设置方法", "上传铃音并提交审核。"),
                   Doc("tag", "常见问题二", "上传铃音。", ("集团彩铃",)),
                   Doc("none", "外勤通", "签到。"))
    hits, total = index.search(parse_query("集团彩铃", analyzer))
    assert [h.id for h in hits] == ["title", "tag", "body"] and total == 3


def test_synonyms_find_and_the_word_itself_ranks_first(analyzer):
    index = _index(analyzer, Doc("syn", "移动办公无法登录", "请检查账号。"), Doc("word", "移动办公登不上", "请检查账号。"))
    hits, _ = index.search(parse_query("登不上", analyzer, SYNONYMS))
    assert [h.id for h in hits] == ["word", "syn"]
    hits, _ = index.search(parse_query("登不上", analyzer))  # without synonyms the other is not found
    assert [h.id for h in hits] == ["word"]


def test_filters_paging_updates_and_removal(analyzer):
    index = _index(analyzer, *(Doc(f"d{i}", f"资费说明{i}", "每月5元。", (), {"state": "published" if i % 2 else "draft",
                                                                           "product_code": "p"}) for i in range(6)))
    query = parse_query("资费", analyzer)
    hits, total = index.search(query, where={"state": ["published"]})
    assert total == 3 and {h.id for h in hits} == {"d1", "d3", "d5"}
    first, _ = index.search(query, limit=2)
    second, _ = index.search(query, limit=2, offset=2)
    assert not {h.id for h in first} & {h.id for h in second}
    assert index.search(query, where={"state": ["archived"]}) == ([], 0)
    assert index.search(query, accept=lambda d: d.id == "d4")[1] == 1
    index.upsert(Doc("d1", "外勤通签到", "签到。", (), {"state": "published"}))
    assert "d1" not in {h.id for h in index.search(query)[0]}
    assert [h.id for h in index.search(parse_query("签到", analyzer))[0]] == ["d1"]
    index.remove("d1")
    assert index.search(parse_query("签到", analyzer)) == ([], 0) and len(index) == 5
    index.upsert(Doc("d9", "签到", "签到。"))  # a freed slot is reused
    assert [h.id for h in index.search(parse_query("签到", analyzer))[0]] == ["d9"]


def test_weights_follow_average_lengths_after_many_updates(analyzer):
    index = _index(analyzer, Doc("a", "短", "资费。"))
    for i in range(200):
        index.upsert(Doc(f"long{i}", "说明", "资费" + "。其他内容" * 30))
    hits, _ = index.search(parse_query("资费", analyzer), limit=1)
    assert hits[0].id == "a"  # the short body's one mention weighs more than a long body's


def test_snippet_is_the_best_passage_with_offsets_into_it():
    body = ("第一句介绍产品的背景和适用范围。" * 10) + "收不到验证码时请检查拦截设置。" + "最后一句。"
    text, marks = snippet(body, {"验证码": 2.0, "收不到": 1.5})
    assert text.startswith("…") and "收不到验证码" in text
    assert [text[a:b] for a, b in marks] == ["收不到验证码"]  # adjacent words: one span
    assert snippet("", {"x": 1.0}) == ("", [])
    start, _ = snippet("没有匹配的内容。", {"验证码": 1.0})
    assert start == "没有匹配的内容。"


def test_spans_map_back_through_width_folding():
    title = "ＡＰＰ登录失败"  # full-width letters fold to ASCII, one character each
    assert [title[a:b] for a, b in spans(title, {"app": 1.0})] == ["ＡＰＰ"]
    assert spans("资费说明", {"资": 1.0, "资费": 1.0}) == [[0, 2]]  # a lone character only when nothing longer


def test_answers_rank_by_text_score_times_occurrences_above_a_floor():
    def hit(id, score, occurrences):
        return Hit(id, score, Doc(id, "", "", (), {"occurrences": occurrences}))

    hits = [hit("exact", 10.0, 20), hit("frequent-weak", 2.0, 500), hit("close", 8.0, 40)]
    ranked = rank_by_occurrences(hits, lambda h: h.doc.attrs["occurrences"], 5)
    assert [h.id for h, _ in ranked] == ["close", "exact"]  # 2.0 < 30 % of 10: not suggested
    assert rank_by_occurrences([], lambda h: 1, 5) == []


def test_synonym_groups_are_checked_field_by_field():
    assert clean_groups([[" 资费 ", "收费", "收费"]]) == [["资费", "收费"]]
    with pytest.raises(InvalidSynonyms) as error:
        clean_groups([["资费", "收费"], ["价格", "资费"], ["单独"], ["", "x"], ["a b", "c"]])
    assert {e["field"] for e in error.value.errors} == {"groups.1.1", "groups.2", "groups.3.0", "groups.4.0"}
    clean_groups([list(g) for g in DEFAULT_GROUPS])  # the defaults pass their own rules
