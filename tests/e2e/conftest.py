"""The four services as separate processes (`python -m services.<name>`), on free ports, against the session's
broker and store — the way `make run` starts them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest

import devstack
from tests.processes import start, stop, wait_ready

# lifecycle first, as on a fresh broker in the worst order: it announces the catalog before ticketing's queue
# exists, so ticketing only learns it by asking (catalog.sync_requested)
START_ORDER = ("lifecycle", "ticketing", "knowledge", "analytics")


@dataclass
class Stack:
    urls: dict[str, str]
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen]

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {name} (exit {self.processes[name].poll()}) ---\n" + "\n".join(text))
        return "\n".join(out)


# The session's queues whose leftovers a new stack would count as its own: another module's analytics (in-process
# or a stack) that stopped before it had consumed the last events of its tickets leaves them in the shared queue,
# and the next stack's analytics, with databases of its own, would count those tickets in its figures.
COUNTED_QUEUES = ("analytics.tickets",)


async def purge(infra, queues: tuple[str, ...]) -> None:
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        for name in queues:
            channel = await connection.channel()  # a passive declare of a missing queue closes its channel
            try:
                await (await channel.declare_queue(f"{infra.namespace}.{name}", passive=True)).purge()
            except aio_pika.exceptions.ChannelNotFoundEntity:
                continue  # not declared yet in this session: nothing left over
            await channel.close()


@pytest.fixture(scope="module")
def stack(infra, request):
    infra = infra.within(request.module.__name__.rsplit(".", 1)[-1])  # its own databases: another module's tickets stay out of its figures
    asyncio.run(purge(infra, COUNTED_QUEUES))
    log_dir = Path(tempfile.mkdtemp(prefix="ops-e2e-"))
    processes: dict[str, subprocess.Popen] = {}
    urls: dict[str, str] = {}
    result = Stack(urls, {n: log_dir / f"{n}.log" for n in START_ORDER}, processes)
    try:
        for name in START_ORDER:
            port = devstack.free_port()
            urls[name] = f"http://127.0.0.1:{port}"
            processes[name] = start(infra, name, port, log_dir)
            wait_ready(urls[name], processes[name])
        yield result
    except Exception:
        print(result.log_tail(), file=sys.stderr)
        raise
    finally:
        for name in reversed(list(processes)):
            stop(processes[name])


@dataclass
class Replica:
    name: str
    process: subprocess.Popen
    url: str
    log: Path


class Processes:
    """Service processes of one test (replicas of a service, or several services), stopped at its end."""

    def __init__(self, infra):
        self.infra = infra
        self.log_dir = Path(tempfile.mkdtemp(prefix="ops-processes-"))
        self.started: list[Replica] = []

    def start(self, service: str, label: str, *args: str, **env) -> Replica:
        port = devstack.free_port()
        process = start(self.infra, service, port, self.log_dir, *args, log_name=label, **env)
        replica = Replica(label, process, f"http://127.0.0.1:{port}", self.log_dir / f"{label}.log")
        self.started.append(replica)
        wait_ready(replica.url, process)
        return replica

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {r.name} (exit {r.process.poll()}) ---\n"
                         + "\n".join(r.log.read_text(errors="replace").splitlines()[-lines:]) for r in self.started)

    def stop_all(self) -> None:
        for replica in self.started:
            stop(replica.process)


@pytest.fixture
def processes(infra):
    group = Processes(infra)
    yield group
    group.stop_all()
    print(group.logs(), file=sys.stderr)  # pytest shows captured output only when the test failed
