"""Lifecycle at a province's scale: a catalog of N products with the records a centre keeps of each, then the
latency and CPU of the views and writes a product manager uses, with the HTTP floor of the same run.

Set-up (printed with its timing):
- the products are registered through the public API (`POST /v1/products`, 1 request each: it is cheap, and it
  gives every product the document the service itself writes, events in the outbox included);
- their history is written straight into lifecycle's store, in bulk, with the shapes the routes write
  (domain/documents.new_document, domain/procurement.record, domain/trials.empty and training_record, the
  dicts of api/development.py and api/maintenance.py): each product is put in a stage (skewed towards
  commercial and delivered, as a centre's catalog is) with, for every stage it went through, its transitions and
  the records of that stage: gate documents in 1–3 versions (older drafts, vendor-owned ones approved by the
  centre), review decisions (some rejected first) and a decision meeting for budgets ≥ 1,000,000 CNY, the six
  procurement steps, 4–20 test issues (blocking ones fixed), trials and trial-commercial stages with 2–5 pilot
  cities, pilot customers, tariff and evaluation, trainings of the pilot cities, and for products in operation
  1–3 inspection plans with their inspections (some plans overdue). The current stage has part of what its gate
  needs (drafts, open blocking issues, untrained cities), so most gates are blocked by something. Why not all
  through the API: the ~40 requests a product's history takes would make the set-up of 500 products last as long
  as the measurement, and the sub-flows' routes refuse back-dated history in stages a product has already left.
  One product (`bench_hero`) is delivered with a year of daily inspections and many document versions: the
  timeline's case. A pool of products sits in `development` with everything its gate needs: each accepted
  transition moves one of them to `testing`.
- Process: `python -m services.lifecycle --role api` on a free port, with its own database (`bench<hex>_lifecycle`)
  and broker namespace, against a private nx-27017 on a free port (or OPS_MONGO_URL) and the local RabbitMQ (not
  started here: it must be up).

Measured, each case `--repeat` times in a row over one keep-alive connection, `--runs` passes: p50 / p95 ms and the
CPU ms per request of the service's process and of the store's process (from /proc, the store's only when it is
local): GET /healthz (the baseline: the HTTP floor and the token check's absence), GET /v1/portfolio,
GET /v1/products/{code}/timeline (the hero), GET /v1/products/{code}/gate (a product in trial),
POST …/transitions refused with 409 gate-blocked (a product in initiation), POST …/transitions accepted
(development → testing, one pool product each), POST …/documents.

Usage: python bench/lifecycle.py [--products 500] [--repeat 30] [--runs 3] [--keep-log]
A measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "bench")]
import devstack  # noqa: E402
import procstat  # noqa: E402

from contracts.vocabulary import CITIES, Stage  # noqa: E402
from services.kit.auth import mint_token  # noqa: E402
from services.lifecycle.domain import documents, procurement, trials  # noqa: E402
from services.lifecycle.domain.gates import DECISION_MEETING_BUDGET_CNY, GATE_DOCUMENTS, NEXT  # noqa: E402

LOCAL = ZoneInfo("Asia/Shanghai")
SECRET = "bench-lifecycle-secret-" + "x" * 24
PLATFORMS = ("cloud", "video", "card", "school")
# Where a province's products are: most in operation, a steady trickle through the early stages.
STAGE_WEIGHTS = {Stage.demand: 4, Stage.research: 4, Stage.review: 3, Stage.planning: 3, Stage.initiation: 5,
                 Stage.development: 6, Stage.testing: 6, Stage.trial: 6, Stage.trial_commercial: 5,
                 Stage.commercial: 20, Stage.delivered: 30, Stage.retired: 8}
FORWARD = [s for s in Stage if s != Stage.retired]
VENDOR_TYPES = documents.VENDOR_DOCUMENTS
PMS = [f"pm-{n:02d}" for n in range(1, 21)]
NAMES = "智慧 云 企业 集团 移动 校园 平安 数字 融合 政务 医疗 物流 党建 社区 农业 文旅".split()
THINGS = "办公 通讯录 彩铃 监控 考勤 食堂 停车 门禁 短信 邮箱 会议 签章 发票 建站 对讲 巡检".split()
DOC_EXTRA = {Stage.initiation: ("procurement_request", "tender_document", "bid_evaluation"),
             Stage.testing: ("optimisation_plan",)}


def ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class History:
    """One product's records, dated, in the shapes the routes write."""

    def __init__(self, code: str, product: dict, rng: random.Random, now: datetime):
        self.code, self.product, self.rng, self.now = code, product, rng, now
        self.records: dict[str, list[dict]] = {}
        self.versions: dict[str, int] = {}

    def add(self, collection: str, doc: dict) -> None:
        self.records.setdefault(collection, []).append(doc)

    def document(self, doc_type: str, at: datetime, *, approved: bool, versions: int = 1) -> None:
        owner = self.product.get("vendor") if doc_type in VENDOR_TYPES and self.product.get("vendor") else \
            self.product["product_managers"][0]
        for n in range(versions):
            version = self.versions.get(doc_type, 0) + 1
            self.versions[doc_type] = version
            last = n == versions - 1
            when = ms(at - timedelta(days=3 * (versions - 1 - n), hours=self.rng.uniform(0, 8)))
            doc = documents.new_document(
                self.code, {"type": doc_type, "title": f"{self.product['name']}{documents.DOCUMENT_LABELS[doc_type]}",
                            "ref": f"oa://lifecycle/{self.code}/{doc_type}/v{version}",
                            "approved": approved if last else self.rng.random() < 0.5},
                version=version, owner=owner, at=when, recorded_at=when,
                approved_by=self.product["product_managers"][0])
            self.add("documents", doc)

    def decision(self, kind: str, outcome: str, at: datetime) -> None:
        at = ms(at)
        self.add("decisions", {"_id": f"{self.code}:{kind}:{at.strftime('%Y%m%d%H%M%S%f')}:pm",
                               "product_code": self.code,
                               "kind": kind, "outcome": outcome, "participants": ["分管副总", "信息化中心主任", "市场部"],
                               "note": None, "ref": f"oa://meetings/{self.code}/{kind}", "by": "pm",
                               "at": at, "recorded_at": at})

    def stage_records(self, stage: Stage, start: datetime, end: datetime, *, passed: bool) -> None:
        """What a product leaves in `stage` (entered at `start`, left at `end` or still there): everything its
        gate needs when it `passed`, part of it otherwise."""
        rng = self.rng
        span = max((end - start).total_seconds(), 3600)

        def at(fraction: float | None = None) -> datetime:
            return ms(start + timedelta(seconds=span * (rng.uniform(0.1, 0.9) if fraction is None else fraction)))

        if stage == Stage.initiation:
            steps = list(procurement.Step) if passed else list(procurement.Step)[:rng.randint(0, 5)]
            for n, step in enumerate(steps):
                data = {"step": step.value, "note": None, "amount_cny": self.product.get("budget_cny"),
                        "vendor": self.product.get("vendor"),
                        "document": {"title": f"{self.product['name']}{procurement.STEP_LABELS[step]}",
                                     "ref": f"oa://procurement/{self.code}/{step.value}"}}
                self.add("procurement_steps", procurement.record(self.code, data, at=at((n + 1) / 8), by="pm",
                                                                 recorded_at=at((n + 1) / 8)))
        if stage == Stage.review:
            if rng.random() < 0.3:
                self.decision("review", "rejected", at(0.3))
            if passed or rng.random() < 0.3:
                self.decision("review", "approved" if passed else "rejected", at(0.8))
        if stage == Stage.initiation and (self.product.get("budget_cny") or 0) >= DECISION_MEETING_BUDGET_CNY \
                and (passed or rng.random() < 0.5):
            self.decision("decision_meeting", "approved", at(0.85))
        if stage == Stage.testing:
            for _ in range(rng.randint(4, 20)):
                blocking = rng.random() < 0.25
                fixed = passed or rng.random() < 0.6
                when = at()
                self.add("test_issues", {
                    "_id": f"is-{uuid.uuid4().hex[:12]}", "product_code": self.code, "title": "批量导入超时",
                    "terminal": rng.choice(["mobile", "pc", None]), "blocking": blocking, "round": None,
                    "description": "导入500条以上时超时", "state": "fixed" if fixed else "open", "at": when, "by": "pm",
                    "recorded_at": when, "fixed_at": when + timedelta(days=2) if fixed else None,
                    "fixed_by": "vendor" if fixed else None, "release": "v1.1" if fixed else None, "reopen_count": 0,
                    "history": []})
        if stage in (Stage.trial, Stage.trial_commercial):
            trial = trials.empty(self.code, stage.value, at=ms(start), by="pm")
            cities = rng.sample(CITIES, rng.randint(2, 5))
            trial |= {"pilot_cities": cities,
                      "pilot_customers": [{"name": f"{c}试点客户{n}", "group_code": None, "city": c, "industry": None}
                                          for c in cities for n in range(2)],
                      "tariff": {"name": f"{self.product['name']}试用资费", "ref": f"files/{self.code}/tariff.pdf",
                                 "agreed_with": trials.PROMOTION_OFFICE, "at": at(0.2), "document_id": None}}
            if passed:
                trial["evaluation"] = {"conclusion": "ready", "conclusion_label": trials.CONCLUSION_LABELS["ready"],
                                       "summary": "试点运行平稳", "evidence": ["files/survey.xlsx"], "ref": "files/eval.pdf",
                                       "at": at(0.9), "by": "pm", "document_id": None}
            self.add("trials", trial)
            trained = cities if passed else cities[:rng.randint(0, len(cities))]
            for city in trained:
                held = (start + timedelta(seconds=span * rng.uniform(0.2, 0.8))).astimezone(
                    LOCAL).date()
                self.add("trainings", trials.training_record(type("E", (), dict(
                    training_id=f"TR-{uuid.uuid4().hex[:12]}", product_code=self.code, cities=[city], held_on=held,
                    attendance=rng.randint(8, 60), audience="客户经理", material_article_id=None))))
        # the gate documents of the step out of this stage, and the sub-flows' own documents
        nxt = NEXT.get(stage)
        types = list(GATE_DOCUMENTS.get((stage, nxt), ())) if nxt else []
        types += DOC_EXTRA.get(stage, ())
        for doc_type in types:
            if passed:
                self.document(doc_type, at(), approved=True, versions=rng.choice([1, 1, 2, 3]))
            elif rng.random() < 0.6:
                self.document(doc_type, at(), approved=rng.random() < 0.5, versions=rng.choice([1, 2]))
        if rng.random() < 0.3:
            self.document("other", at(), approved=False)

    def operation(self, since: datetime, *, plans: int, daily_days: int | None = None) -> None:
        """Inspection plans and their inspections since the product went into operation; a few plans lapse."""
        rng = self.rng
        for n in range(plans):
            every = ("daily", "weekly", "monthly")[n % 3] if daily_days else rng.choice(["daily", "weekly", "monthly"])
            step = {"daily": 1, "weekly": 7, "monthly": 30}[every]
            plan_start = ms(since + timedelta(days=rng.uniform(0, 5)))
            plan = {"_id": f"IP-{uuid.uuid4().hex[:12]}", "product_code": self.code,
                    "name": f"{self.product['name']}{ {'daily': '日常', 'weekly': '每周', 'monthly': '月度'}[every]}巡检",
                    "checklist": [{"item": "CPU使用率", "expected": "低于80%"}, {"item": "磁盘空间", "expected": "剩余20%以上"},
                                  {"item": "核心服务进程", "expected": None}],
                    "every": every, "interval_days": None, "starts_on": plan_start.astimezone(LOCAL).date()
                    .isoformat(), "at": plan_start, "by": "ops-01", "stopped_at": None}
            self.add("inspection_plans", plan)
            days = (self.now - plan_start).days
            if daily_days and every == "daily":
                days = min(days, daily_days)
                first = self.now - timedelta(days=days)
            else:
                days = min(days, 180)  # what is kept in view; older inspections would not change a figure
                first = self.now - timedelta(days=days)
            lapse = rng.random() < 0.15  # the plan stopped being followed: overdue on the portfolio
            end = self.now - timedelta(days=(3 * step + 2) if lapse else 0)
            when = max(first, plan_start)
            while when < end:
                results = [{"item": c["item"], "ok": rng.random() > 0.03, "value": None, "note": None}
                           for c in plan["checklist"]]
                outcome = "normal" if all(r["ok"] for r in results) else "abnormal"
                w = ms(when)
                self.add("inspections", {"_id": f"IN-{uuid.uuid4().hex[:12]}", "plan_id": plan["_id"],
                                         "plan_name": plan["name"], "product_code": self.code, "at": w, "by": "ops-01",
                                         "results": results, "outcome": outcome, "summary": None, "follow_up": None,
                                         "recorded_at": w})
                when += timedelta(days=step)


