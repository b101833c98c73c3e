"""Local infrastructure helpers for development and tests (standard library only).

Used by ``scripts/run.py`` (``make run``) and ``tests/conftest.py``:

* :func:`ensure_rabbitmq` makes sure a RabbitMQ broker answers at an AMQP URL, starting the
  locally installed ``rabbitmq-server`` when it is down;
* :func:`start_nx` starts ``nx-27017`` (a MongoDB wire-protocol server on SQLite) as a child
  process in the foreground and waits until it answers ``ping`` (:func:`spawn_nx` and
  :func:`await_nx` are its two halves); :func:`stop_process` stops it;
* :func:`bind_error` and :func:`describe_port_holders` say whether a port can be bound and, if not,
  which process holds it;
* :func:`dying_with_parent` and :func:`set_parent_death_signal` tie a process's life to its
  parent's (Linux);
* :func:`free_port`, :func:`port_open`, :func:`wait_http`, :func:`amqp_ping` are small helpers.

The waits take a ``sleep`` function (default :func:`time.sleep`) for their pauses: a caller that
must be able to abandon a wait passes one that raises (``scripts/run.py`` does, on SIGINT/SIGTERM).

``pymongo`` is imported lazily (only by :func:`mongo_ping`), so the module imports with the
standard library alone.

Runnable too::

    python scripts/devstack.py rabbitmq [AMQP_URL]       # ensure the broker is up
    python scripts/devstack.py nx DATA_DIR [--port N]    # run nx-27017 until Ctrl-C
    python scripts/devstack.py free-port
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}
RABBITMQ_SBIN_DIRS = ("/usr/sbin", "/usr/lib/rabbitmq/bin", "/usr/local/sbin")
NX_LOG_MAX_BYTES = 64 * 1024 * 1024  # nx-27017 logs every command at INFO; rotate the log at start


class DevStackError(RuntimeError):
    """Local infrastructure could not be brought up; the message says why and what to do."""


# --------------------------------------------------------------------------- small helpers


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when ``host:port`` accepts a TCP connection."""
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different TCP ports, free right now on ``host``: each is held until all are picked, since the OS
    may hand out a port again as soon as it is let go (two services of one stack were once given the same one)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, sleep=time.sleep) -> bool:
    """Wait until ``host:port`` accepts connections; False on timeout or when ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if port_open(host, port, timeout=0.5):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        if time.monotonic() >= deadline:
            return False
        sleep(0.2)


# --------------------------------------------------------------------------- ports in use, and by whom

TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not bind ``host:port`` now (None: it could). Binds the way uvicorn and
    nx-27017 do, with SO_REUSEADDR, so a connection of an earlier run lingering in TIME_WAIT does
    not count as "in use"; a listener on ``0.0.0.0`` or a dual-stack ``::`` does."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as e:
        return OSError(errno.EADDRNOTAVAIL, f"cannot resolve {host!r}: {e}")
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            return e
    return None


def _socket_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets (IPv4 and IPv6, any state but TIME_WAIT) whose local port is ``port``."""
    inodes: set[str] = set()
    for table in TCP_TABLES:
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            fields = row.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                inodes.add(fields[9])
    return inodes


def _cmdline(pid: int, limit: int = 300) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        text = " ".join(a.decode("utf-8", "replace") for a in args if a)
        if not text:  # a kernel thread or a zombie: only its name is left
            text = "[" + Path(f"/proc/{pid}/comm").read_text().strip() + "]"
    except OSError:
        return "?"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def port_holders(port: int) -> tuple[list[tuple[int, str]], bool]:
    """The processes that hold a TCP socket on local ``port``, as ``[(pid, command line)]``, and
    whether the list may be incomplete because some processes' file descriptors are unreadable for
    this user. Linux: the socket inodes of /proc/net/tcp and /proc/net/tcp6 matched against the
    ``socket:[inode]`` links in /proc/<pid>/fd. Elsewhere: ``([], True)``."""
    if not os.path.exists(TCP_TABLES[0]):
        return [], True
    links = {f"socket:[{inode}]" for inode in _socket_inodes(port)}
    holders: list[tuple[int, str]] = []
    hidden = False
    if not links:
        return holders, hidden
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fd_dir = f"/proc/{entry.name}/fd"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            hidden = True
            continue
        except OSError:  # exited meanwhile
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in links:
                    holders.append((int(entry.name), _cmdline(int(entry.name))))
                    break
            except OSError:
                continue
    return holders, hidden


