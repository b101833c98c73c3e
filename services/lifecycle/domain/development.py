"""Development and testing (产品和平台开发, source §2.4 steps 4–8).

The vendor reports its progress daily (开发日报) and lists the functions to test per terminal (功能测试列表, 手机端
and PC端); the centre, the China Mobile subsidiary (中移公司) and the cities test in rounds and report; what they
find is an issue, blocking or not, that the vendor fixes. An open blocking issue holds the product in testing
(store/gates.py counts them); an optimisation plan (优化方案) sends it back to development (domain/gates.BACK)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from contracts.vocabulary import CITIES


class Terminal(StrEnum):
    mobile = "mobile"
    pc = "pc"


class Party(StrEnum):
    centre = "centre"
    cmcc_subsidiary = "cmcc_subsidiary"
    city = "city"


class Result(StrEnum):
    passed = "pass"
    failed = "fail"


class IssueState(StrEnum):
    open = "open"
    fixed = "fixed"


TERMINAL_LABELS = {Terminal.mobile: "手机端", Terminal.pc: "PC端"}
PARTY_LABELS = {Party.centre: "信息化中心", Party.cmcc_subsidiary: "中移公司", Party.city: "地市公司"}
RESULT_LABELS = {Result.passed: "通过", Result.failed: "不通过"}
STATE_LABELS = {IssueState.open: "待修复", IssueState.fixed: "已修复"}


def report_id(code: str, day: date) -> str:
    """One development report per product and day: a second one for the same day is refused (409), so that a
    report once read by the centre does not change under it; a correction is a note in the next day's report."""
    return f"{code}:{day.isoformat()}"


def round_id(code: str, number: int) -> str:
    return f"{code}:r{number}"


def party_key(party: Party, city: str | None) -> str:
    """Who reported: each party (each city on its own) reports once per round."""
    return f"{party.value}:{city}" if party == Party.city else party.value


def party_label(party: Party | str, city: str | None) -> str:
    return f"{PARTY_LABELS[Party(party)]}（{city}）" if Party(party) == Party.city and city else PARTY_LABELS[Party(party)]


def check_city(party: Party, city: str | None) -> str | None:
    """Why `city` is refused for this party, or None."""
    if party == Party.city:
        if not city:
            return "required when party is city"
        if city not in CITIES:
            return f"must be one of the 16 cities: {'、'.join(CITIES)}"
    elif city:
        return "only a city's report names a city"
    return None


def next_round(numbers: list[int]) -> int:
    return max(numbers, default=0) + 1


def fix(issue: dict[str, Any], *, note: str, release: str | None, by: str, at: datetime) -> dict[str, Any]:
    """The issue fixed; its history keeps every fix and reopening."""
    if issue["state"] == IssueState.fixed:
        raise ValueError("already fixed")
    event = {"action": "fixed", "note": note, "release": release, "by": by, "at": at}
    return {**issue, "state": IssueState.fixed.value, "fixed_at": at, "fixed_by": by, "release": release,
            "history": [*issue.get("history", []), event]}


def reopen(issue: dict[str, Any], *, note: str | None, by: str, at: datetime) -> dict[str, Any]:
    """The fix did not hold (a retest failed): the issue is open again and, if blocking, holds testing again."""
    if issue["state"] == IssueState.open:
        raise ValueError("already open")
    event = {"action": "reopened", "note": note, "by": by, "at": at}
    return {**issue, "state": IssueState.open.value, "fixed_at": None, "fixed_by": None, "release": None,
            "reopen_count": issue.get("reopen_count", 0) + 1, "history": [*issue.get("history", []), event]}


# --- timeline summaries ------------------------------------------------------------------------------------

def report_summary(r: dict[str, Any]) -> str:
    percent = f"（进度{r['percent']}%）" if r.get("percent") is not None else ""
    return f"开发日报 {r['day']}{percent}：{r['progress'][:60]}"


def case_summary(c: dict[str, Any]) -> str:
    return f"功能测试项（{TERMINAL_LABELS[Terminal(c['terminal'])]}）：{c['function']}"


def round_summary(r: dict[str, Any]) -> str:
    return f"第{r['round']}轮测试开始"


def test_report_summary(r: dict[str, Any]) -> str:
    return (f"第{r['round']}轮测试报告（{party_label(r['party'], r.get('city'))}）："
            f"{RESULT_LABELS[Result(r['result'])]}，{r['summary'][:60]}")


def issue_summary(i: dict[str, Any]) -> str:
    kind = "阻断性问题" if i["blocking"] else "问题"
    terminal = f"（{TERMINAL_LABELS[Terminal(i['terminal'])]}）" if i.get("terminal") else ""
    return f"测试{kind}{terminal}《{i['title']}》：{STATE_LABELS[IssueState(i['state'])]}"


def plan_summary(p: dict[str, Any]) -> str:
    return f"第{p['round']}轮测试优化方案（{len(p['issue_ids'])}个问题）：{p['summary'][:60]}，返回开发调试"
