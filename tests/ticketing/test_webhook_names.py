"""Looking up a callback's host name (events/webhooks.addresses_of, registration_refusal): off the event loop, on
threads of its own, and given up after its bound. A DNS server that is slow cannot be had on demand here (a
name under a reserved TLD answers at once that it does not exist), so the lookup is injected: one that blocks
its thread like a getaddrinfo waiting for a server that does not answer, released when the test ends."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from services.ticketing.events import webhooks as events
from services.ticketing.settings import Settings


class SlowLookup:
    """socket.getaddrinfo's signature; blocks its calling thread until released (or `answer_after` seconds)."""

    def __init__(self, answer_after: float = 30.0, address: str = "93.184.215.14"):
        self.release = threading.Event()
        self.answer_after, self.address = answer_after, address
        self.calls = 0
        self.threads: set[str] = set()

    def __call__(self, host, port, *args, **kwargs):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.release.wait(self.answer_after)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (self.address, port))]


@pytest.fixture
def slow():
    lookup = SlowLookup()
    yield lookup
    lookup.release.set()  # the blocked threads finish; the pool is free for the next test


def runtime(timeout: float = 0.2, proxy: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(webhook_allowed_networks=[], webhook_proxy=proxy,
                                                    webhook_resolve_timeout_seconds=timeout))


async def ticks_during(awaitable) -> tuple[object, int, float]:
    """What `awaitable` gave (or raised), how often a 10 ms ticker ran on the loop meanwhile, and the seconds."""
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        result: object = await awaitable
    except Exception as error:  # noqa: BLE001 - the test looks at it
        result = error
    elapsed = time.monotonic() - started
    task.cancel()
    return result, ticks, elapsed


def test_the_bound_is_a_setting_of_two_seconds_by_default():
    assert Settings.model_fields["webhook_resolve_timeout_seconds"].default == 2.0


async def test_a_lookup_that_does_not_answer_is_given_up_at_the_bound_and_the_loop_runs_meanwhile(slow):
    result, ticks, elapsed = await ticks_during(events.addresses_of("slow.example.com", 443, 0.3, slow))
    assert isinstance(result, events.NameTimeout) and "no answer within 0.3 s" in str(result)
    assert 0.25 <= elapsed < 1.5, elapsed   # at the bound, not when the lookup would have answered (30 s)
    assert ticks >= 10, ticks               # the loop was not blocked: the lookup ran on a thread
    assert slow.threads and all(name.startswith("webhook-dns") for name in slow.threads), slow.threads


async def test_a_lookup_that_answers_in_time_gives_its_addresses():
    quick = SlowLookup(answer_after=0.05, address="198.51.100.20")
    assert await events.addresses_of("crm.example.com", 443, 2.0, quick) == ["198.51.100.20"]


async def test_slow_lookups_hold_their_own_threads_only(slow):
    """As many stuck lookups as the pool has threads, then one more: it waits for a thread within its own bound
    and is given up at it too; the loop's default executor (aiohttp's resolver, anything else) is not held."""
    stuck = [asyncio.create_task(events.addresses_of(f"slow{i}.example.com", 443, 0.5, slow))
             for i in range(events.LOOKUP_THREADS)]
    await asyncio.sleep(0.1)
    assert slow.calls == events.LOOKUP_THREADS  # every thread of the pool is blocked
    started = time.monotonic()
    assert await asyncio.get_running_loop().run_in_executor(None, lambda: "free") == "free"
    assert time.monotonic() - started < 0.2
    result, _, elapsed = await ticks_during(events.addresses_of("queued.example.com", 443, 0.2, slow))
    assert isinstance(result, events.NameTimeout) and elapsed < 1.0, (result, elapsed)
    for task in stuck:
        with pytest.raises(events.NameTimeout):
            await task
    assert slow.calls == events.LOOKUP_THREADS  # the queued lookup was dropped, never started


async def test_a_name_that_does_not_resolve_in_time_is_refused_at_registration_like_one_that_does_not_resolve(slow):
    result, ticks, elapsed = await ticks_during(
        events.registration_refusal(runtime(0.2), "https://slow.example.com/hooks", slow))
    assert result == "slow.example.com does not resolve (no answer within 0.2 s)", result
    assert elapsed < 1.0 and ticks >= 5

    def missing(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert await events.registration_refusal(runtime(), "https://missing.example.com/x", missing) == \
        "missing.example.com does not resolve (Name or service not known)"


async def test_with_a_proxy_a_slow_name_is_left_to_the_proxy(slow):
    assert await events.registration_refusal(runtime(0.2, proxy="http://egress:3128"),
                                             "https://slow.example.com/hooks", slow) is None


async def test_what_the_name_resolves_to_in_time_is_still_checked():
    private = SlowLookup(answer_after=0.0, address="10.0.0.5")
    assert await events.registration_refusal(runtime(), "https://crm.example.com/x", private) == \
        "crm.example.com resolves to 10.0.0.5, a private address"
    public = SlowLookup(answer_after=0.0, address="93.184.215.14")
    assert await events.registration_refusal(runtime(), "https://crm.example.com/x", public) is None


async def test_before_an_attempt_through_the_proxy_a_slow_name_is_left_to_the_proxy_at_the_bound(slow):
    """The check before each attempt through the egress proxy resolves the name too: bounded the same way, so a
    slow DNS server holds a delivery slot for the bound, not for as long as the system resolver tries."""
    result, ticks, elapsed = await ticks_during(
        events.attempt_refusal(runtime(0.2, proxy="http://egress:3128"), "https://slow.example.com/hooks", slow))
    assert result is None and elapsed < 1.0 and ticks >= 5, (result, elapsed, ticks)
    private = SlowLookup(answer_after=0.0, address="10.0.0.5")
    assert await events.attempt_refusal(runtime(proxy="http://egress:3128"), "https://crm.example.com/x", private) \
        == "crm.example.com resolves to 10.0.0.5, a private address"


async def test_an_attempt_straight_out_resolves_within_the_same_bound_and_still_refuses_a_private_address(slow):
    """Without a proxy the connection resolves through GuardedResolver: on the lookup threads, given up at the
    bound (not at the attempt's 15 s), and a name on a private address is refused, not connected to."""
    resolver = events.GuardedResolver([], 0.2, slow)
    result, ticks, elapsed = await ticks_during(resolver.resolve("slow.example.com", 443))
    assert isinstance(result, events.NameTimeout) and isinstance(result, OSError), result
    assert elapsed < 1.0 and ticks >= 5, (elapsed, ticks)
    assert slow.threads <= {f"webhook-dns_{n}" for n in range(events.LOOKUP_THREADS)}

    public = events.GuardedResolver([], 1.0, SlowLookup(answer_after=0.0, address="93.184.215.14"))
    [entry] = await public.resolve("crm.example.com", 443)
    assert (entry["hostname"], entry["host"], entry["port"], entry["family"]) == \
        ("crm.example.com", "93.184.215.14", 443, socket.AF_INET)
    private = events.GuardedResolver([], 1.0, SlowLookup(answer_after=0.0, address="10.0.0.5"))
    with pytest.raises(events.AddressRefused, match="private address"):
        await private.resolve("crm.example.com", 443)