def describe_port_holders(port: int) -> str:
    """Who holds ``port``, for a message: ``pid 123 (python -m http.server 8001)``, or why we cannot tell."""
    holders, hidden = port_holders(port)
    if holders:
        return ", ".join(f"pid {pid} ({cmd})" for pid, cmd in holders)
    if not os.path.exists(TCP_TABLES[0]):
        return f"a process this script cannot identify without /proc (`lsof -nP -iTCP:{port}` shows it)"
    if hidden:
        return "a process this user cannot inspect"
    return "an unidentified process"


def probe_http(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    """One ``GET url``: ``(status, detail)``; status is None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, f"HTTP {resp.status}"
    except urllib.error.HTTPError as e:  # non-2xx answers land here
        body = e.read(300).decode("utf-8", "replace").strip()
        return e.code, f"HTTP {e.code} {body}".strip()
    except (OSError, ValueError) as e:  # URLError, connection refused, timeouts, bad status line
        return None, f"{type(e).__name__}: {getattr(e, 'reason', e)}"


def wait_http(
    url: str,
    timeout: float,
    proc: subprocess.Popen | None = None,
    interval: float = 0.25,
    expect_status: int = 200,
) -> int:
    """Poll ``GET url`` until it answers ``expect_status``; return that status.

    Raises :class:`TimeoutError` (with the last answer or error) after ``timeout`` seconds, and
    :class:`DevStackError` as soon as ``proc`` (the process expected to serve the URL) exits.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise DevStackError(f"process {proc.pid} exited with code {proc.returncode} before {url} answered")
        status, last = probe_http(url, timeout=max(0.5, min(5.0, deadline - time.monotonic())))
        if status == expect_status:
            return status
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer {expect_status} within {timeout:g} s (last: {last})")
        time.sleep(interval)


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def amqp_host_port(amqp_url: str) -> tuple[str, int]:
    return _host_port(amqp_url, 5671 if amqp_url.startswith("amqps:") else 5672)


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for printing)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def amqp_ping(amqp_url: str, timeout: float = 3.0) -> bool:
    """True when the server at the URL speaks AMQP 0-9-1 (answers the protocol header with
    a ``Connection.Start`` method frame). Does not authenticate."""
    host, port = amqp_host_port(amqp_url)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"AMQP\x00\x00\x09\x01")
            data = b""
            while len(data) < 11:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return False
    # frame type 1 (method), channel 0, ..., class 10 (connection), method 10 (start)
    return len(data) >= 11 and data[0] == 1 and data[7:11] == b"\x00\x0a\x00\x0a"


# --------------------------------------------------------------------------- RabbitMQ


