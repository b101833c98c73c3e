"""Shared test infrastructure: a document store and a RabbitMQ broker for the whole session.

Fixture ``infra`` (session scope) gives an :class:`Infra` with ``mongo_url``, ``amqp_url``,
``namespace`` (unique per session, e.g. ``t3f9a1c2e``), ``auth_secret`` and ``backend``.
``service_env(infra, "ticketing", OPS_PORT=8101)`` (or ``infra.service_env(...)``) gives the
environment for a service process started by a test.

Where the infrastructure comes from, first match wins:

1. ``OPS_TEST_MONGO_URL`` and/or ``OPS_TEST_AMQP_URL`` set: those servers are used as they are
   (the other one is still provided by 2 or 3);
2. a Docker engine answers: testcontainers starts ``rabbitmq:3.13-management`` and ``mongo:7``
   (a single-node replica set ``rs0``, so multi-document transactions work);
3. otherwise the local machine (``scripts/devstack.py``): the installed RabbitMQ (started if
   down) and ``nx-27017`` on a free port with a temporary data dir, stopped at session end.

Exchanges and queues a session creates carry the ``namespace`` prefix; on a local broker they
are deleted at session end (best effort, via ``rabbitmqctl`` + AMQP).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
for _p in (str(SCRIPTS), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import devstack  # noqa: E402

TEST_AUTH_SECRET = "test-secret-" + "x" * 20  # long enough for HS256 key-length checks
RABBITMQ_IMAGE = "rabbitmq:3.13-management"
MONGO_IMAGE = "mongo:7"


@dataclass
class Infra:
    mongo_url: str
    amqp_url: str
    namespace: str
    auth_secret: str = TEST_AUTH_SECRET
    backend: str = "local"  # "local" | "docker" | "external" (a mix shows as e.g. "external+local")

    databases: str = ""  # the prefix of the services' database names; the namespace unless set (see `within`)

    def db_name(self, service: str) -> str:
        return f"{self.databases or self.namespace}_{service}"

    def within(self, name: str) -> Infra:
        """The same servers and broker namespace, with databases of its own (named inside the session's namespace, so
        the clean-up at the end drops them too): a whole stack started by one test module then does not count the
        tickets of another module's stack. The broker's queues stay the session's: each is a quorum queue (a Raft
        cluster of its own), and a set per module made the local broker unresponsive."""
        return dataclasses.replace(self, databases=f"{self.namespace}_{name}")

    def service_env(self, service: str, **extra) -> dict[str, str]:
        return service_env(self, service, **extra)


def service_env(infra: Infra, service: str, **extra) -> dict[str, str]:
    """Environment for ``python -m services.<service>`` in a test: a copy of ``os.environ`` without
    any ``OPS_*`` variable, plus the session's store/broker/namespace/secret, ``OPS_MONGO_DB =
    <namespace>_<service>``, then ``extra`` (values are turned into strings; ``None`` removes a key).
    Pass it straight to ``subprocess.Popen(env=...)``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPS_")}
    env.update(
        OPS_MONGO_URL=infra.mongo_url,
        OPS_AMQP_URL=infra.amqp_url,
        OPS_NAMESPACE=infra.namespace,
        OPS_MONGO_DB=infra.db_name(service),
        OPS_AUTH_SECRET=infra.auth_secret,
        OPS_LOG_FORMAT="console",
        PYTHONUNBUFFERED="1",
    )
    pythonpath = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + pythonpath if pythonpath else "")
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


# --------------------------------------------------------------------------- backends


