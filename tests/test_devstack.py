"""The test infrastructure itself: the store and the broker answer, and the helpers behave."""

from __future__ import annotations

import contextlib
import errno
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import aio_pika
import pytest
from pymongo import MongoClient

import devstack
from conftest import SCRIPTS, service_env
from tests import procfs

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG are Linux")


def test_store_answers_ping_and_round_trips(infra):
    with MongoClient(infra.mongo_url, serverSelectionTimeoutMS=5000) as client:
        assert client.admin.command("ping")["ok"] == 1
        coll = client[infra.db_name("devstack")]["probe"]
        coll.insert_one({"_id": "p1", "city": "济南"})
        assert coll.find_one({"_id": "p1"}) == {"_id": "p1", "city": "济南"}
        client.drop_database(infra.db_name("devstack"))


def test_broker_speaks_amqp(infra):
    assert devstack.amqp_ping(infra.amqp_url), f"no AMQP 0-9-1 server at {devstack.redact_url(infra.amqp_url)}"


async def test_broker_accepts_connection_and_routes_a_message(infra):
    connection = await aio_pika.connect(infra.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{infra.namespace}.devstack.probe", exclusive=True, auto_delete=True)
        await channel.default_exchange.publish(aio_pika.Message(body=b"ping"), routing_key=queue.name)
        message = await queue.get(timeout=5, fail=False)
        for _ in range(50):
            if message is not None:
                break
            await __import__("asyncio").sleep(0.1)
            message = await queue.get(timeout=5, fail=False)
        assert message is not None, "the broker did not deliver the probe message"
        await message.ack()
        assert message.body == b"ping"


def test_service_env(infra):
    env = service_env(infra, "ticketing", OPS_PORT=8101, OPS_LOG_FORMAT="json")
    assert env["OPS_MONGO_URL"] == infra.mongo_url
    assert env["OPS_AMQP_URL"] == infra.amqp_url
    assert env["OPS_NAMESPACE"] == infra.namespace
    assert env["OPS_MONGO_DB"] == f"{infra.namespace}_ticketing"
    assert env["OPS_AUTH_SECRET"] == infra.auth_secret
    assert env["OPS_PORT"] == "8101" and env["OPS_LOG_FORMAT"] == "json"
    assert "PATH" in env
    assert infra.service_env("analytics", OPS_LOG_FORMAT=None)["OPS_MONGO_DB"] == f"{infra.namespace}_analytics"
    assert "OPS_LOG_FORMAT" not in infra.service_env("analytics", OPS_LOG_FORMAT=None)
    assert infra.namespace.startswith("t") and len(infra.namespace) <= 12


def test_free_port_is_bindable():
    port = devstack.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_free_ports_are_different_and_each_bindable():
    ports = devstack.free_ports(20)
    assert len(set(ports)) == 20
    with contextlib.ExitStack() as held:
        for port in ports:
            held.enter_context(socket.socket()).bind(("127.0.0.1", port))


def test_wait_http_waits_for_200_and_times_out():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            code = 200 if self.path == "/readyz" else 503
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert devstack.wait_http(f"{base}/readyz", timeout=5) == 200
        with pytest.raises(TimeoutError, match="HTTP 503"):
            devstack.wait_http(f"{base}/other", timeout=0.5)
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(TimeoutError):
        devstack.wait_http(f"http://127.0.0.1:{devstack.free_port()}/readyz", timeout=0.5)


def test_start_nx_refuses_a_port_in_use(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(devstack.DevStackError, match=f"port {port} in use; set OPS_NX_PORT or OPS_MONGO_URL"):
            devstack.start_nx(tmp_path / "nx", port)


def test_ensure_rabbitmq_explains_when_not_installed(monkeypatch):
    monkeypatch.setattr(devstack, "_find_rabbitmq_server", lambda: None)
    url = f"amqp://guest:guest@127.0.0.1:{devstack.free_port()}/"
    with pytest.raises(devstack.DevStackError, match="RabbitMQ is not installed") as err:
        devstack.ensure_rabbitmq(url)
    assert "apt-get install rabbitmq-server" in str(err.value) and "OPS_AMQP_URL" in str(err.value)


def test_wait_port_pauses_with_the_given_sleep():
    class Abandoned(Exception):
        pass

    def sleep(seconds):
        raise Abandoned

    with pytest.raises(Abandoned):  # the wait ends at its first pause, not after its 30 s
        devstack.wait_port("127.0.0.1", devstack.free_port(), timeout=30, sleep=sleep)


# --------------------------------------------------------------------------- ports and their holders


@linux_only
def test_a_port_in_use_is_traced_to_this_process():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        error = devstack.bind_error("127.0.0.1", port)
        assert error is not None and error.errno == errno.EADDRINUSE
        holders, _ = devstack.port_holders(port)
        assert [pid for pid, _ in holders] == [os.getpid()]
        assert holders[0][1].startswith(" ".join(sys.orig_argv)[:100])
        assert devstack.describe_port_holders(port).startswith(f"pid {os.getpid()} (")
    assert devstack.bind_error("127.0.0.1", port) is None


@linux_only
def test_a_dual_stack_ipv6_listener_holds_the_ipv4_port_too():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with socket.socket(socket.AF_INET6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            s.bind(("::", 0))
        except OSError as e:
            pytest.skip(f"cannot bind [::]: {e}")
        s.listen()
        port = s.getsockname()[1]
        assert devstack.bind_error("127.0.0.1", port).errno == errno.EADDRINUSE
        assert [pid for pid, _ in devstack.port_holders(port)[0]] == [os.getpid()]  # found in /proc/net/tcp6


def _python_for(uid: int) -> str | None:
    """A Python interpreter that user ``uid`` may run (the venv's may live under a private home)."""
    for candidate in (sys.executable, shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin")):
        if not candidate:
            continue
        try:
            if subprocess.run([candidate, "-c", "pass"], user=uid, capture_output=True, timeout=30).returncode == 0:
                return candidate
        except OSError:  # not executable for that user
            continue
    return None


@linux_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to run a check as another user")
def test_a_holder_this_user_cannot_inspect_is_said_so():
    nobody = 65534
    python = _python_for(nobody)
    if python is None:
        pytest.skip("no Python interpreter that user 65534 may run")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        # The module's source on stdin: user 65534 need not be able to read this checkout.
        code = ("import sys; ns = {'__name__': 'devstack'}; exec(compile(sys.stdin.read(), 'devstack.py', 'exec'), ns); "
                f"print(ns['describe_port_holders']({port}))")
        res = subprocess.run([python, "-c", code], input=(SCRIPTS / "devstack.py").read_text(), user=nobody,
                             capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "a process this user cannot inspect"


# --------------------------------------------------------------------------- children that die with their parent

# A parent that starts one child and reports its pid: a test kills it to see what becomes of the child.
PARENT = """
import subprocess, sys
sys.path.insert(0, sys.argv[1])
import devstack
child = subprocess.Popen(devstack.dying_with_parent([sys.executable, "-c", "import time; time.sleep(300)"]))
print(child.pid, flush=True)
child.wait()
"""

# A child that asks for SIGTERM when its parent dies, started by a parent that reports its pid.
SELF_ARMED = """
import subprocess, sys
code = ("import sys, time; sys.path.insert(0, sys.argv[1]); import devstack; "
        "print('armed' if devstack.set_parent_death_signal() else 'unarmed', flush=True); time.sleep(300)")
child = subprocess.Popen([sys.executable, "-c", code, sys.argv[1]])
print(child.pid, flush=True)
child.wait()
"""


def _orphan_check(parent_code: str, expect_line: str | None, command_mark: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", parent_code, str(SCRIPTS)], stdout=subprocess.PIPE, text=True)
    child: dict[int, int] = {}
    try:
        pid = int(parent.stdout.readline())
        if expect_line is not None:
            assert parent.stdout.readline().strip() == expect_line
        else:  # the wrapper execs the command: same pid, the command's own command line
            deadline = time.monotonic() + 30
            while command_mark not in procfs.cmdline(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert command_mark in procfs.cmdline(pid)
        child = {pid: procfs.start_time(pid)}
        parent.kill()
        parent.wait()
        assert procfs.wait_gone(child, timeout=20) == {}, "the child outlived its killed parent"
    finally:
        procfs.kill_survivors(child)
        if parent.poll() is None:
            parent.kill()
            parent.wait()


@linux_only
def test_a_child_dying_with_parent_goes_when_the_parent_is_killed():
    _orphan_check(PARENT, None, "time.sleep(300)")


@linux_only
def test_set_parent_death_signal_stops_a_process_whose_parent_is_killed():
    _orphan_check(SELF_ARMED, "armed", "time.sleep(300)")


@linux_only
def test_dying_with_parent_does_not_start_a_child_whose_parent_already_died(tmp_path):
    marker = tmp_path / "ran"
    cmd = devstack.dying_with_parent([sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"])
    # Started by another process than the one that built it (the pid it carries), the wrapper sees what it
    # would see had its parent died before the prctl: a parent other than that pid.
    relay = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    res = subprocess.run([sys.executable, "-c", relay, *cmd], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and f"not started: its parent (pid {os.getpid()}) exited first" in res.stderr
    assert not marker.exists()
    subprocess.run(cmd, check=True, timeout=60)  # started by the right parent, it runs
    assert marker.exists()
