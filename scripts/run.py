"""Run the whole stack locally: what ``make run`` executes.

1. Check that every port the stack will bind is free: the four service ports and, when nx-27017 is
   to be started, ``OPS_NX_PORT``. If one is taken, exit with code 1 before anything starts, naming
   the port, the process that holds it and the variable that moves ours.
2. Ensure RabbitMQ answers at ``OPS_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``),
   starting the local ``rabbitmq-server`` if it is installed and down. The broker is shared: it
   is left running at the end.
3. When ``OPS_MONGO_URL`` is unset, start ``nx-27017`` with its data under ``$OPS_DATA_DIR/mongo``
   (``OPS_DATA_DIR`` defaults to ``<repo>/.data``) on port ``OPS_NX_PORT`` (default 27017), and
   hand its URL to the services.
4. Start the four services (``python -m services.<name>``), each in its own process group, their
   output prefixed by the service name; wait for every ``/readyz``; print the URLs.
5. The first Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the stack in order: the services first, each
   given its shutdown grace so that its outbox drains, then nx-27017; exit code 0. Later signals
   only say that the stop is under way; they never cut it short (GNU Make passes a SIGTERM it gets
   on to this script, so a SIGTERM to the whole process group arrives twice). If a child dies on
   its own, everything is stopped and the exit code is 1.
6. Nothing outlives this script. On Linux each child has the kernel send it SIGTERM when this script
   dies, even by SIGKILL (the services then shut down by themselves, nx-27017 at the same time),
   and this script has it send SIGTERM to itself when its parent (``make``) dies, which stops the
   stack as in 5. Elsewhere the parent is polled, and a killed script leaves its children running.

Service ports: ticketing 8001, lifecycle 8002, knowledge 8003, analytics 8004; override one with
``OPS_<NAME>_PORT`` (e.g. ``OPS_TICKETING_PORT=9001``). ``OPS_PORT`` and ``OPS_MONGO_DB`` from the
calling environment are not passed on (they would be the same for all four services).
"""

from __future__ import annotations

import os

# As early as possible: the parent this script must not outlive (see _watch_parent).
PARENT_PID = os.getppid()

import errno  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import devstack  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET, ServiceSettings  # noqa: E402  (the services' own defaults)

SERVICES = {"ticketing": 8001, "lifecycle": 8002, "knowledge": 8003, "analytics": 8004}
DEV_WEBHOOK_NETWORKS = "127.0.0.0/8,::1/128"  # loopback: callbacks to a receiver on this machine (make run only)
CONSOLE_PORT = 8000  # the console and the four APIs under one origin (scripts/gateway.py); OPS_CONSOLE_PORT moves it
READY_TIMEOUT = 60.0
NX_STOP_TIMEOUT = 15.0
# After uvicorn's grace for open requests (OPS_SHUTDOWN_GRACE_SECONDS), a service still stops its consumers
# (FastStream waits for in-flight messages, see services/kit/broker.py), makes a last outbox pass and closes
# its store: time for those before SIGKILL.
AFTER_GRACE_SECONDS = 30.0
COLORS = {"ticketing": "36", "lifecycle": "35", "knowledge": "32", "analytics": "33"}

_print_lock = threading.Lock()
_use_color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


# --------------------------------------------------------------------------- output


