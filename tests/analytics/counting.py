"""Waiting for analytics' counters job (store/counters.py) in tests that feed the read model directly."""

from services.analytics.store.counters import COUNTER_BATCHES, DIRTY
from services.analytics.store.collections import TICKETS
from services.kit.store import eq
from tests.support import eventually


async def all_counted(rt, timeout: float = 30) -> None:
    """Until the running service's counters job has counted every ticket change: no ticket dirty, no batch open."""
    async def done():
        dirty = await rt.store[TICKETS].find_one({DIRTY: eq(True)}, {"_id": 1})
        journal = await rt.store[COUNTER_BATCHES].find_one({"n": {"$gt": 0}}, {"_id": 1})
        return dirty is None and journal is None

    await eventually(done, timeout=timeout, interval=0.2, what="the counters job counted every ticket")
