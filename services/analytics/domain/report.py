"""The monthly report (月度分析: 客服分析 and 投诉分析, source document 3.2.2.3 and 3.2.3.3) as a model, and the rules
that make its tables from ticket read-model documents and KCS figures.

A report is one month (Asia/Shanghai) of the whole province, of one product (what its product manager reads), or
of one city (what an account manager reads); it is a list of tables, each with a stable English `name` (the
`&table=` of the API), a Chinese title, typed columns with Chinese headers, rows, and optionally a chart spec
(how the XLSX draws it). The renderers (api/report_files.py) know nothing of the figures, only this model.

The rules (docs/analytics-reports.md says the same for readers):
- every figure counts on the moment that defines it, as `metrics.summarize` does: volumes on `opened_at`,
  resolutions on `resolved_at`, closures on `closed_at`; timeliness and satisfaction per city are `summarize`;
- a **question** is a ticket's title cut into words (kit/text.py, precise mode, stop words dropped) and taken as
  a set, so "请问通讯录同步失败怎么办" and "通讯录 同步失败" are one question; a title with no words left is its
  normalised text. Each question is shown by its most frequent spelling;
- **top questions** (热点问题): the `TOP_QUESTIONS` questions with most tickets opened in the month, all kinds;
- **concentrated problems** (集中问题, for the product manager, 3.2.3.3 item 1): per product, the questions of
  consultations, complaints and faults opened in the month with at least `CONCENTRATED_MIN_TICKETS` tickets,
  most tickets first (suggestions are left out: closed suggestions already go to lifecycle's backlog);
- **misunderstanding-driven complaints** (理解偏差类投诉, for the FAQ, 3.2.3.3 item 2): complaints resolved in the
  month with cause `usage_misunderstanding` (the cause is known when the complaint is resolved, so the month is
  the resolution's), grouped by product and question, at least `MISUNDERSTANDING_MIN_TICKETS` tickets a group.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, Field

from contracts.vocabulary import CHANNEL_LABELS, CITIES, KIND_LABELS, Kind
from services.analytics.domain.counters import is_merged
from services.analytics.domain.metrics import summarize
from services.analytics.domain.period import LOCAL_ZONE, Period
from services.kit.text import query_words

Ticket = Mapping[str, Any]

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
TOP_QUESTIONS = 20                 # rows of the top-questions table
CONCENTRATED_MIN_TICKETS = 3       # tickets of one question of one product in the month that make it 集中
MISUNDERSTANDING_MIN_TICKETS = 2   # misunderstanding complaints of one question that make it an FAQ candidate
CONCENTRATED_KINDS = (Kind.consultation.value, Kind.complaint.value, Kind.fault.value)
MISUNDERSTANDING = "usage_misunderstanding"

# The tables a report can hold, in the order it holds them (the values of `&table=`).
TABLES = ("overview", "city_timeliness", "volumes_by_kind", "volumes_by_channel", "top_questions",
          "concentrated_problems", "misunderstanding_complaints", "kcs", "subscriptions")

ColumnType = Literal["text", "int", "rate", "hours", "number"]


class Column(BaseModel):
    key: str = Field(description="the row field")
    header: str = Field(description="表头 (Chinese)")
    type: ColumnType = Field(description="text | int | rate (0–1, shown as %) | hours | number (two decimals)")


class Chart(BaseModel):
    kind: Literal["bar", "line", "pie"]
    category: str = Field(description="the column whose values name the categories")
    values: list[str] = Field(description="the columns drawn as series (a pie draws the first)")
    title: str


class Table(BaseModel):
    name: str = Field(description="stable English name, the `table` of the query")
    title: str = Field(description="标题 (Chinese); also the XLSX sheet name")
    description: str = Field("", description="what the rows are (Chinese)")
    columns: list[Column]
    rows: list[dict[str, Any]]
    chart: Chart | None = None


class Thresholds(BaseModel):
    top_questions: int = TOP_QUESTIONS
    concentrated_min_tickets: int = CONCENTRATED_MIN_TICKETS
    misunderstanding_min_tickets: int = MISUNDERSTANDING_MIN_TICKETS


class Report(BaseModel):
    month: str = Field(description="月份 YYYY-MM (Asia/Shanghai)")
    product_code: str | None = Field(None, description="产品编码: a product's report; None: all products")
    city: str | None = Field(None, description="地市: a city's report (an account manager's); None: all cities")
    period_start: datetime = Field(description="the month's first instant (inclusive, UTC)")
    period_end: datetime = Field(description="the next month's first instant (exclusive, UTC)")
    generated_at: datetime = Field(description="生成时间")
    as_of: datetime | None = Field(None, description="数据截至: the newest event applied to the read model")
    complete: bool = Field(description="false for the current month: its figures still change")
    kept: bool = Field(False, description="true when this is the report kept for the month (generated on the 1st "
                                          "of the next month, or on the first request after it)")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    tables: list[Table]

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    @property
    def scope_label(self) -> str:
        if self.product_code:
            return f"产品 {self.product_code}"
        return f"地市 {self.city}" if self.city else "全省"


class MonthError(ValueError):
    pass


def parse_month(text: str) -> tuple[int, int]:
    match = MONTH.match(text or "")
    if not match:
        raise MonthError(f"{text!r} is not a month YYYY-MM (e.g. 2026-03)")
    return int(match.group(1)), int(match.group(2))


def month_period(month: str) -> Period:
    """The month on the operator's calendar, in UTC."""
    year, number = parse_month(month)
    following = (year + 1, 1) if number == 12 else (year, number + 1)
    start = datetime.combine(date(year, number, 1), time(), LOCAL_ZONE).astimezone(UTC)
    end = datetime.combine(date(*following, 1), time(), LOCAL_ZONE).astimezone(UTC)
    return Period(start, end)


