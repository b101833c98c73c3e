"""Analytics at a province's scale (issue 10, point 1): load N tickets into the read model through the consumer's
own handler, fold them into the counters with the counters job, then time summary, breakdown and timeseries.

1. Load: every ticket goes through `services.analytics.events.handlers.apply_ticket_event` (what the consumer
   calls for each delivered event), `--inflight` at a time as a consumer's prefetch does, in-process against the
   real store: one event per ticket carrying its final state (opened, resolved or closed), spread over 12 months,
   30 products, the 16 cities, every kind, channel and industry with skewed weights. Then a second round of
   `--updates` events for tickets already there (a later state), to time the per-event cost on documents that
   exist, as most live events are.
2. Count: the counters job (store/counters.py `CountersJob.run`) until nothing is dirty.
3. Query: each case `--repeat` times over HTTP (in-process ASGI client: FastAPI and the store, no socket), p50
   and p95. Baseline of the same run: GET /healthz, the floor of the HTTP path.

Printed: per-event CPU ms of this process and of the store's process (nx-27017 when local) for the read model,
per-ticket CPU ms of the counters job, store documents, and the query figures.

Store: OPS_MONGO_URL if set, else a fresh nx-27017 on a temporary directory.
Usage: python bench/analytics.py [--tickets 100000] [--updates 5000] [--repeat 30] [--inflight 256]

A million tickets take over an hour to load and count on two cores, and the queries are only worth timing on a
quiet machine: `--phase load --database NAME` (with OPS_MONGO_URL set to a store that outlives the run) loads and
counts, keeps the database and stops; `--phase query --database NAME` later times the queries on it.
`--phase year` builds the counters of a year in minutes instead, to time the queries of a million tickets when
there is no hour to load them: it counts `--tickets` tickets of one month (85,000: a million a year) with the
counters' own functions (contribution, roll-up, merge), without the read model or the job, stores that month's
bucket documents as the job would and copies its month documents to the 11 months after, then queries. Only the
forms a year of whole months tiles read what a million tickets would (summaries and breakdowns of all of it);
those of days or weeks outside the counted month read nothing.
`--phase upgrade` builds that year, then times what an upgrade of the cuboid set costs it: the counters job derives
every cuboid from the all-dimensions one's day buckets (store/counters.py `CountersJob.derive`); only the counted
month has day buckets, so the figure is a month's at a million tickets a year (a year: about twelve times it).
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import urllib.parse
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from pymongo import monitoring

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "bench")]
import devstack  # noqa: E402
import procstat  # noqa: E402

from contracts.events import Envelope, TicketClosed, TicketOpened, TicketResolved  # noqa: E402
from contracts.vocabulary import CITIES, Channel, Industry, Kind  # noqa: E402
from services.analytics.events.handlers import apply_ticket_event  # noqa: E402
from services.analytics.main import create  # noqa: E402
from services.analytics.settings import Settings  # noqa: E402
from services.analytics.domain import counters  # noqa: E402
from services.analytics.store.counters import COUNTER_BATCHES, COUNTERS, META, CountersJob, to_text  # noqa: E402
from services.analytics.store.collections import TICKETS  # noqa: E402
from services.kit.auth import mint_token  # noqa: E402

FIRST_DAY = datetime(2025, 12, 1, tzinfo=UTC) - timedelta(hours=8)  # 1 December 2025, 00:00 in Shanghai
DAYS = 365
PRODUCTS = [f"product_{n:02d}" for n in range(30)]
PRODUCT_WEIGHTS = [1 / (n + 1) for n in range(30)]           # a few big products, a long tail
CITY_WEIGHTS = [6, 5, 3, 2, 2, 4, 4, 3, 2, 2, 1, 4, 2, 2, 1, 3]
KINDS, KIND_WEIGHTS = list(Kind), [5, 2, 1, 2]
CHANNELS = list(Channel)
INDUSTRIES = [*Industry, None]
CAUSES = ["usage_misunderstanding", "billing_error", "product_defect", "feature_request", "network_or_platform",
          "other"]

CASES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("summary", "(no filter, all of it)", {}),
    ("summary", "one month", {"from": "2026-06-01", "to": "2026-06-30"}),
    ("summary", "product_code", {"product_code": "product_03"}),
    ("summary", "city", {"city": "济南"}),
    ("summary", "kind", {"kind": "complaint"}),
    ("summary", "channel", {"channel": "account_manager"}),
    ("summary", "product+city+kind, a quarter", {"product_code": "product_01", "city": "青岛", "kind": "fault",
                                                  "from": "2026-04-01", "to": "2026-06-30"}),
    ("summary", "city+industry", {"city": "烟台", "industry": "education"}),
    ("summary", "product+channel+industry (one product)",
     {"product_code": "product_04", "channel": "customer", "industry": "finance"}),
    ("summary", "channel+industry (every product)",
     {"channel": "customer", "industry": "finance"}),
    ("breakdown", "city", {"dimension": "city"}),
    ("breakdown", "product_code", {"dimension": "product_code"}),
    ("breakdown", "kind within a product", {"dimension": "kind", "product_code": "product_00"}),
    ("breakdown", "product_code within a city", {"dimension": "product_code", "city": "济南"}),
    ("breakdown", "industry", {"dimension": "industry"}),
    ("breakdown", "industry within a city", {"dimension": "industry", "city": "潍坊"}),
    ("timeseries", "opened by day, 90 days", {"metric": "opened", "interval": "day", "from": "2026-06-01",
                                              "to": "2026-08-29"}),
    ("timeseries", "opened by week, a year", {"metric": "opened", "interval": "week", "from": "2025-12-01",
                                              "to": "2026-11-30"}),
    ("timeseries", "backlog by month, a year", {"metric": "backlog", "interval": "month", "from": "2025-12-01",
                                                "to": "2026-11-30"}),
    ("timeseries", "satisfaction by month, product", {"metric": "satisfaction", "interval": "month",
                                                       "from": "2025-12-01", "to": "2026-11-30",
                                                       "product_code": "product_02"}),
)


def ticket_state(n: int, rng: random.Random) -> tuple[str, dict]:
    opened_at = FIRST_DAY + timedelta(seconds=rng.uniform(0, DAYS * 86400))
    kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
    state = dict(ticket_id=f"T-{n:08d}", kind=kind, status="new", channel=rng.choice(CHANNELS),
                 product_code=rng.choices(PRODUCTS, PRODUCT_WEIGHTS)[0], city=rng.choices(CITIES, CITY_WEIGHTS)[0],
                 industry=rng.choice(INDUSTRIES), priority="normal", tier=1, tier_reached=rng.choice([1, 1, 1, 2, 3]),
                 severity=2 if kind == Kind.fault else None, opened_at=opened_at, received_at=opened_at,
                 respond_by=opened_at + timedelta(hours=4), resolve_by=opened_at + timedelta(days=3))
    fate = rng.random()
    if fate < 0.1:
        return "ticket.opened", state
    responded = opened_at + timedelta(minutes=rng.uniform(5, 300))
    resolved = responded + timedelta(hours=rng.expovariate(1 / 20))
    state.update(status="resolved", first_response_at=responded, responded_timely=responded < state["respond_by"],
                 resolved_at=resolved, timely=resolved < state["resolve_by"], cause=rng.choice(CAUSES),
                 reopen_count=int(rng.random() < 0.05))
    if fate < 0.2:
        return "ticket.resolved", state
    satisfied = rng.random() < 0.9
    state.update(status="closed", closed_at=resolved + timedelta(hours=rng.uniform(1, 48)), satisfied=satisfied,
                 score=5 if satisfied else 2)
    return "ticket.closed", state


def envelope(event_type: str, state: dict, sequence: int) -> Envelope:
    extra = {"title": "移动办公登录失败", "description": "客户反映无法登录"}
    if event_type == "ticket.opened":
        payload = TicketOpened(**state, **extra)
    elif event_type == "ticket.resolved":
        payload = TicketResolved(**state, answer="已答复")
    else:
        payload = TicketClosed(**state, **extra, answer="已答复")
    return Envelope.wrap(payload, type=event_type, source="ticketing", subject=state["ticket_id"],
                         sequence=sequence, correlationid="bench")


class Cpu:
    """CPU seconds of this process and of the store's server process (when this machine runs it)."""

    def __init__(self, mongo_url: str):
        port = urllib.parse.urlsplit(mongo_url.replace("mongodb://", "http://", 1)).port or 27017
        self.store_pid = procstat.listening_pid(port)

    def now(self) -> tuple[float, float]:
        return time.process_time(), procstat.cpu_seconds(self.store_pid) if self.store_pid else 0.0


