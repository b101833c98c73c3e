"""Service processes for the tests that run the stack as separate processes (tests/e2e, tests/console): start one
(`python -m services.<name>`, or any command), wait until it answers, stop its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, service_env


def start(infra, name: str, port: int, log_dir: Path, *args: str, log_name: str | None = None,
          command: list[str] | None = None, **env) -> subprocess.Popen:
    """`python -m services.<name> *args` (or `command`) on `port`, its output in `log_dir/<log_name or name>.log`."""
    log = open(log_dir / f"{log_name or name}.log", "w")
    return subprocess.Popen(command or [sys.executable, "-m", f"services.{name}", *args], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT,
                            env=service_env(infra, name, OPS_PORT=port, OPS_LOG_FORMAT="json", **env),
                            start_new_session=True)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60, path: str = "/readyz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}{path} not ready within {timeout}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
