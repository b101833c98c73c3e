"""Outbox relay throughput: how many events per second one service publishes from its outbox.

Only the replica holding the relay lease publishes, so this rate caps a service's event output however many
replicas it runs (deploy/README.md, "Sizing"). The bench writes --count documents with one event each into a
fresh store, then times the relay draining them. The baseline, measured in the same run, is the broker alone:
the same number of events published with confirms, straight from the bus, with as many in flight.

Store: OPS_MONGO_URL, or a fresh nx-27017 on a temporary directory; broker: OPS_AMQP_URL or the local RabbitMQ.
Usage: python bench/relay.py [--count 2000]
This is a measurement, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
import devstack  # noqa: E402
from contracts.events import CandidateUpdated, Envelope  # noqa: E402
from services.kit.broker import EventBus  # noqa: E402
from services.kit.outbox import BATCH, OutboxRelay  # noqa: E402
from services.kit.settings import ServiceSettings  # noqa: E402
from services.kit.store import Store  # noqa: E402


def event(i: int) -> Envelope:
    return Envelope.wrap(CandidateUpdated(candidate_id=f"c{i}", product_code="bench", type="faq", question="如何登录？",
                                          occurrences=1, ticket_ids=[f"t{i}"]),
                         type="knowledge.candidate.updated", source="bench", subject=f"c{i}", sequence=1,
                         correlationid="bench")


async def main(mongo_url: str, amqp_url: str, count: int) -> None:
    settings = ServiceSettings(service_name="relaybench", mongo_url=mongo_url, amqp_url=amqp_url,
                               namespace="rb" + secrets.token_hex(3), log_level="WARNING")
    store = Store(settings, outbox_collections=["docs"])
    bus = EventBus(settings)
    await store.start()
    await bus.broker.connect()
    await bus.declare_topology()
    await bus.broker.start()
    try:
        envelopes = [event(i).model_dump(mode="json") for i in range(count)]
        started = time.perf_counter()
        for start in range(0, count, BATCH):  # the relay's batch size, so both keep as many confirms in flight
            await asyncio.gather(*(bus.publish(e) for e in envelopes[start:start + BATCH]))
        broker_rate = count / (time.perf_counter() - started)

        for i in range(count):
            await store.insert("docs", {"_id": f"d{i}"}, [event(i)])
        relay = OutboxRelay(store, bus)
        started = time.perf_counter()
        relayed = 0
        while (published := await relay.relay_once()) > 0:
            relayed += published
        relay_rate = relayed / (time.perf_counter() - started)
        await relay.lease.release()
    finally:
        await bus.broker.stop()
        await store.close()
    print(f"{'what':<32} {'events/s':>9}")
    print(f"{'broker alone (baseline)':<32} {broker_rate:>9.0f}")
    print(f"{'outbox relay':<32} {relay_rate:>9.0f}   {relay_rate / broker_rate:.0%} of the baseline; "
          f"{relayed} of {count} relayed")


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    amqp_url = os.environ.get("OPS_AMQP_URL", devstack.DEFAULT_AMQP_URL)
    devstack.ensure_rabbitmq(amqp_url)
    with devstack.store_url(prefix="ops-bench-relay-") as mongo_url:
        print(f"store: {devstack.redact_url(mongo_url)}   broker: {devstack.redact_url(amqp_url)}   "
              f"cpus: {os.cpu_count()}")
        asyncio.run(main(mongo_url, amqp_url, args.count))
    return 0


if __name__ == "__main__":
    sys.exit(run())
