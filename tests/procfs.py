"""Whether a process still runs, from /proc (Linux): for tests that must prove nothing outlived what they stopped.

A pid alone is not an identity (pids are reused), so a process is (pid, start time); and a zombie counts as gone:
it has exited, only its parent (or init, for an orphan) has not collected the status yet.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the name, in parentheses, may contain spaces
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def alive(pid: int, started: int) -> bool:
    return start_time(pid) == started


def wait_gone(processes: dict[int, int], timeout: float) -> dict[int, str]:
    """Wait up to ``timeout`` s until none of ``{pid: start time}`` runs; return the survivors' command lines."""
    deadline = time.monotonic() + timeout
    while True:
        survivors = {pid: cmdline(pid) for pid, started in processes.items() if alive(pid, started)}
        if not survivors or time.monotonic() >= deadline:
            return survivors
        time.sleep(0.1)


def kill_survivors(processes: dict[int, int]) -> None:
    """SIGKILL whichever of ``{pid: start time}`` still runs (test clean-up after a failure)."""
    for pid, started in processes.items():
        if alive(pid, started):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def processes_mentioning(text: str) -> dict[int, str]:
    """Running processes whose command line contains ``text``."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and text in (line := cmdline(int(entry.name))) and start_time(int(entry.name)):
            found[int(entry.name)] = line
    return found
