"""Benchmark of the closed-ticket loop against a running local stack (`make run`, then `make bench`).

It registers a fresh product in lifecycle (so its figures are its own), files tickets at a given rate, closes
each one (assign → resolve → satisfied feedback), and prints:
- tickets/s accepted, closes/s achieved, and intake latency p50/p99 (POST /v1/tickets);
- the p50/p99 delay from the `feedback` that closes a ticket to knowledge and to analytics having applied its
  ticket.closed: a poller reads each consumer's count of ticket.closed events applied on its /metrics (an event
  is acknowledged after its store write, so the count moves when the close shows in the read model); and to the
  metrics (`close → metrics`: analytics' summary of the product counting it, through the counters job); the
  poll interval bounds the resolution. At the end it checks that knowledge's candidates and analytics' summary count
  every close;
- as a baseline measured in the same run: GET /healthz latency at the same rate (the HTTP floor of the stack);
- CPU ms per close of every process of the stack (from /proc, this script's own included) and store commands
  per close, which is what tells why a rate is not reached.

The client is aiohttp on uvloop: httpx's async client cost 5 ms of CPU per request on this machine (aiohttp
0.3), which at 100 closes/s would take a core from the stack it measures.

Usage: python bench/close_loop.py [--rate 100] [--count 3000] [--concurrency 64] [--base http://127.0.0.1]
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "bench")]
import procstat  # noqa: E402
import stackmetrics  # noqa: E402
from services.kit.auth import mint_token  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET  # noqa: E402

SERVICES = {"ticketing": 8001, "lifecycle": 8002, "knowledge": 8003, "analytics": 8004}
CITIES = ("济南", "青岛", "淄博", "烟台", "潍坊", "临沂", "济宁", "德州")
QUESTIONS = tuple(f"{topic}{ask}" for topic in ("登录密码", "短信验证码", "通讯录同步", "考勤打卡", "审批流程",
                                                "套餐资费", "发票开具", "账号开通", "客户端升级", "数据导出")
                  for ask in ("怎么重置", "收不到怎么办", "失败如何处理", "在哪里设置"))
ACTIONS = (("assign", {"assignee": "bench"}),
           ("resolve", {"answer": "在登录页点击忘记密码，按短信验证码重置", "cause": "usage_misunderstanding"}),
           ("feedback", {"satisfied": True, "score": 5}))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:8.1f} ms   p99 {pct(values, 99) * 1000:8.1f} ms   (n={len(values)})"


async def paced(rate: float, count: int, work, concurrency: int) -> float:
    """Start `work(i)` at `rate` per second, at most `concurrency` at once; returns the seconds it took."""
    gate = asyncio.Semaphore(concurrency)
    start = time.perf_counter()

    async def one(i):
        async with gate:
            await work(i)

    tasks = []
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


class Client:
    """JSON over one aiohttp session: (status, body) or an exception of aiohttp's."""

    def __init__(self, session: aiohttp.ClientSession, headers: dict[str, str]):
        self.session, self.headers = session, headers

    async def get(self, url: str, **params) -> tuple[int, object]:
        async with self.session.get(url, params=params or None, headers=self.headers) as r:
            return r.status, await r.json(content_type=None)

    async def post(self, url: str, body: dict) -> tuple[int, object]:
        async with self.session.post(url, json=body, headers=self.headers) as r:
            return r.status, await r.json(content_type=None)

    async def text(self, url: str, params: list[tuple[str, str]] | None = None) -> str:
        async with self.session.get(url, params=params) as r:
            return await r.text()


