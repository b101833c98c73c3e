"""Consumer throughput per replica: how many events one worker process of a service applies per second, and what
a second replica adds. deploy/README.md sizes the worker Deployments with these figures.

For each service (knowledge and analytics, the consumers of `ticket.closed`) and each replica count, it starts that
many `python -m services.<service> --role worker` processes on a fresh namespace and database, publishes --count
`ticket.closed` events at once (spread over --products products and a few questions each, as real closes are),
and times until the workers' own /metrics count every event as handled. It prints events/s, the speed-up over the
one-replica run of the same service (the baseline, measured in the same run) and each worker's resident memory.

Store: OPS_MONGO_URL if set, else a fresh nx-27017 on a temporary directory (as `make run`); broker: OPS_AMQP_URL or
the local RabbitMQ (started if down).
Usage: python bench/consumers.py [--count 2000] [--replicas 1,2] [--services knowledge,analytics] [--products 40]
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
import devstack  # noqa: E402
from contracts.events import EXCHANGE, Envelope, TicketClosed  # noqa: E402

QUEUE = {"knowledge": "knowledge.tickets", "analytics": "analytics.tickets"}
QUESTIONS = ["如何登录移动办公？", "如何重置密码？", "云视讯无法入会", "发票如何开具？", "账号被锁定怎么办？"]


def closed_events(count: int, products: int) -> list[Envelope]:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        ticket_id = f"ZX-20260302-{i:05d}"
        payload = TicketClosed(
            ticket_id=ticket_id, kind="consultation", status="closed", channel="call_center",
            product_code=f"bench_{i % products:03d}", city="济南", priority="normal", tier=1, tier_reached=1,
            opened_at=now - timedelta(hours=3), respond_by=now, resolve_by=now + timedelta(days=2),
            resolved_at=now - timedelta(hours=1), closed_at=now, timely=True, cause="other", satisfied=True,
            title=QUESTIONS[(i // products) % len(QUESTIONS)], description="客户咨询", answer="请参照操作手册。")
        out.append(Envelope.wrap(payload, type="ticket.closed", source="ticketing", subject=ticket_id, sequence=6,
                                 correlationid=str(uuid.uuid4())))
    return out


def handled(url: str, queue: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == "ops_events_consumed_total" and s.labels.get("queue") == queue)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def publish(amqp_url: str, namespace: str, envelopes: list[Envelope]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(f"{namespace}.{EXCHANGE}", aio_pika.ExchangeType.TOPIC, durable=True)
        batch = 200  # confirms awaited per batch: fast, and still every message acknowledged by the broker
        for start in range(0, len(envelopes), batch):
            await asyncio.gather(*(exchange.publish(
                aio_pika.Message(e.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=e.type) for e in envelopes[start:start + batch]))


async def run(service: str, replicas: int, envelopes: list[Envelope], mongo_url: str, amqp_url: str,
              log_dir: Path) -> dict:
    namespace = "b" + secrets.token_hex(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
    env.update(OPS_MONGO_URL=mongo_url, OPS_AMQP_URL=amqp_url, OPS_NAMESPACE=namespace,
               OPS_MONGO_DB=f"{namespace}_{service}", OPS_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    workers: list[tuple[subprocess.Popen, str]] = []
    try:
        for i in range(replicas):
            port = devstack.free_port()
            log = open(log_dir / f"{namespace}-{service}-{i}.log", "w")
            process = subprocess.Popen([sys.executable, "-m", f"services.{service}", "--role", "worker"], cwd=ROOT,
                                       env={**env, "OPS_PORT": str(port)}, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            workers.append((process, f"http://127.0.0.1:{port}"))
        for process, url in workers:
            devstack.wait_http(f"{url}/readyz", timeout=60, proc=process)
        queue = f"{namespace}.{QUEUE[service]}"
        started = time.perf_counter()
        await publish(amqp_url, namespace, envelopes)
        published = time.perf_counter() - started
        while sum(handled(url, queue) for _, url in workers) < len(envelopes):
            if any(p.poll() is not None for p, _ in workers):
                raise RuntimeError(f"a {service} worker exited; logs in {log_dir}")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        return {"service": service, "replicas": replicas, "events": len(envelopes), "seconds": elapsed,
                "publish_seconds": published, "rate": len(envelopes) / elapsed,
                "rss": [rss_mib(p.pid) for p, _ in workers]}
    finally:
        devstack.stop_processes([p for p, _ in workers])


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--services", default="knowledge,analytics")
    parser.add_argument("--products", type=int, default=40)
    args = parser.parse_args()
    replica_counts = [int(n) for n in args.replicas.split(",")]
    amqp_url = os.environ.get("OPS_AMQP_URL", devstack.DEFAULT_AMQP_URL)
    devstack.ensure_rabbitmq(amqp_url)
    log_dir = Path(tempfile.mkdtemp(prefix="ops-bench-"))
    with devstack.store_url(prefix="ops-bench-consumers-") as mongo_url:
        print(f"store: {devstack.redact_url(mongo_url)}   broker: {devstack.redact_url(amqp_url)}   cpus: {os.cpu_count()}")
        print(f"{args.count} ticket.closed events over {args.products} products; worker logs in {log_dir}\n")
        print(f"{'service':<10} {'replicas':>8} {'events/s':>9} {'vs 1 replica':>12} {'seconds':>8} {'publish s':>9}  worker RSS MiB")
        for service in args.services.split(","):
            envelopes = closed_events(args.count, args.products)
            baseline = None
            for replicas in replica_counts:
                r = await run(service, replicas, envelopes, mongo_url, amqp_url, log_dir)
                baseline = baseline or r["rate"]
                print(f"{service:<10} {replicas:>8} {r['rate']:>9.0f} {r['rate'] / baseline:>11.2f}x "
                      f"{r['seconds']:>8.2f} {r['publish_seconds']:>9.2f}  {', '.join(f'{m:.0f}' for m in r['rss'])}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