def _find_executable(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in RABBITMQ_SBIN_DIRS:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _find_rabbitmq_server() -> str | None:
    return _find_executable("rabbitmq-server")


def _not_installed_message(host: str, port: int) -> str:
    return (
        f"RabbitMQ is not reachable at {host}:{port} and RabbitMQ is not installed on this machine.\n"
        "Install it (`sudo apt-get install rabbitmq-server`) or point OPS_AMQP_URL at a running broker."
    )


def ensure_rabbitmq(amqp_url: str | None = None, timeout: float = 90.0, log=None, sleep=time.sleep) -> None:
    """Make sure a RabbitMQ broker accepts TCP connections at ``amqp_url``.

    Returns at once when the port is open. Otherwise, for a local host with ``rabbitmq-server``
    installed, runs ``rabbitmq-server -detached`` and waits up to ``timeout`` seconds for the port
    (and ``rabbitmqctl await_startup``). Raises :class:`DevStackError` with a clear message when
    the broker is remote and down, not installed, or does not come up.
    """
    amqp_url = amqp_url or DEFAULT_AMQP_URL
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    host, port = amqp_host_port(amqp_url)
    if port_open(host, port):
        return
    if host not in LOCAL_HOSTS:
        raise DevStackError(
            f"RabbitMQ is not reachable at {host}:{port} (from OPS_AMQP_URL={redact_url(amqp_url)}); "
            "start that broker or point OPS_AMQP_URL at a running one."
        )
    server = _find_rabbitmq_server()
    if server is None:
        raise DevStackError(_not_installed_message(host, port))

    log(f"RabbitMQ is not running on {host}:{port}; starting it with `{server} -detached` ...")
    # -detached forks the Erlang VM, which would inherit a pipe and keep it open for ever:
    # send the output to a temp file instead, and start it in its own session so that a
    # Ctrl-C in this terminal does not reach the broker.
    with tempfile.TemporaryFile() as out:
        try:
            rc = subprocess.run(
                [server, "-detached"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                timeout=60,
            ).returncode
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DevStackError(f"could not run `{server} -detached`: {e}") from e
        out.seek(0)
        output = out.read().decode("utf-8", "replace").strip()
    if rc != 0:
        raise DevStackError(
            f"`{server} -detached` failed with exit code {rc}:\n{output}\n"
            "(RabbitMQ must be started as root or the rabbitmq user; or point OPS_AMQP_URL at a running broker.)"
        )

    deadline = time.monotonic() + timeout
    if not wait_port(host, port, timeout, sleep=sleep):
        raise DevStackError(
            f"started rabbitmq-server but {host}:{port} did not accept connections within {timeout:g} s; "
            "see /var/log/rabbitmq/ (is the broker configured for that port?)"
            + (f"\n{output}" if output else "")
        )
    ctl = _find_executable("rabbitmqctl")
    if ctl is not None:
        remaining = max(5, int(deadline - time.monotonic()))
        try:
            res = subprocess.run(
                [ctl, "await_startup", "--timeout", str(remaining)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=remaining + 15,
            )
            if res.returncode != 0:
                log(f"warning: `rabbitmqctl await_startup` failed ({res.returncode}): {res.stderr.strip()[:300]}")
        except (OSError, subprocess.TimeoutExpired) as e:
            log(f"warning: `rabbitmqctl await_startup` did not finish: {e}")
    log(f"RabbitMQ is up on {host}:{port}.")


# --------------------------------------------------------------------------- nx-27017


def mongo_url(port: int, host: str = "127.0.0.1") -> str:
    return f"mongodb://{host}:{port}/?directConnection=true"


def mongo_ping(url: str, timeout: float = 2.0) -> bool:
    """True when the MongoDB-protocol server at ``url`` answers ``ping``."""
    from pymongo import MongoClient  # lazy: the venv has it; the module stays stdlib-importable

    ms = int(timeout * 1000)
    client = MongoClient(url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms)
    try:
        return client.admin.command("ping").get("ok") == 1
    except Exception:
        return False
    finally:
        client.close()


def find_nx() -> str:
    """Path of the ``nx-27017`` executable (beside ``sys.executable``, else on PATH)."""
    beside = Path(sys.executable).parent / "nx-27017"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nx-27017")
    if found:
        return found
    raise DevStackError(
        f"nx-27017 not found beside {sys.executable} nor on PATH; install it "
        "(`make .venv`, or `pip install -e '.[local]'`), or set OPS_MONGO_URL to a running MongoDB."
    )


def _pid_alive_as_nx(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # cannot tell: assume it is
    return b"nx-27017" in cmdline or b"nx_27017" in cmdline


def _tail(path: Path, lines: int = 30) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_nx(data_dir, port: int, host: str = "127.0.0.1", timeout: float = 30.0, *,
             die_with_parent: bool = False) -> subprocess.Popen:
    """Start ``nx-27017`` in the foreground as a child process serving ``data_dir`` on ``port``.

    The log (``nx-27017.log``) and pid file (``nx-27017.pid``) live in ``data_dir``. The child
    runs in its own process group (a Ctrl-C in the terminal does not reach it; stop it with
    :func:`stop_process`). Returns once the port answers a MongoDB ``ping``; raises
    :class:`DevStackError` (with the log tail) if that does not happen within ``timeout`` seconds
    or when the port is already in use. ``die_with_parent``: see :func:`dying_with_parent`.
    """
    proc = spawn_nx(data_dir, port, host, die_with_parent=die_with_parent)
    try:
        await_nx(proc, timeout)
    except BaseException:  # including KeyboardInterrupt: never leave a half-started child behind
        stop_process(proc)
        raise
    return proc


def spawn_nx(data_dir, port: int, host: str = "127.0.0.1", *, die_with_parent: bool = False) -> subprocess.Popen:
    """The first half of :func:`start_nx`: the checks and the start, without waiting for ``ping``.

    For a caller that must record the child before it waits (so that whatever ends the wait also
    stops the child); :func:`await_nx` is the second half."""
    data_dir = Path(data_dir).resolve()
    log_file = data_dir / "nx-27017.log"
    pid_file = data_dir / "nx-27017.pid"
    old_pid = 0
    if pid_file.exists():
        try:
            old_pid = int(pid_file.read_text().strip() or 0)
        except (OSError, ValueError):
            old_pid = 0
        if old_pid and (old_pid == os.getpid() or not _pid_alive_as_nx(old_pid)):
            old_pid = 0
    if port_open(host, port, timeout=0.5):
        hint = f" (nx-27017 pid {old_pid} already serves {data_dir} there: `kill {old_pid}` to stop it)" if old_pid else ""
        raise DevStackError(f"port {port} in use; set OPS_NX_PORT or OPS_MONGO_URL{hint}")
    if old_pid:
        raise DevStackError(
            f"nx-27017 (pid {old_pid}) is already running on data dir {data_dir} "
            f"(pid file {pid_file}); stop it first (`kill {old_pid}`)"
        )
    nx = find_nx()
    data_dir.mkdir(parents=True, exist_ok=True)
    pid_file.unlink(missing_ok=True)  # stale, from a process that did not stop cleanly
    if log_file.exists() and log_file.stat().st_size > NX_LOG_MAX_BYTES:
        log_file.replace(log_file.with_name(log_file.name + ".1"))

    cmd = [nx, "--data-dir", str(data_dir), "--host", host, "-p", str(port),
           "--log-file", str(log_file), "--pid-file", str(pid_file)]
    proc = subprocess.Popen(
        dying_with_parent(cmd) if die_with_parent else cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=str(data_dir),
        start_new_session=True,
    )
    # nx-27017 mirrors its (chatty) log on stderr: keep only the last lines, for error messages.
    tail: collections.deque[str] = collections.deque(maxlen=40)
    proc.output_tail = tail  # type: ignore[attr-defined]
    proc.nx_address = (host, port, log_file)  # type: ignore[attr-defined]  (for await_nx)

    def _drain() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    threading.Thread(target=_drain, name=f"nx-27017:{port}", daemon=True).start()
    return proc


def await_nx(proc: subprocess.Popen, timeout: float = 30.0, sleep=time.sleep) -> None:
    """The second half of :func:`start_nx`: wait until the nx-27017 of :func:`spawn_nx` answers ``ping``.
    Raises :class:`DevStackError` (with the log tail) when it exits or does not answer within ``timeout``
    seconds; does not stop it."""
    host, port, log_file = proc.nx_address  # type: ignore[attr-defined]
    tail = proc.output_tail  # type: ignore[attr-defined]
    url = mongo_url(port, host)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            time.sleep(0.2)  # let the drain thread catch the last lines
            raise DevStackError(
                f"nx-27017 exited with code {proc.returncode} while starting on {host}:{port}:\n"
                + ("\n".join(tail) or _tail(log_file))
            )
        if port_open(host, port, timeout=0.5) and mongo_ping(url, timeout=2.0):
            return
        if time.monotonic() >= deadline:
            raise DevStackError(
                f"nx-27017 did not answer ping on {host}:{port} within {timeout:g} s; log tail:\n"
                + (_tail(log_file) or "\n".join(tail))
            )
        sleep(0.2)


# --------------------------------------------------------------------------- processes


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# `python -I -S -c _DIE_WITH_PARENT <parent pid> <command...>`: ask for SIGTERM when the parent dies, then exec
# the command (the setting survives execve). A parent that died before the prctl sends nothing, and the child
# would run on unsupervised: hence the getppid() check after it, against the pid the parent passed. Inline, with
# no import beyond ctypes, so that the detour costs a bare interpreter start.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)
if os.getppid() != int(sys.argv[1]):
    sys.exit("not started: its parent (pid %s) exited first" % sys.argv[1])
os.execvp(sys.argv[2], sys.argv[2:])
"""


def dying_with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` behind a wrapper that has Linux send it SIGTERM when this process dies, even by SIGKILL
    (``prctl(PR_SET_PDEATHSIG)``, set in the child before it execs ``cmd``: same pid, same command line
    afterwards). Not a ``preexec_fn``: that is unsafe while other threads run, and callers have output
    threads. Elsewhere than on Linux, ``cmd`` unchanged: the child then outlives a parent that is killed.

    Start the child from a thread that lives as long as the process (the main thread): Linux sends the
    signal when the parent *thread* ends."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *cmd]


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Have Linux send this process ``sig`` when its parent dies; False where that is not available.
    Check ``os.getppid()`` afterwards: a parent that died before this call sends nothing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False



@contextlib.contextmanager
def store_url(prefix: str = "ops-nx-"):
    """`OPS_MONGO_URL` when set; otherwise a fresh nx-27017 on a temporary directory, stopped on exit. For tools
    (the bench scripts) that need a store of their own for one run."""
    url = os.environ.get("OPS_MONGO_URL")
    if url:
        yield url
        return
    port = free_port()
    nx = start_nx(tempfile.mkdtemp(prefix=prefix), port)
    try:
        yield mongo_url(port)
    finally:
        stop_process(nx)


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the child's process group (it is the group leader when started with
    ``start_new_session``/``process_group=0``), else to the child alone."""
    if proc.poll() is not None:
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass


def stop_processes(procs, timeout: float = 10.0) -> None:
    """SIGTERM every process (group) at once, wait up to ``timeout`` s in total, SIGKILL the rest.

    An exception inside (a KeyboardInterrupt from a second Ctrl-C under Python's default SIGINT handler)
    abandons the rest: a caller that must stop everything handles its signals without raising, as
    ``scripts/run.py`` does."""
    procs = [p for p in procs if p is not None]
    for p in procs:
        signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        if p.poll() is None:
            signal_group(p, signal.SIGKILL)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    stop_processes([proc], timeout)


# --------------------------------------------------------------------------- CLI


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_rabbit = sub.add_parser("rabbitmq", help="ensure RabbitMQ is running")
    p_rabbit.add_argument("url", nargs="?", default=os.environ.get("OPS_AMQP_URL", DEFAULT_AMQP_URL))
    p_nx = sub.add_parser("nx", help="run nx-27017 in the foreground until Ctrl-C")
    p_nx.add_argument("data_dir")
    p_nx.add_argument("--port", type=int, default=int(os.environ.get("OPS_NX_PORT", "27017")))
    sub.add_parser("free-port", help="print a free TCP port")
    args = parser.parse_args(argv)

    try:
        if args.cmd == "rabbitmq":
            ensure_rabbitmq(args.url)
            print(f"RabbitMQ reachable at {redact_url(args.url)}")
        elif args.cmd == "free-port":
            print(free_port())
        elif args.cmd == "nx":
            proc = start_nx(args.data_dir, args.port)
            print(f"nx-27017 serving {Path(args.data_dir).resolve()} at {mongo_url(args.port)} (Ctrl-C stops it)")
            try:
                while proc.poll() is None:
                    time.sleep(0.5)
                print(f"nx-27017 exited with code {proc.returncode}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                stop_process(proc)
    except DevStackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
