"""deploy/docker-compose.yml and its helpers (deploy/compose/), checked offline: the Compose Specification schema,
defaults for every variable, health-gated start order, and one MongoDB user per service database whose
credentials are the ones the service connects with. Values are read as Compose would see them from a fresh
clone: every `${VAR:-default}` replaced by its default.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.deploy.code import REPO, SERVICES, setting_names, settings_class, venv_tool

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ROOT_COMPOSE = REPO / "compose.yaml"  # `docker compose up` from the repository root includes COMPOSE
ENV_EXAMPLE = DEPLOY / "compose" / ".env.example"
MONGO_INIT = DEPLOY / "compose" / "mongo-init.js"
HOST_PORTS = {"ticketing": 8001, "lifecycle": 8002, "knowledge": 8003, "analytics": 8004}
# Variables of the compose file that are not service settings.
NOT_SETTINGS = {"OPS_IMAGE_TAG"}
# The console's: where its nginx proxies /api/<service>/ (deploy/docker/console/40-console-config.sh).
CONSOLE_UPSTREAMS = {f"OPS_{s.upper()}_URL" for s in SERVICES}

# `$$` (a literal $), `${...}` or `$NAME`, as in the Compose Specification's interpolation.
VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>[^}]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")
BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?", re.S)


def walk_strings(node):
    """Every string of a parsed YAML document, keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)
    elif isinstance(node, str):
        yield node


def references(text: str) -> list[tuple[str, str | None, str | None]]:
    """(name, operator, default) of each variable a string refers to."""
    found = []
    for match in VARIABLE.finditer(text):
        if match[0] == "$$":
            continue
        if match["bare"]:
            found.append((match["bare"], None, None))
            continue
        braced = BRACED.fullmatch(match["braced"])
        assert braced, f"cannot read ${{{match['braced']}}}"
        found.append((braced["name"], braced["op"], braced["arg"]))
    return found


def interpolate(node, env: dict[str, str] | None = None):
    """The document as Compose sees it with `env` (default: nothing set, i.e. a fresh clone)."""
    env = env or {}

    def substitute(match: re.Match) -> str:
        if match[0] == "$$":
            return "$"
        if match["bare"]:
            return env.get(match["bare"], "")
        braced = BRACED.fullmatch(match["braced"])
        name, op, arg = braced["name"], braced["op"], braced["arg"]
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?"):
            assert value, f"{name} is required: {arg}"
            return value
        return value or ""

    if isinstance(node, dict):
        return {interpolate(k, env): interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, str):
        return VARIABLE.sub(substitute, node)
    return node


@pytest.fixture(scope="module")
def raw() -> dict:
    assert COMPOSE.is_file(), f"missing {COMPOSE.relative_to(REPO)}"
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return interpolate(raw)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def published(service: dict) -> dict[int, int]:
    """host port → container port of a service's short-syntax port mappings ([ip:]host:container)."""
    result = {}
    for entry in service.get("ports", []):
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) in (2, 3), f"publish ports as [ip:]host:container, not {entry!r}"
        result[int(parts[-2])] = int(parts[-1])
    return result


def seconds(duration: str) -> float:
    total, rest = 0.0, str(duration)
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", rest):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    assert re.fullmatch(r"(\d+(\.\d+)?(ms|us|h|m|s))+", rest), f"not a duration: {duration!r}"
    return total


def init_script_users() -> list[tuple[str, str, str]]:
    """(user, database, password variable) rows of mongo-init.js's SERVICE_USERS table."""
    text = MONGO_INIT.read_text()
    match = re.search(r"const SERVICE_USERS = (\[.*?\]);", text, re.S)
    assert match, "mongo-init.js: no SERVICE_USERS table"
    return [tuple(row) for row in json.loads(match[1])]


# --- the tests ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [COMPOSE, ROOT_COMPOSE], ids=lambda p: p.relative_to(REPO).as_posix())
def test_compose_specification_schema(path):
    checker = venv_tool("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"


def test_plain_docker_compose_up_at_the_root_runs_the_stack():
    root = yaml.safe_load(ROOT_COMPOSE.read_text())
    assert [REPO / p for p in root["include"]] == [COMPOSE]
    assert root["name"] == yaml.safe_load(COMPOSE.read_text())["name"]


def test_every_variable_has_a_default(raw):
    missing = [(name, text) for text in walk_strings(raw) for name, op, default in references(text)
               if op != ":-" or not default]
    assert not missing, f"variables without a ${{VAR:-default}}: {missing}"


def test_env_example_documents_every_variable_with_its_default(raw):
    defaults: dict[str, set[str]] = {}
    for text in walk_strings(raw):
        for name, _, default in references(text):
            defaults.setdefault(name, set()).add(default)
    for name, values in defaults.items():
        assert len(values) == 1, f"{name} has different defaults in the compose file: {values}"
    documented = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                      if line.strip() and not line.lstrip().startswith("#"))
    assert set(documented) == set(defaults), \
        f"only in compose: {set(defaults) - set(documented)}; only in .env.example: {set(documented) - set(defaults)}"
    for name, value in documented.items():
        assert {value} == defaults[name], f"{name}: .env.example says {value!r}, compose {defaults[name]}"


