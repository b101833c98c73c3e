"""What the bench scripts read of the processes of a running stack, from /proc (Linux only): who serves a port
(devstack's lookup), CPU time, resident memory."""

from __future__ import annotations

import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import devstack  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def listening_pid(port: int) -> int | None:
    """The process serving TCP `port` on this machine (the sockets on a server's port are all its own), if this
    user can see it."""
    holders, _ = devstack.port_holders(port)
    return holders[0][0] if holders else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size in MiB."""
    current = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return current, peak


@dataclass
class Watched:
    name: str
    pid: int
    start_cpu: float = 0.0
    cpu: float = 0.0  # seconds used between start() and stop()

    def start(self) -> None:
        self.start_cpu = cpu_seconds(self.pid)

    def stop(self) -> None:
        try:
            self.cpu = cpu_seconds(self.pid) - self.start_cpu
        except OSError:  # the process ended: what it used until then is unknown
            self.cpu = float("nan")


def stack_urls() -> tuple[str, str]:
    """The store and broker of the local stack, as `make run` chose them."""
    mongo_url = os.environ.get("OPS_MONGO_URL") or devstack.mongo_url(int(os.environ.get("OPS_NX_PORT") or 27017))
    return mongo_url, os.environ.get("OPS_AMQP_URL") or devstack.DEFAULT_AMQP_URL


def stack_processes(services: dict[str, int], mongo_url: str, amqp_url: str) -> list[Watched]:
    """The processes of a stack running on this machine: each service by its port, the store and the broker
    when they are local."""
    watched = []
    for name, port in services.items():
        pid = listening_pid(port)
        if pid is None:
            raise SystemExit(f"no process listens on {port} ({name}); is `make run` running on this machine?")
        watched.append(Watched(name, pid))
    store = urllib.parse.urlsplit(mongo_url)
    if store.hostname in devstack.LOCAL_HOSTS and (pid := listening_pid(store.port or 27017)):
        watched.append(Watched("store", pid))
    broker_host, broker_port = devstack.amqp_host_port(amqp_url)
    if broker_host in devstack.LOCAL_HOSTS and (pid := listening_pid(broker_port)):
        watched.append(Watched("broker", pid))
    return watched


def describe(watched: list[Watched]) -> str:
    def program(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return "?"
    return ", ".join(f"{w.name} pid {w.pid} ({program(w.pid)})" for w in watched)


def cpu_table(watched: list[Watched], extra: dict[str, float], units: int) -> list[str]:
    """Two lines: the CPU ms per unit (ticket, close) of each process, and their total."""
    cells = [(w.name, w.cpu) for w in watched] + list(extra.items())
    head = "  " + "".join(f"{name:>11}" for name, _ in cells) + f"{'total':>11}"
    values = "  " + "".join(f"{cpu * 1000 / max(units, 1):11.2f}" for _, cpu in cells)
    values += f"{sum(cpu for _, cpu in cells) * 1000 / max(units, 1):11.2f}"
    return [head, values]
