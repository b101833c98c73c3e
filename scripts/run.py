"""Run the whole stack locally: what ``make run`` executes.

1. Ensure RabbitMQ answers at ``OPS_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``),
   starting the local ``rabbitmq-server`` if it is installed and down.
2. When ``OPS_MONGO_URL`` is unset, start ``nx-27017`` with its data under ``<repo>/.data/mongo``
   on port ``OPS_NX_PORT`` (default 27017), and hand its URL to the services.
3. Start the four services (``python -m services.<name>``), each in its own process group, their
   output prefixed by the service name; wait for every ``/readyz``; print the URLs.
4. Ctrl-C (SIGINT) or SIGTERM stops every child (services first, then nx-27017) and exits 0.
   If a child dies on its own, everything is stopped and the exit code is 1.

Service ports: ticketing 8001, lifecycle 8002, knowledge 8003, analytics 8004; override one with
``OPS_<NAME>_PORT`` (e.g. ``OPS_TICKETING_PORT=9001``). ``OPS_PORT`` and ``OPS_MONGO_DB`` from the
calling environment are not passed on (they would be the same for all four services).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import devstack  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET  # noqa: E402  (the one default the services use)

SERVICES = {"ticketing": 8001, "lifecycle": 8002, "knowledge": 8003, "analytics": 8004}
READY_TIMEOUT = 60.0
COLORS = {"ticketing": "36", "lifecycle": "35", "knowledge": "32", "analytics": "33"}

_print_lock = threading.Lock()
_use_color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


class Stop(Exception):
    """Raised in the main thread by the SIGINT/SIGTERM handler."""


def say(msg: str = "") -> None:
    with _print_lock:
        print(msg, flush=True)


def _prefix(name: str) -> str:
    label = f"{name:<9} |"
    return f"\033[{COLORS.get(name, '0')}m{label}\033[0m " if _use_color else f"{label} "


def _pump(name: str, proc: subprocess.Popen) -> None:
    """Copy a child's output to our stdout, each line prefixed by the service name."""
    prefix = _prefix(name)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        with _print_lock:
            sys.stdout.write(prefix + line + "\n")
            sys.stdout.flush()


def service_port(name: str) -> int:
    raw = os.environ.get(f"OPS_{name.upper()}_PORT")
    return int(raw) if raw else SERVICES[name]


