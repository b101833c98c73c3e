"""Cost per close of ONE hot question: what knowledge spends on the `ticket.closed` of the 10th, the 1,000th and
the 100,000th ticket that asks the same thing (issue 9, point 3: idempotency must not grow a document).

Every close goes through the consumer's own handler (services/knowledge/events/handlers.py `count_closure`: the
similarity match, the `closures` record, the candidate, the month's KCS figures, the markers), in-process against
the real store, with the service's lifespan running (its outbox relay publishes the candidate and KCS events to
RabbitMQ as in production). Only the AMQP delivery of `ticket.closed` and the HTTP API are left out: they cost the
same whatever the count. Between checkpoints the closes go `--inflight` at a time (as a consumer's prefetch
does); at each checkpoint the last `--window` closes before it go one at a time and are timed, and the store
commands they sent are counted (ops_store_commands_total of this process).

Printed per checkpoint: ms per close (one at a time), store commands per close, and the sizes in bytes (BSON) of
the candidate, the month's figures and one closure record (less the events waiting in their outbox, which the
relay empties whatever the count). A document that grew with the count would show here.

Store: OPS_MONGO_URL if set, else a fresh nx-27017 on a temporary directory; broker: OPS_AMQP_URL or the local
RabbitMQ (started if down).
Usage: python bench/candidates.py [--checkpoints 10,1000,100000] [--window 100] [--inflight 64]
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
import devstack  # noqa: E402
from prometheus_client import REGISTRY  # noqa: E402

from contracts.events import TicketClosed  # noqa: E402
from services.kit.store import OUTBOX  # noqa: E402
from services.knowledge.events.handlers import count_closure  # noqa: E402
from services.knowledge.main import create  # noqa: E402
from services.knowledge.settings import Settings  # noqa: E402
from services.knowledge.store.collections import CANDIDATES, CLOSURES, KCS_MEASURES  # noqa: E402

PRODUCT = "bench_hot"
PHRASINGS = ["如何登录移动办公？", "移动办公怎么登录", "请问移动办公如何登陆"]
ANSWERS = ["使用手机号和短信验证码登录。", "请用手机号加验证码登录，首次登录需设置密码。"]
CLOSED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def close(n: int) -> TicketClosed:
    at = CLOSED_AT + timedelta(seconds=n)
    return TicketClosed(
        ticket_id=f"ZX-20260302-{n:06d}", kind="consultation", status="closed", channel="call_center",
        product_code=PRODUCT, city="济南", priority="normal", tier=1, tier_reached=1, opened_at=at - timedelta(hours=3),
        respond_by=at, resolve_by=at + timedelta(days=2), resolved_at=at - timedelta(hours=1), closed_at=at,
        timely=True, cause="other", satisfied=True, title=PHRASINGS[n % len(PHRASINGS)], description="客户咨询登录",
        answer=ANSWERS[n % len(ANSWERS)])


def store_commands() -> float:
    return sum(s.value for metric in REGISTRY.collect() for s in metric.samples
               if s.name == "ops_store_commands_total" and s.labels.get("service") == "knowledge")


async def sizes(rt) -> tuple[int, int, int]:
    """BSON bytes of each document as stored, less the events still waiting in its outbox (they leave it as soon
    as the relay has published them, whatever the count)."""
    candidate = await rt.store[CANDIDATES].find_one({"product_code": PRODUCT})
    measures = await rt.store[KCS_MEASURES].find_one({"product_code": PRODUCT})
    closure = await rt.store[CLOSURES].find_one({"product_code": PRODUCT})
    return tuple(len(bson.encode({k: v for k, v in d.items() if k != OUTBOX})) if d else 0
                 for d in (candidate, measures, closure))


async def run(args, mongo_url: str, amqp_url: str) -> None:
    settings = Settings(mongo_url=mongo_url, amqp_url=amqp_url, namespace="bench" + secrets.token_hex(3),
                        mongo_db="bench_candidates_" + uuid.uuid4().hex[:6], log_level="WARNING")
    app = create(settings)
    rt = app.state.runtime
    async with app.router.lifespan_context(app):
        done = 0
        print(f"{'closes':>8} {'ms/close':>9} {'cmds/close':>10} {'candidate B':>11} {'month B':>8} "
              f"{'closure B':>9} {'fill s':>7}  (one at a time over the last {args.window} closes)")
        for checkpoint in args.checkpoints:
            window = min(args.window, checkpoint - done)
            fill_started = time.perf_counter()
            while done < checkpoint - window:
                batch = range(done + 1, min(checkpoint - window, done + args.inflight) + 1)
                await asyncio.gather(*(count_closure(rt, close(n)) for n in batch))
                done = batch[-1]
            fill = time.perf_counter() - fill_started
            commands, started = store_commands(), time.perf_counter()
            for n in range(done + 1, checkpoint + 1):
                await count_closure(rt, close(n))
            elapsed, sent = time.perf_counter() - started, store_commands() - commands
            done = checkpoint
            candidate, month, closure = await sizes(rt)
            print(f"{checkpoint:>8,} {elapsed / window * 1000:>9.2f} {sent / window:>10.1f} {candidate:>11,} "
                  f"{month:>8,} {closure:>9,} {fill:>7.0f}", flush=True)
        doc = await rt.store[CANDIDATES].find_one({"product_code": PRODUCT})
        print(f"candidate {doc['_id']}: occurrences {doc['occurrences']:,}, phrasings {len(doc['questions'])}, "
              f"answers {len(doc['answers'])}, ticket ids kept {len(doc['ticket_ids'])}, "
              f"markers {len(doc.get('_counted', []))}")
        await rt.store.client.drop_database(settings.database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", default="10,1000,100000",
                        type=lambda s: sorted(int(x) for x in s.split(",")))
    parser.add_argument("--window", type=int, default=100, help="closes timed one at a time before a checkpoint")
    parser.add_argument("--inflight", type=int, default=64, help="closes at once between checkpoints")
    args = parser.parse_args()
    amqp_url = os.environ.get("OPS_AMQP_URL", devstack.DEFAULT_AMQP_URL)
    devstack.ensure_rabbitmq(amqp_url)
    with devstack.store_url(prefix="ops-bench-candidates-") as mongo_url:
        print(f"store: {devstack.redact_url(mongo_url)}   broker: {devstack.redact_url(amqp_url)}   "
              f"cpus: {os.cpu_count()}   one question of {PRODUCT}, {len(PHRASINGS)} phrasings")
        asyncio.run(run(args, mongo_url, amqp_url))


if __name__ == "__main__":
    main()