def build(code: str, product: dict, stage: Stage, rng: random.Random, now: datetime, *,
          hero: bool = False, ready: bool = False) -> History:
    """Put `product` in `stage` with a history: the transitions, and every stage's records."""
    reached = FORWARD[:FORWARD.index(stage) + 1] if stage != Stage.retired else \
        FORWARD[:rng.randint(1, len(FORWARD))]
    budget = rng.choice([300_000, 600_000, 800_000, 1_200_000, 2_500_000])
    product |= {"budget_cny": budget, "vendor": f"vendor-{rng.randint(1, 30):02d}"
                if FORWARD.index(reached[-1]) > FORWARD.index(Stage.initiation) or rng.random() < 0.3 else None}
    h = History(code, product, rng, now)
    # dates, newest first: how long ago the current stage began, then each earlier stage's span
    current_days = rng.uniform(3, 90) if stage not in (Stage.trial, Stage.trial_commercial) else rng.uniform(20, 80)
    if hero:
        current_days = 400
    if ready:
        current_days = rng.uniform(10, 40)
    starts = [now - timedelta(days=current_days)]
    for s in reversed(reached[:-1]):
        span = rng.uniform(60, 75) if s in (Stage.trial, Stage.trial_commercial) else rng.uniform(7, 45)
        starts.insert(0, starts[0] - timedelta(days=span))
    created = ms(starts[0] - timedelta(hours=1))
    transitions = []
    for n, s in enumerate(reached):
        end = starts[n + 1] if n + 1 < len(reached) else now
        passed = n + 1 < len(reached) or ready
        h.stage_records(s, starts[n], end, passed=passed)
        if n + 1 < len(reached):
            transitions.append({"from_stage": s.value, "to_stage": reached[n + 1].value, "at": ms(starts[n + 1]),
                                "by": product["product_managers"][0], "note": None, "recorded_at": ms(starts[n + 1])})
    entered = ms(starts[-1])
    if stage == Stage.retired:
        entered = ms(now - timedelta(days=rng.uniform(1, 200)))
        transitions.append({"from_stage": reached[-1].value, "to_stage": "retired", "at": entered,
                            "by": product["product_managers"][0], "note": "业务调整，产品下线", "recorded_at": entered})
    if stage in (Stage.commercial, Stage.delivered) or hero:
        live = FORWARD.index(Stage.commercial)
        went_live = starts[live] if len(starts) > live else entered
        h.operation(went_live, plans=3 if hero else rng.randint(1, 3), daily_days=365 if hero else None)
    product |= {"stage": stage.value, "stage_entered_at": entered, "created_at": created,
                "transitions": transitions, "version": 1 + len(transitions)}
    if hero:
        for doc_type in ("other", "user_manual", "training_material", "capability_catalog"):
            h.document(doc_type, now - timedelta(days=rng.uniform(5, 300)), approved=True, versions=12)
    return h


def pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-q * len(ordered) // 100) - 1))]


def start_service(mongo_url: str, db_name: str, namespace: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = devstack.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
    env.update(OPS_MONGO_URL=mongo_url, OPS_AMQP_URL=os.environ.get("OPS_AMQP_URL", devstack.DEFAULT_AMQP_URL),
               OPS_NAMESPACE=namespace, OPS_MONGO_DB=db_name, OPS_AUTH_SECRET=SECRET, OPS_PORT=str(port),
               OPS_LOG_LEVEL="warning", PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "services.lifecycle", "--role", "api"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    devstack.wait_http(f"{url}/readyz", timeout=120, proc=proc)
    return proc, url


def setup(http: httpx.Client, mongo_url: str, db_name: str, args) -> dict:
    rng = random.Random(11)
    now = datetime.now(UTC) - timedelta(minutes=5)
    n = args.products
    pool = args.repeat * args.runs
    if n < pool + 20:
        raise SystemExit(f"--products {n} is too few for {pool} accepted transitions (--repeat × --runs) + 20")
    codes = ["bench_hero", "bench_blocked", "bench_trial", "bench_docs"] + \
        [f"bench_ready_{i:03d}" for i in range(pool)]
    codes += [f"bench_p{i:04d}" for i in range(n - len(codes))]
    t0 = time.perf_counter()
    for i, code in enumerate(codes):
        body = {"code": code, "name": f"{NAMES[i % 16]}{THINGS[(i // 16) % 16]}{i}", "platform_code": PLATFORMS[i % 4],
                "product_managers": [PMS[i % len(PMS)]], "description": "基准测试产品"}
        r = http.post("/v1/products", json=body)
        if r.status_code != 201:
            raise SystemExit(f"POST /v1/products {code}: {r.status_code} {r.text[:300]}")
    registered = time.perf_counter() - t0
    client = MongoClient(mongo_url, tz_aware=True)
    db = client[db_name]
    t0 = time.perf_counter()
    stages = list(STAGE_WEIGHTS)
    weights = list(STAGE_WEIGHTS.values())
    batch: dict[str, list[dict]] = {}
    counts: dict[str, int] = {}
    by_stage: dict[str, int] = {}
    for code in codes:
        product = db.products.find_one({"_id": code})
        if code == "bench_hero":
            stage, extra = Stage.delivered, {"hero": True}
        elif code == "bench_blocked":
            stage, extra = Stage.initiation, {}
        elif code == "bench_trial":
            stage, extra = Stage.trial, {}
        elif code == "bench_docs" or code.startswith("bench_ready_"):
            stage, extra = Stage.development, {"ready": code != "bench_docs"}
        else:
            stage, extra = rng.choices(stages, weights)[0], {}
        h = build(code, product, stage, rng, now, **extra)
        if code == "bench_blocked":  # its gate lacks the contract whatever the dice said
            h.records["documents"] = [d for d in h.records.get("documents", []) if d["type"] != "contract"]
        db.products.replace_one({"_id": code}, h.product)
        by_stage[stage.value] = by_stage.get(stage.value, 0) + 1
        for collection, docs in h.records.items():
            batch.setdefault(collection, []).extend(docs)
            counts[collection] = counts.get(collection, 0) + len(docs)
        for collection, docs in list(batch.items()):
            if len(docs) >= 1000:
                db[collection].insert_many(docs, ordered=False)
                batch[collection] = []
    for collection, docs in batch.items():
        if docs:
            db[collection].insert_many(docs, ordered=False)
    written = time.perf_counter() - t0
    hero_records = sum(db[c].count_documents({"product_code": "bench_hero"}) for c in counts)
    client.close()
    print(f"set-up: {n} products registered over HTTP in {registered:.1f} s; their history written straight into "
          f"the store in {written:.1f} s")
    print("  by stage: " + ", ".join(f"{s} {by_stage.get(s.value, 0)}" for s in Stage))
    print("  records: " + ", ".join(f"{c} {k:,}" for c, k in sorted(counts.items())) +
          f"; total {sum(counts.values()):,}; bench_hero {hero_records:,}")
    return {"ready": [c for c in codes if c.startswith("bench_ready_")]}


def measure(http: httpx.Client, cpu_pids: dict[str, int | None], args, ready: list[str], run: int) -> dict:
    def case(name: str, call, expect: int) -> tuple[str, list[float], dict[str, float]]:
        times = []
        before = {k: procstat.cpu_seconds(p) for k, p in cpu_pids.items() if p}
        for i in range(args.repeat):
            t = time.perf_counter()
            r = call(i)
            times.append((time.perf_counter() - t) * 1000)
            if r.status_code != expect:
                raise SystemExit(f"{name}: {r.status_code} (expected {expect}) {r.text[:400]}")
        cpu = {k: (procstat.cpu_seconds(p) - before[k]) * 1000 / args.repeat for k, p in cpu_pids.items() if p}
        return name, times, cpu

    pool = ready[run * args.repeat:(run + 1) * args.repeat]
    cases = [
        ("GET /healthz (baseline)", lambda i: http.get("/healthz"), 200),
        ("GET /v1/portfolio", lambda i: http.get("/v1/portfolio"), 200),
        ("GET timeline (bench_hero)", lambda i: http.get("/v1/products/bench_hero/timeline"), 200),
        ("GET gate (a product in trial)", lambda i: http.get("/v1/products/bench_trial/gate"), 200),
        ("POST transition, 409 gate-blocked", lambda i: http.post("/v1/products/bench_blocked/transitions",
                                                                  json={"to": "development"}), 409),
        ("POST transition, accepted", lambda i: http.post(f"/v1/products/{pool[i]}/transitions",
                                                          json={"to": "testing"}), 201),
        ("POST document", lambda i: http.post("/v1/products/bench_docs/documents",
                                              json={"type": "other", "title": f"会议纪要{run}-{i}",
                                                    "ref": f"oa://bench/{run}/{i}"}), 201),
    ]
    out = {}
    for name, call, expect in cases:
        out[name] = case(name, call, expect)[1:]
    return out


def report(title: str, results: dict) -> None:
    print(f"\n{title}")
    print(f"  {'request':<36} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms/req service':>19} {'store':>8}")
    for name, (times, cpu) in results.items():
        print(f"  {name:<36} {statistics.median(times):>8.1f} {pct(times, 95):>8.1f} "
              f"{cpu.get('service', float('nan')):>19.2f} {cpu.get('store', float('nan')):>8.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30, help="requests per case and pass")
    parser.add_argument("--runs", type=int, default=3, help="measurement passes over the same set-up")
    parser.add_argument("--keep-log", action="store_true", help="print where the service's log is and keep it")
    args = parser.parse_args()
    amqp_url = os.environ.get("OPS_AMQP_URL", devstack.DEFAULT_AMQP_URL)
    if not devstack.amqp_ping(amqp_url):
        raise SystemExit(f"RabbitMQ does not answer at {devstack.redact_url(amqp_url)}; this script does not start it")
    namespace = f"bench{random.randrange(16 ** 6):06x}"
    db_name = f"{namespace}_lifecycle"
    log_path = Path(tempfile.mkdtemp(prefix="bench-lifecycle-")) / "lifecycle.log"
    with devstack.store_url(prefix="ops-bench-lifecycle-") as mongo_url, contextlib.ExitStack() as stack:
        store_port = urllib.parse.urlsplit(mongo_url.replace("mongodb://", "http://", 1)).port or 27017
        store = urllib.parse.urlsplit(mongo_url.replace("mongodb://", "http://", 1)).hostname
        store_pid = procstat.listening_pid(store_port) if store in devstack.LOCAL_HOSTS else None
        proc, url = start_service(mongo_url, db_name, namespace, log_path)
        stack.callback(lambda: (devstack.signal_group(proc, 15), proc.wait(30)))
        service_pid = procstat.listening_pid(urllib.parse.urlsplit(url).port) or proc.pid
        print(f"store: {devstack.redact_url(mongo_url)} (pid {store_pid}), database {db_name}; service {url} "
              f"(pid {service_pid}); cpus: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")
        token = mint_token(SECRET, sub="bench-admin", roles=["admin"])
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            pools = setup(http, mongo_url, db_name, args)
            body = http.get("/v1/portfolio").json()  # warm: the first request pays imports and connections
            print(f"portfolio: {sum(s['count'] for s in body['by_stage'])} entries, {len(body['blocked'])} blocked, "
                  f"{len(body['trials_ending'])} trials ending, "
                  f"{len(body['overdue_inspections'])} overdue inspections; "
                  f"{len(http.get('/v1/products/bench_hero/timeline').content):,} bytes of hero timeline "
                  f"({len(http.get('/v1/products/bench_hero/timeline').json()['entries'])} entries)")
            passes = []
            for run in range(args.runs):
                results = measure(http, {"service": service_pid, "store": store_pid}, args, pools["ready"], run)
                report(f"pass {run + 1} of {args.runs} (load average {os.getloadavg()[0]:.1f})", results)
                passes.append(results)
        if args.runs > 1:
            print(f"\nmedian of the {args.runs} passes (p50 of each pass's p50; p95 likewise)")
            print(f"  {'request':<36} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms/req service':>19} {'store':>8}")
            for name in passes[0]:
                p50 = statistics.median(statistics.median(p[name][0]) for p in passes)
                p95 = statistics.median(pct(p[name][0], 95) for p in passes)
                cpu = {k: statistics.median(p[name][1].get(k, float("nan")) for p in passes)
                       for k in ("service", "store")}
                print(f"  {name:<36} {p50:>8.1f} {p95:>8.1f} {cpu['service']:>19.2f} {cpu['store']:>8.2f}")
        if args.keep_log:
            print(f"service log: {log_path}")


if __name__ == "__main__":
    main()