def _docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _wait(predicate, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as e:  # noqa: BLE001 - transient while a server starts
            last = e
        time.sleep(interval)
    raise RuntimeError(f"{what} not ready within {timeout:g} s" + (f" (last error: {last!r})" if last else ""))


def _docker_rabbitmq(stack: contextlib.ExitStack) -> str:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = (
        DockerContainer(RABBITMQ_IMAGE)
        .with_exposed_ports(5672, 15672)
        .waiting_for(LogMessageWaitStrategy("Server startup complete").with_startup_timeout(180))
    )
    container.start()
    stack.callback(container.stop)
    host = container.get_container_host_ip()
    url = f"amqp://guest:guest@{host}:{container.get_exposed_port(5672)}/"
    _wait(lambda: devstack.amqp_ping(url), 60, f"RabbitMQ container at {url}")
    return url


def _docker_mongo(stack: contextlib.ExitStack) -> str:
    from pymongo import MongoClient
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = (
        DockerContainer(MONGO_IMAGE)
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
        .waiting_for(
            LogMessageWaitStrategy(re.compile(r"waiting for connections", re.IGNORECASE)).with_startup_timeout(180)
        )
    )
    container.start()
    stack.callback(container.stop)
    initiate = "rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})"
    result = container.exec(["mongosh", "--quiet", "--eval", initiate])
    output = result.output.decode("utf-8", "replace") if result.output else ""
    if result.exit_code != 0 and "already initialized" not in output:
        raise RuntimeError(f"rs.initiate failed ({result.exit_code}): {output}")
    url = f"mongodb://{container.get_container_host_ip()}:{container.get_exposed_port(27017)}/?directConnection=true"
    client = MongoClient(url, serverSelectionTimeoutMS=2000)
    stack.callback(client.close)
    _wait(lambda: client.admin.command("hello").get("isWritablePrimary"), 60, f"MongoDB replica set primary at {url}")
    return url


def _local_rabbitmq(stack: contextlib.ExitStack, namespace: str) -> str:
    url = devstack.DEFAULT_AMQP_URL  # not OPS_AMQP_URL: tests never follow the dev/prod setting
    devstack.ensure_rabbitmq(url)
    if not devstack.amqp_ping(url):
        raise RuntimeError(f"something listens at {devstack.redact_url(url)} but does not speak AMQP 0-9-1")
    host, _ = devstack.amqp_host_port(url)
    if host in devstack.LOCAL_HOSTS:
        stack.callback(_delete_namespace_from_local_rabbitmq, url, namespace)
    return url


def _local_nx(stack: contextlib.ExitStack) -> str:
    data_dir = tempfile.mkdtemp(prefix="ops-test-nx-")
    stack.callback(shutil.rmtree, data_dir, True)
    for attempt in range(3):  # a free port can be taken between free_port() and the bind
        port = devstack.free_port()
        try:
            proc = devstack.start_nx(data_dir, port)
            break
        except devstack.DevStackError:
            if attempt == 2:
                raise
    stack.callback(devstack.stop_process, proc)
    return devstack.mongo_url(port)


def _rabbitmqctl_names(what: str) -> list[str]:
    ctl = devstack._find_executable("rabbitmqctl")
    if ctl is None:
        return []
    res = subprocess.run(
        [ctl, what, "-q", "--no-table-headers", "name"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return res.stdout.split() if res.returncode == 0 else []


def _delete_namespace_from_local_rabbitmq(amqp_url: str, namespace: str) -> None:
    """Best effort: delete the queues and exchanges this session created (name starts with the
    namespace) so repeated test runs do not pile up durable quorum queues on the dev broker."""
    try:
        queues = [n for n in _rabbitmqctl_names("list_queues") if n.startswith(namespace)]
        exchanges = [n for n in _rabbitmqctl_names("list_exchanges") if n.startswith(namespace)]
        if not queues and not exchanges:
            return
        import asyncio

        import aio_pika

        async def _delete() -> None:
            connection = await aio_pika.connect(amqp_url, timeout=10)
            async with connection:
                for name in queues:
                    channel = await connection.channel()
                    with contextlib.suppress(Exception):
                        await channel.queue_delete(name)
                for name in exchanges:
                    channel = await connection.channel()
                    with contextlib.suppress(Exception):
                        await channel.exchange_delete(name)

        asyncio.run(_delete())
    except Exception as e:  # noqa: BLE001 - cleanup must never fail the session
        print(f"\nwarning: could not clean RabbitMQ namespace {namespace!r}: {e!r}", file=sys.stderr)


@pytest.fixture(scope="session")
def infra():
    namespace = "t" + secrets.token_hex(4)
    with contextlib.ExitStack() as stack:
        ext_mongo = os.environ.get("OPS_TEST_MONGO_URL")
        ext_amqp = os.environ.get("OPS_TEST_AMQP_URL")
        use_docker = not (ext_mongo and ext_amqp) and _docker_available()
        origin = "docker" if use_docker else "local"

        if ext_amqp:
            amqp_url = ext_amqp
        elif use_docker:
            amqp_url = _docker_rabbitmq(stack)
        else:
            amqp_url = _local_rabbitmq(stack, namespace)

        if ext_mongo:
            mongo_url = ext_mongo
            stack.callback(_drop_namespace_databases, ext_mongo, namespace)
        elif use_docker:
            mongo_url = _docker_mongo(stack)
        else:
            mongo_url = _local_nx(stack)

        kinds = {"external" if ext_amqp else origin, "external" if ext_mongo else origin}
        backend = "+".join(sorted(kinds))
        yield Infra(mongo_url=mongo_url, amqp_url=amqp_url, namespace=namespace, backend=backend)


def _drop_namespace_databases(mongo_url: str, namespace: str) -> None:
    from pymongo import MongoClient

    try:
        with MongoClient(mongo_url, serverSelectionTimeoutMS=5000) as client:
            for name in client.list_database_names():
                if name.startswith(f"{namespace}_"):
                    client.drop_database(name)
    except Exception as e:  # noqa: BLE001
        print(f"\nwarning: could not drop test databases {namespace}_*: {e!r}", file=sys.stderr)