def test_ops_variables_are_settings_the_services_read(raw):
    fields = setting_names()
    names = {name for text in walk_strings(raw) for name, _, _ in references(text)}
    for name in raw["services"]:
        names |= set(environment(raw["services"][name])) - (CONSOLE_UPSTREAMS if name == "console" else set())
    unknown = {n for n in names if n.startswith("OPS_")} - fields - NOT_SETTINGS
    assert not unknown, f"OPS_ variables that no service reads: {unknown}"


def test_infrastructure_and_services_with_healthchecks(compose):
    services = compose["services"]
    for name in ("mongo", "rabbitmq", *SERVICES):
        assert name in services, f"no {name} service"
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test {check['test']}"
    assert services["rabbitmq"]["image"].startswith("rabbitmq:4.1-management")
    assert services["mongo"]["image"].startswith("mongo:8.0")
    for name in SERVICES:
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:8000/" in test and ("/readyz" in test or "/healthz" in test), test


def test_start_order_waits_for_healthy_dependencies(compose):
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions starts too early"
        for dependency, condition in depends.items():
            assert dependency in services, f"{name} depends on an unknown {dependency}"
            assert condition.get("condition") == "service_healthy", f"{name} → {dependency}: {condition}"
    for name in SERVICES:
        assert {"mongo", "rabbitmq"} <= set(services[name].get("depends_on") or {}), name
    # lifecycle publishes the product catalog that ticketing needs.
    assert "lifecycle" in services["ticketing"]["depends_on"]
    assert "ticketing" not in (services["lifecycle"].get("depends_on") or {})


def test_data_lives_in_named_volumes(compose):
    volumes = compose.get("volumes") or {}

    def named_mount(service: str, target: str) -> str:
        for mount in compose["services"][service].get("volumes", []):
            source, _, rest = str(mount).partition(":")
            if rest.split(":")[0] == target:
                assert source in volumes, f"{service}: {target} is on {source}, not a named volume"
                return source
        pytest.fail(f"{service} keeps {target} in the container")

    assert named_mount("mongo", "/data/db") != named_mount("rabbitmq", "/var/lib/rabbitmq")
    # RabbitMQ's data directory is named after the node, rabbit@<hostname>: a random hostname loses the volume.
    assert compose["services"]["rabbitmq"].get("hostname"), "rabbitmq needs a fixed hostname"


@pytest.mark.parametrize("name", SERVICES)
def test_service_build_image_restart_and_shutdown(compose, name):
    service = compose["services"][name]
    build = service["build"]
    assert (COMPOSE.parent / build["context"]).resolve() == REPO, "the build context is the repository root"
    assert build["dockerfile"] == f"deploy/docker/{name}.Dockerfile"
    assert (REPO / build["dockerfile"]).is_file()
    assert service["image"] == f"ops-support/{name}:dev"
    assert service.get("restart") == "unless-stopped"
    grace = float(environment(service).get("OPS_SHUTDOWN_GRACE_SECONDS",
                                           settings_class(name).model_fields["shutdown_grace_seconds"].default))
    stop = seconds(service.get("stop_grace_period", "10s"))
    assert stop >= 30 and stop >= grace + 10, \
        f"stop_grace_period {stop}s leaves no time to finish messages and drain the outbox after {grace}s"


def test_ports_are_published(compose):
    services = compose["services"]
    for name, port in HOST_PORTS.items():
        container_port = int(DockerfileParser(path=str(DEPLOY / "docker" / f"{name}.Dockerfile")).envs["OPS_PORT"])
        assert published(services[name]) == {port: container_port}, f"{name}: {services[name].get('ports')}"
    assert {5672: 5672, 15672: 15672}.items() <= published(services["rabbitmq"]).items()


