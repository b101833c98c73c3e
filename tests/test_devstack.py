"""The test infrastructure itself: the store and the broker answer, and the helpers behave."""

from __future__ import annotations

import http.server
import socket
import threading

import aio_pika
import pytest
from pymongo import MongoClient

import devstack
from conftest import service_env


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