async def load(rt, tickets: int, inflight: int, rng: random.Random) -> list[tuple[str, dict]]:
    states = [ticket_state(n, rng) for n in range(tickets)]
    for start in range(0, tickets, inflight):
        await asyncio.gather(*(apply_ticket_event(rt, envelope(t, s, 5)) for t, s in states[start:start + inflight]))
        if start and start % (inflight * 200) == 0:
            print(f"  … {start:,} tickets", flush=True)
    return states


class DocumentsRead(monitoring.CommandListener):
    """Counts the documents the store returns to this process (every cursor batch), so that each query case prints
    how many bucket documents it read: a count, not a timing, the same on any machine."""

    def __init__(self) -> None:
        self.documents = 0

    def started(self, event) -> None:
        pass

    def succeeded(self, event) -> None:
        cursor = event.reply.get("cursor") if isinstance(event.reply, dict) else None
        if cursor:
            self.documents += len(cursor.get("firstBatch") or cursor.get("nextBatch") or ())

    def failed(self, event) -> None:
        pass


READ = DocumentsRead()
monitoring.register(READ)


def pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-q * len(ordered) // 100) - 1))]


async def run(args, mongo_url: str) -> None:
    settings = Settings(mongo_url=mongo_url, amqp_url=os.environ.get("OPS_AMQP_URL", devstack.DEFAULT_AMQP_URL),
                        namespace="bench" + uuid.uuid4().hex[:6], role="api", log_level="WARNING",
                        mongo_db=args.database or "bench_analytics_" + uuid.uuid4().hex[:6])
    app = create(settings)
    rt = app.state.runtime
    cpu = Cpu(mongo_url)
    rng = random.Random(7)
    async with app.router.lifespan_context(app):
        if args.phase in ("year", "upgrade"):
            await year_of_one_month(args, rt, rng)
            if args.phase == "upgrade":
                await upgrade(rt, cpu)
                await rt.store.client.drop_database(settings.database)
                return
        elif args.phase != "query":
            await load_and_count(args, rt, cpu, rng)
        if args.phase != "load":
            await queries(args, app, settings)
        if args.phase == "all" or (args.phase == "year" and not args.database):
            await rt.store.client.drop_database(settings.database)


