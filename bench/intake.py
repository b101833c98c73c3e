"""Intake at saturation, and where its time goes: `make bench-intake` against a running stack (`make run`).

wrk drives `POST /v1/tickets` with N connections for T seconds (intake token, a fresh Idempotency-Key per
request, a mix of consultations, complaints, faults and suggestions). Printed:
- tickets/s accepted (201) and latency p50/p99;
- CPU ms per accepted ticket of every process of the stack, from /proc: each service, the store, the broker,
  the load generator, over the load and the catch-up after it (work deferred to a backlog is counted);
- store commands per ticket, per service and command (PyMongo command monitoring, `ops_store_commands_total` on
  each service's /metrics);
- when the load stops: the outbox backlog (ticket.opened accepted but not yet published) and the read model's
  lag (published but not yet applied by analytics), and how long both take to reach zero;
- resident memory of each process;
- last, the ticket list and search figures of bench/search.py (p50/p95/p99 and req/s at 1 and 32 clients for
  q=密码 and every documented filter), which are meant for a store seeded with 100,000 tickets (`make seed`).
Baseline, measured in the same run before the load: the floor our code adds to, i.e. the same store's
`insert_one` of a ticket document with its embedded event plus one confirmed persistent publish, from one
process with as many requests in flight.

Usage: python bench/intake.py [--connections 32] [--duration 30] [--product mobile_office]
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "bench")]
import procstat  # noqa: E402
import stackmetrics  # noqa: E402
from services.kit.auth import mint_token  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET  # noqa: E402

CUSTOMER_GROUPS = 5000  # about a province's group customers that file tickets in a month
SERVICES = {"ticketing": 8001, "lifecycle": 8002, "knowledge": 8003, "analytics": 8004}
CITIES = ("济南", "青岛", "淄博", "烟台", "潍坊", "临沂", "济宁", "德州")
BODIES = (  # (kind, extra, title, description)
    ("consultation", {}, "移动办公如何重置密码", "客户忘记移动办公登录密码，询问如何自助重置，短信验证码收不到"),
    ("complaint", {"industry": "education"}, "集团通讯录同步失败投诉", "客户投诉集团通讯录连续三天无法同步新员工，影响通知下发，要求尽快处理"),
    ("fault", {"severity": 2}, "外勤通定位异常", "外勤通签到时定位偏差超过两公里，多名员工无法正常打卡，影响考勤"),
    ("suggestion", {"industry": "government"}, "建议增加审批流程模板", "客户建议移动办公增加公文审批流程模板，并支持批量导出审批记录"),
    ("consultation", {"priority": "high"}, "资费咨询：集团短信怎么收费", "客户咨询集团短信的资费标准和包月套餐，是否有教育行业优惠"),
)


# --- the load: wrk with a Lua script -------------------------------------------------------------------------

LUA = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  counter, created, other, statuses = 0, 0, 0, {}
end
local bodies = { BODIES }
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer TOKEN" }
function request()
  counter = counter + 1
  headers["Idempotency-Key"] = "RUN-" .. id .. "-" .. counter
  -- customers of GROUPS groups, spread: a load from one group would make every intake a duplicate of the last
  local group = (counter * 7919 + id * 104729) % GROUPS
  local body = string.gsub(bodies[(counter % #bodies) + 1], "@GROUP@", tostring(group))
  return wrk.format("POST", "PATH", headers, body)
end
function response(status, hdrs, body)
  if status == 201 then created = created + 1 else
    other = other + 1
    statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
  end
end
function done(summary, latency, requests)
  local c, o, st = 0, 0, {}
  for _, t in ipairs(threads) do
    c = c + t:get("created"); o = o + t:get("other")
    for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(st) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  io.write(string.format('BENCH {"created": %d, "other": %d, "statuses": {%s}, "duration_us": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "errors": %d}\n', c, o, table.concat(parts, ", "), summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
"""


def lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ticket_bodies(product: str) -> list[str]:
    bodies = []
    for i, (kind, extra, title, description) in enumerate(BODIES):
        body = {"kind": kind, "channel": "call_center", "product_code": product, "city": CITIES[i % len(CITIES)],
                "title": title, "description": description, **extra,
                "customer": {"name": f"压测客户{i}", "contact": "13800000000", "group_name": "压测集团@GROUP@有限公司"}}
        bodies.append(json.dumps(body, ensure_ascii=False))
    return bodies


def wrk_script(token: str, product: str, path: str) -> str:
    return (LUA.replace("BODIES", ", ".join(lua_string(b) for b in ticket_bodies(product)))
            .replace("TOKEN", token).replace("RUN", secrets.token_hex(4)).replace("PATH", path)
            .replace("GROUPS", str(CUSTOMER_GROUPS)))


# --- the floor: insert_one + one confirmed publish, from one process ---------------------------------------

async def floor(mongo_url: str, amqp_url: str, connections: int, duration: float) -> dict:
    import aio_pika
    from pymongo import AsyncMongoClient

    from contracts.events import Envelope
    from contracts.vocabulary import Channel, Kind
    from services.kit.broker import EventBus
    from services.kit.settings import ServiceSettings
    from services.ticketing.domain.ticket import Actor, Customer, Ticket
    from services.ticketing.store.collections import to_document

    ticket, opened = Ticket.open(
        id="ZX-20261201-00001", kind=Kind.consultation, channel=Channel.call_center, product_code="mobile_office",
        city="济南", title=BODIES[0][2], description=BODIES[0][3], now=datetime.now(UTC),
        customer=Customer(name="压测客户", group_name="压测集团有限公司"), actor=Actor(sub="bench"))
    envelope = Envelope.wrap(opened, type="ticket.opened", source="bench",
                             subject=ticket.id, sequence=1, correlationid="bench").model_dump(mode="json")
    document = {**to_document(ticket, {}), "_outbox": [envelope], "_outbox_pending": True, "_rev": 1}

    settings = ServiceSettings(service_name="benchfloor", amqp_url=amqp_url, namespace="bf" + secrets.token_hex(3),
                               log_level="WARNING")
    bus = EventBus(settings)
    bus.queue("floor.tickets", ["ticket.opened"])  # a quorum queue takes every message, as analytics' does
    await bus.broker.connect()
    await bus.declare_topology()
    client = AsyncMongoClient(mongo_url, tz_aware=True)
    collection = client["ops_bench_floor"]["tickets"]
    await collection.drop()
    latencies: list[float] = []
    end = time.monotonic() + duration

    async def worker(w: int) -> None:
        n = 0
        while time.monotonic() < end:
            n += 1
            started = time.perf_counter()
            await collection.insert_one({**document, "_id": f"F-{w}-{n}"})
            await bus.publish({**envelope, "id": secrets.token_hex(16)})
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    elapsed = time.perf_counter() - started
    await client.drop_database("ops_bench_floor")
    await client.close()
    await bus.broker.stop()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in bus.bindings:
            await channel.queue_delete(name)
            await channel.queue_delete(f"{name}.dlq")
        await channel.exchange_delete(bus.exchange.name)
        await channel.exchange_delete(bus.dead_letter_exchange.name)
    latencies.sort()
    return {"created": len(latencies), "duration_us": elapsed * 1e6,
            "p50_us": latencies[len(latencies) // 2] * 1e6 if latencies else 0,
            "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6 if latencies else 0, "errors": 0}


# --- reading the stack ------------------------------------------------------------------------------------

def run_wrk(args, script: Path, url: str) -> tuple[dict, float]:
    """Run wrk; returns its summary and its own CPU seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
                             "--timeout", "10s", "-s", str(script), url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = proc.stdout.read()
    if proc.returncode != 0 or "BENCH " not in output:
        raise SystemExit(f"wrk failed ({proc.returncode}) after {time.perf_counter() - started:.1f} s:\n{output}")
    summary = json.loads(output.split("BENCH ", 1)[1].splitlines()[0])
    return summary, usage.ru_utime + usage.ru_stime


# --- printing -----------------------------------------------------------------------------------------------

def rate_line(name: str, s: dict) -> str:
    seconds = s["duration_us"] / 1e6
    extra = f"   non-201: {s['other']} {s.get('statuses') or ''}" if s.get("other") else ""
    return (f"  {name:<34} {s['created'] / seconds:8.1f} tickets/s   p50 {s['p50_us'] / 1000:7.1f} ms   "
            f"p99 {s['p99_us'] / 1000:7.1f} ms   ({s['created']} in {seconds:.1f} s; errors {s['errors']}){extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=30, help="seconds of load")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--product", default="mobile_office", help="a product the catalog knows")
    parser.add_argument("--no-floor", action="store_true", help="skip the baseline")
    parser.add_argument("--catch-up-timeout", type=float, default=120.0)
    parser.add_argument("--no-list", action="store_true",
                        help="skip the last phase, the list and search figures (bench/search.py; seed first: make seed)")
    parser.add_argument("--list-duration", type=float, default=3.0, help="seconds per list or search measurement")
    parser.add_argument("--floor-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    mongo_url, amqp_url = procstat.stack_urls()
    if args.floor_worker:
        print("FLOOR " + json.dumps(asyncio.run(floor(mongo_url, amqp_url, args.connections, args.duration))))
        return 0

    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    secret = os.environ.get("OPS_AUTH_SECRET", DEV_AUTH_SECRET)
    token = mint_token(secret, sub="bench-intake", roles=["intake"], name="压测渠道", channel="call_center")
    http = httpx.Client(timeout=10)
    if problem := stackmetrics.unready(SERVICES):
        print(problem, file=sys.stderr)
        return 2
    probe = http.post(f"http://127.0.0.1:{SERVICES['ticketing']}/v1/tickets", content=ticket_bodies(args.product)[0],
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    if probe.status_code != 201:
        print(f"a probe ticket was refused ({probe.status_code} {probe.text[:300]}); pass --product with a product "
              "the catalog knows", file=sys.stderr)
        return 2

    watched = procstat.stack_processes(SERVICES, mongo_url, amqp_url)
    load = os.getloadavg()
    print(f"intake bench: {args.connections} connections, {args.duration} s, product {args.product}; "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before the run")
    print(f"processes: {procstat.describe(watched)}")

    results: list[str] = []
    if not args.no_floor:
        store_broker = [w for w in watched if w.name in ("store", "broker")]
        for w in store_broker:
            w.start()
        child = subprocess.run([sys.executable, __file__, "--floor-worker", "--connections", str(args.connections),
                                "--duration", str(min(args.duration, 15))],
                               capture_output=True, text=True, env=dict(os.environ, OPS_MONGO_URL=mongo_url,
                                                                        OPS_AMQP_URL=amqp_url))
        for w in store_broker:
            w.stop()
        if child.returncode != 0 or "FLOOR " not in child.stdout:
            print(f"the baseline failed:\n{child.stdout}\n{child.stderr}", file=sys.stderr)
            return 2
        floor_summary = json.loads(child.stdout.split("FLOOR ", 1)[1].splitlines()[0])
        usage = os.times()
        results.append("baseline (same run, before the load): insert_one + confirmed publish, one process")
        results.append(rate_line("floor", floor_summary))
        results.append("  CPU ms per ticket")
        results += procstat.cpu_table(store_broker, {"floor": usage.children_user + usage.children_system},
                             floor_summary["created"])

    time.sleep(2)  # the probe ticket's events (and the baseline's load) settle before anything is counted
    metrics_before = {name: stackmetrics.scrape(http, port) for name, port in SERVICES.items()}
    machine_before = procstat.machine_cpu_seconds()
    for w in watched:
        w.start()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(token, args.product, "/v1/tickets"))
    try:
        summary, wrk_cpu = run_wrk(args, Path(script.name), f"http://127.0.0.1:{SERVICES['ticketing']}")
    finally:
        os.unlink(script.name)
    stopped = time.perf_counter()
    accepted = summary["created"]

    def lag() -> tuple[float, float]:
        # analytics first: what it applied by then was published before, so neither figure goes below zero
        analytics = stackmetrics.scrape(http, SERVICES["analytics"], "ops_events_consumed_total")
        ticketing = stackmetrics.scrape(http, SERVICES["ticketing"], "ops_events_published_total")
        opened = {"type": "ticket.opened"}
        applied_opened = {"type": "ticket.opened", "queue": "analytics.tickets", "outcome": "ok"}
        published = (stackmetrics.total(ticketing, "ops_events_published_total", **opened)
                     - stackmetrics.total(metrics_before["ticketing"], "ops_events_published_total", **opened))
        applied = (stackmetrics.total(analytics, "ops_events_consumed_total", **applied_opened)
                   - stackmetrics.total(metrics_before["analytics"], "ops_events_consumed_total", **applied_opened))
        return accepted - published, published - applied

    backlog, read_lag = lag()
    caught_up = None
    while time.perf_counter() - stopped < args.catch_up_timeout:
        outbox_now, lag_now = lag()
        if outbox_now <= 0 and lag_now <= 0:
            caught_up = time.perf_counter() - stopped
            break
        time.sleep(0.05)
    for w in watched:
        w.stop()
    machine_after = procstat.machine_cpu_seconds()
    metrics_after = {name: stackmetrics.scrape(http, port) for name, port in SERVICES.items()}

    results.append("the stack: POST /v1/tickets through wrk")
    results.append(rate_line("stack", summary))
    busy = machine_after[0] - machine_before[0]
    span = (machine_after[1] - machine_before[1]) or 1
    results.append(f"  CPU ms per accepted ticket, load + catch-up (machine {busy / span:.0%} busy over "
                   f"{span / (os.cpu_count() or 1):.1f} s)")
    results += procstat.cpu_table(watched, {"wrk": wrk_cpu}, accepted)
    results.append("  store commands per accepted ticket (load + catch-up)")
    for name in SERVICES:
        commands = stackmetrics.store_commands(metrics_before[name], metrics_after[name])
        if commands:
            per = "  ".join(f"{c} {n / max(accepted, 1):.3f}" for c, n in sorted(commands.items()))
            results.append(f"    {name:<10} {sum(commands.values()) / max(accepted, 1):6.3f}   ({per})")
    results.append("  store answers: ms a command, mean (commands), the four longest in total; waiting at the store "
                   "included, which is where another service's long command shows")
    for name in SERVICES:
        waits = stackmetrics.store_waits(metrics_before[name], metrics_after[name])
        longest = sorted(waits.items(), key=lambda item: -item[1][1])[:4]
        if longest:
            results.append(f"    {name:<10} " + "  ".join(f"{c} {1000 * t / n:.1f} ({n:.0f})" for c, (n, t) in longest))
    results.append(f"  at load stop: outbox backlog {backlog:.0f} events, analytics read model {read_lag:.0f} "
                   f"behind; " + (f"caught up {caught_up:.2f} s after the load stopped" if caught_up is not None
                                  else f"NOT caught up within {args.catch_up_timeout:g} s"))
    memory = []
    for w in watched:
        try:
            now, peak = procstat.rss_mib(w.pid)
            memory.append(f"{w.name} {now:.0f}/{peak:.0f}")
        except OSError:
            memory.append(f"{w.name} gone")
    results.append("  RSS MiB now/peak: " + ", ".join(memory))
    print("\n".join(results), flush=True)
    if not args.no_list:
        import search  # bench/search.py

        search.figures(f"http://127.0.0.1:{SERVICES['ticketing']}", duration=args.list_duration, secret=secret)
    return 0


if __name__ == "__main__":
    sys.exit(main())
