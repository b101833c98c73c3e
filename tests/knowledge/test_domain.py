"""Pure rules of the knowledge service: which tickets feed which candidates, how questions compare, how a
candidate grows, and the KCS life of an article."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import TicketClosed
from contracts.vocabulary import ArticleType, Audience, Cause, Kind, Role
from services.kit import once
from services.knowledge.api.search import readable_published
from services.knowledge.domain import articles, candidates, kcs
from services.knowledge.domain.articles import ArticleState
from services.knowledge.domain.candidates import candidate_type, grow, key_of, normalise

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def closed(ticket_id="ZX-20260302-00001", *, kind=Kind.consultation, cause=Cause.other, title="如何 登录移动办公?",
           answer="使用手机号和短信验证码登录。", product_code="ydbg", closed_at=T0, **extra) -> TicketClosed:
    return TicketClosed(
        ticket_id=ticket_id, kind=kind, status="closed", channel="call_center", product_code=product_code,
        city="济南", priority="normal", tier=1, tier_reached=1, opened_at=closed_at - timedelta(hours=2),
        respond_by=closed_at, resolve_by=closed_at + timedelta(days=2), resolved_at=closed_at - timedelta(hours=1),
        closed_at=closed_at, cause=cause, title=title, description="客户反映……", answer=answer, **extra)


@pytest.mark.parametrize("kind, cause, expected", [
    (Kind.consultation, None, ArticleType.service_script),
    (Kind.consultation, Cause.billing_error, ArticleType.service_script),
    (Kind.complaint, Cause.usage_misunderstanding, ArticleType.faq),
    (Kind.complaint, Cause.billing_error, ArticleType.complaint_guide),
    (Kind.complaint, Cause.product_defect, ArticleType.complaint_guide),
    (Kind.complaint, Cause.feature_request, None),
    (Kind.complaint, Cause.network_or_platform, None),
    (Kind.complaint, Cause.other, None),
    (Kind.complaint, None, None),
    (Kind.suggestion, Cause.feature_request, None),
    (Kind.fault, Cause.product_defect, None),
    ("complaint", "billing_error", ArticleType.complaint_guide),
])
def test_candidate_type_follows_the_rules_of_spec_5(kind, cause, expected):
    assert candidate_type(kind, cause) == expected


@pytest.mark.parametrize("a, b", [
    ("如何登录移动办公？", "如何 登录 移动办公"),
    ("如何登录移动办公?", "  如何，登录移动办公。 "),
    ("集团通讯录「同步」失败！", "集团通讯录同步失败"),
    ("How do I  log in?", "how do i log in"),
    ("ＡＰＰ闪退", "app闪退"),                 # full-width letters fold to ASCII
    ("外勤通 APP 闪退", "外勤通app闪退"),       # a space next to Chinese separates nothing
    ("资费\n是多少", "资费是多少"),
])
def test_normalise_ignores_case_width_punctuation_and_spacing(a, b):
    assert normalise(a) == normalise(b)


def test_normalise_keeps_what_distinguishes_questions():
    assert normalise("how do i log in") == "how do i log in"   # spaces between latin words stay
    assert normalise("howdoi login") != normalise("how do i log in")
    assert normalise("如何登录移动办公") != normalise("如何退出移动办公")
    assert normalise("？！。，") == ""


def test_a_new_candidate_from_a_consultation():
    candidate = grow(None, closed())
    assert candidate == {
        "_id": key_of(closed()), "product_code": "ydbg", "type": "service_script", "question": "如何 登录移动办公?",
        "normalised_question": "如何登录移动办公",
        "questions": [{"question": "如何 登录移动办公?", "normalised": "如何登录移动办公", "count": 1}],
        "signatures": ["登录"],
        "answers": [{"answer": "使用手机号和短信验证码登录。", "normalised": "使用手机号和短信验证码登录", "count": 1}],
        "occurrences": 1, "ticket_ids": ["ZX-20260302-00001"], "first_seen": T0, "last_seen": T0,
        "state": "open", "version": 1,
    }
    assert candidate["_id"].startswith("ydbg:service_script:") and len(candidate["_id"].split(":")[2]) == 12


def test_the_candidate_id_depends_on_product_type_and_normalised_question_only():
    assert key_of(closed(title="如何登录移动办公？")) == key_of(closed("ZX-2", title="如何 登录 移动办公"))
    assert key_of(closed(product_code="txl")) != key_of(closed())
    faq = closed(kind=Kind.complaint, cause=Cause.usage_misunderstanding)
    assert key_of(faq).startswith("ydbg:faq:") and key_of(faq) != key_of(closed())
    assert key_of(closed(kind=Kind.fault)) is None


def test_a_second_ticket_adds_an_occurrence_and_counts_equal_answers_and_phrasings():
    first = grow(None, closed("A", closed_at=T0))
    second = grow({**first, "_rev": 3}, closed("B", title="移动办公怎么登录", answer="使用手机号和短信验证码登录",
                                              closed_at=T0 + timedelta(days=1)))
    third = grow(second, closed("C", title="移动办公怎么登录", answer="请联系客户经理开通账号。",
                                closed_at=T0 - timedelta(days=1)))
    assert third["occurrences"] == 3 and third["ticket_ids"] == ["A", "B", "C"]
    assert [(a["answer"], a["count"]) for a in third["answers"]] == [("使用手机号和短信验证码登录。", 2),
                                                                     ("请联系客户经理开通账号。", 1)]
    assert [(q["question"], q["count"]) for q in third["questions"]] == [("移动办公怎么登录", 2),
                                                                         ("如何 登录移动办公?", 1)]
    assert third["question"] == "移动办公怎么登录"                 # the most frequent phrasing names it
    assert third["_id"] == first["_id"]                           # the id stays the first question's
    assert (third["first_seen"], third["last_seen"]) == (T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert third["version"] == 3 and third["_rev"] == 3          # store bookkeeping is carried along


def test_a_ticket_closed_for_want_of_feedback_counts_its_question_but_not_its_answer():
    unconfirmed = grow(None, closed("A", answer="重启手机后再试。", close_reason="no_feedback", satisfied=None))
    assert unconfirmed["occurrences"] == 1 and unconfirmed["ticket_ids"] == ["A"] and unconfirmed["answers"] == []
    accepted = grow(unconfirmed, closed("B", satisfied=True))
    assert [(a["answer"], a["count"]) for a in accepted["answers"]] == [("使用手机号和短信验证码登录。", 1)]
    again = grow(accepted, closed("C", answer="使用手机号和短信验证码登录。", close_reason="no_feedback"))
    assert again["occurrences"] == 3 and again["answers"] == accepted["answers"]  # nobody confirmed C's


def test_a_marker_tells_a_resumed_count_from_a_new_one():
    candidate = once.mark(grow(None, closed("A")), "A", "new")
    assert once.counted(candidate, "A") == (True, "new") and once.counted(candidate, "B") == (False, None)
    assert not once.needs_settling(candidate)


def test_tickets_that_feed_no_candidate_change_nothing():
    assert grow(None, closed(kind=Kind.suggestion)) is None
    assert grow(None, closed(kind=Kind.complaint, cause=Cause.network_or_platform)) is None
    assert grow(None, closed(knowledge_article_id="KB-000001")) is None  # a reuse, not a new question
    assert grow(None, closed(title="？？！")) is None and key_of(closed(title="？？！")) is None


def test_samples_are_capped_but_every_ticket_counts():
    candidate = None
    n = max(candidates.MAX_ANSWERS, candidates.MAX_QUESTIONS, candidates.MAX_TICKET_IDS) + 3
    for i in range(n):
        candidate = grow(candidate, closed(f"T{i}", title=f"如何登录移动办公 {i}", answer=f"答复 {i}"))
    assert len(candidate["answers"]) == candidates.MAX_ANSWERS
    assert len(candidate["questions"]) == candidates.MAX_QUESTIONS
    assert candidate["ticket_ids"] == [f"T{i}" for i in range(n - candidates.MAX_TICKET_IDS, n)]
    assert candidate["occurrences"] == n
    assert grow(candidate, closed("T-empty", answer="  "))["answers"] == candidate["answers"]


def test_a_candidate_of_a_million_closes_is_as_small_as_one_of_a_hundred():
    import bson

    candidate = None
    sizes = {}
    for i in range(1, 1001):
        candidate = grow(candidate, closed(f"ZX-20260302-{i:05d}", title=["如何登录移动办公", "移动办公怎么登录"][i % 2]))
        if i in (100, 1000):
            sizes[i] = len(bson.encode(candidate))
    assert sizes[1000] <= sizes[100] + 8  # only the counters' digits grow


@pytest.mark.parametrize("a, b, same", [
    ("如何登录移动办公？", "移动办公怎么登录", True),
    ("移动办公登不上", "移动办公登录失败", True),
    ("移动办公资费是多少", "移动办公怎么收费", True),
    ("如何登录移动办公？", "移动办公忘记密码怎么办", False),
    ("外勤通定位不准", "外勤通签到失败", False),
])
def test_similar_questions_match_and_different_ones_do_not(a, b, same):
    score = candidates.similarity(candidates.signature(a), candidates.signature(b))
    assert (score >= candidates.SIMILARITY_THRESHOLD) == same, score


def test_the_best_match_is_the_closest_candidate_above_the_threshold():
    sig = candidates.signature
    known = {"login": [sig("如何登录移动办公")], "fail": [sig("移动办公登录失败"), sig("移动办公登不上")],
             "price": [sig("移动办公资费")]}
    assert candidates.best_match(sig("登录移动办公一直失败"), known) == "fail"
    assert candidates.best_match(sig("移动办公多少钱"), known) == "price"
    assert candidates.best_match(sig("移动办公审批提交失败"), known) is None


def test_only_an_open_candidate_is_promoted_or_dismissed():
    candidate = grow(None, closed())
    dismissed = candidates.decide(candidate, "dismissed", actor="pm", at=T0, month="2026-03", reason="重复")
    assert (dismissed["state"], dismissed["dismissed"], dismissed["version"]) == ("dismissed", {"reason": "重复"}, 2)
    with pytest.raises(candidates.NotOpen):
        candidates.decide(dismissed, "promoted", actor="pm", at=T0, month="2026-03")
    assert grow(dismissed, closed("B"))["state"] == "dismissed"  # later closes count on it, silently


@pytest.mark.parametrize("moment, month", [
    (datetime(2026, 3, 31, 15, 59, tzinfo=UTC), "2026-03"),
    (datetime(2026, 3, 31, 16, 0, tzinfo=UTC), "2026-04"),   # 00:00 on 1 April in Shanghai
    (datetime(2026, 1, 1, 0, 0), "2026-01"),                 # naive: UTC, as the store gives instants back
])
def test_the_month_is_the_shanghai_month(moment, month):
    assert kcs.month_of(moment) == month


def test_kcs_figures():
    m = kcs.empty("ydbg", "2026-03")
    for outcome in ("new", "known", "known", "reuse"):
        m = kcs.count_close(m, outcome)
    assert kcs.view(m) == {"product_code": "ydbg", "month": "2026-03", "closed": 4, "linked": 1, "new": 1,
                           "known": 3, "promoted": 0, "dismissed": 0, "reuses": 1, "link_rate": 0.25, "version": 4}
    decided = kcs.with_decisions(m, promoted=2, dismissed=1)
    assert (decided["promoted"], decided["dismissed"], decided["version"]) == (2, 1, 5)
    assert kcs.with_decisions(decided, promoted=1, dismissed=1) is None  # an older recount lowers nothing


# --- articles --------------------------------------------------------------------------------------------


def draft():
    return articles.new_article("KB-000001", type=ArticleType.faq, product_code="ydbg", title="登录", body="v1",
                                tags=["登录", " 登录 ", ""], actor="pm", at=T0)


def test_every_change_is_a_new_version_and_old_versions_stay_readable():
    v1 = draft()
    assert v1["tags"] == ["登录"] and v1["state"] == "draft" and v1["version"] == 1
    v2 = articles.edit(v1, title="登录方法", body="v2", tags=[], actor="agent", at=T0 + timedelta(hours=1))
    v3 = articles.transition(v2, "publish", actor="pm", at=T0 + timedelta(hours=2))
    assert (v3["version"], v3["state"], v3["title"], v3["published_at"]) == (3, "published", "登录方法",
                                                                              T0 + timedelta(hours=2))
    old = articles.at_version(v3, 1)
    assert (old["title"], old["body"], old["state"], old["version"], old["updated_by"]) == \
        ("登录", "v1", "draft", 1, "pm")
    assert articles.at_version(v3, 2)["body"] == "v2"
    assert articles.at_version(v3, 4) is None
    assert [v["version"] for v in v3["versions"]] == [1, 2, 3]


@pytest.mark.parametrize("steps, illegal", [
    ([], None),
    (["publish"], "publish"),
    (["archive"], "publish"),
    (["archive"], "archive"),
    (["publish", "archive"], "edit"),
])
def test_illegal_state_changes_are_refused(steps, illegal):
    article = draft()
    for step in steps:
        article = articles.transition(article, step, actor="pm", at=T0)
    if illegal is None:
        assert articles.transition(article, "publish", actor="pm", at=T0)["state"] == "published"
        return
    with pytest.raises(articles.IllegalTransition):
        if illegal == "edit":
            articles.edit(article, title="x", body="y", tags=[], actor="pm", at=T0)
        else:
            articles.transition(article, illegal, actor="pm", at=T0)


def test_editing_a_published_article_keeps_it_published():
    published = articles.transition(draft(), "publish", actor="pm", at=T0)
    assert articles.edit(published, title="t", body="b", tags=[], actor="agent", at=T0)["state"] == "published"


def test_a_reuse_counts_per_article_and_month_and_is_not_a_version():
    article = articles.count_reuse(draft(), "2026-03", T0)
    assert (article["reuse_count"], article["reuse_by_month"], article["version"]) == (1, {"2026-03": 1}, 1)
    later = articles.count_reuse(article, "2026-02", T0 - timedelta(days=1))
    assert later["reuse_count"] == 2 and later["last_reused_at"] == T0
    assert later["reuse_by_month"] == {"2026-03": 1, "2026-02": 1} and "reused_by" not in later


def test_audience_and_note_are_versioned_like_content():
    v1 = draft()
    assert v1["audience"] == "internal" and v1["versions"][0]["note"] is None
    v2 = articles.edit(v1, title="登录", body="v1", tags=[], audience="customer", note="客户可直接查看",
                       actor="agent", at=T0)
    v3 = articles.edit(v2, title="登录", body="v3", tags=[], note="只改正文", actor="agent", at=T0)
    v4 = articles.transition(v3, "publish", note="核对无误", actor="pm", at=T0)
    assert [(v["version"], v["audience"], v["note"]) for v in v4["versions"]] == [
        (1, "internal", None), (2, "customer", "客户可直接查看"), (3, "customer", "只改正文"), (4, "customer", "核对无误")]
    assert articles.at_version(v4, 1)["audience"] == "internal"


def test_an_article_stored_before_audiences_existed_is_internal():
    old = draft()
    del old["audience"]
    for snapshot in old["versions"]:
        del snapshot["audience"], snapshot["note"]
    assert articles.audience_of(old) == "internal"
    assert articles.snapshot_of(old, 1)["audience"] == "internal"
    edited = articles.edit(old, title="t", body="b", tags=[], note="n", actor="agent", at=T0)
    assert edited["audience"] == "internal" and edited["versions"][-1]["audience"] == "internal"


@pytest.mark.parametrize("roles, audience, state, readable", [
    (["agent"], "internal", "draft", True),
    (["vendor"], "internal", "draft", True),                # of a product it supplies (below: SUPPLIED)
    (["analyst"], "customer", "published", True),
    (["account_manager"], "internal", "published", False),
    (["account_manager"], "account_manager", "published", True),
    (["account_manager"], "customer", "archived", True),
    (["account_manager"], "customer", "draft", False),
    (["intake"], "customer", "published", True),
    (["intake"], "account_manager", "published", False),
    (["intake"], "customer", "draft", False),
    (["intake", "agent"], "internal", "draft", True),      # the union over roles
    (["intake", "account_manager"], "account_manager", "published", True),
    (["intake", "account_manager"], "customer", "draft", False),
])
def test_who_reads_what(roles, audience, state, readable):
    doc = {"audience": audience, "state": state, "product_code": "ydbg"}
    assert articles.readable(doc, articles.reach(roles, supplied=SUPPLIED)) is readable


SUPPLIED = {"ydbg", "wqt"}  # the products a test vendor supplies


@pytest.mark.parametrize("roles, supplied, product_code, readable", [
    (["vendor"], SUPPLIED, "ydbg", True),
    (["vendor"], SUPPLIED, "jttxl", False),          # another vendor's product
    (["vendor"], SUPPLIED, None, False),             # a general article is of no product it supplies
    (["vendor"], set(), "ydbg", False),              # a vendor the catalog names for no product sees nothing
    (["vendor", "account_manager"], SUPPLIED, "jttxl", False),  # still bound: an account manager reads all products
    (["vendor", "agent"], set(), "jttxl", True),     # not bound: an agent reads every product
    (["agent"], None, "jttxl", True),
    (["admin"], None, None, True),
])
def test_a_vendor_reads_the_products_it_supplies_only(roles, supplied, product_code, readable):
    doc = {"audience": "customer", "state": "published", "product_code": product_code}
    assert articles.readable(doc, articles.reach(roles, supplied=supplied)) is readable
    # a version snapshot is judged by its article's product
    snapshot = {"audience": "customer", "state": "published"}
    assert articles.readable(snapshot, articles.reach(roles, supplied=supplied), product_code=product_code) is readable


def test_a_vendors_reach_cannot_be_made_without_its_products():
    with pytest.raises(ValueError):
        articles.reach(["vendor"], supplied=None)
    assert articles.reach(["agent", "vendor"], supplied=None).product_code is None


def test_the_store_filter_says_what_readable_says():
    def query(roles, supplied=None):
        return articles.visibility_query(articles.reach(roles, supplied=supplied))

    assert query(["agent"]) == {}
    assert query(["account_manager"]) == {
        "audience": {"$in": ["account_manager", "customer"]}, "state": {"$in": ["published", "archived"]}}
    assert query(["intake"])["audience"] == {"$eq": "customer"}
    assert query(["vendor"], ["wqt", "ydbg"]) == {"product_code": {"$in": ["wqt", "ydbg"]}}
    assert query(["vendor"], ["ydbg"]) == {"product_code": {"$eq": "ydbg"}}
    assert query(["vendor"], []) is None  # nothing can match: not asked of the store


@pytest.mark.parametrize("roles, asked, parameter", [
    (["account_manager"], {"states": ["draft"]}, "state"),
    (["intake"], {"states": ["published", "draft"], "states_parameter": "include_drafts"}, "include_drafts"),
    (["intake"], {"audience": "internal"}, "audience"),
    (["account_manager"], {"audience": "internal"}, "audience"),
    (["vendor"], {"product_code": "jttxl"}, "product_code"),
])
def test_asking_for_more_than_ones_reach_names_the_parameter(roles, asked, parameter):
    with pytest.raises(articles.OutOfReach) as refused:
        articles.narrowed(articles.reach(roles, supplied=SUPPLIED), **asked)
    assert refused.value.parameter == parameter


def test_asking_within_ones_reach_narrows_it():
    vendor = articles.reach(["vendor"], supplied=SUPPLIED)
    only = articles.narrowed(vendor, product_code="ydbg", audience="customer", states=["published"])
    assert (only.product_code, only.audience, only.state) == ({"ydbg"}, {"customer"}, {"published"})
    agent = articles.narrowed(articles.reach(["agent"], supplied=None), product_code="jttxl")
    assert agent.product_code == {"jttxl"}


def test_search_filters_its_index_by_the_articles_rule():
    """Search and suggestions (api/search.py) read no rule of their own: for every role, audience, state and
    product an article passes their index filter exactly when `readable` says so and it is published."""
    for role in Role:
        allowed = articles.reach([role], supplied=SUPPLIED)
        where = readable_published(allowed)
        for audience in Audience:
            for state in ArticleState:
                for product in ("ydbg", "jttxl", None):
                    doc = {"audience": audience.value, "state": state.value, "product_code": product}
                    admitted = all(doc[field] in values for field, values in where.items())
                    assert admitted is (articles.readable(doc, allowed) and state == "published"), (role, doc)


def test_a_diff_compares_every_field_and_the_body_line_by_line():
    v1 = articles.new_article("KB-000002", type=ArticleType.service_script, product_code="mobile_office",
                              title="审批失败口径", body="1. 确认版本\n2. 重新登录\n3. 转产品经理", tags=["审批"],
                              actor="agent", at=T0)
    v2 = articles.edit(v1, title="审批提交失败口径", body="1. 确认版本不低于3.2.5\n2. 重新登录\n3. 转产品经理\n4. 回访",
                       tags=["审批", "升级"], audience="account_manager", note="补充版本号", actor="agent", at=T0)
    d = articles.diff(articles.snapshot_of(v2, 1), articles.snapshot_of(v2, 2))
    assert list(d) == ["title", "body", "tags", "audience", "state"]
    assert d["title"] == {"changed": True, "from": "审批失败口径", "to": "审批提交失败口径"}
    assert (d["tags"]["added"], d["tags"]["removed"]) == (["升级"], [])
    assert d["audience"] == {"changed": True, "from": "internal", "to": "account_manager"}
    assert d["state"]["changed"] is False
    assert d["body"]["changed"] and "-1. 确认版本\n+1. 确认版本不低于3.2.5" in d["body"]["unified"]
    assert d["body"]["changes"] == [
        {"op": "replace", "from_line": 1, "from_count": 1, "to_line": 1, "to_count": 1,
         "removed": ["1. 确认版本"], "added": ["1. 确认版本不低于3.2.5"]},
        {"op": "insert", "from_line": 4, "from_count": 0, "to_line": 4, "to_count": 1, "removed": [],
         "added": ["4. 回访"]}]
    same = articles.diff(articles.snapshot_of(v2, 2), articles.snapshot_of(v2, 2))
    assert not any(f["changed"] for f in same.values()) and same["body"]["unified"] == ""