def _write(text: str) -> bool:
    """Write to stdout; False when that fails. A closed terminal or a reader that went away must not
    end the stop half-way, so nothing here raises."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except (OSError, ValueError):
        return False


def say(msg: str = "") -> None:
    with _print_lock:
        _write(msg + "\n")


def _say_from_signal_handler(msg: str) -> None:
    # The handler runs in the main thread between two bytecodes, possibly while that thread holds _print_lock
    # or is inside sys.stdout's buffer: one os.write of a whole line takes neither.
    try:
        os.write(sys.stdout.fileno(), (msg + "\n").encode())
    except (OSError, ValueError):
        pass


def _prefix(name: str) -> str:
    label = f"{name:<9} |"
    return f"\033[{COLORS.get(name, '0')}m{label}\033[0m " if _use_color else f"{label} "


def _pump(name: str, proc: subprocess.Popen) -> None:
    """Copy a child's output to our stdout, each line prefixed by the service name. Reads to the end even
    when our stdout fails: a child blocked on a full pipe would not stop."""
    prefix = _prefix(name)
    writing = True
    assert proc.stdout is not None
    for raw in proc.stdout:
        if writing:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with _print_lock:
                writing = _write(prefix + line + "\n")


def _how(returncode: int | None) -> str:
    if returncode is None:
        return "still running after SIGKILL"
    if returncode < 0:
        return f"by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


# --------------------------------------------------------------------------- signals


class Stop(BaseException):
    """The stack is to stop (a signal, or the parent went away). A BaseException, like KeyboardInterrupt, so that
    no ``except Exception`` on the way swallows it."""


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP: one orderly stop, however many arrive.

    The handler never raises. Python runs it in the main thread between any two bytecodes, and an exception
    from there can land anywhere: inside the ``except`` or ``finally`` that stops the stack, inside
    ``devstack.stop_processes``, even between ``Popen.poll()``'s lock acquire and its ``try`` (the lock then
    stays taken and the child can never be reaped). So the handler only records the first signal, and
    :class:`Stop` is raised by :meth:`check` — synchronously, at the points this script chooses: between two
    steps of the start-up, and in :meth:`sleep`, which every wait of the start-up and of the supervision uses
    for its pauses. Once :meth:`stopping` is called (the stop is under way), nothing raises it any more.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    SLICE = 0.1  # how soon a sleeping wait notices a stop request

    def __init__(self) -> None:
        self.reason: str | None = None
        self._raised = False
        self._stopping = False

    def install(self) -> None:
        for sig in self.SIGNALS:
            # Under nohup, SIGHUP comes ignored: a closed terminal is then meant not to stop us.
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        if self.reason is None and not self._stopping:
            self.reason = name
            _say_from_signal_handler(f"\n{name}: stopping ...")
        else:
            _say_from_signal_handler(f"{name}: the stop is already under way; waiting for it to finish")

    def request(self, reason: str) -> None:
        """A stop for another reason than a signal (the parent went away)."""
        if self.reason is None and not self._stopping:
            self.reason = reason
            say(f"\n{reason}: stopping ...")

    def check(self) -> None:
        """Raise Stop if a stop was requested (once)."""
        if self.reason is not None and not self._raised and not self._stopping:
            self._raised = True
            raise Stop(self.reason)

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that ends early, with Stop, when a stop is requested."""
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, self.SLICE))

    def stopping(self) -> None:
        """The stop is under way: from now on a signal only says so."""
        self._stopping = True


def _watch_parent(signals: StopSignals) -> None:
    """Stop when our parent is gone. On Linux PR_SET_PDEATHSIG already turns that into a SIGTERM; polling is
    the fallback elsewhere (and covers a parent that died before the prctl)."""
    if os.getppid() != PARENT_PID:
        signals.request(f"the parent process (pid {PARENT_PID}) exited")


# --------------------------------------------------------------------------- configuration


def service_port(name: str) -> int:
    return _int_env(f"OPS_{name.upper()}_PORT", SERVICES[name])


def _int_env(key: str, default: int) -> int:
    raw = os.environ.get(key)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise devstack.DevStackError(f"{key}={raw!r} is not a port number") from None


def data_dir() -> Path:
    raw = os.environ.get("OPS_DATA_DIR")
    return Path(raw).expanduser().resolve() if raw else REPO / ".data"


def service_stop_timeout() -> float:
    """How long the services get to stop before SIGKILL: their own shutdown grace, and then some."""
    raw = os.environ.get("OPS_SHUTDOWN_GRACE_SECONDS")
    try:
        grace = float(raw) if raw else ServiceSettings.model_fields["shutdown_grace_seconds"].default
    except ValueError:
        raise devstack.DevStackError(f"OPS_SHUTDOWN_GRACE_SECONDS={raw!r} is not a number of seconds") from None
    return grace + AFTER_GRACE_SECONDS