def _how(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def _on_signal(signum, frame):
    raise Stop(signal.Signals(signum).name)


def main() -> int:
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    amqp_url = os.environ.get("OPS_AMQP_URL") or devstack.DEFAULT_AMQP_URL
    secret = os.environ.get("OPS_AUTH_SECRET")
    nx_proc: subprocess.Popen | None = None
    children: dict[str, subprocess.Popen] = {}
    pumps: list[threading.Thread] = []
    exit_code = 0

    try:
        # ---- infrastructure
        devstack.ensure_rabbitmq(amqp_url, log=say)
        mongo_url = os.environ.get("OPS_MONGO_URL")
        mongo_note = "from OPS_MONGO_URL"
        if not mongo_url:
            nx_port = int(os.environ.get("OPS_NX_PORT") or 27017)
            data_dir = REPO / ".data" / "mongo"
            say(f"starting nx-27017 on 127.0.0.1:{nx_port} (data in {data_dir}) ...")
            nx_proc = devstack.start_nx(data_dir, nx_port)
            mongo_url = devstack.mongo_url(nx_port)
            mongo_note = f"nx-27017, pid {nx_proc.pid}, data in {data_dir}, log {data_dir / 'nx-27017.log'}"

        # ---- services
        ports = {name: service_port(name) for name in SERVICES}
        busy = [f"{p} ({n}, set OPS_{n.upper()}_PORT)" for n, p in ports.items() if devstack.port_open("127.0.0.1", p, 0.5)]
        if busy:
            raise devstack.DevStackError("port(s) already in use: " + ", ".join(busy) + "; is another stack running?")

        base_env = dict(os.environ)
        for key in ("OPS_PORT", "OPS_MONGO_DB"):
            base_env.pop(key, None)
        base_env.update(OPS_MONGO_URL=mongo_url, OPS_AMQP_URL=amqp_url, PYTHONUNBUFFERED="1")
        pythonpath = base_env.get("PYTHONPATH")
        base_env["PYTHONPATH"] = str(REPO) + (os.pathsep + pythonpath if pythonpath else "")

        for name in SERVICES:
            env = dict(base_env, OPS_PORT=str(ports[name]))
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=str(REPO),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: we decide the stop order
            )
            children[name] = proc
            t = threading.Thread(target=_pump, args=(name, proc), name=f"pump-{name}", daemon=True)
            t.start()
            pumps.append(t)
            say(f"started {name} (pid {proc.pid}) on port {ports[name]}")

        # ---- readiness: all four concurrently, one common deadline
        deadline = time.monotonic() + READY_TIMEOUT
        pending = dict(children)
        last: dict[str, str] = {}
        while pending:
            for name, proc in list(pending.items()):
                if proc.poll() is not None:
                    raise devstack.DevStackError(
                        f"service {name} exited with code {proc.returncode} before it was ready (see its output above)"
                    )
                url = f"http://127.0.0.1:{ports[name]}/readyz"
                status, detail = devstack.probe_http(url, timeout=2.0)
                if status == 200:
                    del pending[name]
                    say(f"{name} is ready")
                else:
                    last[name] = f"{url} -> {detail}"
            if pending and time.monotonic() >= deadline:
                detail = "; ".join(f"{n}: {last.get(n, 'no answer')}" for n in pending)
                raise devstack.DevStackError(
                    f"service(s) {', '.join(pending)} not ready within {READY_TIMEOUT:g} s: {detail}"
                )
            if pending:
                time.sleep(0.3)

        # ---- banner
        lines = ["", "Ops Support stack is running:"]
        for name in SERVICES:
            base = f"http://127.0.0.1:{ports[name]}"
            lines.append(f"  {name:<10} {base}   docs {base}/docs")
        lines.append(f"  AMQP       {devstack.redact_url(amqp_url)}")
        lines.append(f"  MongoDB    {mongo_url}   ({mongo_note})")
        if secret:
            lines.append("  auth       OPS_AUTH_SECRET is set in the environment (HS256)")
        else:
            lines.append(f"  auth       OPS_AUTH_SECRET={DEV_AUTH_SECRET}   (the dev default; set OPS_AUTH_SECRET to change it)")
        lines.append("  token      make token ROLE=agent   (also ROLE=account_manager CITY=济南, ROLE=vendor VENDOR=v1, ...)")
        lines.append("             curl -H \"Authorization: Bearer $(make -s token ROLE=agent)\" "
                     f"http://127.0.0.1:{ports['ticketing']}/v1/tickets")
        lines.append("Press Ctrl-C to stop.")
        lines.append("")
        say("\n".join(lines))

        # ---- supervise
        while True:
            for name, proc in children.items():
                if proc.poll() is not None:
                    raise devstack.DevStackError(f"service {name} exited unexpectedly with code {proc.returncode}")
            if nx_proc is not None and nx_proc.poll() is not None:
                tail = "\n".join(getattr(nx_proc, "output_tail", []))
                raise devstack.DevStackError(f"nx-27017 exited unexpectedly with code {nx_proc.returncode}\n{tail}")
            time.sleep(0.5)

    except Stop as e:
        say(f"\n{e}: stopping ...")
    except KeyboardInterrupt:
        say("\nstopping ...")
    except devstack.DevStackError as e:
        say(f"error: {e}")
        exit_code = 1
    finally:
        # No more interruptions while we clean up (each stop is bounded by timeouts).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if children:
            devstack.stop_processes(children.values(), timeout=15)
            for t in pumps:
                t.join(timeout=2)
            for name, proc in children.items():
                say(f"{name} stopped ({_how(proc.returncode)})")
        if nx_proc is not None:
            devstack.stop_process(nx_proc, timeout=15)
            say(f"nx-27017 stopped ({_how(nx_proc.returncode)})")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
