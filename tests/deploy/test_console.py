"""The staff console's image (deploy/docker/console.Dockerfile: node build → nginx), its start-up script and nginx
server, its compose service and its Kubernetes objects (deploy/k8s/base/console.yaml, Ingress ops-console),
checked offline like the services' (no Docker engine, no cluster)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import tests.deploy.test_dockerfiles as dockerfiles
from scripts.gateway import console_config
from tests.deploy.code import REPO, SERVICES, venv_tool
from tests.deploy.manifests import OVERLAYS, render
from tests.deploy.test_compose import COMPOSE, environment, interpolate, published
from tests.deploy.test_k8s import container, objects, rewrite, selects

DOCKERFILE = REPO / "deploy" / "docker" / "console.Dockerfile"
DOCKERIGNORE = REPO / "deploy" / "docker" / "console.Dockerfile.dockerignore"
NGINX = REPO / "deploy" / "docker" / "console" / "default.conf"
START = REPO / "deploy" / "docker" / "console" / "40-console-config.sh"


# --- the image ------------------------------------------------------------------------------------------------

def test_hadolint_passes():
    result = subprocess.run([str(venv_tool("hadolint")), "--no-color", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"


def test_node_build_then_unprivileged_nginx():
    build, runtime = dockerfiles.stages("console")
    image, name = dockerfiles.from_image(build)
    assert re.fullmatch(r"node:20(\.\d+)*-[a-z-]+", image) and name == "build", image
    runs = " ".join(dockerfiles.instructions(build, "RUN"))
    assert "npm ci" in runs and "vite build" in runs, "dependencies from the lock file, then the Vite build"
    image, _ = dockerfiles.from_image(runtime)
    assert re.fullmatch(r"nginxinc/nginx-unprivileged:1\.\d+(\.\d+)?-alpine", image), image
    copies = [dockerfiles.parse_copy(v) for v in dockerfiles.instructions(runtime, "COPY")]
    assert ({"from": "build"}, ["/src/dist"], "/usr/share/nginx/html") in copies
    user = dockerfiles.instructions(runtime, "USER")[-1]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"USER {user}: numeric and non-root (runAsNonRoot)"
    assert dockerfiles.instructions(runtime, "EXPOSE") == ["8000"]
    (check,) = dockerfiles.instructions(runtime, "HEALTHCHECK")
    assert "http://127.0.0.1:8000/healthz" in check


def test_build_context_holds_the_console_sources_and_nothing_heavy(tmp_path, monkeypatch):
    """BuildKit reads console.Dockerfile.dockerignore instead of the root .dockerignore (an allow-list of the
    services' code, without console/) for this Dockerfile."""
    shutil.copy(DOCKERIGNORE, tmp_path / ".dockerignore")
    monkeypatch.setattr(dockerfiles, "REPO", tmp_path)
    patterns = dockerfiles.dockerignore_patterns()
    for path in ("console/package.json", "console/package-lock.json", "console/index.html", "console/src/App.tsx",
                 "console/vite.config.ts", "deploy/docker/console/default.conf",
                 "deploy/docker/console/40-console-config.sh"):
        assert not dockerfiles.excluded(path, patterns), f"{path} must reach the build"
    for path in ("console/node_modules/react/index.js", "console/dist/index.html", ".git/HEAD", "services/kit/auth.py",
                 "tests/deploy/test_console.py", ".venv/bin/python"):
        assert dockerfiles.excluded(path, patterns), f"{path} must stay out of the build context"
    for sources, _, _ in dockerfiles.context_copies("console"):
        for source in sources:
            assert (REPO / source).exists() and not dockerfiles.excluded(dockerfiles.normalised(source), patterns), source


def test_nginx_serves_the_app_its_config_and_health():
    conf = NGINX.read_text()
    assert re.search(r"^\s*listen 8000;", conf, re.M)
    assert re.search(r"location / \{[^}]*try_files \$uri /index\.html =404;", conf), "SPA fallback to index.html"
    assert re.search(r"location = /console-config\.json \{[^}]*alias /tmp/console/console-config\.json;", conf)
    assert re.search(r"location = /healthz \{[^}]*return 200", conf)
    assert "include /tmp/console/*.conf;" in conf, "the /api/<service>/ proxies the start-up script writes"
    assert re.search(r"location = /dev/token \{[^}]*return 404", conf), "no development sign-in in the image"


def test_nginx_accepts_the_configuration_with_the_proxies(tmp_path):
    """`nginx -t` on the server as the image runs it (with the proxies compose has), where nginx is installed."""
    nginx = shutil.which("nginx") or (shutil.which("nginx", path="/usr/sbin:/usr/local/sbin"))
    if nginx is None:
        pytest.skip("nginx is not installed here (apt-get install nginx-light): its syntax check is skipped")
    runtime = tmp_path / "console"
    run_start_script(tmp_path, {f"OPS_{s.upper()}_URL": "http://127.0.0.1:9" for s in SERVICES})
    server = NGINX.read_text().replace("/tmp/console", str(runtime)).replace("/usr/share/nginx/html", str(tmp_path))
    (tmp_path / "server.conf").write_text(server)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n  proxy_temp_path {tmp_path};\n"
        f"  fastcgi_temp_path {tmp_path};\n  uwsgi_temp_path {tmp_path};\n  scgi_temp_path {tmp_path};\n"
        f"  include {tmp_path}/server.conf;\n}}\n")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def readable_dir():
    """A directory nginx's unprivileged workers can read (pytest's tmp_path is root's alone)."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="console-nginx-") as path:
        os.chmod(path, 0o755)
        yield Path(path)


def test_nginx_serves_the_spa_fallback_and_the_config(readable_dir):
    """The server running (where nginx is installed), on a stand-in dist: the app's own routes get index.html,
    /console-config.json the start-up script's JSON, /dev/token a problem+json 404."""
    import socket
    import time
    import urllib.error
    import urllib.request

    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed here (apt-get install nginx-light)")
    tmp_path = readable_dir
    html = tmp_path / "html"
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text("<!doctype html><div id=root></div>")
    (html / "assets" / "index-abc.js").write_text("console.log(1)")
    run_start_script(tmp_path, {"OPS_OIDC_ISSUER": "https://sso.example/realms/ops"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = (NGINX.read_text().replace("/tmp/console", str(tmp_path / "console"))
              .replace("/usr/share/nginx/html", str(html)).replace("listen 8000;", f"listen 127.0.0.1:{port};"))
    (tmp_path / "server.conf").write_text(server)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n  proxy_temp_path {tmp_path};\n"
        f"  fastcgi_temp_path {tmp_path};\n  uwsgi_temp_path {tmp_path};\n  scgi_temp_path {tmp_path};\n"
        f"  include {tmp_path}/server.conf;\n}}\n")
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                               stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def get(path: str, method: str = "GET"):
        try:
            with urllib.request.urlopen(urllib.request.Request(base + path, method=method), timeout=5) as answer:
                return answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    try:
        for _ in range(50):
            try:
                get("/healthz")
                break
            except OSError:
                time.sleep(0.1)
        assert get("/healthz")[0] == 200
        for route in ("/", "/tickets/T-1", "/signin/callback?code=x&state=y"):
            status, headers, body = get(route)
            assert status == 200 and "id=root" in body and headers["Cache-Control"] == "no-cache", route
        status, headers, body = get("/assets/index-abc.js")
        assert status == 200 and "immutable" in headers["Cache-Control"]
        assert get("/assets/missing.js")[0] == 404, "a missing asset is a 404, not index.html"
        status, headers, body = get("/console-config.json")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert json.loads(body)["issuer"] == "https://sso.example/realms/ops"
        status, headers, body = get("/dev/token", "POST")
        assert status == 404 and headers["Content-Type"] == "application/problem+json" and "OIDC" in json.loads(body)["detail"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_start_script(tmp_path, env: dict[str, str]) -> tuple[dict, str]:
    out = tmp_path / "console"
    subprocess.run(["sh", str(START)], env={"PATH": "/usr/bin:/bin", "CONSOLE_RUNTIME_DIR": str(out), **env},
                   check=True, timeout=30)
    return json.loads((out / "console-config.json").read_text()), (out / "api.conf").read_text()


def test_start_script_without_an_issuer_means_the_development_sign_in(tmp_path):
    config, api = run_start_script(tmp_path, {})
    assert config == {} and api == ""


def test_start_script_writes_what_the_gateway_serves(tmp_path):
    """The image's /console-config.json and the gateway's (scripts/gateway.py, make run) are one contract."""
    env = {"OPS_OIDC_ISSUER": "https://sso.example/realms/ops", "OPS_OIDC_CLIENT_ID": "ops-console",
           "OPS_OIDC_ROLES_CLAIM": "realm_access.roles", "OPS_OIDC_CITY_CLAIM": "city",
           "OPS_OIDC_ROLE_MAP": '{"ops-agents": "agent", "ops-pm": ["product_manager"]}',
           "OPS_OIDC_SCOPE": 'openid profile "quoted"'}
    config, _ = run_start_script(tmp_path, env)
    assert config == console_config(env)
    assert config["issuer"] == "https://sso.example/realms/ops" and config["role_map"]["ops-agents"] == "agent"


def test_start_script_proxies_each_configured_service(tmp_path):
    _, api = run_start_script(tmp_path, {"OPS_TICKETING_URL": "http://ticketing:8000/",
                                         "OPS_ANALYTICS_URL": "http://analytics:8000"})
    locations = dict(re.findall(r"location /api/(\w+)/ \{\s*proxy_pass ([^;]+);", api))
    assert locations == {"ticketing": "http://ticketing:8000/", "analytics": "http://analytics:8000/"}
    assert "proxy_set_header X-Forwarded-Prefix /api/ticketing;" in api


# --- compose --------------------------------------------------------------------------------------------------

def test_compose_runs_the_console_at_8000_in_front_of_the_services():
    compose = interpolate(yaml.safe_load(COMPOSE.read_text()))
    console = compose["services"]["console"]
    assert (COMPOSE.parent / console["build"]["context"]).resolve() == REPO
    assert console["build"]["dockerfile"] == "deploy/docker/console.Dockerfile"
    assert console["image"] == "ops-support/console:dev" and console["restart"] == "unless-stopped"
    assert published(console) == {8000: 8000}
    assert {name: dep["condition"] for name, dep in console["depends_on"].items()} == {
        s: "service_healthy" for s in SERVICES}
    env = environment(console)
    for service in SERVICES:
        assert env[f"OPS_{service.upper()}_URL"] == f"http://{service}:8000"
        assert 8000 not in published(compose["services"][service]), f"{service} and the console share host port 8000"
    assert "/healthz" in " ".join(console["healthcheck"]["test"])


# --- Kubernetes -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def docs(request) -> list[dict]:
    return render(OVERLAYS[request.param])


def test_ingress_sends_slash_to_the_console_and_api_to_the_services(docs):
    ingresses = objects(docs, "Ingress")
    assert set(ingresses) == {"ops-api", "ops-console"}
    console_ingress = ingresses["ops-console"]
    assert console_ingress["spec"]["ingressClassName"] == "nginx"
    assert "nginx.ingress.kubernetes.io/rewrite-target" not in console_ingress["metadata"].get("annotations", {}), \
        "a rewrite-target would send every console path upstream as /"
    (path,) = [p for rule in console_ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert path["path"] == "/" and path["pathType"] == "Prefix"
    backend = path["backend"]["service"]
    service = objects(docs, "Service")[backend["name"]]
    deployment = objects(docs, "Deployment")["console"]
    assert selects({"matchLabels": service["spec"]["selector"]}, deployment["spec"]["template"]["metadata"]["labels"])
    port = next(p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"])
    assert port["targetPort"] == "http" and container(deployment)["ports"] == [{"name": "http", "containerPort": 8000}]
    # The console's own routes never match an API path (which go to the longer regex paths of ops-api).
    api = ingresses["ops-api"]
    target = api["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"]
    api_paths = [p["path"] for rule in api["spec"]["rules"] for p in rule["http"]["paths"]]
    for uri in ("/", "/tickets/T-1", "/signin/callback?code=x&state=y", "/console-config.json", "/apis"):
        assert all(rewrite(p, target, uri) is None for p in api_paths), uri


def test_console_deployment_is_locked_down_and_tagged_like_the_services(docs):
    deployments = objects(docs, "Deployment")
    console = deployments["console"]
    c = container(console)
    repo, _, tag = c["image"].rpartition(":")
    assert repo == "ops-support/console" and tag == container(deployments["ticketing-api"])["image"].rpartition(":")[2]
    pod = console["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert [m["mountPath"] for m in c["volumeMounts"]] == ["/tmp"], "nginx and the start-up script write /tmp only"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["path"] == "/healthz"
    env = {k: v for source in c["envFrom"] for k, v in objects(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"].items()}
    script = START.read_text()
    for key in env:
        assert key in script, f"{key} is set on the console but its start-up script does not read it"
    assert {"OPS_OIDC_ISSUER", "OPS_OIDC_CLIENT_ID"} <= set(env)
    assert not any(v.get("valueFrom") for v in c.get("env", [])), "the console holds no secret"


def test_console_accepts_only_the_ingress_controller_and_calls_nothing(docs):
    labels = objects(docs, "Deployment")["console"]["spec"]["template"]["metadata"]["labels"]
    applying = [p for p in objects(docs, "NetworkPolicy").values() if selects(p["spec"]["podSelector"], labels)]
    assert any(p["spec"]["policyTypes"] == ["Ingress", "Egress"] and not p["spec"].get("ingress")
               and not p["spec"].get("egress") for p in applying), "no default deny"
    assert not [r for p in applying for r in p["spec"].get("egress", [])], "the console's pods call nothing"
    sources = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for p in applying for rule in p["spec"].get("ingress", []) for peer in rule["from"]}
    assert sources == {"ingress-nginx"}
