"""Several replicas of one service, as separate processes on the same queue and store (deploy/k8s runs ≥ 2).

- Competing consumers: two `--role worker` processes of knowledge share `knowledge.tickets`; a burst of closes,
  each delivered twice and shuffled, lands on a few hot candidate documents. Every ticket must count exactly once,
  and every `knowledge.candidate.updated` must go out exactly once, although both processes write the same
  documents and both run an outbox relay.
- Relay failover: two ticketing processes take tickets; each `ticket.opened` goes out once; when the replica
  holding the relay lease is killed (SIGKILL: no shutdown hook), the survivor takes the lease over and nothing
  stays stuck in the outbox.
- Graceful shutdown: SIGTERM in the middle of a burst ends the process cleanly with the outbox drained, and a new
  replica finishes the rest of the queue with nothing lost and nothing applied twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import uuid
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.events import Envelope, ProductRegistered
from services.kit.lease import LEASES
from services.kit.store import OUTBOX_PENDING
from services.knowledge.store.collections import CANDIDATES, CLOSURES
from services.ticketing.store.collections import TICKETS
from tests.e2e.conftest import Replica
from tests.knowledge.test_api import closed_event, product
from tests.support import captured, database, dead_letters, eventually, publish, token

pytestmark = pytest.mark.e2e


async def settled(drain, until, *, timeout: float, what: str, quiet: float = 1.5) -> list[dict]:
    """Wait until `until(received)` holds, then a quiet moment more, so that a late duplicate would show."""
    await eventually(lambda: _holds(drain, until), timeout=timeout, what=what)
    await asyncio.sleep(quiet)
    return await drain()


async def _holds(drain, until) -> bool:
    return until(await drain())


def consumed_ok(replica: Replica, queue: str) -> float:
    """How many messages of `queue` this process handled successfully, from its own /metrics."""
    text = httpx.get(f"{replica.url}/metrics", timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "ops_events_consumed_total" and sample.labels.get("queue") == queue
               and sample.labels.get("outcome") == "ok")


async def test_two_workers_on_one_queue_apply_every_event_exactly_once(infra, processes):
    code = product()
    questions = ["如何登录移动办公？", "如何重置密码？", "如何开通云视讯？"]
    per_question = 40
    events = [closed_event(code, title=q) for q in questions for _ in range(per_question)]
    deliveries = events + events  # the same envelopes again: what a redelivery or a relay retry looks like
    random.Random(7).shuffle(deliveries)
    queue = f"{infra.namespace}.knowledge.tickets"

    async with captured(infra, "knowledge.candidate.updated") as updates:
        workers = [processes.start("knowledge", f"knowledge-worker-{i}", "--role", "worker", OPS_PREFETCH=4)
                   for i in (1, 2)]
        api = processes.start("knowledge", "knowledge-api", "--role", "api")
        async with httpx.AsyncClient(base_url=api.url, headers=token(infra, "analyst")) as client:
            assert (await client.get("/v1/candidates")).status_code == 200
            assert httpx.get(f"{workers[0].url}/v1/candidates").status_code == 404  # a worker serves no API
            assert httpx.get(f"{workers[0].url}/readyz").status_code == 200

            await publish(infra, *deliveries)

            async def candidates() -> list[dict]:
                r = await client.get("/v1/candidates", params={"product_code": code, "limit": 50})
                return r.json()["items"]

            async def all_counted():
                items = await candidates()
                return sum(c["occurrences"] for c in items) == len(events)

            await eventually(all_counted, timeout=90, what="every close counted across both workers")
            published = await settled(updates, lambda got: len([e for e in got if e["data"]["product_code"] == code])
                                      >= len(events), timeout=30, what="every candidate update published")
            items = await candidates()

    assert len(items) == len(questions)
    expected_ids = {e.subject for e in events}
    # A candidate lists only its latest tickets; each ticket's own `closures` record says where it was counted.
    async with database(infra, "knowledge") as db:
        records = await db[CLOSURES].find({"product_code": code}).to_list()
    assert sorted(r["_id"] for r in records) == sorted(expected_ids), "a ticket recorded twice or not at all"
    assert {r["state"] for r in records} == {"counted"}
    for candidate in items:
        assert candidate["occurrences"] == per_question
        assert Counter(r["candidate_id"] for r in records)[candidate["id"]] == per_question
        assert set(candidate["ticket_ids"]) <= expected_ids and len(candidate["ticket_ids"]) == 20
    ours = [e for e in published if e["data"]["product_code"] == code]
    sequences = Counter((e["subject"], e["sequence"]) for e in ours)
    assert set(sequences) == {(c["id"], n) for c in items for n in range(1, per_question + 1)}
    assert max(sequences.values()) == 1, "an update was published twice"
    # Both processes really competed for the queue, and every delivery (duplicates included) was handled.
    handled = [consumed_ok(w, queue) for w in workers]
    assert all(n > 0 for n in handled), handled
    assert sum(handled) == len(deliveries)
    assert not await dead_letters(infra, "knowledge.tickets")


async def test_the_relay_publishes_once_with_two_replicas_and_survives_the_leader_dying(infra, processes):
    code = "replica_" + uuid.uuid4().hex[:6]
    fast_lease = dict(OPS_OUTBOX_LEASE_SECONDS=2, OPS_OUTBOX_POLL_SECONDS=0.5)
    async with captured(infra, "ticket.opened") as opened:
        pair = [processes.start("ticketing", f"ticketing-{i}", **fast_lease) for i in (1, 2)]
        await publish(infra, Envelope.wrap(
            ProductRegistered(code=code, name="副本测试产品", stage="delivered", vendor="vendor-a"),
            type="lifecycle.product.registered", source="lifecycle", subject=code, sequence=1, correlationid="test"))
        staff = token(infra, "agent")
        body = {"kind": "consultation", "channel": "call_center", "product_code": code, "city": "济南",
                "industry": "government", "title": "如何登录？", "description": "客户询问登录方式",
                "customer": {"name": "张三", "contact": "13800000000", "group_name": "济南市某局"}}

        async def file(replica: Replica) -> str | None:
            async with httpx.AsyncClient(base_url=replica.url, headers=staff) as client:
                r = await client.post("/v1/tickets", json=body)
                return r.json()["id"] if r.status_code == 201 else None

        ids: list[str] = []
        for replica in pair:  # the catalog is learnt by whichever replica consumed lifecycle's event
            ids.append(await eventually(lambda: file(replica), timeout=30, what=f"{replica.name} knows the product"))
        for i in range(20):
            ids.append(await file(pair[i % 2]))
        assert len(set(ids)) == len(ids), "two replicas handed out the same ticket id"

        def each_once(got, wanted):
            counts = Counter(e["subject"] for e in got if e["subject"] in wanted)
            return set(counts) == set(wanted)

        got = await settled(opened, lambda got: each_once(got, ids), timeout=30, what="every ticket.opened")
        assert Counter(e["subject"] for e in got if e["subject"] in ids) == Counter(ids), "published twice"

        async with database(infra, "ticketing") as db:
            lease = await db[LEASES].find_one({"_id": "outbox-relay"})
            leader = next(r for r in pair if lease["owner"].split(":")[1] == str(r.process.pid))
            survivor = next(r for r in pair if r is not leader)
            os.killpg(leader.process.pid, signal.SIGKILL)  # no shutdown hook: the lease is left to expire
            leader.process.wait(10)

            later = [await file(survivor) for _ in range(20)]
            assert None not in later
            got = await settled(opened, lambda got: each_once(got, ids + later), timeout=30,
                                what="the survivor publishing after the leader died")
            assert Counter(e["subject"] for e in got if e["subject"] in later) == Counter(later)
            lease = await db[LEASES].find_one({"_id": "outbox-relay"})
            assert lease["owner"].split(":")[1] == str(survivor.process.pid)
            assert await db[TICKETS].count_documents({OUTBOX_PENDING: True}) == 0


async def test_sigterm_mid_burst_drains_the_outbox_and_loses_nothing(infra, processes):
    code = product()
    # enough that the first worker is still busy when SIGTERM arrives, even on a fast run with batched consumers
    events = [closed_event(code) for _ in range(1000)]
    async with captured(infra, "knowledge.candidate.updated") as updates, database(infra, "knowledge") as db:
        first = processes.start("knowledge", "knowledge-first", "--role", "worker")
        await publish(infra, *events)

        async def occurrences() -> int:
            doc = await db[CANDIDATES].find_one({"product_code": code})
            return doc["occurrences"] if doc else 0

        await eventually(lambda: _at_least(occurrences, 30), timeout=60, what="the first worker under way")
        os.killpg(first.process.pid, signal.SIGTERM)
        # uvicorn re-raises SIGTERM once its shutdown is complete, so a clean stop ends with -SIGTERM; the log
        # line is written at the very end of the shutdown (after consumers stopped and the outbox drained).
        assert first.process.wait(60) in (0, -signal.SIGTERM)
        assert '"service.stopped"' in first.log.read_text()
        stopped_at = await occurrences()
        assert stopped_at < len(events), "the burst finished before SIGTERM: nothing was in flight"
        # Every change the first worker made had its events published before it exited.
        assert await db[CANDIDATES].count_documents({"product_code": code, OUTBOX_PENDING: True}) == 0
        async def first_worker_updates() -> Counter:
            return Counter(e["sequence"] for e in await updates() if e["data"]["product_code"] == code)

        await asyncio.sleep(1)  # published before exit, but maybe not yet routed into our queue
        before_restart = await first_worker_updates()
        assert sorted(before_restart) == list(range(1, stopped_at + 1)), (stopped_at, before_restart)
        assert max(before_restart.values()) == 1, "published twice"

        processes.start("knowledge", "knowledge-second", "--role", "worker")
        await eventually(lambda: _at_least(occurrences, len(events)), timeout=90, what="the second worker finishing")
        got = await settled(updates, lambda got: len([e for e in got if e["data"]["product_code"] == code]) >= len(events),
                            timeout=30, what="every candidate update published")
        assert await occurrences() == len(events)
    sequences = Counter(e["sequence"] for e in got if e["data"]["product_code"] == code)
    assert sorted(sequences) == list(range(1, len(events) + 1)) and max(sequences.values()) == 1


async def _at_least(probe, n: int) -> bool:
    return await probe() >= n
