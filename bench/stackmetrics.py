"""What the bench scripts read of a running stack's /metrics: counters of events and store commands."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import devstack  # noqa: E402

LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
STORE_TIMES = ("ops_store_command_seconds_sum", "ops_store_command_seconds_count")


def counters(text: str) -> dict[tuple[str, tuple], float]:
    """The counters of a Prometheus text exposition: (name, sorted labels) → value. Only `*_total` lines and the
    store-command histogram's sum and count are read (the benchmarks poll often; the histograms are most of the
    text)."""
    values: dict[tuple[str, tuple], float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if not (name.endswith("_total") or name in STORE_TIMES) or line.startswith("#"):
            continue
        labels, _, value = rest.rpartition("} ")
        values[(name, tuple(sorted(LABEL.findall(labels))))] = float(value)
    return values


def scrape(http: httpx.Client, port: int, *names: str) -> dict[tuple[str, tuple], float]:
    """A service's counters; only the samples `names` when given (`name[]`: what a poll needs, not the ~60 KB
    of every histogram, whose rendering cost the consumers a fifth of a core at the close loop's 20 polls/s)."""
    return counters(http.get(f"http://127.0.0.1:{port}/metrics", params=only(*names)).text)


def only(*names: str) -> list[tuple[str, str]]:
    """The query of /metrics that asks for the samples `names` alone (all of them when none)."""
    return [("name[]", name) for name in names]


def total(values: dict, name: str, **labels) -> float:
    return sum(v for (n, lbl), v in values.items() if n == name
               and all(dict(lbl).get(k, "").endswith(want) for k, want in labels.items()))


def _command_deltas(before: dict, after: dict, names: tuple[str, ...]):
    """(metric name, "command collection", change during the run) of the store-command metrics `names`."""
    for key, value in after.items():
        if key[0] in names and (delta := value - before.get(key, 0.0)):
            labels = dict(key[1])  # builds older than the collection label: the command alone
            yield key[0], f"{labels['command']} {labels.get('collection', '')}".strip(), delta


def store_commands(before: dict, after: dict) -> dict[str, float]:
    """Commands sent during the run, by command and collection."""
    out: dict[str, float] = {}
    for _, name, delta in _command_deltas(before, after, ("ops_store_commands_total",)):
        out[name] = out.get(name, 0.0) + delta
    return out


def store_waits(before: dict, after: dict) -> dict[str, tuple[float, float]]:
    """Commands answered during the run and the seconds their answers took, by command and collection."""
    out: dict[str, tuple[float, float]] = {}
    for metric, name, delta in _command_deltas(before, after, STORE_TIMES):
        count, seconds = out.get(name, (0.0, 0.0))
        out[name] = (count + delta, seconds) if metric.endswith("_count") else (count, seconds + delta)
    return out


def unready(services: dict[str, int], base: str = "http://127.0.0.1") -> str | None:
    """Why the stack cannot be measured (a service not ready), or None."""
    for name, port in services.items():
        status, detail = devstack.probe_http(f"{base}:{port}/readyz")
        if status != 200:
            return f"{name} is not ready at {base}:{port} ({detail}): start the stack with `make run` first."
    return None
