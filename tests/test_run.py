"""`make run` (scripts/run.py) as a process: it starts and stops whole stacks cleanly (issue 7, point 5).

Each test runs scripts/run.py on free ports, with its data in a temporary OPS_DATA_DIR, the session's broker
and a namespace of the session's own (deleted with it), and nx-27017 started by run.py itself. The pids of what
it started come from its output ("started <name> (pid N)"); tests/procfs.py tells whether they still run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import devstack
from tests import procfs
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux")

RUN_PY = ROOT / "scripts" / "run.py"
SERVICES = ("ticketing", "lifecycle", "knowledge", "analytics")
START_TIMEOUT = 120.0  # a stack start takes a few seconds; the machine may be busy
STOP_TIMEOUT = 120.0
# run.py's own process between the test and it: what `make` is to `make run`
RELAY = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


class RunPy:
    """scripts/run.py as a subprocess, its output collected line by line."""

    def __init__(self, infra, tmp_path: Path, *, ports: dict[str, int] | None = None, via_parent: bool = False):
        # the console gateway's too: its default 8000 is taken whenever a `make run` is up on the same machine
        names = (*SERVICES, "nx-27017", "console")
        self.ports = dict(zip(names, devstack.free_ports(len(names)))) | (ports or {})
        self.data_dir = tmp_path / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
        env.update({f"OPS_{name.upper()}_PORT": str(self.ports[name]) for name in SERVICES})
        env.update(OPS_NX_PORT=str(self.ports["nx-27017"]), OPS_CONSOLE_PORT=str(self.ports["console"]),
                   OPS_DATA_DIR=str(self.data_dir),
                   OPS_AMQP_URL=infra.amqp_url, OPS_NAMESPACE=f"{infra.namespace}run",
                   OPS_AUTH_SECRET=infra.auth_secret, NO_COLOR="1")
        command = [sys.executable, str(RUN_PY)]
        if via_parent:
            command = [sys.executable, "-c", RELAY, *command]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        self.lines: list[str] = []
        self.eof = False
        self._changed = threading.Condition()
        self.children: dict[str, tuple[int, int]] = {}  # name -> (pid, start time), as soon as announced
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if m := re.match(r"started (\S+) \(pid (\d+)\)", line):
                pid = int(m[2])
                self.children[m[1]] = (pid, procfs.start_time(pid))
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.eof = True
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match:
        """The first line matching ``pattern`` (a regex); fails when the output ends or time is up without one."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if m := regex.search(line):
                        return m
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if self.eof or remaining <= 0:
                    pytest.fail(f"no line matching {pattern!r} ({'output ended' if self.eof else 'timed out'}):\n"
                                + "\n".join(self.lines[-60:]))
                self._changed.wait(remaining)

    def wait_eof(self, timeout: float = STOP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.eof and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
        assert self.eof, "run.py (or a child holding its output) still runs:\n" + self.output()[-4000:]

    def wait_ready(self) -> int:
        """Wait for the banner, check every /readyz ourselves; return run.py's pid (from the banner)."""
        pid = int(self.wait_for(r"Press Ctrl-C to stop \(or `kill (\d+)`\)")[1])
        for name in SERVICES:
            response = httpx.get(f"http://127.0.0.1:{self.ports[name]}/readyz", timeout=10)
            assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
        assert set(self.children) == {"nx-27017", *SERVICES}, self.output()
        for name, (child, _) in self.children.items():  # the pids are the services' own, not a wrapper's
            mark = str(self.data_dir) if name == "nx-27017" else f"-m services.{name}"
            assert mark in procfs.cmdline(child), (name, procfs.cmdline(child))
        return pid

    def processes(self) -> dict[int, int]:
        return dict(self.children.values())

    def signal(self, sig: int, pid: int | None = None) -> None:
        os.kill(pid or self.proc.pid, sig)

    def clean_up(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        procfs.kill_survivors(self.processes())

    def index(self, line: str) -> int:
        with self._changed:
            return self.lines.index(line)


@pytest.fixture
def start_run(infra, tmp_path):
    started: list[RunPy] = []

    def start(**kwargs) -> RunPy:
        run = RunPy(infra, tmp_path, **kwargs)
        started.append(run)
        return run

    yield start
    for run in started:
        run.clean_up()
        print(run.output()[-6000:], file=sys.stderr)  # shown when the test failed


def assert_stopped_in_order(run: RunPy) -> None:
    """Every child gone; the services stopped by their SIGTERM (not killed after their grace, and their
    shutdown ran to its end), all before nx-27017."""
    assert procfs.wait_gone(run.processes(), timeout=0) == {}, "run.py ended, its children did not"
    out = run.output()
    nx_line = run.index("nx-27017 stopped (exit code 0)")
    for name in SERVICES:
        line = next(line for line in run.lines if line.startswith(f"{name} stopped ("))
        assert line in (f"{name} stopped (by SIGTERM)", f"{name} stopped (exit code 0)"), line
        assert run.index(line) < nx_line, f"{name} was still running when nx-27017 stopped"
        assert re.search(rf"^{name}\s+\| .*service\.stopped", out, re.MULTILINE), f"{name} did not finish its shutdown"


def assert_ports_free(run: RunPy, names=(*SERVICES, "nx-27017")) -> None:
    for name in names:
        assert devstack.bind_error("127.0.0.1", run.ports[name]) is None, \
            f"port {run.ports[name]} ({name}) is still held by {devstack.describe_port_holders(run.ports[name])}"


@pytest.mark.e2e
def test_repeated_sigterms_do_not_cut_the_stop_short(start_run):
    run = start_run()
    run.wait_ready()
    run.signal(signal.SIGTERM)
    run.wait_for(r"^SIGTERM: stopping")
    run.signal(signal.SIGTERM)  # the one GNU Make passes on when the SIGTERM went to the whole process group
    run.wait_for(r"^SIGTERM: the stop is already under way")
    run.signal(signal.SIGTERM)  # and an impatient one more, while the services are still stopping
    assert run.proc.wait(timeout=STOP_TIMEOUT) == 0, run.output()
    run.wait_eof()
    assert run.output().count("SIGTERM: the stop is already under way; waiting for it to finish") == 2
    assert_stopped_in_order(run)
    assert_ports_free(run)


@pytest.mark.e2e
def test_a_double_sigterm_during_the_start_up_stops_what_was_started(start_run):
    run = start_run()
    run.wait_for(r"^started analytics \(pid")  # all started, not yet ready: run.py waits for their /readyz
    run.signal(signal.SIGTERM)
    run.wait_for(r"^SIGTERM: stopping")
    run.signal(signal.SIGTERM)
    assert run.proc.wait(timeout=STOP_TIMEOUT) == 0, run.output()
    run.wait_eof()
    assert set(run.children) == {"nx-27017", *SERVICES}
    assert procfs.wait_gone(run.processes(), timeout=0) == {}, "run.py ended, its children did not"
    assert run.index("nx-27017 stopped (exit code 0)") > max(
        run.index(line) for line in run.lines if re.match(r"^\w+ stopped \(", line) and "nx-27017" not in line)
    assert_ports_free(run)


@pytest.mark.e2e
def test_children_do_not_outlive_a_killed_run_py(start_run):
    run = start_run()
    run.wait_ready()
    run.proc.kill()  # SIGKILL: run.py stops nothing itself
    run.proc.wait()
    survivors = procfs.wait_gone(run.processes(), timeout=60)  # they get SIGTERM from the kernel and stop themselves
    assert survivors == {}, f"orphaned: {survivors}"
    assert_ports_free(run)


@pytest.mark.e2e
def test_a_killed_parent_stops_the_stack_in_order(start_run):
    run = start_run(via_parent=True)  # the relay process is to run.py what make is in `make run`
    run_py = run.wait_ready()
    assert run_py != run.proc.pid
    run_py_process = {run_py: procfs.start_time(run_py)}
    run.proc.kill()  # SIGKILL the parent: it forwards nothing
    run.proc.wait()
    run.wait_eof()  # run.py and its children closed their ends of the output pipe
    assert procfs.wait_gone(run_py_process, timeout=10) == {}
    assert "(the parent process, pid %d, is gone)" % run.proc.pid in run.output()
    assert_stopped_in_order(run)
    assert_ports_free(run)


@pytest.mark.parametrize(("held", "variable"), [("knowledge", "OPS_KNOWLEDGE_PORT"), ("nx-27017", "OPS_NX_PORT")])
def test_a_port_in_use_is_named_and_nothing_starts(start_run, held, variable):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        run = start_run(ports={held: port})
        assert run.proc.wait(timeout=STOP_TIMEOUT) == 1, run.output()
        run.wait_eof()
    out = run.output()
    assert f"port {port} ({held}) is already in use by pid {os.getpid()} (" in out, out
    assert f"set {variable} to a free port" in out, out
    assert not re.search(r"^started ", out, re.MULTILINE), out
    assert not (run.data_dir / "mongo").exists(), "nx-27017 was started"
    assert procfs.processes_mentioning(str(run.data_dir)) == {}
    assert_ports_free(run, [name for name in run.ports if name != held])
