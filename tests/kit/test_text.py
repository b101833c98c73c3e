"""Unit tests of services/kit/text.py: what a text is indexed under and what a query asks for."""

from services.kit import text


def test_a_query_word_is_found_among_the_words_of_the_text_it_was_cut_from():
    indexed = text.index_words("忘记密码了怎么办")
    assert "密码" in indexed and "忘记" in indexed
    assert set(text.query_words("密码")) <= set(indexed)
    assert set(text.query_words("忘记密码")) <= set(indexed)


def test_domain_words_stay_whole_and_their_parts_are_indexed_too():
    assert text.query_words("外勤通定位不准") == ["外勤通", "定位", "不准"]
    assert text.query_words("APP登不上") == ["app", "登不上"]
    indexed = text.index_words("集团通讯录同步失败")
    assert {"集团通讯录", "通讯录", "集团"} <= set(indexed)
    for name in ("移动办公", "校讯通", "一卡通", "信息化云平台", "视频监控", "资费", "补卡", "彩铃"):
        assert text.query_words(name) == [name]


def test_normalised_full_width_and_case_and_punctuation_dropped():
    assert text.query_words("ＶＰＮ连接失败！") == ["vpn", "连接", "失败"]
    assert text.query_words("Wi-Fi, v1.2") == ["wi", "fi", "v1", "2"]
    assert text.index_words("ＡＰＰ") == text.index_words("app")


def test_stop_words_and_pure_punctuation_give_nothing_to_search():
    assert text.query_words("的了吗？！") == []
    assert text.query_words("请问怎么办") == []
    assert "了" not in text.index_words("忘记密码了")


def test_words_are_unique_ordered_and_deterministic():
    words = text.index_words("密码错误，密码重置", "密码")
    assert words.count("密码") == 1
    assert words == text.index_words("密码错误，密码重置", "密码")
    assert text.index_words(None, "") == []


def test_period_words_are_single_tokens_no_text_yields():
    marked = text.in_period("密码", "202611")
    assert marked != "密码" and " " not in marked
    assert text.PERIOD_MARK not in "".join(text.index_words(f"密码{text.PERIOD_MARK}202611"))
    assert text.phrase_search(["密码", marked]) == f'"密码" "{marked}"'