@pytest.mark.parametrize("name", SERVICES)
def test_settings_read_what_compose_passes(compose, name, monkeypatch):
    """The image's ENV overlaid by the compose environment is what the service's Settings read."""
    service = compose["services"][name]
    env = {k: v for k, v in DockerfileParser(path=str(DEPLOY / "docker" / f"{name}.Dockerfile")).envs.items()
           if k.startswith("OPS_")}
    env.update(environment(service))
    for key in [k for k in os.environ if k.startswith("OPS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_class(name)()
    assert settings.service_name == name
    assert settings.host == "0.0.0.0"
    assert set(published(service).values()) == {settings.port}
    assert settings.database == f"ops_{name}"
    assert settings.log_format == "json"
    assert settings.namespace == "", "deployments use the broker names the services declare"
    assert settings.role == "all"


def test_each_service_has_its_own_mongo_user_and_database(compose):
    services = compose["services"]
    mongo_env = environment(services["mongo"])
    table = init_script_users()
    by_user = {user: (database, variable) for user, database, variable in table}
    users = set()
    for name in SERVICES:
        url = urlsplit(environment(services[name])["OPS_MONGO_URL"])
        query = parse_qs(url.query)
        assert url.scheme == "mongodb" and url.hostname == "mongo" and (url.port or 27017) == 27017, url.geturl()
        assert url.path == f"/ops_{name}", f"{name} connects to {url.path}"
        assert query.get("authSource") == [f"ops_{name}"], f"{name} authenticates against {query.get('authSource')}"
        assert url.username and url.username not in users, f"{name} shares the user {url.username}"
        assert url.username != mongo_env["MONGO_INITDB_ROOT_USERNAME"], f"{name} must not use the root user"
        users.add(url.username)
        assert url.username in by_user, f"mongo-init.js does not create {url.username}"
        database, variable = by_user[url.username]
        assert database == f"ops_{name}"
        assert mongo_env.get(variable) == url.password, \
            f"{name}'s password differs from {variable} given to the mongo container"
    assert users == set(by_user), f"mongo-init.js creates users no service uses: {set(by_user) - users}"


def test_init_script_grants_readwrite_on_the_own_database_only(compose):
    text = MONGO_INIT.read_text()
    assert text.count("createUser(") == 1, "one createUser, applied to every row of SERVICE_USERS"
    assert re.search(r"for \(const \[user, database, passwordVariable\] of SERVICE_USERS\)", text)
    assert re.search(r"getSiblingDB\(database\)\.createUser\(\{\s*user: user,\s*pwd: password,\s*"
                     r"roles: \[\{ role: \"readWrite\", db: database \}\]\s*\}\)", text), \
        "each user gets exactly [{role: readWrite, db: <its database>}] in its own database"
    assert "process.env[passwordVariable]" in text
    for role in ("root", "dbOwner", "readWriteAnyDatabase", "readAnyDatabase", "userAdmin", "clusterAdmin"):
        assert f'"{role}"' not in text, f"mongo-init.js grants {role}"

    mongo = compose["services"]["mongo"]
    mounts = {str(m).split(":")[1]: str(m).split(":")[0] for m in mongo.get("volumes", [])}
    scripts = {target: source for target, source in mounts.items() if target.startswith("/docker-entrypoint-initdb.d")}
    assert scripts, "mongo-init.js is not mounted into /docker-entrypoint-initdb.d"
    assert [(COMPOSE.parent / s).resolve() for s in scripts.values()] == [MONGO_INIT.resolve()]
    # Healthy only once the init script has run: the healthcheck logs in as the last user it creates.
    last_user, last_database, last_variable = init_script_users()[-1]
    check = " ".join(mongo["healthcheck"]["test"])
    assert f"--username {last_user}" in check and f"--authenticationDatabase {last_database}" in check, check
    assert f"${last_variable}" in check, check


def test_rabbitmq_user_is_the_services_user(compose):
    services = compose["services"]
    rabbit = environment(services["rabbitmq"])
    assert rabbit.get("RABBITMQ_DEFAULT_USER") not in (None, "", "guest"), "guest cannot log in from other hosts"
    for name in SERVICES:
        url = urlsplit(environment(services[name])["OPS_AMQP_URL"])
        assert url.scheme == "amqp" and url.hostname == "rabbitmq" and (url.port or 5672) == 5672, url.geturl()
        assert (url.username, url.password) == (rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"])


def test_dev_auth_secret_is_the_default(compose):
    from services.kit.settings import DEV_AUTH_SECRET
    for name in SERVICES:
        assert environment(compose["services"][name])["OPS_AUTH_SECRET"] == DEV_AUTH_SECRET


def test_settings_follow_overrides(raw, monkeypatch):
    """A variable set in the environment reaches the service (the interpolation is wired, not only defaulted)."""
    compose = interpolate(raw, {"TICKETING_MONGO_PASSWORD": "s3cret", "RABBITMQ_USER": "alice",
                                "OPS_AUTH_SECRET": "prod-secret", "OPS_IMAGE_TAG": "1.2.3"})
    ticketing = compose["services"]["ticketing"]
    assert urlsplit(environment(ticketing)["OPS_MONGO_URL"]).password == "s3cret"
    assert environment(compose["services"]["mongo"])["TICKETING_MONGO_PASSWORD"] == "s3cret"
    assert urlsplit(environment(ticketing)["OPS_AMQP_URL"]).username == "alice"
    assert environment(compose["services"]["rabbitmq"])["RABBITMQ_DEFAULT_USER"] == "alice"
    assert environment(ticketing)["OPS_AUTH_SECRET"] == "prod-secret"
    assert ticketing["image"] == "ops-support/ticketing:1.2.3"
