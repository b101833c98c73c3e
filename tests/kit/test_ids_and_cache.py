"""Number blocks and the event-fed document cache against the real store."""

from __future__ import annotations

import asyncio
import uuid


from services.kit.cache import DocumentCache, merge_if_newer
from services.kit.ids import Sequences
from tests.support import eventually, metric_sum


async def test_two_replicas_hand_out_unique_numbers_reserving_a_block_at_a_time(store):
    key = "k-" + uuid.uuid4().hex[:6]
    a, b = Sequences(store, block=10), Sequences(store, block=10)
    numbers = await asyncio.gather(*(s.next(key) for s in [a, b] * 25))
    assert len(set(numbers)) == 50 and min(numbers) == 1
    assert numbers[::2] == sorted(numbers[::2]) and numbers[1::2] == sorted(numbers[1::2])  # each replica's increase

    # 25 numbers each from blocks of 10: three blocks per replica, and the fourth reserved ahead once half of the
    # third was handed out; one command per block
    await eventually(lambda: reserved(store, key, 80), what="the blocks reserved")
    await a.stop()
    await b.stop()


async def reserved(store, key: str, top: int) -> bool:
    """Whether the counter of `key` reached `top` (the last number of the blocks reserved)."""
    return (await store["counters"].find_one({"_id": key}))["n"] == top


async def test_the_next_block_is_reserved_before_the_current_one_runs_out(store):
    key = "k-" + uuid.uuid4().hex[:6]
    numbers = Sequences(store, block=10)
    try:
        assert [await numbers.next(key) for _ in range(6)] == [1, 2, 3, 4, 5, 6]  # at 5, half: the next block is asked

        await eventually(lambda: reserved(store, key, 20), what="the next block reserved ahead")
        before = metric_sum("ops_store_commands_total", service=store.settings.service_name)
        # the rest of the block and the first of the next: no request waits for the store (below half again)
        assert [await numbers.next(key) for _ in range(8)] == list(range(7, 15))
        assert metric_sum("ops_store_commands_total", service=store.settings.service_name) == before
    finally:
        await numbers.stop()


async def test_block_of_one_skips_nothing(store):
    key = "k-" + uuid.uuid4().hex[:6]
    first = [await Sequences(store).next(key) for _ in range(3)]  # a new process each time, as after restarts
    assert first == [1, 2, 3]


def test_merge_if_newer_keeps_the_newest_state_whatever_the_order():
    first = merge_if_newer(None, "p", 1, {"stage": "trial"})
    second = merge_if_newer(first, "p", 3, {"stage": "commercial"})
    assert second == {"_id": "p", "sequence": 3, "stage": "commercial"}
    assert merge_if_newer(second, "p", 2, {"stage": "trial_commercial"}) is None
    assert merge_if_newer(second, "p", 3, {"stage": "commercial"}) == second  # a duplicate changes nothing


async def test_cache_consults_the_store_for_what_it_does_not_hold(store):
    collection = "catalog_" + uuid.uuid4().hex[:6]
    await store[collection].insert_one({"_id": "known", "sequence": 2, "name": "移动办公"})
    cache = DocumentCache(store, collection)
    await cache.load()
    cache.apply("known", 1, {"name": "旧名字"})  # older than the stored state: ignored
    assert (await cache.get("known"))["name"] == "移动办公"
    assert await cache.get("later") is None
    await store[collection].insert_one({"_id": "later", "sequence": 1, "name": "外勤通"})
    assert (await cache.get("later"))["name"] == "外勤通"  # written by the stored copy's consumer meanwhile
    cache.apply("fresh", 1, {"name": "云盘"})
    assert (await cache.get("fresh"))["name"] == "云盘"
