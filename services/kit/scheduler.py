"""Scheduled work (auto-close, SLA breach checks, reports): each job runs every `every_seconds` on one replica at
a time, whichever holds the job's lease (kit/lease.py). When that replica stops it releases the lease and another
takes over at its next tick; when it dies, after the lease expires.

A job must be idempotent. While it runs, its lease is renewed every third of the lease (a counters backfill or a
cuboid upgrade runs for minutes on a lease of 30 s). A renewal that finds the lease taken (the process stalled, or
the store was away, past the lease's expiry, and another replica took it meanwhile) cancels the run rather than let
it overlap with its successor's any longer; a renewal the store cannot answer is tried again at the next third.
Jobs run in the processes that consume events (`--role all` or `worker`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from services.kit.lease import Lease, process_owner
from services.kit.store import Store

log = structlog.get_logger()


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    run: Callable[[], Awaitable[None]]
    lease_seconds: float | None = None  # default: three periods, and never under 30 s

    @property
    def lease_for(self) -> float:
        return self.lease_seconds or max(3 * self.every_seconds, 30.0)


class Scheduler:
    def __init__(self, store: Store, jobs: Sequence[PeriodicJob], *, owner: str | None = None):
        self.store = store
        self.jobs = tuple(jobs)
        self.owner = owner or process_owner()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._leases: list[Lease] = []

    def start(self) -> None:
        for job in self.jobs:
            lease = Lease(self.store, f"job:{job.name}", job.lease_for, owner=self.owner)
            self._leases.append(lease)
            self._tasks.append(asyncio.create_task(self._loop(job, lease), name=f"job:{job.name}"))

    async def stop(self) -> None:
        """Let a running job finish, then hand its lease over."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        for lease in self._leases:
            await lease.release()

    async def _loop(self, job: PeriodicJob, lease: Lease) -> None:
        while not self._stopping.is_set():
            try:
                if await lease.acquire():
                    await self._run_holding(job, lease)
            except Exception:  # noqa: BLE001 - a failed run is logged; the next tick tries again
                log.exception("job.failed", job=job.name)
            try:
                await asyncio.wait_for(self._stopping.wait(), job.every_seconds)
            except TimeoutError:
                pass

    @staticmethod
    async def _run_holding(job: PeriodicJob, lease: Lease) -> None:
        """`job.run()` while its lease is renewed; cancelled if the lease is lost meanwhile."""
        run = asyncio.ensure_future(job.run())

        async def keep() -> None:
            while True:
                await asyncio.sleep(lease.seconds / 3)
                try:
                    kept = await lease.keep()
                except Exception:  # noqa: BLE001 - the store away a moment: the lease still runs, try again
                    log.warning("job.lease_renewal_failed", job=job.name)
                    continue
                if not kept:
                    log.warning("job.lease_lost", job=job.name)
                    run.cancel()
                    return

        keeper = asyncio.ensure_future(keep())
        try:
            await run
        except asyncio.CancelledError:
            if keeper.done():  # cancelled for the lost lease, not by the scheduler's own stop
                return
            raise
        finally:
            keeper.cancel()