async def main(args) -> int:
    secret = os.environ.get("OPS_AUTH_SECRET", DEV_AUTH_SECRET)
    url = {name: f"{args.base}:{port}" for name, port in SERVICES.items()}
    admin = {"Authorization": "Bearer " + mint_token(secret, sub="bench", roles=["admin"], name="bench")}
    product = f"bench_{int(time.time())}"
    connector = aiohttp.TCPConnector(limit=args.concurrency * 2 + 8)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        http = Client(session, admin)
        if problem := stackmetrics.unready(SERVICES, args.base):
            print(problem, file=sys.stderr)
            return 2
        status, body = await http.post(f"{url['lifecycle']}/v1/products",
                                       {"code": product, "name": f"压测产品 {product}", "platform_code": "cloud"})
        if status != 201:
            print(f"could not register {product} in lifecycle: {status} {body}", file=sys.stderr)
            return 2

        def ticket(i: int) -> dict:
            # QUESTIONS asked in turn: as at a real front line, a few dozen questions make most consultations,
            # each growing its own knowledge candidate
            title = QUESTIONS[i % len(QUESTIONS)]
            return {"kind": "consultation", "channel": "call_center", "product_code": product,
                    "city": CITIES[i % len(CITIES)], "title": title, "description": f"客户来电：{title}，请协助处理",
                    # a province's many group customers: one group for all would make each ticket a duplicate
                    "customer": {"name": f"客户{i}", "group_name": f"压测集团{i * 7919 % 5000}"}}

        deadline = time.monotonic() + 30
        while (await http.post(f"{url['ticketing']}/v1/tickets", ticket(-1)))[0] == 422:
            if time.monotonic() > deadline:
                print("ticketing did not learn the new product within 30 s", file=sys.stderr)
                return 2
            await asyncio.sleep(0.2)

        baseline: list[float] = []

        async def health(_):
            started = time.perf_counter()
            await http.text(f"{url['ticketing']}/healthz")
            baseline.append(time.perf_counter() - started)

        await paced(args.rate, min(args.count, 200), health, args.concurrency)

        async def applied(service: str) -> int:
            values = stackmetrics.counters(await http.text(f"{url[service]}/metrics",
                                                           stackmetrics.only("ops_events_consumed_total")))
            return int(stackmetrics.total(values, "ops_events_consumed_total", type="ticket.closed", outcome="ok",
                                          queue=f"{service}.tickets"))

        async def in_metrics(_: str) -> int:
            """Closes the summary counts (analytics' counters, one step after its read model)."""
            _, figures = await http.get(f"{url['analytics']}/v1/metrics/summary", product_code=product)
            return int(figures.get("closed", 0))

        counts = {"knowledge": applied, "analytics": applied, "metrics": in_metrics}
        base = {name: await counts[name](name) for name in counts}
        seen: dict[str, dict[int, float]] = {name: {} for name in counts}  # count → when the poller saw it
        polling = True

        async def poller(name: str) -> None:
            last = 0
            while polling:
                count = await counts[name](name) - base[name]
                now = time.perf_counter()
                for k in range(last + 1, count + 1):
                    seen[name][k] = now
                last = max(last, count)
                await asyncio.sleep(args.poll)

        intake: list[float] = []
        closed_at: list[float] = []
        failures: list[str] = []

        async def file_and_close(i: int):
            step = "intake"
            try:
                started = time.perf_counter()
                status, body = await http.post(f"{url['ticketing']}/v1/tickets", ticket(i))
                intake.append(time.perf_counter() - started)
                if status != 201:
                    failures.append(f"intake {status}")
                    return
                for step, action in ACTIONS:
                    status, _ = await http.post(f"{url['ticketing']}/v1/tickets/{body['id']}/{step}", action)
                    if status != 200:
                        failures.append(f"{step} {status}")
                        return
            except (aiohttp.ClientError, TimeoutError) as error:  # counted: the figures say how many failed
                failures.append(f"{step} {type(error).__name__}")
                return
            closed_at.append(time.perf_counter())

        mongo_url, amqp_url = procstat.stack_urls()
        watched = procstat.stack_processes(SERVICES, mongo_url, amqp_url)
        commands_before = {name: stackmetrics.counters(await http.text(f"{b}/metrics")) for name, b in url.items()}
        for w in watched:
            w.start()
        own_cpu = time.process_time()
        machine_before = procstat.machine_cpu_seconds()
        pollers = [asyncio.create_task(poller(name)) for name in seen]
        elapsed = await paced(args.rate, args.count, file_and_close, args.concurrency)
        wait_until = time.monotonic() + 60
        while time.monotonic() < wait_until and any(len(s) < len(closed_at) for s in seen.values()):
            await asyncio.sleep(0.05)
        polling = False
        await asyncio.gather(*pollers)
        for w in watched:
            w.stop()
        own_cpu = time.process_time() - own_cpu
        machine_after = procstat.machine_cpu_seconds()
        commands_after = {name: stackmetrics.counters(await http.text(f"{b}/metrics")) for name, b in url.items()}
        _, candidates = await http.get(f"{url['knowledge']}/v1/candidates", product_code=product, limit=200)
        in_knowledge = sum(c["occurrences"] for c in candidates.get("items", []))
        _, summary = await http.get(f"{url['analytics']}/v1/metrics/summary", product_code=product)
        in_analytics = summary.get("closed", 0)

    closes = sorted(closed_at)
    span = closes[-1] - closes[0] if len(closes) > 1 else float("nan")
    delays = {name: [seen[name][k + 1] - closes[k] for k in range(len(closes)) if k + 1 in seen[name]]
              for name in seen}
    accepted = len(intake) - sum(1 for f in failures if f.startswith("intake"))
    load = os.getloadavg()
    print(f"product {product}: {args.count} tickets at {args.rate:g}/s target, concurrency {args.concurrency}; "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    print(f"accepted           {accepted / elapsed:8.1f} tickets/s ({accepted} in {elapsed:.1f} s, "
          f"failures: {len(failures)})")
    print(f"closed             {len(closes) / span:8.1f} closes/s (open, assign, resolve, satisfied feedback; "
          f"{len(closes)} closes, first to last)")
    print(f"baseline /healthz  {ms(baseline)}")
    print(f"intake latency     {ms(intake)}")
    for name in ("knowledge", "analytics", "metrics"):
        missing = len(closes) - len(delays[name])
        print(f"close → {name:<10} {ms([max(d, 0.0) for d in delays[name]])}"
              + (f"   NOT SEEN: {missing}" if missing else ""))
    print(f"(freshness resolution: poll every {args.poll * 1000:.0f} ms)")
    print(f"read APIs at the end: knowledge's candidates count {in_knowledge}, analytics' summary {in_analytics} "
          f"closed, of {len(closes)}")
    busy, span_all = machine_after[0] - machine_before[0], (machine_after[1] - machine_before[1]) or 1
    print(f"CPU ms per close, from the first request until both read models had every close (machine "
          f"{busy / span_all:.0%} busy; 'bench' is this script)")
    print("\n".join(procstat.cpu_table(watched, {"bench": own_cpu}, len(closes))))
    print("store commands per close")
    for name in url:
        commands = stackmetrics.store_commands(commands_before[name], commands_after[name])
        if commands:
            per = "  ".join(f"{c} {n / max(len(closes), 1):.3f}" for c, n in sorted(commands.items()))
            print(f"  {name:<10} {sum(commands.values()) / max(len(closes), 1):6.3f}   ({per})")
    if failures:
        print("failures:", ", ".join(sorted(set(failures))), file=sys.stderr)
    return 0 if not failures else 1


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="tickets filed (and closed) per second")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64, help="tickets in their loop at once")
    parser.add_argument("--base", default="http://127.0.0.1")
    parser.add_argument("--poll", type=float, default=0.05, help="freshness poll interval, seconds")
    return uvloop.run(main(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(run())
