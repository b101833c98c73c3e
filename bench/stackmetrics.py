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


def scrape(http: httpx.Client, port: int) -> dict[tuple[str, tuple], float]:
    return counters(http.get(f"http://127.0.0.1:{port}/metrics").text)


def total(values: dict, name: str, **labels) -> float:
    return sum(v for (n, lbl), v in values.items() if n == name
               and all(dict(lbl).get(k, "").endswith(want) for k, want in labels.items()))


def store_commands(before: dict, after: dict) -> dict[str, float]:
    """Commands sent during the run, by command and collection."""
    out: dict[str, float] = {}
    for key, value in after.items():
        if key[0] == "ops_store_commands_total":
            delta = value - before.get(key, 0.0)
            if delta:
                labels = dict(key[1])
                name = f"{labels['command']} {labels.get('collection', '')}".strip()  # older builds: no collection
                out[name] = out.get(name, 0.0) + delta
    return out


def store_waits(before: dict, after: dict) -> dict[str, tuple[float, float]]:
    """Commands answered during the run and the seconds their answers took, by command and collection."""
    out: dict[str, list[float]] = {}
    for key, value in after.items():
        if key[0] in STORE_TIMES:
            delta = value - before.get(key, 0.0)
            if delta:
                labels = dict(key[1])
                entry = out.setdefault(f"{labels['command']} {labels['collection']}".strip(), [0.0, 0.0])
                entry[0 if key[0].endswith("_count") else 1] += delta
    return {name: (count, seconds) for name, (count, seconds) in out.items()}


def unready(services: dict[str, int], base: str = "http://127.0.0.1") -> str | None:
    """Why the stack cannot be measured (a service not ready), or None."""
    for name, port in services.items():
        status, detail = devstack.probe_http(f"{base}:{port}/readyz")
        if status != 200:
            return f"{name} is not ready at {base}:{port} ({detail}): start the stack with `make run` first."
    return None
