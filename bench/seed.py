"""Load N realistic tickets straight into ticketing's store, for the list and search figures (bench/search.py).

Each ticket is built by the real domain code — `Ticket.open`, then the actions its status needs (assign,
escalate to a product manager or the product's vendor, resolve, feedback, sometimes a reopen) at plausible
moments, some of them late — and stored by the same `to_document` the API uses, so the derived list and search
fields are there. The mix: the catalog's products (services/lifecycle/domain/seed.py), the 16 cities weighted by
size, consultations 45 % / faults 25 % / complaints 20 % / suggestions 10 %, opened over the last --days days
(business hours mostly), Chinese titles and descriptions from varied templates (about 6 % of them about a
password, 密码), customer groups named after real kinds of organisations. Statuses follow age: recent tickets
are still open, old ones mostly closed.

The tickets are written without outbox events: knowledge's and analytics' read models never see them, and
nothing is published. Ids are reserved from ticketing's own daily counters, so tickets filed later through the
API never collide with them. The products are added to ticketing's catalog when it does not know them yet
(what lifecycle's events would have taught it), so the seeded tickets can be acted on through the API.

Store: OPS_MONGO_URL (default mongodb://127.0.0.1:27017, the store of `make run`), database OPS_MONGO_DB
(default ops_ticketing). Usage: python bench/seed.py [--count 100000] [--days 365] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pymongo import AsyncMongoClient, MongoClient, ReturnDocument

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contracts.vocabulary import KIND_ID_PREFIX, Cause, Channel, Industry, Kind, Priority  # noqa: E402
from services.kit.store import OUTBOX, OUTBOX_PENDING, REVISION, WRITE_REVISION, ensure_text_index  # noqa: E402
from services.lifecycle.domain.seed import PRODUCTS  # noqa: E402
from services.ticketing.api.models import TicketOut  # noqa: E402
from services.ticketing.api.routes import json_text  # noqa: E402
from services.ticketing.domain import schedule  # noqa: E402
from services.ticketing.domain.ticket import Actor, Customer, Ticket  # noqa: E402
from services.ticketing.store.scheduled import SLA_MONITOR  # noqa: E402
from services.ticketing.store.collections import (  # noqa: E402
    CATALOG, COUNTERS, INDEXES, SEARCH_INDEX, TICKETS, kept_answer, to_document,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_URL = "mongodb://127.0.0.1:27017/?directConnection=true"

# Relative sizes of the 16 cities (population, roughly: 青岛 and 临沂 largest, 东营 and 威海 smallest).
CITY_WEIGHTS = {"济南": 9.4, "青岛": 10.3, "淄博": 4.7, "枣庄": 3.9, "东营": 2.2, "烟台": 7.1, "潍坊": 9.4,
                "济宁": 8.4, "泰安": 5.5, "威海": 2.9, "日照": 3.0, "临沂": 11.0, "德州": 5.6, "聊城": 5.9,
                "滨州": 3.9, "菏泽": 8.8}
KIND_WEIGHTS = {Kind.consultation: 45, Kind.fault: 25, Kind.complaint: 20, Kind.suggestion: 10}
CHANNEL_WEIGHTS = {Channel.call_center: 45, Channel.account_manager: 30, Channel.customer: 15,
                   Channel.product_owner: 10}
PRIORITY_WEIGHTS = {Priority.normal: 70, Priority.high: 15, Priority.low: 10, Priority.urgent: 5}
PASSWORD_SHARE = 0.06

# organisation kinds of enterprise customers (集团客户) and their industry
ORGANISATIONS = (
    ("教育局", Industry.education), ("第一实验小学", Industry.education), ("第三中学", Industry.education),
    ("职业技术学院", Industry.education), ("人民医院", Industry.healthcare), ("中医院", Industry.healthcare),
    ("妇幼保健院", Industry.healthcare), ("农商银行", Industry.finance), ("城市信用社", Industry.finance),
    ("人寿保险分公司", Industry.finance), ("交通运输局", Industry.transport), ("公交集团", Industry.transport),
    ("物流有限公司", Industry.transport), ("市场监督管理局", Industry.government), ("税务局", Industry.government),
    ("住房和城乡建设局", Industry.government), ("街道办事处", Industry.government), ("机械制造有限公司", Industry.manufacturing),
    ("化工股份有限公司", Industry.manufacturing), ("纺织有限公司", Industry.manufacturing), ("连锁超市", Industry.retail),
    ("购物中心", Industry.retail), ("农业合作社", Industry.agriculture), ("蔬菜种植基地", Industry.agriculture),
    ("供电公司", Industry.energy), ("燃气有限公司", Industry.energy), ("物业服务中心", Industry.other),
    ("律师事务所", Industry.other),
)
DISTRICTS = ("", "市中区", "高新区", "开发区", "东城", "西城", "北区", "南郊", "新区", "老城区")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = ("先生", "女士", "经理", "主任", "老师", "科长", "工")

PASSWORD = (  # (title, description) with {p} the product's name
    ("{p}忘记密码了怎么办", "客户忘记{p}登录密码，询问如何找回，手机号未变更。"),
    ("{p}密码重置", "客户管理员要求重置{p}账号密码，原密码多次输入错误已被锁定。"),
    ("{p}提示密码错误无法登录", "用户反映{p}登录时一直提示密码错误，确认输入无误，其他同事正常。"),
    ("{p}初始密码是多少", "新开通的{p}账号不知道初始密码，客户经理未告知，请提供修改方法。"),
    ("修改{p}管理员密码", "集团管理员离职，需要修改{p}管理员密码并更换绑定手机。"),
)
TEMPLATES: dict[Kind, tuple[tuple[str, str], ...]] = {
    Kind.consultation: (
        ("{p}如何添加成员", "集团新入职二十名员工，询问{p}如何批量添加成员并分配部门。"),
        ("{p}资费咨询", "客户咨询{p}的资费标准和套餐内容，是否可以按月付费。"),
        ("{p}怎么导出数据", "客户需要把{p}中的记录导出为表格，询问操作步骤。"),
        ("{p}开通流程", "客户想为下属单位开通{p}，询问需要准备哪些材料，多久可以开通。"),
        ("{p}手机端在哪里下载", "用户换了新手机，找不到{p}客户端的下载地址。"),
        ("{p}能否与办公系统对接", "客户询问{p}是否提供接口，与现有办公系统打通。"),
        ("{p}套餐变更", "客户希望把{p}升级到更高档的套餐，询问差价怎么计算。"),
        ("{p}使用培训", "新上线单位希望安排{p}的使用培训，询问有没有操作手册。"),
    ),
    Kind.fault: (
        ("{p}登不上", "从今天上午开始{p}登不上，提示网络连接超时，多名用户都有此问题。"),
        ("{p}打不开", "{p}页面打不开，一直白屏，重启手机后依旧。"),
        ("{p}消息收不到", "用户反映{p}的通知消息收不到，已检查手机设置正常。"),
        ("{p}数据不同步", "{p}电脑端与手机端数据不同步，新增的记录手机上看不到。"),
        ("{p}响应很慢", "{p}近两天响应很慢，打开一个页面要十几秒，影响正常办公。"),
        ("{p}画面卡顿", "{p}视频画面卡顿、经常中断，专线带宽已确认正常。"),
        ("{p}报错无法提交", "在{p}中提交表单时报错，错误代码500，无法保存。"),
    ),
    Kind.complaint: (
        ("{p}扣费有误", "客户投诉{p}本月扣费与合同约定不符，多扣了费用，要求退费。"),
        ("{p}故障处理太慢", "客户投诉{p}故障报修后三天仍未处理，对处理进度不满意。"),
        ("{p}功能与宣传不符", "客户投诉{p}实际功能与客户经理介绍的不一致，要求说明。"),
        ("{p}未经同意开通", "客户投诉未经同意开通了{p}并产生费用，要求取消并退还。"),
        ("{p}客服答复不清楚", "客户投诉多次咨询{p}问题，客服答复前后不一致。"),
    ),
    Kind.suggestion: (
        ("建议{p}增加批量导入", "客户建议{p}支持通过表格批量导入人员信息，减少手工录入。"),
        ("建议{p}支持夜间模式", "用户建议{p}手机端增加夜间模式，晚上使用更舒适。"),
        ("建议{p}优化统计报表", "客户建议{p}的统计报表支持按部门和月份筛选并导出。"),
        ("建议{p}增加消息提醒", "客户建议{p}在审批超时前增加短信提醒。"),
    ),
}
FAULT_WORDS = ("", "，客户比较着急", "，影响全单位使用", "，请尽快处理", "，已尝试重新安装", "")
CAUSES = {Kind.consultation: (Cause.usage_misunderstanding, Cause.other),
          Kind.complaint: (Cause.billing_error, Cause.product_defect, Cause.usage_misunderstanding, Cause.other),
          Kind.suggestion: (Cause.feature_request,),
          Kind.fault: (Cause.network_or_platform, Cause.product_defect, Cause.usage_misunderstanding)}


def pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def opened_moment(rng: random.Random, now: datetime, days: int, kind: Kind) -> datetime:
    """A moment in the last `days` days: business hours on working days mostly, faults around the clock."""
    while True:
        day = (now - timedelta(days=rng.uniform(0, days))).astimezone(SHANGHAI)
        if kind == Kind.fault or rng.random() < 0.08:
            moment = day
        else:
            if day.weekday() >= 5 and rng.random() < 0.85:
                continue
            minutes = rng.triangular(8 * 60, 18 * 60, 10 * 60)
            moment = day.replace(hour=int(minutes // 60), minute=int(minutes % 60), second=rng.randrange(60),
                                 microsecond=rng.randrange(1_000_000))
        moment = moment.astimezone(UTC)
        if moment < now - timedelta(minutes=5):
            return moment


def after(rng: random.Random, start: datetime, deadline: datetime, late_share: float, now: datetime) -> datetime:
    """When the next step happened: before `deadline` mostly, late in `late_share` of the cases, never after now."""
    window = max((deadline - start).total_seconds(), 60.0)
    if rng.random() < late_share:
        moment = deadline + timedelta(seconds=window * rng.uniform(0.05, 1.5))
    else:
        moment = start + timedelta(seconds=window * rng.uniform(0.02, 0.95))
    return min(moment, now - timedelta(seconds=1))


def target_status(rng: random.Random, age: timedelta) -> str:
    if age < timedelta(days=1):
        shares = {"new": 40, "in_progress": 30, "escalated2": 10, "escalated3": 5, "resolved": 15}
    elif age < timedelta(days=7):
        shares = {"new": 4, "in_progress": 20, "escalated2": 12, "escalated3": 8, "resolved": 26, "closed": 30}
    else:
        shares = {"new": 0.5, "in_progress": 2, "escalated2": 1.5, "escalated3": 1, "resolved": 3, "closed": 92}
    return pick(rng, shares)


def build_ticket(rng: random.Random, ticket_id: str, kind: Kind, opened: datetime, now: datetime) -> dict:
    product = rng.choice(PRODUCTS)
    city = pick(rng, CITY_WEIGHTS)
    channel = pick(rng, CHANNEL_WEIGHTS)
    organisation, industry = rng.choice(ORGANISATIONS)
    templates = PASSWORD if kind != Kind.suggestion and rng.random() < PASSWORD_SHARE / 0.9 else TEMPLATES[kind]
    title, description = rng.choice(templates)
    title, description = title.format(p=product["name"]), description.format(p=product["name"])
    if kind == Kind.fault:
        description += rng.choice(FAULT_WORDS)
    filed_by = {Channel.account_manager: f"am-{city}-{rng.randrange(1, 30):02d}",
                Channel.call_center: "crm-callcenter", Channel.customer: f"portal-{city}",
                Channel.product_owner: product["product_managers"][0]}[channel]
    customer = Customer(name=rng.choice(SURNAMES) + rng.choice(GIVEN), contact=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                        group_name=f"{city}市{rng.choice(DISTRICTS)}{organisation}",
                        group_code=f"G{rng.randrange(10**8):08d}" if rng.random() < 0.7 else None)
    severity = rng.choices((1, 2, 3), (10, 30, 60))[0] if kind == Kind.fault else None
    opener = Actor(sub=filed_by)
    ticket, _ = Ticket.open(id=ticket_id, kind=kind, channel=channel, product_code=product["code"], city=city,
                            title=title, description=description, customer=customer, actor=opener, now=opened,
                            industry=industry, priority=pick(rng, PRIORITY_WEIGHTS), severity=severity)
    first_answer = json_text({**TicketOut.of(ticket, opened).model_dump(mode="json"), "possible_duplicates": []})

    goal = target_status(rng, now - opened)
    staff = Actor(sub=f"agent-{rng.randrange(1, 40):02d}", name="客服")
    moment = opened
    if goal != "new":
        moment = after(rng, moment, ticket.respond_by, 0.12, now)
        ticket.assign(staff.sub, staff, moment)
    reopen = goal == "closed" and rng.random() < 0.04
    for round_ in range(2 if reopen else 1):
        if goal.startswith("escalated") or (goal in ("resolved", "closed") and rng.random() < 0.25):
            moment = min(moment + timedelta(minutes=rng.uniform(5, 600)), now - timedelta(seconds=1))
            tier3 = goal == "escalated3" or (not goal.startswith("escalated") and rng.random() < 0.3)
            if tier3:
                ticket.escalate(3, product["vendor"], "需厂家排查", staff, moment)
            else:
                ticket.escalate(2, product["product_managers"][0], "需产品经理确认", staff, moment)
        if goal in ("resolved", "closed"):
            moment = max(after(rng, moment, ticket.resolve_by, 0.1, now), moment)
            ticket.resolve("已按处理口径答复客户，问题已解决。", rng.choice(CAUSES[kind]), None, staff, moment)
        if goal == "closed":
            moment = min(moment + timedelta(hours=rng.uniform(1, 72)), now - timedelta(seconds=1))
            satisfied = not (reopen and round_ == 0)
            ticket.give_feedback(satisfied, rng.choice((4, 5, 5, 5)) if satisfied else 2,
                                 None if satisfied else "问题没有解决", opener, max(moment, ticket.updated_at))
    # what the breach job (store/scheduled.py) of a live system has raised by now: a seeded store is one the job
    # keeps up with, not a backlog of tens of thousands of tickets for its first passes to write
    due = schedule.breaches_due(ticket, now)
    if due:
        ticket.record_breaches(due, SLA_MONITOR, now)
    # as open_ticket stores them: channels send an Idempotency-Key (the first answer is kept for replays),
    # staff filing from the console do not
    keyed = rng.random() < 0.6
    extra = {"idempotency_key": f"seed:{ticket.id}" if keyed else f"none:{ticket.id}",
             "request_fingerprint": hashlib.sha256(f"seed:{ticket.id}".encode()).hexdigest(),
             **(kept_answer(first_answer) if keyed else {}),
             "responded_late": ticket.responded_timely is False, "resolved_late": ticket.timely is False}
    doc = to_document(ticket, extra)
    # the store's own bookkeeping, as Store.insert/replace leave it once the relay has published everything
    doc.update({REVISION: ticket.version, WRITE_REVISION: ticket.version, OUTBOX: [], OUTBOX_PENDING: False})
    return doc


def reserve_ids(db, plan: list[tuple[datetime, Kind]]) -> list[str]:
    """Readable ids for tickets opened at these moments, reserved in blocks from the daily counters that
    `next_ticket_id` counts with (one `$inc` per day and kind instead of one per ticket)."""
    prefixes = [f"{KIND_ID_PREFIX[kind]}-{opened.astimezone(SHANGHAI):%Y%m%d}" for opened, kind in plan]
    next_number: dict[str, int] = {}
    for prefix, count in Counter(prefixes).items():
        counter = db[COUNTERS].find_one_and_update({"_id": prefix}, {"$inc": {"n": count}}, upsert=True,
                                                   return_document=ReturnDocument.AFTER)
        next_number[prefix] = counter["n"] - count + 1
    ids = []
    for prefix in prefixes:
        ids.append(f"{prefix}-{next_number[prefix]:05d}")
        next_number[prefix] += 1
    return ids


def teach_catalog(db) -> int:
    """Add the products ticketing's catalog does not know yet, shaped as its lifecycle handler stores them,
    with sequence 0 so that any real lifecycle event still wins."""
    added = 0
    for product in PRODUCTS:
        if db[CATALOG].find_one({"_id": product["code"]}, {"_id": 1}) is None:
            db[CATALOG].insert_one({"_id": product["code"], "sequence": 0, "name": product["name"], "kind": "product",
                                    "platform_code": product["platform_code"], "stage": product["stage"].value,
                                    "product_managers": product["product_managers"], "vendor": product["vendor"],
                                    "sample": product["sample"]})
            added += 1
    return added


async def create_indexes(url: str, database: str) -> None:
    client = AsyncMongoClient(url)
    try:
        await client[database][TICKETS].create_indexes(list(INDEXES[TICKETS]))
        await ensure_text_index(client[database][TICKETS], SEARCH_INDEX)
    finally:
        await client.close()


def build_batch(job: tuple[int, int, list[tuple[str, Kind, datetime]], datetime]) -> list[dict]:
    """One batch of documents, in a worker process: building costs about as much as storing, so the two overlap."""
    rng_seed, start, planned, now = job
    rng = random.Random(f"{rng_seed}:{start}")
    return [build_ticket(rng, ticket_id, kind, opened, now) for ticket_id, kind, opened in planned]


def seed(url: str, database: str, count: int, days: int, batch: int, rng_seed: int, workers: int) -> None:
    rng = random.Random(rng_seed)
    now = datetime.now(UTC)
    client = MongoClient(url, tz_aware=True)
    try:
        db = client[database]
        asyncio.run(create_indexes(url, database))  # what the service creates at start, before the data
        added = teach_catalog(db)
        kinds = [pick(rng, KIND_WEIGHTS) for _ in range(count)]
        plan = sorted((opened_moment(rng, now, days, kind), kind) for kind in kinds)
        ids = reserve_ids(db, plan)
        jobs = [(rng_seed, start, [(ids[i], plan[i][1], plan[i][0]) for i in range(start, min(start + batch, count))],
                 now) for start in range(0, count, batch)]
        started = time.perf_counter()
        done = 0
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for docs in pool.imap(build_batch, jobs):
                db[TICKETS].insert_many(docs, ordered=False)
                done += len(docs)
                if done % (batch * 10) == 0 or done == count:
                    elapsed = time.perf_counter() - started
                    print(f"  {done:>7} tickets   {done / elapsed:6.0f}/s", file=sys.stderr, flush=True)
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    print(f"seeded {count} tickets into {database}.{TICKETS} in {elapsed:.1f} s: {count / elapsed:.0f} tickets/s "
          f"({workers} building process(es), insert_many of {batch}); catalog: {added} products added")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="tickets to add (default 100000)")
    parser.add_argument("--days", type=int, default=365, help="opened over the last DAYS days (default 365)")
    parser.add_argument("--batch", type=int, default=1000, help="documents per insert_many (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed: the same seed gives the same mix")
    parser.add_argument("--workers", type=int, default=max(1, min(3, (os.cpu_count() or 2) - 1)),
                        help="processes building documents while this one stores them")
    args = parser.parse_args()
    url = os.environ.get("OPS_MONGO_URL", DEFAULT_URL)
    database = os.environ.get("OPS_MONGO_DB", "ops_ticketing")
    seed(url, database, args.count, args.days, args.batch, args.seed, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
