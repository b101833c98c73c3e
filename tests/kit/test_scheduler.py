"""Scheduled jobs and leases against the real store: one replica at a time, hand-over on stop and on expiry."""

from __future__ import annotations

import asyncio
import time
import uuid


from services.kit.lease import Lease
from services.kit.scheduler import PeriodicJob, Scheduler


def recording_job(name: str, runs: list[tuple[str, float, float]], owner: str, every: float = 0.02) -> PeriodicJob:
    async def run():
        started = time.monotonic()
        await asyncio.sleep(0.01)  # long enough for another replica's run to overlap, were it allowed to start
        runs.append((owner, started, time.monotonic()))

    return PeriodicJob(name, every, run, lease_seconds=5)


async def test_one_replica_runs_a_job_and_the_other_takes_over_when_it_stops(store):
    name = "job-" + uuid.uuid4().hex[:6]
    runs: list[tuple[str, float, float]] = []
    a = Scheduler(store, [recording_job(name, runs, "a")], owner="replica-a")
    b = Scheduler(store, [recording_job(name, runs, "b")], owner="replica-b")
    a.start()
    await asyncio.sleep(0.2)  # a holds the lease before b asks
    b.start()
    await asyncio.sleep(1.0)
    assert len(runs) > 10 and {owner for owner, *_ in runs} == {"a"}, runs[:5]

    await a.stop()
    handed_over = len(runs)
    await asyncio.sleep(1.0)
    await b.stop()
    assert {owner for owner, *_ in runs[handed_over:]} == {"b"} and len(runs) - handed_over > 10
    ordered = sorted(runs, key=lambda r: r[1])
    assert all(prev[2] <= nxt[1] for prev, nxt in zip(ordered, ordered[1:])), "two runs overlapped"


async def test_a_dead_replicas_lease_is_taken_over_only_after_it_expires(store):
    name = "job-" + uuid.uuid4().hex[:6]
    assert await Lease(store, f"job:{name}", 1.0, owner="replica-that-died").acquire()
    assert not await Lease(store, f"job:{name}", 1.0, owner="another").acquire()
    runs: list[tuple[str, float, float]] = []
    survivor = Scheduler(store, [recording_job(name, runs, "survivor")], owner="replica-survivor")
    started = time.monotonic()
    survivor.start()
    await asyncio.sleep(0.5)
    assert runs == []  # the dead replica's lease still runs
    await asyncio.sleep(1.0)
    await survivor.stop()
    assert runs and runs[0][1] - started >= 0.9


async def test_a_failing_run_does_not_stop_the_job(store):
    calls = []

    async def flaky():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("first run fails")

    scheduler = Scheduler(store, [PeriodicJob("flaky-" + uuid.uuid4().hex[:6], 0.05, flaky)])
    scheduler.start()
    await asyncio.sleep(0.4)
    await scheduler.stop()
    assert len(calls) >= 3


async def test_a_holder_at_work_keeps_its_lease_and_a_lost_lease_is_noticed(store):
    name = "work-" + uuid.uuid4().hex[:6]
    holder = Lease(store, name, 0.6, owner="holder")
    assert await holder.acquire()
    for _ in range(6):  # 1.2 s of work, twice the lease, renewed as it goes
        await asyncio.sleep(0.2)
        assert await holder.keep()
    assert not await Lease(store, name, 0.6, owner="other").acquire()

    await asyncio.sleep(0.7)  # a holder that stalls past its lease loses it to another replica
    assert await Lease(store, name, 0.6, owner="other").acquire()
    assert not await holder.keep()


async def test_a_run_longer_than_its_lease_keeps_it_and_a_run_that_lost_it_is_cancelled(store):
    name = "long-" + uuid.uuid4().hex[:6]
    runs: list[tuple[str, float, float]] = []

    async def long_run():
        started = time.monotonic()
        await asyncio.sleep(1.5)  # three times its lease
        runs.append(("a", started, time.monotonic()))

    a = Scheduler(store, [PeriodicJob(name, 0.05, long_run, lease_seconds=0.5)], owner="replica-a")
    others: list[tuple[str, float, float]] = []
    b = Scheduler(store, [recording_job(name, others, "b", every=0.05)], owner="replica-b")
    a.start()
    await asyncio.sleep(0.2)
    b.start()
    await asyncio.sleep(1.6)
    assert runs and others == []  # renewed while it ran: the other replica never started the same work
    await a.stop()
    await b.stop()

    stolen = "stolen-" + uuid.uuid4().hex[:6]
    cancelled = asyncio.Event()

    async def stalls():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    holder = Scheduler(store, [PeriodicJob(stolen, 30, stalls, lease_seconds=0.6)], owner="holder")
    holder.start()
    await asyncio.sleep(0.1)
    # what another replica does once a stalled holder's lease has expired: it takes it
    await store["_leases"].update_one({"_id": f"job:{stolen}"},
                                      {"$set": {"owner": "successor", "expires": time.time() + 60}})
    await asyncio.wait_for(cancelled.wait(), 2)  # the holder's run stops rather than overlap with its successor's
    await holder.stop()
