"""Ticket list and search figures against a running stack (`make run`, then `make seed`, then `make bench-search`).

For `q=密码` and for each documented filter of GET /v1/tickets (kind, status, product_code, city, channel,
breached, several at once, and the page after the first through `next_cursor`) it prints latency p50/p95/p99 and
requests/s at 1 client and at 32 clients, each for --duration seconds with wrk (a Lua script adds the token and
reports the percentiles), after the baseline measured in the same run: GET /healthz at the same concurrency, the
HTTP floor of the service. It also prints the ticket count it ran against and the CPU the client itself used
(wrk is C: a few percent of one core), since client and stack share the machine's two cores.

Usage: python bench/search.py [--base http://127.0.0.1:8001] [--duration 5] [--clients 1,32]
Store for the ticket count: OPS_MONGO_URL (default mongodb://127.0.0.1:27017) and OPS_MONGO_DB (ops_ticketing).
`figures()` is the same measurement for other bench scripts to print as a phase of their own.
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from services.kit.auth import mint_token  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET  # noqa: E402

DEFAULT_URL = "mongodb://127.0.0.1:27017/?directConnection=true"

# (label, query) — the documented filters, each with a value that lists a full page on seeded data
CASES: tuple[tuple[str, dict[str, str]], ...] = (
    ("q=密码", {"q": "密码"}),
    ("q=密码 (page 2)", {"q": "密码", "page": "2"}),
    ("q=移动办公 登不上", {"q": "移动办公 登不上"}),
    ("q=密码&city=济南", {"q": "密码", "city": "济南"}),
    ("(no filter)", {}),
    ("city=济南", {"city": "济南"}),
    ("city=东营 (page 2)", {"city": "东营", "page": "2"}),
    ("kind=complaint", {"kind": "complaint"}),
    ("status=escalated", {"status": "escalated"}),
    ("product_code=mobile_office", {"product_code": "mobile_office"}),
    ("channel=account_manager", {"channel": "account_manager"}),
    ("breached=true", {"breached": "true"}),
    ("breached=false", {"breached": "false"}),
    ("city+kind+status", {"city": "青岛", "kind": "fault", "status": "closed"}),
)

LUA = r"""
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
    + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, errors, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def wrk(url: str, token: str, clients: int, duration: float, script: str) -> dict:
    """One wrk run: its figures and the CPU seconds wrk itself used."""
    threads = min(clients, 2)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(["wrk", f"-t{threads}", f"-c{clients}", f"-d{duration:g}s", "--timeout", "10s", "-s", script,
                           url], capture_output=True, text=True, env={**os.environ, "BENCH_TOKEN": token},
                          timeout=duration + 60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
    requests, errors, micros, p50, p95, p99 = (int(v) for v in line.split()[1:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"requests": requests, "errors": errors, "rate": requests / (micros / 1e6), "p50": p50 / 1000,
            "p95": p95 / 1000, "p99": p99 / 1000, "client_cpu": cpu / wall}


def one_by_one(url: str, headers: dict, count: int = 3) -> dict:
    """Latency of `count` requests in a row, for a request slower than a wrk run lasts."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        httpx.get(url, headers=headers, timeout=120).raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {"requests": count, "errors": 0, "rate": count / (sum(latencies) / 1000), "p50": latencies[count // 2],
            "p95": latencies[-1], "p99": latencies[-1], "client_cpu": 0.0}


def settle(store_port: int = 27017, quiet: float = 0.15, timeout: float = 180.0) -> None:
    """Wait until the local store is idle (under `quiet` of a core for half a second): a run must not inherit
    the queries a previous run left queued on the store (wrk closes its connections; the store goes on)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import procstat

    pid = procstat.listening_pid(store_port)
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = procstat.cpu_seconds(pid)
        time.sleep(0.5)
        if procstat.cpu_seconds(pid) - before < quiet * 0.5:
            return


def ticket_count() -> str:
    from pymongo import MongoClient

    url = os.environ.get("OPS_MONGO_URL", DEFAULT_URL)
    client = MongoClient(url, serverSelectionTimeoutMS=3000)
    try:
        return f"{client[os.environ.get('OPS_MONGO_DB', 'ops_ticketing')].tickets.estimated_document_count():,}"
    except Exception as error:  # noqa: BLE001 - the figures stand without the count
        return f"unknown ({type(error).__name__}: set OPS_MONGO_URL to the stack's store)"
    finally:
        client.close()


def case_url(base: str, headers: dict, query: dict[str, str]) -> tuple[str, int]:
    """The URL to load (for "page 2", with the first page's next_cursor) and how many items it lists."""
    query = dict(query)
    page = query.pop("page", "1")
    r = httpx.get(f"{base}/v1/tickets", params=query, headers=headers, timeout=60)
    r.raise_for_status()
    if page == "2":
        cursor = r.json()["next_cursor"]
        if not cursor:
            return "", 0
        query["cursor"] = cursor
        r = httpx.get(f"{base}/v1/tickets", params=query, headers=headers, timeout=60)
        r.raise_for_status()
    return f"{base}/v1/tickets?{urllib.parse.urlencode(query)}" if query else f"{base}/v1/tickets", len(r.json()["items"])


def figures(base: str = "http://127.0.0.1:8001", *, duration: float = 5.0, clients: tuple[int, ...] = (1, 32),
            limit: int | None = None,
            secret: str | None = None, out=sys.stdout) -> None:
    """Measure and print the list and search figures against the ticketing service at `base`."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    token = mint_token(secret or os.environ.get("OPS_AUTH_SECRET", DEV_AUTH_SECRET), sub="bench", roles=["agent"])
    headers = {"Authorization": f"Bearer {token}"}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    try:
        print(f"ticket list and search at {base}: {ticket_count()} tickets; {duration:g} s per run; "
              f"latency ms; load average {os.getloadavg()[0]:.2f} at start", file=out)
        print(f"{'':30}" + "".join(f"{f'{c} client' + ('s' if c > 1 else ''):>36}" for c in clients), file=out)
        print(f"{'what':30}" + f"{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>8}{'cli':>4}" * len(clients)
              + "  items", file=out)
        rows = [("GET /healthz (baseline)", f"{base}/healthz", None)]
        for label, query in CASES:
            url, items = case_url(base, headers, {**query, **({"limit": str(limit)} if limit else {})})
            rows.append((label, url, items))
        for label, url, items in rows:
            if not url:
                print(f"{label:30} (no second page: seed more tickets)", file=out)
                continue
            settle()
            wrk(url, token, 1, 1.0, script.name)  # warm the route and the store's cache
            cells = []
            slow = False
            for c in clients:
                settle()
                if slow and c > 1:  # many clients would only queue seconds of work each on the store
                    cells.append(f"{'(skipped: over 2 s at 1 client)':>36}")
                    continue
                r = wrk(url, token, c, duration, script.name)
                if r["requests"] == 0 and c == 1:  # slower than the run: time a few requests one by one
                    r = one_by_one(url, headers)
                slow = r["p50"] > 2000
                cells.append(f"{r['p50']:8.1f}{r['p95']:8.1f}{r['p99']:8.1f}{r['rate']:8.0f}{r['client_cpu']:4.0%}"
                             + (f" ERR {r['errors']}" if r["errors"] else ""))
            print(f"{label:30}" + "".join(cells) + (f"  {items}" if items is not None else ""), file=out, flush=True)
        print(f"(cli: CPU the client used, share of one core; load average {os.getloadavg()[0]:.2f} at the end)",
              file=out)
    finally:
        os.unlink(script.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8001", help="the ticketing service")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--clients", default="1,32", help="concurrent clients, comma-separated")
    parser.add_argument("--limit", type=int, help="items per page (default: the API's own, 20)")
    args = parser.parse_args()
    try:
        ready = httpx.get(f"{args.base}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        ready = False
    if not ready:
        print(f"ticketing is not ready at {args.base}: start the stack with `make run` (and `make seed`) first.",
              file=sys.stderr)
        return 2
    figures(args.base, duration=args.duration, clients=tuple(int(c) for c in args.clients.split(",")), limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
