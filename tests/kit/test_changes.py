"""Store.change applies concurrent changes in batches against the real store: each change exactly once, in
order per document, a failing decision alone, replicas racing on one document resolved by re-reading."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.kit.settings import ServiceSettings
from services.kit.store import Store
from tests.support import metric_sum


def make_store(infra, service: str) -> Store:
    return Store(ServiceSettings(service_name=service, mongo_url=infra.mongo_url, mongo_db=infra.db_name("kitchanges")))


@pytest.fixture
async def store(infra):
    store = make_store(infra, "changes" + uuid.uuid4().hex[:6])
    await store.start()
    yield store
    await store.close()


def commands(service: str) -> float:
    return metric_sum("ops_store_commands_total", service=service)


def add(doc_id: str, value: int):
    """A decision that records `value` once: the same change twice changes nothing (idempotence)."""
    def decide(current):
        seen = (current or {}).get("seen", [])
        return None if value in seen else ({**(current or {}), "_id": doc_id, "seen": [*seen, value]}, [])
    return decide


async def test_concurrent_changes_land_once_each_in_order_with_few_commands(store):
    docs = [f"d{i}-{uuid.uuid4().hex[:4]}" for i in range(5)]

    async def change(doc_id, value):
        return await store.change("counts", doc_id, add(doc_id, value))

    before = commands(store.settings.service_name)
    await asyncio.gather(*(change(docs[v % 5], v) for v in range(200)))
    await asyncio.gather(*(change(docs[v % 5], v) for v in range(0, 200, 7)))  # duplicates: no change
    used = commands(store.settings.service_name) - before
    for i, doc_id in enumerate(docs):
        stored = await store["counts"].find_one({"_id": doc_id})
        assert stored["seen"] == list(range(i, 200, 5))  # every change once, in the order it was asked for
    assert used < 40, f"{used} store commands for 229 changes"  # two per batch, not two per change


async def test_a_failing_decision_fails_alone(store):
    doc_id = "f-" + uuid.uuid4().hex[:6]

    def broken(current):
        raise ValueError("poison")

    def ok(current):
        return {"_id": doc_id, "n": (current or {}).get("n", 0) + 1}, []

    results = await asyncio.gather(store.change("counts", doc_id, ok), store.change("counts", doc_id, broken),
                                   store.change("counts", doc_id, ok), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    assert results[0]["n"] == 1 and results[2]["n"] == 2
    assert (await store["counts"].find_one({"_id": doc_id}))["n"] == 2


async def test_two_replicas_on_one_document_lose_nothing(store, infra):
    other = make_store(infra, "changes-replica")
    await other.start()
    doc_id = "hot-" + uuid.uuid4().hex[:6]

    try:
        await asyncio.gather(*((store if v % 2 else other).change("counts", doc_id, add(doc_id, v), attempts=20)
                               for v in range(60)))
    finally:
        await other.close()
    assert sorted((await store["counts"].find_one({"_id": doc_id}))["seen"]) == list(range(60))


async def test_each_decision_runs_in_its_submitter_context(store):
    """Events a decision owes carry the correlation id of the request or event that asked for the change, even
    when many changes share a batch."""
    from contracts.events import CandidateUpdated, Envelope
    from services.kit.logging import bind_correlation_id, current_correlation_id
    from services.kit.store import OUTBOX

    doc_id = "c-" + uuid.uuid4().hex[:6]

    def grow(current):
        n = (current or {}).get("n", 0) + 1
        event = Envelope.wrap(CandidateUpdated(candidate_id=doc_id, product_code="p", type="faq", question="q",
                                               occurrences=n, ticket_ids=[]),
                              type="knowledge.candidate.updated", source="test", subject=doc_id, sequence=n,
                              correlationid=current_correlation_id())
        return {"_id": doc_id, "n": n}, [event]

    async def asked_by(cid: str):
        bind_correlation_id(cid)
        await store.change("counts", doc_id, grow)

    await asyncio.gather(*(asyncio.create_task(asked_by(f"cid-{i}")) for i in range(10)))
    stored = await store["counts"].find_one({"_id": doc_id})
    assert sorted(e["correlationid"] for e in stored[OUTBOX]) == sorted(f"cid-{i}" for i in range(10))


async def test_every_command_is_timed_from_its_sending_to_its_answer(store):
    """ops_store_command_seconds counts each answered command once, under its command and collection, with the time
    it took (bench/intake.py reads it to show which commands hold the store)."""
    service = store.settings.service_name

    def timed(name: str) -> float:
        return metric_sum(name, service=service, command="find", collection="timed")

    before_count, before_seconds = timed("ops_store_command_seconds_count"), timed("ops_store_command_seconds_sum")
    for _ in range(3):
        assert await store["timed"].find_one({"_id": "none"}) is None
    assert timed("ops_store_command_seconds_count") - before_count == 3
    assert timed("ops_store_command_seconds_sum") > before_seconds
