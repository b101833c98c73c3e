"""What duplicate detection adds to an intake, against the intake's own insert: the store's index range (what
every intake asked before each process kept the window in memory, and still asks until its index is loaded) and
the in-memory ranking that replaced it (store/duplicates.py DuplicateFinder), with what the index costs in memory.

Against a store seeded by bench/seed.py (OPS_MONGO_URL, OPS_MONGO_DB as there), one request at a time, this
times and prints p50/p99 and, with --store-pid, the store process's CPU ms per operation (the store's one core is
what bounds intake on nx-27017) for:
- baseline: `insert_one` of a fresh ticket document, the intake's one store command;
- the duplicate query (services/ticketing/store/duplicates.py) for a new ticket of a seeded ticket's group and
  product, the usual case (a group files a few tickets a fortnight), from the store and from memory;
- the same for a hot group: --hot open tickets of one group and product filed this week beforehand (the store's
  query then returns duplicate_candidates documents, its worst case; from memory, the similar ones are read back).

Usage: python bench/duplicates.py [--rounds 300] [--hot 200] [--store-pid PID]
       python bench/duplicates.py --intake [--store-pid=PID]: POST /v1/tickets in-process (the real app, store
       and broker), three rounds each with duplicate_detection on and off, alternating: tickets/s and store CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contracts.vocabulary import Channel, Kind  # noqa: E402
from services.kit.auth import Principal  # noqa: E402
from services.ticketing.domain.ticket import Actor, Customer, Ticket  # noqa: E402
from services.ticketing.settings import Settings  # noqa: E402
from services.ticketing.store.collections import TICKETS, to_document  # noqa: E402
from services.ticketing.domain.duplicates import significant_words  # noqa: E402
from services.ticketing.store.duplicates import DuplicateFinder  # noqa: E402

DEFAULT_URL = "mongodb://127.0.0.1:27017/?directConnection=true"
HOT_GROUP, HOT_PRODUCT = "济南市大客户集团", "mobile_office"
AGENT = Principal(sub="bench", roles=["agent"])


def cpu_ms(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def ticket(number: int, group: str, product: str, now: datetime) -> Ticket:
    opened, _ = Ticket.open(id=f"BENCH-DUP-{now:%H%M%S}-{number:06d}", kind=Kind.fault, channel=Channel.call_center,
                            product_code=product, city="济南", title="移动办公无法登录",
                            description=f"客户反映移动办公登录失败，提示密码错误（第{number}次）",
                            customer=Customer(name="张三", group_name=group), actor=Actor(sub="bench"), now=now)
    return opened


async def timed(label: str, rounds: int, pid: int | None, operation) -> None:
    latencies = []
    cpu_before = cpu_ms(pid)
    for i in range(rounds):
        started = time.perf_counter()
        await operation(i)
        latencies.append((time.perf_counter() - started) * 1000)
    cpu = (cpu_ms(pid) - cpu_before) / rounds
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    store_cpu = f"   store CPU {cpu:5.2f} ms/op" if pid else ""
    print(f"{label:<44} p50 {statistics.median(latencies):6.2f} ms   p99 {p99:6.2f} ms{store_cpu}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--hot", type=int, default=200, help="open tickets of one group filed beforehand")
    parser.add_argument("--store-pid", type=int, help="the store's process id, for its CPU per operation")
    args = parser.parse_args()
    settings = Settings()
    client = AsyncMongoClient(os.environ.get("OPS_MONGO_URL", DEFAULT_URL), tz_aware=True)
    tickets = client[os.environ.get("OPS_MONGO_DB", "ops_ticketing")][TICKETS]
    now = datetime.now(UTC)
    seeded = await tickets.find({}, {"customer": 1, "product_code": 1, "title": 1, "description": 1}) \
        .sort("sort_key", -1).limit(2000).to_list()
    if not seeded:
        print("no tickets: seed the store first (make seed)", file=sys.stderr)
        return 1
    print(f"store: {len(seeded)} recent tickets sampled; candidates ≤ {settings.duplicate_candidates}")
    rng = random.Random(7)

    async def insert(i: int) -> None:
        await tickets.insert_one(to_document(ticket(i, f"基准集团{i}", HOT_PRODUCT, now),
                                             {"idempotency_key": f"bench-dup-{now.timestamp()}-{i}"}))

    def finder() -> DuplicateFinder:
        return DuplicateFinder({TICKETS: tickets}, TICKETS, threshold=settings.duplicate_min_similarity,
                               candidates=settings.duplicate_candidates, limit=settings.duplicate_limit,
                               max_tickets=settings.duplicate_index_max_tickets)

    from_store, from_memory = finder(), finder()  # the first is never loaded: it asks the store every time

    async def query(doc: dict, using: DuplicateFinder = from_store) -> list:
        customer = doc["customer"]
        return await using.find(AGENT, product_code=doc["product_code"], group_name=customer["group_name"],
                                group_code=customer.get("group_code"), now=now,
                                words=significant_words(doc["title"], doc["description"], customer["group_name"]))

    await timed("baseline: insert_one of a ticket", args.rounds, args.store_pid, insert)
    await timed("duplicates from the store's index range, a seeded ticket's group", args.rounds, args.store_pid,
                lambda i: query(rng.choice(seeded)))
    tracemalloc.start()
    started = time.perf_counter()
    loaded = await from_memory.load(now)
    seconds, (held, _) = time.perf_counter() - started, tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"memory index: {len(from_memory.recent)} of {loaded} tickets of the window loaded in {seconds:.1f} s, "
          f"{held / max(len(from_memory.recent), 1):.0f} bytes each (tracemalloc, the load's documents included)")
    await timed("duplicates from memory, a seeded ticket's group", args.rounds, args.store_pid,
                lambda i: query(rng.choice(seeded), from_memory))
    await tickets.insert_many([to_document(ticket(100_000 + i, HOT_GROUP, HOT_PRODUCT, now),
                                           {"idempotency_key": f"bench-dup-hot-{now.timestamp()}-{i}"})
                               for i in range(args.hot)])
    hot = {"customer": {"group_name": HOT_GROUP}, "product_code": HOT_PRODUCT, "title": "移动办公无法登录",
           "description": "客户反映移动办公登录失败，提示密码错误"}
    found = await query(hot)
    await timed(f"duplicates from the store, a group with {args.hot} open tickets", args.rounds, args.store_pid,
                lambda i: query(hot))
    await from_memory.load(now)
    await timed(f"duplicates from memory, a group with {args.hot} open tickets (similar ones read back)",
                args.rounds, args.store_pid, lambda i: query(hot, from_memory))
    print(f"(the hot group's query lists {len(found)} possible duplicates)")
    await client.close()
    return 0


if __name__ == "__main__" and "--intake" not in sys.argv:
    sys.exit(asyncio.run(main()))


# --- intake throughput with and without the duplicate query, in one process -------------------------------------

async def intake_rounds(rounds: int, requests: int, concurrency: int, store_pid: int | None) -> None:
    """tickets/s of POST /v1/tickets through the real app (in-process ASGI client, real store and broker), rounds
    alternating duplicate_detection on and off so that a busy machine weighs on both alike."""
    import httpx

    from services.kit.auth import mint_token
    from services.ticketing.main import create

    results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    from services.kit import text
    text.index_words("预热")  # load the segmenter before the first round, which would otherwise pay it alone
    for round_number in range(rounds * 2):
        enabled = round_number % 2 == 0
        settings = Settings(mongo_url=os.environ.get("OPS_MONGO_URL", DEFAULT_URL),
                            mongo_db=os.environ.get("OPS_MONGO_DB", "ops_ticketing"), namespace="bench-dup",
                            duplicate_detection=enabled, log_level="WARNING")
        app = create(settings)
        headers = {"Authorization": "Bearer " + mint_token(settings.auth_secret, sub="bench-crm", roles=["agent"])}
        rng = random.Random(round_number)
        # the usual case: a group with a ticket of this fortnight now and then (one in ten here)
        group = lambda i: f"基准集团{rng.randrange(200)}" if i % 10 == 0 else f"基准集团-{round_number}-{i}"  # noqa: E731
        async with app.router.lifespan_context(app):
            loading = app.state.runtime.extras.get("duplicates_loading")
            if loading is not None:  # the window's tickets, read once per process start: not the intake's cost
                await loading
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                async def one(i: int) -> None:
                    body = {"kind": "consultation", "channel": "call_center", "product_code": HOT_PRODUCT,
                            "city": "济南", "title": "移动办公无法登录",
                            "description": f"客户反映移动办公登录失败，提示密码错误 {i}",
                            "customer": {"name": "张三", "group_name": group(i)}}
                    r = await client.post("/v1/tickets", json=body, headers=headers)
                    assert r.status_code == 201, r.text

                queue = list(range(requests))

                async def worker() -> None:
                    while queue:
                        await one(queue.pop())

                cpu_before, own_before, started = cpu_ms(store_pid), cpu_ms(os.getpid()), time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                elapsed = time.perf_counter() - started
                results[enabled].append((requests / elapsed, (cpu_ms(store_pid) - cpu_before) / requests,
                                         (cpu_ms(os.getpid()) - own_before) / requests))
    for enabled in (False, True):
        rates = [rate for rate, _, _ in results[enabled]]
        store = statistics.median(cpu for _, cpu, _ in results[enabled])
        own = statistics.median(cpu for _, _, cpu in results[enabled])
        print(f"intake, duplicate detection {'on ' if enabled else 'off'}: {statistics.median(rates):6.0f} tickets/s "
              f"(rounds: {', '.join(f'{r:.0f}' for r in rates)})   service+client CPU {own:.2f} ms/ticket"
              + (f"   store CPU {store:.2f} ms/ticket" if store_pid else ""))
    off, on = (statistics.median(rate for rate, _, _ in results[k]) for k in (False, True))
    print(f"change: {(on - off) / off * 100:+.1f} %")


if __name__ == "__main__" and "--intake" in sys.argv:
    pid = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--store-pid=")), None)
    asyncio.run(intake_rounds(rounds=4, requests=400, concurrency=16, store_pid=pid))