async def year_of_one_month(args, rt, rng: random.Random) -> None:
    """`--phase year` (module docstring): a month counted at full density, its month buckets copied to 11 more."""
    global DAYS
    started, DAYS = time.perf_counter(), 31
    delta: dict = {}
    for n in range(args.tickets):
        for cell, measures in counters.contribution(ticket_state(n, rng)[1]).items():
            if cell[0] < "20260101":  # the first month's days only: a later day would be counted once, not copied
                counters.add_measures(delta.setdefault(cell, {}), measures)
    months = [counters.period_text(date(2025 + (11 + m) // 12, (11 + m) % 12 + 1, 1), "m") for m in range(12)]
    docs = []
    for bucket, change in counters.roll_up(delta).items():
        family, grain, period, *part = bucket.split(counters.SEPARATOR)
        for copy in months if grain == "m" else [period]:
            bucket_id = counters.SEPARATOR.join([family, grain, copy, *part])
            docs.append({"_id": bucket_id, **counters.bucket_fields(bucket_id), "b": 1,
                         **{counters.cells_field(cuboid): to_text(counters.merge_cells({}, cells))
                            for cuboid, cells in change.items()}})
    for start in range(0, len(docs), 100):
        await rt.store[COUNTERS].insert_many(docs[start:start + 100])
    await rt.store[COUNTER_BATCHES].replace_one({"_id": META}, {
        "_id": META, "last_batch": 1, "layout": counters.LAYOUT_VERSION, "rule": counters.RULE, "pending": 0,
        "first_day": months[0] + "01", "last_day": "20261130", "drained_at": time.time(), "counted_at": time.time()},
        upsert=True)
    await rt.store[TICKETS].insert_one({"_id": "T-year-of-one-month"})  # what `queries` checks before it starts
    print(f"a year of counters from {args.tickets:,} tickets of one month: {len(docs):,} bucket documents in "
          f"{time.perf_counter() - started:.0f} s", flush=True)


async def upgrade(rt, cpu: Cpu) -> None:
    """`--phase upgrade`: the counters of the set before, as if: `meta.layout` the oldest the job derives from."""
    meta = await rt.store[COUNTER_BATCHES].find_one({"_id": META})
    await rt.store[COUNTER_BATCHES].replace_one({"_id": META}, {**meta, "layout": counters.SOURCE_SINCE_LAYOUT})
    before = await rt.store[COUNTERS].count_documents({})
    started, (own0, store0) = time.perf_counter(), cpu.now()
    await CountersJob(rt.store, TICKETS).upgrade()
    seconds, (own1, store1) = time.perf_counter() - started, cpu.now()
    after = await rt.store[COUNTERS].count_documents({})
    print(f"upgrade of the cuboid set, derived from the all-dimensions day buckets of one month: {seconds:.1f} s, "
          f"CPU {own1 - own0:.1f} s here + {store1 - store0:.1f} s store; bucket documents {before:,} -> {after:,} "
          f"(the month copies of the other 11 months have no day buckets to derive from: gone)", flush=True)


async def load_and_count(args, rt, cpu: Cpu, rng: random.Random) -> None:
    started, (own0, store0) = time.perf_counter(), cpu.now()
    states = await load(rt, args.tickets, args.inflight, rng)
    wall, (own1, store1) = time.perf_counter() - started, cpu.now()
    print(f"read model: {args.tickets:,} new tickets in {wall:.0f} s ({args.tickets / wall:,.0f} events/s); "
          f"CPU per event {1000 * (own1 - own0) / args.tickets:.2f} ms here + "
          f"{1000 * (store1 - store0) / args.tickets:.2f} ms store", flush=True)

    job = CountersJob(rt.store, TICKETS)
    started, (own0, store0) = time.perf_counter(), cpu.now()
    await job.recover()
    await job.upgrade()
    counted, batches, window = 0, 0, time.perf_counter()
    while True:  # job.run(), with the time of a batch every 20 batches: does it grow as more is counted?
        size = await job.count_batch()
        counted, batches = counted + size, batches + 1
        if batches % 20 == 0:
            print(f"  … {counted:,} counted, {(time.perf_counter() - window) / 20:.2f} s a batch of the last 20",
                  flush=True)
            window = time.perf_counter()
        if size < job.batch:
            break
    wall, (own1, store1) = time.perf_counter() - started, cpu.now()
    buckets = await rt.store[COUNTERS].estimated_document_count()
    print(f"counters job: {counted:,} tickets in {wall:.0f} s; CPU per ticket {1000 * (own1 - own0) / counted:.2f}"
          f" ms here + {1000 * (store1 - store0) / counted:.2f} ms store; {buckets:,} bucket documents", flush=True)

    updates = min(args.updates, args.tickets)
    chosen = rng.sample(states, updates)
    started, (own0, store0) = time.perf_counter(), cpu.now()
    for start in range(0, updates, args.inflight):
        batch = chosen[start:start + args.inflight]
        await asyncio.gather(*(apply_ticket_event(rt, envelope(t, {**s, "tier_reached": 3}, 6))
                               for t, s in batch))
    wall, (own1, store1) = time.perf_counter() - started, cpu.now()
    print(f"read model, later events of existing tickets: {updates:,} in {wall:.1f} s; CPU per event "
          f"{1000 * (own1 - own0) / updates:.2f} ms here + {1000 * (store1 - store0) / updates:.2f} ms store")
    started, (own0, store0) = time.perf_counter(), cpu.now()
    counted = await job.run()
    wall, (own1, store1) = time.perf_counter() - started, cpu.now()
    print(f"counters job on them: {counted:,} tickets in {wall:.1f} s; CPU per ticket "
          f"{1000 * (own1 - own0) / max(counted, 1):.2f} ms here + {1000 * (store1 - store0) / max(counted, 1):.2f}"
          f" ms store", flush=True)


async def queries(args, app, settings: Settings) -> None:
    tickets = await app.state.runtime.store[TICKETS].estimated_document_count()
    if not tickets:
        raise SystemExit(f"database {settings.database} holds no tickets: load it first (--phase load)")
    print(f"queries on {tickets:,} tickets of database {settings.database}", flush=True)
    headers = {"Authorization": "Bearer " + mint_token(settings.auth_secret, sub="bench", roles=["analyst"])}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as http:
        async def timed(path: str, params: dict) -> list[float]:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                response = await http.get(path, params=params)
                times.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path} {params}: {response.status_code} {response.text[:300]}")
            return times

        base = await timed("/healthz", {})
        print(f"\n{'query':<58} {'p50 ms':>8} {'p95 ms':>8} {'docs read':>10}")
        print(f"{'baseline GET /healthz':<58} {statistics.median(base):>8.1f} {pct(base, 95):>8.1f}")
        for route, label, params in CASES:
            before = READ.documents
            await http.get(f"/v1/metrics/{route}", params=params)
            documents = READ.documents - before  # one request's documents (the meta document included)
            times = await timed(f"/v1/metrics/{route}", params)
            print(f"{route + ' ' + label:<58} {statistics.median(times):>8.1f} {pct(times, 95):>8.1f} "
                  f"{documents:>10,}", flush=True)
        body = (await http.get("/v1/metrics/summary")).json()
        print(f"\nall tickets: count {body['count']:,}, opened {body['opened']:,}, closed {body['closed']:,}, "
              f"backlog {body['backlog']:,}, as_of {body['as_of']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=5_000, help="later events of existing tickets, timed")
    parser.add_argument("--repeat", type=int, default=30, help="times each query runs")
    parser.add_argument("--inflight", type=int, default=256, help="events applied at once (a consumer's prefetch)")
    parser.add_argument("--phase", choices=("all", "load", "query", "year", "upgrade"), default="all",
                        help="load: load and count, keep the database; query: time the queries on a kept one; "
                             "year: a year of counters from one month counted, then the queries; upgrade: that "
                             "year, then an upgrade of the cuboid set timed")
    parser.add_argument("--database", help="the database to load into or query (default: a new one, dropped)")
    args = parser.parse_args()
    if args.phase in ("load", "query") and not (args.database and os.environ.get("OPS_MONGO_URL")):
        parser.error("--phase load|query needs --database and OPS_MONGO_URL (a store that outlives the run)")
    devstack.ensure_rabbitmq(os.environ.get("OPS_AMQP_URL", devstack.DEFAULT_AMQP_URL))
    with devstack.store_url(prefix="ops-bench-analytics-") as mongo_url:
        sized = "" if args.phase == "query" else f"   tickets: {args.tickets:,}"
        print(f"store: {devstack.redact_url(mongo_url)}   cpus: {os.cpu_count()}{sized}")
        asyncio.run(run(args, mongo_url))


if __name__ == "__main__":
    main()
