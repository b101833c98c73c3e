"""Benchmark of intake and the closed-ticket loop against a running local stack (`make run`, then `make bench`).

It registers a fresh product in lifecycle (so its figures are its own), files tickets at a given rate, closes
each one (assign → resolve → satisfied feedback), and prints:
- tickets/s accepted and intake latency p50/p99 (POST /v1/tickets),
- the p50/p99 delay from the `feedback` that closes a ticket to it counting in knowledge's candidate for the
  product and in analytics' summary (a poller watches both counters; its interval bounds the resolution),
- as a baseline measured in the same run: GET /healthz latency at the same rate (the HTTP floor of the stack).

Usage: python bench/close_loop.py [--rate 20] [--count 200] [--concurrency 16] [--base http://127.0.0.1]
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from services.kit.auth import mint_token  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET  # noqa: E402


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:8.1f} ms   p99 {pct(values, 99) * 1000:8.1f} ms   (n={len(values)})"


async def paced(rate: float, count: int, work, concurrency: int):
    """Start `work(i)` at `rate` per second, at most `concurrency` at once."""
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


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="tickets filed per second")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--base", default="http://127.0.0.1")
    parser.add_argument("--poll", type=float, default=0.02, help="freshness poll interval, seconds")
    args = parser.parse_args()

    secret = os.environ.get("OPS_AUTH_SECRET", DEV_AUTH_SECRET)
    url = {name: f"{args.base}:{port}" for name, port in
           (("ticketing", 8001), ("lifecycle", 8002), ("knowledge", 8003), ("analytics", 8004))}
    admin = {"Authorization": "Bearer " + mint_token(secret, sub="bench", roles=["admin"], name="bench")}
    product = f"bench_{int(time.time())}"

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=args.concurrency * 2 + 4)) as http:
        for name, base in url.items():
            try:
                ready = (await http.get(f"{base}/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if not ready:
                print(f"{name} is not ready at {base}: start the stack with `make run` first.", file=sys.stderr)
                return 2
        r = await http.post(f"{url['lifecycle']}/v1/products", headers=admin,
                            json={"code": product, "name": f"压测产品 {product}", "platform_code": "cloud"})
        if r.status_code != 201:
            print(f"could not register {product} in lifecycle: {r.status_code} {r.text}", file=sys.stderr)
            return 2

        def ticket(i: int) -> dict:
            # one question for every ticket, so they all grow one knowledge candidate whose count we watch
            return {"kind": "consultation", "channel": "call_center", "product_code": product, "city": "济南",
                    "title": "压测：如何重置密码", "description": "压测：如何重置密码",
                    "customer": {"name": f"客户{i}", "group_name": "压测集团"}}

        deadline = time.monotonic() + 30
        while (await http.post(f"{url['ticketing']}/v1/tickets", json=ticket(-1), headers=admin)).status_code == 422:
            if time.monotonic() > deadline:
                print("ticketing did not learn the new product within 30 s", file=sys.stderr)
                return 2
            await asyncio.sleep(0.2)

        baseline: list[float] = []

        async def health(_):
            started = time.perf_counter()
            await http.get(f"{url['ticketing']}/healthz")
            baseline.append(time.perf_counter() - started)

        await paced(args.rate, min(args.count, 200), health, args.concurrency)

        intake: list[float] = []
        closed_at: list[float] = []
        failures: list[str] = []

        async def file_and_close(i: int):
            started = time.perf_counter()
            r = await http.post(f"{url['ticketing']}/v1/tickets", json=ticket(i), headers=admin)
            intake.append(time.perf_counter() - started)
            if r.status_code != 201:
                failures.append(f"intake {r.status_code}")
                return
            tid = r.json()["id"]
            for action, body in (("assign", {"assignee": "bench"}),
                                 ("resolve", {"answer": "在登录页点击忘记密码", "cause": "usage_misunderstanding"}),
                                 ("feedback", {"satisfied": True, "score": 5})):
                r = await http.post(f"{url['ticketing']}/v1/tickets/{tid}/{action}", json=body, headers=admin)
                if r.status_code != 200:
                    failures.append(f"{action} {r.status_code}")
                    return
            closed_at.append(time.perf_counter())

        seen = {"knowledge": {}, "analytics": {}}  # count → first time the poller saw it
        polling = True

        async def poll_knowledge():
            r = await http.get(f"{url['knowledge']}/v1/candidates", params={"product_code": product}, headers=admin)
            items = r.json().get("items", []) if r.status_code == 200 else []
            return max((c["occurrences"] for c in items), default=0)

        async def poll_analytics():
            r = await http.get(f"{url['analytics']}/v1/metrics/summary", params={"product_code": product},
                               headers=admin)
            return r.json().get("closed", 0) if r.status_code == 200 else 0

        async def poller(name, probe):
            last = 0
            while polling:
                count = await probe()
                now = time.perf_counter()
                for k in range(last + 1, count + 1):
                    seen[name][k] = now
                last = max(last, count)
                await asyncio.sleep(args.poll)

        pollers = [asyncio.create_task(poller("knowledge", poll_knowledge)),
                   asyncio.create_task(poller("analytics", poll_analytics))]
        elapsed = await paced(args.rate, args.count, file_and_close, args.concurrency)
        wait_until = time.monotonic() + 30
        while time.monotonic() < wait_until and (len(seen["knowledge"]) < len(closed_at)
                                                 or len(seen["analytics"]) < len(closed_at)):
            await asyncio.sleep(0.1)
        polling = False
        await asyncio.gather(*pollers)

    closes = sorted(closed_at)
    delays = {name: [seen[name][k + 1] - closes[k] for k in range(len(closes)) if k + 1 in seen[name]]
              for name in seen}
    accepted = len(intake) - sum(1 for f in failures if f.startswith("intake"))
    print(f"product {product}: {args.count} tickets at {args.rate:g}/s target, concurrency {args.concurrency}")
    print(f"accepted           {accepted / elapsed:8.1f} tickets/s ({accepted} in {elapsed:.1f} s, failures: {len(failures)})")
    print(f"baseline /healthz  {ms(baseline)}")
    print(f"intake latency     {ms(intake)}")
    for name in ("knowledge", "analytics"):
        missing = len(closes) - len(delays[name])
        print(f"close → {name:<10} {ms([max(d, 0.0) for d in delays[name]])}"
              + (f"   NOT SEEN: {missing}" if missing else ""))
    print(f"(freshness resolution: poll every {args.poll * 1000:.0f} ms; statistics over {len(closes)} closes)")
    if failures:
        print("failures:", ", ".join(sorted(set(failures))), file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
