"""A small labelled set of realistic ticket titles (how the front line summarises a requester's question), grouped
by what they ask: titles in one group are paraphrases of one question, titles of different groups of the same
product are different questions, some of them deliberately close (same product words, other intent).

Used by tests/knowledge/test_similarity.py to measure the grouping threshold of domain/candidates.py, and by
`python -m tests.knowledge.similar_questions` to print precision and recall over a range of thresholds.
Written for this purpose (plausible sample data, not real tickets).
"""

from __future__ import annotations

# product → groups of paraphrases
GROUPS: dict[str, list[list[str]]] = {
    "mobile_office": [
        ["如何登录移动办公？", "移动办公怎么登录", "移动办公登录方法", "请问移动办公如何登陆", "移动办公怎样登录使用"],
        ["移动办公登不上", "移动办公无法登录", "移动办公登录失败", "移动办公登录提示失败怎么办", "登录移动办公一直失败"],
        ["移动办公忘记密码怎么办", "移动办公密码忘了如何找回", "移动办公重置密码", "忘记移动办公登录密码"],
        ["移动办公审批提交失败", "审批提交不了提示网络异常", "移动办公审批无法提交", "提交审批时报错"],
        ["移动办公考勤打卡定位失败", "考勤打卡提示定位失败", "移动办公打卡定位不准", "打卡时定位不到公司"],
        ["移动办公资费是多少", "移动办公怎么收费", "移动办公多少钱一个月", "移动办公的收费标准"],
        ["移动办公如何添加员工", "怎么在移动办公里新增员工账号", "移动办公新增人员", "移动办公添加成员"],
        ["移动办公被多扣费", "移动办公扣费有误", "移动办公重复扣费", "这个月移动办公多收了钱"],
    ],
    "group_directory": [
        ["集团通讯录如何批量导入员工", "集团通讯录批量导入", "通讯录怎么批量导入人员", "集团通讯录Excel导入员工"],
        ["集团通讯录同步失败", "通讯录同步不了", "集团通讯录数据无法同步", "集团通讯录同步报错"],
        ["集团通讯录看不到新同事", "新员工在通讯录里搜不到", "通讯录里查不到新加的人"],
        ["集团通讯录如何删除离职员工", "通讯录怎么删除已离职人员", "离职员工从集团通讯录移除"],
        ["集团通讯录资费", "集团通讯录怎么收费", "集团通讯录多少钱"],
    ],
    "field_force": [
        ["外勤通定位不准", "外勤通定位偏差很大", "外勤通位置显示不对", "外勤通定位漂移"],
        ["外勤通APP闪退", "外勤通打开就闪退", "外勤通应用闪退怎么办", "外勤通一打开就退出"],
        ["外勤通如何导出轨迹", "外勤通轨迹怎么导出", "导出外勤通员工轨迹报表"],
        ["外勤通签到失败", "外勤通无法签到", "外勤通签到提示错误", "外勤通拜访签到不成功"],
        ["外勤通怎么开通", "如何开通外勤通业务", "外勤通开通流程", "外勤通业务办理"],
    ],
}


def labelled_pairs() -> list[tuple[str, str, str, bool]]:
    """(product, title a, title b, same question?) for every pair of titles of one product."""
    pairs = []
    for product, groups in GROUPS.items():
        titles = [(g, t) for g, group in enumerate(groups) for t in group]
        for i, (ga, a) in enumerate(titles):
            for gb, b in titles[i + 1:]:
                pairs.append((product, a, b, ga == gb))
    return pairs


def grouping_scores(threshold: float) -> tuple[float, float]:
    """Pairwise precision and recall of the grouping the candidates handler would make, titles arriving one by
    one in the set's order (each joins the most similar existing group at or above `threshold`, else starts one)."""
    from services.knowledge.domain.candidates import best_match, signature

    tp = fp = fn = 0
    for groups in GROUPS.values():
        # the groups interleaved (round robin), as closes of different questions would arrive
        stream = [(g, group[i]) for i in range(max(map(len, groups))) for g, group in enumerate(groups)
                  if i < len(group)]
        clusters: dict[str, list[str]] = {}
        assigned: dict[str, str] = {}
        truth = {t: g for g, t in stream}
        for _, title in stream:
            match = best_match(signature(title), {cid: [signature(q) for q in qs] for cid, qs in clusters.items()},
                               threshold)
            cid = match or f"c{len(clusters)}"
            clusters.setdefault(cid, []).append(title)
            assigned[title] = cid
        titles = list(assigned)
        for i, a in enumerate(titles):
            for b in titles[i + 1:]:
                same_truth, same_made = truth[a] == truth[b], assigned[a] == assigned[b]
                tp += same_truth and same_made
                fp += same_made and not same_truth
                fn += same_truth and not same_made
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def pair_scores(threshold: float) -> tuple[float, float]:
    """Precision and recall of `similarity >= threshold` as a same-question test over the labelled pairs."""
    from services.knowledge.domain.candidates import signature, similarity

    tp = fp = fn = 0
    for _, a, b, same in labelled_pairs():
        said = similarity(signature(a), signature(b)) >= threshold
        tp += said and same
        fp += said and not same
        fn += same and not said
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


if __name__ == "__main__":
    from services.knowledge.domain.candidates import SIMILARITY_THRESHOLD

    print(f"{sum(len(g) for gs in GROUPS.values() for g in gs)} titles, {len(labelled_pairs())} pairs "
          f"({sum(s for *_, s in labelled_pairs())} same-question); chosen threshold {SIMILARITY_THRESHOLD}")
    print("threshold  pair-precision  pair-recall  grouping-precision  grouping-recall")
    for t in [x / 20 for x in range(4, 17)]:
        pp, pr = pair_scores(t)
        gp, gr = grouping_scores(t)
        print(f"{t:9.2f}  {pp:14.3f}  {pr:11.3f}  {gp:18.3f}  {gr:15.3f}")