def month_of(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m")


def previous_month(now: datetime) -> str:
    local = now.astimezone(LOCAL_ZONE)
    year, number = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return f"{year:04d}-{number:02d}"


# --- questions ----------------------------------------------------------------------------------------------

_SPACE_AND_PUNCT = re.compile(r"[\W_]+")


def question_key(title: str | None) -> str:
    """What makes two titles one question: their set of words (sorted), else their normalised text."""
    if not title:
        return ""
    words = sorted(set(query_words(title)))
    if words:
        return " ".join(words)
    return _SPACE_AND_PUNCT.sub("", unicodedata.normalize("NFKC", title).lower())


class _Group:
    def __init__(self) -> None:
        self.tickets = 0
        self.spellings: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.cities: set[str] = set()
        self.products: set[str] = set()
        self.ticket_ids: list[str] = []

    def add(self, ticket: Ticket) -> None:
        self.tickets += 1
        self.spellings[(ticket.get("title") or "").strip()] += 1
        self.kinds[ticket.get("kind") or ""] += 1
        if ticket.get("city"):
            self.cities.add(ticket["city"])
        if ticket.get("product_code"):
            self.products.add(ticket["product_code"])
        self.ticket_ids.append(ticket.get("ticket_id") or ticket.get("_id") or "")

    @property
    def question(self) -> str:
        # most frequent spelling; ties go to the first in text order, so the result never depends on input order
        best = max(self.spellings.values())
        return min(s for s, n in self.spellings.items() if n == best)


def _grouped(tickets: Iterable[Ticket], *, by_product: bool) -> dict[tuple[str, str], _Group]:
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    for ticket in tickets:
        key = question_key(ticket.get("title"))
        if not key:
            continue  # a ticket without a title (an event from before titles were kept) names no question
        groups[(ticket.get("product_code", "") if by_product else "", key)].add(ticket)
    return groups


def _ranked(groups: Mapping[tuple[str, str], _Group]) -> list[tuple[tuple[str, str], _Group]]:
    return sorted(groups.items(), key=lambda item: (-item[1].tickets, item[0][0], item[1].question))


SAMPLE_TICKETS = 5  # ticket ids shown per question, for whoever follows up


# --- tables ---------------------------------------------------------------------------------------------------

def _c(key: str, header: str, type: ColumnType = "int") -> Column:
    return Column(key=key, header=header, type=type)


SUMMARY_COLUMNS = [_c("opened", "受理量"), _c("resolved", "答复量"), _c("closed", "归档量"), _c("backlog", "积压量"),
                   _c("response_timeliness", "响应及时率", "rate"), _c("resolution_timeliness", "解决及时率", "rate"),
                   _c("satisfaction", "满意度", "rate"), _c("avg_hours", "平均处理时长(小时)", "hours"),
                   _c("p90_hours", "90分位处理时长(小时)", "hours")]


def _summary_row(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {"opened": summary["opened"], "resolved": summary["resolved"], "closed": summary["closed"],
            "backlog": summary["backlog"], "response_timeliness": summary["timeliness_rate"]["response"],
            "resolution_timeliness": summary["timeliness_rate"]["resolution"],
            "satisfaction": summary["satisfaction_rate"], "avg_hours": summary["resolution_hours"]["avg"],
            "p90_hours": summary["resolution_hours"]["p90"]}


def overview_table(tickets: Sequence[Ticket], period: Period) -> Table:
    summary = summarize(tickets, period)
    row = _summary_row(summary) | {"reopen_rate": summary["reopen_rate"],
                                   "tier2_rate": summary["escalation_rate"]["tier2"], "merged": summary["merged"]}
    return Table(name="overview", title="总体指标",
                 description="本月全部工单的受理、答复、归档、积压、及时率与满意度；合并重复单不计入其他指标",
                 columns=[*SUMMARY_COLUMNS, _c("reopen_rate", "重开率", "rate"),
                          _c("tier2_rate", "升级至二线比例", "rate"), _c("merged", "合并重复单")],
                 rows=[row])


def city_timeliness_table(tickets: Sequence[Ticket], period: Period) -> Table:
    by_city: dict[str, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        by_city[ticket.get("city") or ""].append(ticket)
    order = [c for c in CITIES if c in by_city] + sorted(c for c in by_city if c not in CITIES)
    rows = []
    for city in order:
        summary = summarize(by_city[city], period)
        if summary["count"]:
            rows.append({"city": city or "未知", **_summary_row(summary)})
    return Table(name="city_timeliness", title="地市及时率与满意度",
                 description="每个地市本月的响应及时率、解决及时率与满意度（口径同运营指标汇总）",
                 columns=[_c("city", "地市", "text"), *SUMMARY_COLUMNS], rows=rows,
                 chart=Chart(kind="bar", category="city", title="地市及时率与满意度",
                             values=["response_timeliness", "resolution_timeliness", "satisfaction"]))


def _volumes(tickets: Sequence[Ticket], period: Period, field: str, labels: Mapping[str, str]) -> list[dict]:
    groups: dict[str, list[Ticket]] = {value: [] for value in labels}
    for ticket in tickets:
        groups.setdefault(ticket.get(field) or "", []).append(ticket)
    rows = []
    for value, group in groups.items():
        figures = summarize(group, period)  # the summary's own counting: merged duplicates are not opened nor closed
        row = {field: value, "label": labels.get(value, value or "未知"), "opened": figures["opened"],
               "resolved": figures["resolved"], "closed": figures["closed"], "merged": figures["merged"]}
        if value in labels or any(row[f] for f in ("opened", "resolved", "closed", "merged")):
            rows.append(row)
    return rows


def opened_in(ticket: Ticket, period: Period) -> bool:
    """Counted as opened in `period`, as the counters count it: on the requester's contact (`received_at`, else
    `opened_at`), and not a duplicate merged into another ticket (that one holds the question)."""
    return not is_merged(ticket) and period.contains(ticket.get("received_at") or ticket.get("opened_at"))


def volumes_by_kind_table(tickets: Sequence[Ticket], period: Period) -> Table:
    return Table(name="volumes_by_kind", title="按类型工单量", description="咨询、投诉、建议、故障各自的受理、答复、归档量",
                 columns=[_c("kind", "类型编码", "text"), _c("label", "类型", "text"), _c("opened", "受理量"),
                          _c("resolved", "答复量"), _c("closed", "归档量"), _c("merged", "合并重复单")],
                 rows=_volumes(tickets, period, "kind", {k.value: v for k, v in KIND_LABELS.items()}),
                 chart=Chart(kind="pie", category="label", values=["opened"], title="受理量按类型"))


def volumes_by_channel_table(tickets: Sequence[Ticket], period: Period) -> Table:
    return Table(name="volumes_by_channel", title="按渠道工单量", description="各接入渠道的受理、答复、归档量",
                 columns=[_c("channel", "渠道编码", "text"), _c("label", "渠道", "text"), _c("opened", "受理量"),
                          _c("resolved", "答复量"), _c("closed", "归档量"), _c("merged", "合并重复单")],
                 rows=_volumes(tickets, period, "channel", {k.value: v for k, v in CHANNEL_LABELS.items()}),
                 chart=Chart(kind="bar", category="label", values=["opened", "resolved", "closed"],
                             title="工单量按渠道"))


def top_questions_table(tickets: Sequence[Ticket], period: Period, limit: int = TOP_QUESTIONS) -> Table:
    opened = [t for t in tickets if opened_in(t, period)]
    rows = []
    for rank, (_, group) in enumerate(_ranked(_grouped(opened, by_product=False))[:limit], start=1):
        rows.append({"rank": rank, "question": group.question, "tickets": group.tickets,
                     **{k.value: group.kinds[k.value] for k in Kind},
                     "products": "、".join(sorted(group.products)), "cities": len(group.cities)})
    return Table(name="top_questions", title="热点问题", description=f"本月受理工单最多的 {limit} 个问题（按标题分词归并）",
                 columns=[_c("rank", "排名"), _c("question", "问题", "text"), _c("tickets", "工单数"),
                          *[_c(k.value, KIND_LABELS[k]) for k in Kind], _c("products", "涉及产品", "text"),
                          _c("cities", "涉及地市数")],
                 rows=rows, chart=Chart(kind="bar", category="question", values=["tickets"], title="热点问题工单数"))


def concentrated_problems_table(tickets: Sequence[Ticket], period: Period,
                                min_tickets: int = CONCENTRATED_MIN_TICKETS) -> Table:
    opened = [t for t in tickets if opened_in(t, period) and t.get("kind") in CONCENTRATED_KINDS]
    rows = []
    for (product, _), group in _ranked(_grouped(opened, by_product=True)):
        if group.tickets >= min_tickets:
            rows.append({"product_code": product, "question": group.question, "tickets": group.tickets,
                         "consultation": group.kinds[Kind.consultation.value],
                         "complaint": group.kinds[Kind.complaint.value], "fault": group.kinds[Kind.fault.value],
                         "cities": "、".join(c for c in CITIES if c in group.cities) or "",
                         "sample_tickets": "、".join(group.ticket_ids[:SAMPLE_TICKETS])})
    return Table(name="concentrated_problems", title="集中问题（转产品经理）",
                 description=f"每个产品本月同一问题受理不少于 {min_tickets} 单的咨询、投诉、故障，供产品经理优化产品",
                 columns=[_c("product_code", "产品编码", "text"), _c("question", "问题", "text"), _c("tickets", "工单数"),
                          _c("consultation", "咨询"), _c("complaint", "投诉"), _c("fault", "故障"),
                          _c("cities", "涉及地市", "text"), _c("sample_tickets", "工单示例", "text")],
                 rows=rows, chart=Chart(kind="bar", category="question", values=["tickets"], title="集中问题工单数"))


def misunderstanding_complaints_table(tickets: Sequence[Ticket], period: Period,
                                      min_tickets: int = MISUNDERSTANDING_MIN_TICKETS) -> Table:
    found = [t for t in tickets if t.get("kind") == Kind.complaint.value and t.get("cause") == MISUNDERSTANDING
             and period.contains(t.get("resolved_at"))]
    rows = []
    for (product, _), group in _ranked(_grouped(found, by_product=True)):
        if group.tickets >= min_tickets:
            rows.append({"product_code": product, "question": group.question, "tickets": group.tickets,
                         "cities": "、".join(c for c in CITIES if c in group.cities),
                         "sample_tickets": "、".join(group.ticket_ids[:SAMPLE_TICKETS])})
    return Table(name="misunderstanding_complaints", title="理解偏差类投诉（FAQ候选）",
                 description=f"本月答复、原因为理解偏差的投诉，同一产品同一问题不少于 {min_tickets} 单，整理为 FAQ 供客户经理使用",
                 columns=[_c("product_code", "产品编码", "text"), _c("question", "问题", "text"),
                          _c("tickets", "投诉数"), _c("cities", "涉及地市", "text"),
                          _c("sample_tickets", "工单示例", "text")],
                 rows=rows, chart=Chart(kind="bar", category="question", values=["tickets"], title="理解偏差类投诉数"))


KCS_FIGURES = ("closed", "linked", "link_rate", "new", "known", "promoted", "dismissed")


def kcs_table(measures: Iterable[Mapping[str, Any]]) -> Table:
    rows = [{"product_code": m["product_code"], **{f: m.get(f) for f in KCS_FIGURES}}
            for m in sorted(measures, key=lambda m: m["product_code"])]
    return Table(name="kcs", title="知识运营(KCS)", description="知识库按产品的本月 KCS 指标（来自 knowledge 的 knowledge.kcs.measured 事件）",
                 columns=[_c("product_code", "产品编码", "text"), _c("closed", "入库归档工单"), _c("linked", "引用知识"),
                          _c("link_rate", "知识引用率", "rate"), _c("new", "新问题"), _c("known", "已知问题"),
                          _c("promoted", "转为知识"), _c("dismissed", "驳回候选")],
                 rows=rows, chart=Chart(kind="bar", category="product_code", values=["new", "known"],
                                        title="新问题与已知问题"))


def subscriptions_table(items: Iterable[Mapping[str, Any]]) -> Table:
    """`items`: the month's cells of the subscriptions join (domain/subscriptions.py `figures`)."""
    rows = [{"product_code": i["product_code"], "city": i["city"], "subscribers": i["subscribers"],
             "revenue_cny": i["revenue_cny"], "complaints": i["complaints"],
             "complaints_per_1000": i["complaints_per_1000"]} for i in items]
    return Table(name="subscriptions", title="用户规模与投诉率",
                 description="计费系统导入的用户数、收入与本月投诉量：每千用户投诉数（产品 × 地市）",
                 columns=[_c("product_code", "产品编码", "text"), _c("city", "地市", "text"),
                          _c("subscribers", "用户数"), _c("revenue_cny", "收入(元)", "text"),
                          _c("complaints", "投诉量"), _c("complaints_per_1000", "每千用户投诉数", "number")],
                 rows=rows, chart=Chart(kind="bar", category="city", values=["complaints_per_1000"],
                                        title="每千用户投诉数"))


def build_report(month: str, tickets: Sequence[Ticket], kcs: Iterable[Mapping[str, Any]] | None, *,
                 product_code: str | None = None, city: str | None = None, generated_at: datetime,
                 as_of: datetime | None, subscriptions: Iterable[Mapping[str, Any]] | None = None) -> Report:
    """The report of `month` over `tickets` (read-model documents already of the product/city asked, that could
    count in the month) and `kcs` (the month's KCS figures per product; None: no KCS table, e.g. for a city,
    since KCS is counted per product only)."""
    period = month_period(month)
    tables = [overview_table(tickets, period), city_timeliness_table(tickets, period),
              volumes_by_kind_table(tickets, period), volumes_by_channel_table(tickets, period),
              top_questions_table(tickets, period), concentrated_problems_table(tickets, period),
              misunderstanding_complaints_table(tickets, period)]
    if kcs is not None:
        tables.append(kcs_table(kcs))
    if subscriptions is not None:
        tables.append(subscriptions_table(subscriptions))
    return Report(month=month, product_code=product_code, city=city, period_start=period.start,
                  period_end=period.end, generated_at=generated_at, as_of=as_of,
                  complete=generated_at >= period.end, tables=tables)


def counted_products(tickets: Iterable[Ticket], period: Period) -> set[str]:
    """The products that have a figure in the month (opened, resolved or closed in it, or open at its end)."""
    return {t["product_code"] for t in tickets if t.get("product_code") and (
        any(period.contains(t.get(f)) for f in ("opened_at", "first_response_at", "resolved_at", "closed_at"))
        or (t.get("status") != "closed" and period.begun_by_end(t.get("opened_at"))))}