def check_ports(planned: list[tuple[str, str, int, str]]) -> None:
    """Raise DevStackError naming every port of ``planned`` (what, host, port, how to move it) that cannot be
    bound, with the process that holds it: a clear message before anything starts, not a half-started stack."""
    problems = []
    seen: dict[int, str] = {}
    for what, host, port, fix in planned:
        if port in seen:
            problems.append(f"port {port} is set for both {seen[port]} and {what}; {fix}")
            continue
        seen[port] = what
        error = devstack.bind_error(host, port)
        if error is None:
            continue
        if error.errno == errno.EADDRINUSE:
            problems.append(f"port {port} ({what}) is already in use by {devstack.describe_port_holders(port)}; "
                            f"stop that process, or {fix}")
        else:
            problems.append(f"cannot listen on {host}:{port} ({what}): {error.strerror or error}; {fix}")
    if problems:
        raise devstack.DevStackError("nothing was started:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- the stack


class Stack:
    """What this run started, recorded as soon as it exists: whatever ends the run stops exactly that."""

    def __init__(self) -> None:
        self.nx: subprocess.Popen | None = None
        self.services: dict[str, subprocess.Popen] = {}
        self.pumps: list[threading.Thread] = []
        self.service_stop_timeout = 0.0

    def start_service(self, name: str, env: dict[str, str], command: list[str] | None = None) -> subprocess.Popen:
        # From the main thread: the parent-death signal follows the thread that forks the child.
        proc = subprocess.Popen(
            devstack.dying_with_parent(command or [sys.executable, "-m", f"services.{name}"]),
            cwd=str(REPO),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: no Ctrl-C from the terminal, we decide the stop order
        )
        self.services[name] = proc
        pump = threading.Thread(target=_pump, args=(name, proc), name=f"pump-{name}", daemon=True)
        pump.start()
        self.pumps.append(pump)
        return proc

    def stop(self) -> None:
        """Services first (they drain their outboxes into the store), then the store."""
        try:
            if self.services:
                devstack.stop_processes(self.services.values(), timeout=self.service_stop_timeout)
                for pump in self.pumps:
                    pump.join(timeout=2)
                for name, proc in self.services.items():
                    say(f"{name} stopped ({_how(proc.returncode)})")
        finally:  # even if stopping the services failed, nx-27017 must not outlive us
            if self.nx is not None:
                devstack.stop_process(self.nx, timeout=NX_STOP_TIMEOUT)
                say(f"nx-27017 stopped ({_how(self.nx.returncode)})")


def start_and_supervise(stack: Stack, signals: StopSignals) -> None:
    """Start everything, then watch it. Returns only by an exception: Stop, or DevStackError saying what failed."""
    amqp_url = os.environ.get("OPS_AMQP_URL") or devstack.DEFAULT_AMQP_URL
    mongo_url = os.environ.get("OPS_MONGO_URL")
    ports = {name: service_port(name) for name in SERVICES}
    console_port = _int_env("OPS_CONSOLE_PORT", CONSOLE_PORT)
    host = os.environ.get("OPS_HOST") or ServiceSettings.model_fields["host"].default
    stack.service_stop_timeout = service_stop_timeout()
    signals.check()

    # ---- ports, before anything starts
    planned = [(name, host, port, f"set OPS_{name.upper()}_PORT to a free port") for name, port in ports.items()]
    planned.append(("console", "127.0.0.1", console_port, "set OPS_CONSOLE_PORT to a free port"))
    if not mongo_url:
        nx_port = _int_env("OPS_NX_PORT", 27017)
        planned.append(("nx-27017", "127.0.0.1", nx_port,
                        "set OPS_NX_PORT to a free port (or OPS_MONGO_URL to use a running MongoDB)"))
    check_ports(planned)

    # ---- infrastructure (a stop requested during a step that does not sleep, such as `rabbitmqctl
    # await_startup`, is taken when the step ends)
    signals.check()
    devstack.ensure_rabbitmq(amqp_url, log=say, sleep=signals.sleep)
    signals.check()
    if mongo_url:
        mongo_note = "from OPS_MONGO_URL"
    else:
        nx_dir = data_dir() / "mongo"
        say(f"starting nx-27017 on 127.0.0.1:{nx_port} (data in {nx_dir}) ...")
        stack.nx = devstack.spawn_nx(nx_dir, nx_port, die_with_parent=True)
        say(f"started nx-27017 (pid {stack.nx.pid}) on port {nx_port}")
        devstack.await_nx(stack.nx, sleep=signals.sleep)
        mongo_url = devstack.mongo_url(nx_port)
        mongo_note = f"nx-27017, pid {stack.nx.pid}, data in {nx_dir}, log {nx_dir / 'nx-27017.log'}"

    # ---- services
    base_env = dict(os.environ)
    for key in ("OPS_PORT", "OPS_MONGO_DB"):
        base_env.pop(key, None)
    base_env.update(OPS_MONGO_URL=mongo_url, OPS_AMQP_URL=amqp_url, PYTHONUNBUFFERED="1")
    # local development: a channel's callback receiver on this machine may be registered (the services' default,
    # as deployed, refuses loopback and private addresses: docs/webhooks.md); set it to "" to try the default
    base_env.setdefault("OPS_WEBHOOK_ALLOWED_NETWORKS", DEV_WEBHOOK_NETWORKS)
    # One ticketing process takes every intake here, so it can rank possible duplicates from its own memory of
    # the last two weeks, without the queue that tells several replicas of each other's tickets: a store query
    # less per intake (bench/README.md, "The duplicate index again"). Deployments with several replicas keep the
    # store's query, the services' default.
    base_env.setdefault("OPS_DUPLICATE_INDEX", "true")
    base_env.setdefault("OPS_DUPLICATE_INDEX_EVENTS", "false")
    pythonpath = base_env.get("PYTHONPATH")
    base_env["PYTHONPATH"] = str(REPO) + (os.pathsep + pythonpath if pythonpath else "")
    for name in SERVICES:
        signals.check()
        proc = stack.start_service(name, dict(base_env, OPS_PORT=str(ports[name])))
        say(f"started {name} (pid {proc.pid}) on port {ports[name]}")
    signals.check()
    urls = {f"OPS_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()}
    proc = stack.start_service("console", dict(base_env, OPS_CONSOLE_PORT=str(console_port), **urls),
                               [sys.executable, str(SCRIPTS / "gateway.py")])
    say(f"started console gateway (pid {proc.pid}) on port {console_port}")

    # ---- readiness: the four services and the gateway concurrently, one common deadline
    deadline = time.monotonic() + READY_TIMEOUT
    pending = dict(stack.services)
    last: dict[str, str] = {}
    while pending:
        _watch_parent(signals)
        for name, proc in list(pending.items()):
            signals.check()
            if proc.poll() is not None:
                raise devstack.DevStackError(
                    f"service {name} exited with code {proc.returncode} before it was ready (see its output above)"
                )
            url = (f"http://127.0.0.1:{console_port}/healthz" if name == "console"
                   else f"http://127.0.0.1:{ports[name]}/readyz")
            status, detail = devstack.probe_http(url, timeout=2.0)
            if status == 200:
                del pending[name]
                say(f"{name} is ready")
            else:
                last[name] = f"{url} -> {detail}"
        if pending and time.monotonic() >= deadline:
            detail = "; ".join(f"{n}: {last.get(n, 'no answer')}" for n in pending)
            raise devstack.DevStackError(f"service(s) {', '.join(pending)} not ready within {READY_TIMEOUT:g} s: {detail}")
        if pending:
            signals.sleep(0.3)

    say(banner(ports, amqp_url, mongo_url, mongo_note, console_port))

    # ---- supervise
    while True:
        _watch_parent(signals)
        for name, proc in stack.services.items():
            if proc.poll() is not None:
                raise devstack.DevStackError(f"service {name} exited unexpectedly with code {proc.returncode}")
        if stack.nx is not None and stack.nx.poll() is not None:
            tail = "\n".join(getattr(stack.nx, "output_tail", []))
            raise devstack.DevStackError(f"nx-27017 exited unexpectedly with code {stack.nx.returncode}\n{tail}")
        signals.sleep(0.5)


def banner(ports: dict[str, int], amqp_url: str, mongo_url: str, mongo_note: str,
           console_port: int = CONSOLE_PORT) -> str:
    lines = ["", "Ops Support stack is running:",
             f"  console    http://127.0.0.1:{console_port}/   (the staff console; APIs under /api/<service>/)"]
    for name in SERVICES:
        base = f"http://127.0.0.1:{ports[name]}"
        lines.append(f"  {name:<10} {base}   docs {base}/docs")
    lines.append(f"  AMQP       {devstack.redact_url(amqp_url)}")
    lines.append(f"  MongoDB    {mongo_url}   ({mongo_note})")
    if os.environ.get("OPS_AUTH_SECRET"):
        lines.append("  auth       OPS_AUTH_SECRET is set in the environment (HS256)")
    else:
        lines.append(f"  auth       OPS_AUTH_SECRET={DEV_AUTH_SECRET}   (the dev default; set OPS_AUTH_SECRET to change it)")
    allowed = os.environ.get("OPS_WEBHOOK_ALLOWED_NETWORKS", DEV_WEBHOOK_NETWORKS)
    lines.append(f"  webhooks   OPS_WEBHOOK_ALLOWED_NETWORKS={allowed or '(none)'}   (callbacks may go there, "
                 "besides public addresses)")
    lines.append(f"  duplicates OPS_DUPLICATE_INDEX={os.environ.get('OPS_DUPLICATE_INDEX', 'true')}   (possible duplicates "
                 "ranked in the one ticketing process's memory, not by a store query)")
    lines.append("  token      make token ROLE=agent   (also ROLE=account_manager CITY=济南, ROLE=vendor VENDOR=v1, ...)")
    lines.append("             curl -H \"Authorization: Bearer $(make -s token ROLE=agent)\" "
                 f"http://127.0.0.1:{ports['ticketing']}/v1/tickets")
    lines.append(f"Press Ctrl-C to stop (or `kill {os.getpid()}`).")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    signals = StopSignals()
    signals.install()
    # make (our parent) may be killed: have the kernel tell us, as a SIGTERM, and stop in order.
    devstack.set_parent_death_signal(signal.SIGTERM)
    _watch_parent(signals)  # it may have died before the prctl

    stack = Stack()
    exit_code = 0
    try:
        start_and_supervise(stack, signals)
    except Stop:
        if signals.reason == "SIGTERM" and os.getppid() != PARENT_PID:  # the kernel's PR_SET_PDEATHSIG
            say(f"(the parent process, pid {PARENT_PID}, is gone)")
    except devstack.DevStackError as e:
        say(f"error: {e}")
        exit_code = 1
    except Exception:  # a bug here must not leave the children running either
        say("error: unexpected failure, stopping:\n" + traceback.format_exc())
        exit_code = 1
    finally:
        signals.stopping()
        stack.stop()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
