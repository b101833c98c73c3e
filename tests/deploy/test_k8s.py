"""Offline checks of the Kubernetes manifests in deploy/k8s (issue 3, points 3 and 5).

Every overlay is rendered with `kubectl kustomize` (tests/deploy/manifests.py) and then:
- built-in objects are validated by kubernetes_validate in strict mode against Kubernetes 1.32;
- operator custom resources are validated with jsonschema against deploy/k8s/schemas (hand-written subsets of
  the operators' CRDs) or, with OPS_CRD_DIR set, against the real CRDs' openAPIV3Schema;
- and the deployment rules of the issue hold: no secret value in git, probes, resources, PDB, HPA xor
  ScaledObject, roles, Ingress routes, NetworkPolicy egress, RabbitMQ and MongoDB topology.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from referencing import Registry, Resource

from services.kit.settings import ServiceSettings
from tests.deploy.code import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, SERVICES, all_queues, process_queues, queues, setting_names
from tests.deploy.manifests import K8S, OVERLAYS, render

KUBERNETES_VERSION = "1.32"
ROLES = ("api", "worker")
CONSOLE = "console"  # the staff console's Deployment, Service and Ingress (deploy/k8s/base/console.yaml)
# The consumer queues each service declares, read from its code (tests/deploy/code.py).
QUEUES = {service: set(queues(service)) for service in SERVICES}
ALL_QUEUES = set(all_queues())

# Custom resources of the operators: (apiVersion, kind) -> hand-written schema file in deploy/k8s/schemas.
CUSTOM_KINDS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster.schema.yaml",
    ("rabbitmq.com/v1beta1", "Vhost"): "vhost.schema.yaml",
    ("rabbitmq.com/v1beta1", "User"): "user.schema.yaml",
    ("rabbitmq.com/v1beta1", "Permission"): "permission.schema.yaml",
    ("rabbitmq.com/v1beta1", "Policy"): "policy.schema.yaml",
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): "mongodbcommunity.schema.yaml",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.schema.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication.schema.yaml",
}
SCHEMAS = K8S / "schemas"
# Environment variables whose value is a secret: they must come from a Secret, never a literal value.
SECRET_ENV = {"OPS_AUTH_SECRET", "OPS_MONGO_URL", "AMQP_USERNAME", "AMQP_PASSWORD"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|PASSWD", re.I)


# --- helpers ---------------------------------------------------------------------------------------------

def objects(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def one(docs: list[dict], kind: str) -> dict:
    found = list(objects(docs, kind).values())
    assert len(found) == 1, f"expected exactly one {kind}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def service_deployments(docs: list[dict]) -> dict[str, dict]:
    """The services' Deployments, without the console's (static files: its own rules, test_console.py)."""
    return {name: d for name, d in objects(docs, "Deployment").items() if name != CONSOLE}


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']}: one container expected"
    return containers[0]


def selects(selector: dict, labels: dict) -> bool:
    """Does a LabelSelector (matchLabels / matchExpressions with In) select these labels?"""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def config_env(docs: list[dict], deployment: dict) -> dict[str, str]:
    """The environment a container sees from its envFrom ConfigMaps and literal env values."""
    configmaps = objects(docs, "ConfigMap")
    env: dict[str, str] = {}
    c = container(deployment)
    for source in c.get("envFrom", []):
        assert "configMapRef" in source, f"{deployment['metadata']['name']}: envFrom only from ConfigMaps"
        name = source["configMapRef"]["name"]
        assert name in configmaps, f"{deployment['metadata']['name']}: ConfigMap {name} is not rendered"
        env.update(configmaps[name]["data"])
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
    return env


def secret_ref(deployment: dict, name: str) -> dict:
    for var in container(deployment).get("env", []):
        if var["name"] == name:
            ref = (var.get("valueFrom") or {}).get("secretKeyRef")
            assert ref, f"{deployment['metadata']['name']}: {name} must come from a secretKeyRef"
            return ref
    raise AssertionError(f"{deployment['metadata']['name']}: {name} is not set")


def probe_path(probe: dict) -> str:
    return probe["httpGet"]["path"]


def rewrite(path_regex: str, target: str, uri: str) -> str | None:
    """What ingress-nginx sends upstream for `uri` on a regex path with rewrite-target (None: no match)."""
    match = re.match(path_regex, uri)  # ingress-nginx regex locations are prefix matches (`~* ^<path>`)
    if not match:
        return None
    return re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "", target)


# --- fixtures --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def docs(overlay) -> list[dict]:
    return render(OVERLAYS[overlay])


@pytest.fixture(scope="module")
def prod() -> list[dict]:
    return render(OVERLAYS["prod"])


@pytest.fixture(scope="module")
def dev() -> list[dict]:
    return render(OVERLAYS["dev"])


def _hand_written_registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.schema.yaml"):
        schema = yaml.safe_load(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def _strict(schema):
    """A CRD schema as `kubectl apply --validate=strict` applies it: unknown fields are errors wherever the
    CRD does not preserve them (structural schemas prune them silently otherwise)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _crd_schemas(crd_dir: Path) -> dict[tuple[str, str], dict]:
    found: dict[tuple[str, str], dict] = {}
    for path in sorted(crd_dir.glob("*.y*ml")) + sorted(crd_dir.glob("*.json")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                schema = version["schema"]["openAPIV3Schema"]
                found[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return found


@pytest.fixture(scope="session")
def cr_validator():
    """validate(obj): against the real CRDs when OPS_CRD_DIR is set, else the hand-written schemas."""
    crd_dir = os.environ.get("OPS_CRD_DIR")
    if crd_dir:
        crds = _crd_schemas(Path(crd_dir))
        assert crds, f"OPS_CRD_DIR={crd_dir} holds no CustomResourceDefinition"

        def validate(obj: dict) -> None:
            key = (obj["apiVersion"], obj["kind"])
            assert key in crds, f"OPS_CRD_DIR={crd_dir} has no CRD for {key}: export it with kubectl get crd"
            jsonschema.Draft202012Validator(crds[key]).validate(obj)

        return validate

    registry = _hand_written_registry()

    def validate(obj: dict) -> None:
        key = (obj["apiVersion"], obj["kind"])
        assert key in CUSTOM_KINDS, f"no schema for custom resource {key}"
        schema = yaml.safe_load((SCHEMAS / CUSTOM_KINDS[key]).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema, registry=registry).validate(obj)

    return validate


# --- rendering and schemas -------------------------------------------------------------------------------

def test_every_overlay_renders(docs, overlay):
    assert docs, f"{overlay} rendered nothing"
    seen = set()
    for d in docs:
        assert {"apiVersion", "kind", "metadata"} <= d.keys(), d
        key = (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
        assert key not in seen, f"{overlay}: {key} rendered twice"
        seen.add(key)
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == "ops", f"{key} is not in namespace ops"


def test_builtin_objects_pass_strict_kubernetes_schema(docs):
    checked = 0
    for d in docs:
        if (d["apiVersion"], d["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{d['kind']}/{d['metadata']['name']}: {e.message} at {list(e.path)}")
        except kubernetes_validate.SchemaNotFoundError as e:
            pytest.fail(f"{d['kind']}/{d['metadata']['name']}: unknown to Kubernetes {KUBERNETES_VERSION} "
                        f"and not an operator kind we have a schema for ({e.message})")
        checked += 1
    assert checked > 30


def test_custom_resources_pass_their_schemas(docs, cr_validator):
    custom = [d for d in docs if (d["apiVersion"], d["kind"]) in CUSTOM_KINDS]
    assert {d["kind"] for d in custom} >= {"RabbitmqCluster", "Vhost", "User", "Permission", "Policy",
                                          "MongoDBCommunity"}
    for d in custom:
        try:
            cr_validator(d)
        except jsonschema.ValidationError as e:
            pytest.fail(f"{d['kind']}/{d['metadata']['name']}: {e.message} at {list(e.absolute_path)}")


def test_validators_reject_what_they_should(prod, cr_validator):
    """The schema checks above can fail: a misspelt field, a wrong type, a missing required field."""
    deployment = copy.deepcopy(objects(prod, "Deployment")["ticketing-api"])
    container(deployment)["readinesProbe"] = container(deployment)["readinessProbe"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)

    cluster = copy.deepcopy(one(prod, "RabbitmqCluster"))
    cluster["spec"]["persistance"] = cluster["spec"].pop("persistence")
    with pytest.raises(jsonschema.ValidationError):
        cr_validator(cluster)

    mongo = copy.deepcopy(one(prod, "MongoDBCommunity"))
    mongo["spec"]["members"] = "3"
    with pytest.raises(jsonschema.ValidationError):
        cr_validator(mongo)

    policy = copy.deepcopy(one(prod, "Policy"))
    del policy["spec"]["rabbitmqClusterReference"]
    with pytest.raises(jsonschema.ValidationError):
        cr_validator(policy)


# --- secrets ---------------------------------------------------------------------------------------------

def test_no_secret_value_is_rendered(docs):
    for secret in objects(docs, "Secret").values():
        assert not secret.get("data") and not secret.get("stringData"), \
            f"Secret {secret['metadata']['name']} carries values: Secrets are created in the cluster, not in git"
    for cm in objects(docs, "ConfigMap").values():
        for key in cm.get("data", {}):
            assert key not in SECRET_ENV | {"OPS_AMQP_URL"} and not SECRET_NAME.search(key), \
                f"ConfigMap {cm['metadata']['name']} holds {key}, a secret"


def test_secret_env_comes_from_secrets(docs):
    for deployment in service_deployments(docs).values():
        env = container(deployment).get("env", [])
        from_secret = set()
        for position, var in enumerate(env):
            name = var["name"]
            if name in SECRET_ENV or SECRET_NAME.search(name):
                assert "value" not in var, f"{deployment['metadata']['name']}: {name} has a literal value"
                assert var["valueFrom"].get("secretKeyRef"), f"{name} must come from a Secret"
            if "valueFrom" in var and "secretKeyRef" in var["valueFrom"]:
                from_secret.add(name)
            if "value" in var:
                # A literal may only compose secret-sourced variables defined before it ($(VAR) expansion
                # sees only earlier entries); a URL must carry no literal credentials.
                for ref in re.findall(r"\$\(([A-Z0-9_]+)\)", var["value"]):
                    assert ref in from_secret, f"{name} uses $({ref}), not a Secret variable defined before it"
                userinfo = re.match(r"^[a-z+]+://([^@/]*)@", var["value"])
                if userinfo:
                    literal = re.sub(r"\$\([A-Z0-9_]+\)", "", userinfo.group(1))
                    assert literal in ("", ":"), f"{name} has literal credentials in its URL"
        for name in ("OPS_AUTH_SECRET", "OPS_MONGO_URL"):
            secret_ref(deployment, name)


# --- Deployments -----------------------------------------------------------------------------------------

def test_one_api_and_one_worker_deployment_per_service(docs, overlay):
    deployments = service_deployments(docs)
    assert set(deployments) == {f"{s}-{r}" for s in SERVICES for r in ROLES}
    for svc in SERVICES:
        api, worker = deployments[f"{svc}-api"], deployments[f"{svc}-worker"]
        assert container(api)["args"] == ["--role", "api"]
        assert container(worker)["args"] == ["--role", "worker"]
        assert "command" not in container(api) and "command" not in container(worker)
        image = container(api)["image"]
        assert image == container(worker)["image"], f"{svc}: API and worker must run the same image"
        repo, _, tag = image.rpartition(":")
        assert repo == f"ops-support/{svc}" and tag and tag != "latest", f"{svc}: image {image} needs a tag"
        for d in (api, worker):
            assert "OPS_ROLE" not in config_env(docs, d), "--role sets the role; OPS_ROLE must not contradict it"


def test_deployments_have_probes_resources_and_graceful_shutdown(docs):
    for name, d in service_deployments(docs).items():
        pod = d["spec"]["template"]["spec"]
        c = container(d)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"http": 8000}, name
        assert probe_path(c["readinessProbe"]) == "/readyz", name
        assert probe_path(c["livenessProbe"]) == "/healthz", name
        assert probe_path(c["startupProbe"]) == "/healthz", name
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert c[probe]["httpGet"]["port"] in ("http", 8000), f"{name}: {probe} port"
        resources = c["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys(), f"{name}: requests"
        assert "memory" in resources["limits"], f"{name}: memory limit"

        env = config_env(docs, d)
        assert env["OPS_HOST"] == "0.0.0.0" and env["OPS_PORT"] == "8000", name
        sleep = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        # uvicorn's grace for open requests, then the broker's 15 s for in-flight messages, then the outbox.
        budget = float(env["OPS_SHUTDOWN_GRACE_SECONDS"]) + sleep + 15
        assert pod["terminationGracePeriodSeconds"] > budget, f"{name}: grace period too short"

        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{name}: /tmp must be a writable emptyDir"


def test_every_deployment_has_a_pdb_and_exactly_one_autoscaler(docs, overlay):
    pdbs = objects(docs, "PodDisruptionBudget").values()
    hpas = objects(docs, "HorizontalPodAutoscaler").values()
    scaled = objects(docs, "ScaledObject").values()
    for name, d in objects(docs, "Deployment").items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert selects(d["spec"]["selector"], labels), f"{name}: selector does not match its pods"
        covering = [p for p in pdbs if selects(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"
        by_hpa = [h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == name
                  and h["spec"]["scaleTargetRef"]["kind"] == "Deployment"]
        by_keda = [s for s in scaled if s["spec"]["scaleTargetRef"]["name"] == name
                   and s["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"]
        assert len(by_hpa) + len(by_keda) == 1, f"{name}: {len(by_hpa)} HPA and {len(by_keda)} ScaledObject"
        for h in by_hpa:
            metrics = h["spec"]["metrics"]
            assert [m["resource"]["name"] for m in metrics if m["type"] == "Resource"] == ["cpu"], name
            assert h["spec"]["minReplicas"] <= d["spec"]["replicas"] <= h["spec"]["maxReplicas"], name
        if name.endswith("-api"):
            assert by_hpa, f"{name}: the API scales on CPU, never on queue depth"
        if overlay == "prod-keda" and name.endswith("-worker"):
            assert by_keda, f"{name}: with KEDA the workers scale on queue depth"


def test_sizes_per_environment(dev, prod):
    for name, d in objects(dev, "Deployment").items():
        assert d["spec"]["replicas"] == 1, name
    for name, d in objects(prod, "Deployment").items():
        assert d["spec"]["replicas"] >= 2, name
    for h in objects(prod, "HorizontalPodAutoscaler").values():
        assert h["spec"]["minReplicas"] >= 2 and h["spec"]["maxReplicas"] > h["spec"]["minReplicas"]
    for p in objects(prod, "PodDisruptionBudget").values():
        assert p["spec"].get("minAvailable") == 1 and "maxUnavailable" not in p["spec"], p["metadata"]["name"]
    for p in objects(dev, "PodDisruptionBudget").values():
        # One replica with minAvailable 1 would block every node drain.
        assert "minAvailable" not in p["spec"], p["metadata"]["name"]


# --- Services, Ingress, NetworkPolicies ------------------------------------------------------------------

def test_ingress_routes_each_prefix_to_its_api(docs):
    ingress = objects(docs, "Ingress")["ops-api"]
    services = objects(docs, "Service")
    deployments = objects(docs, "Deployment")
    annotations = ingress["metadata"].get("annotations", {})
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert annotations.get("nginx.ingress.kubernetes.io/use-regex") == "true"
    target = annotations["nginx.ingress.kubernetes.io/rewrite-target"]
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    for svc in SERVICES:
        routes = []
        for p in paths:
            upstream = rewrite(p["path"], target, f"/api/{svc}/v1/things?x=1")
            if upstream is not None:
                routes.append((p, upstream))
        assert len(routes) == 1, f"/api/{svc}/ matches {len(routes)} paths"
        path, upstream = routes[0]
        assert upstream == "/v1/things?x=1", f"/api/{svc}/v1/things is sent upstream as {upstream}"
        assert rewrite(path["path"], target, f"/api/{svc}") == "/"
        assert rewrite(path["path"], target, f"/api/{svc}extra/v1") is None
        assert path["pathType"] == "ImplementationSpecific", "regex paths need ImplementationSpecific"
        backend = path["backend"]["service"]
        assert backend["name"] == f"{svc}-api"
        service = services[backend["name"]]
        port = next(p for p in service["spec"]["ports"]
                    if p.get("name") == backend["port"].get("name") or p["port"] == backend["port"].get("number"))
        assert port["port"] == 80 and port["targetPort"] in ("http", 8000)
        api_labels = deployments[f"{svc}-api"]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"] == {k: api_labels[k] for k in service["spec"]["selector"]}
        assert not selects({"matchLabels": service["spec"]["selector"]},
                           deployments[f"{svc}-worker"]["spec"]["template"]["metadata"]["labels"]), \
            f"{svc}-api must not send HTTP traffic to the workers"
        assert config_env(docs, deployments[f"{svc}-api"])["OPS_ROOT_PATH"] == f"/api/{svc}"


def _peer_kind(docs: list[dict], peer: dict, port: int) -> str:
    """Name what an egress peer is: dns, rabbitmq, mongodb or the webhook proxy (AssertionError for anything
    else)."""
    rabbit = one(docs, "RabbitmqCluster")["metadata"]["name"]
    mongo = one(docs, "MongoDBCommunity")["metadata"]["name"]
    assert "ipBlock" not in peer, "no ipBlock egress"
    pods = peer.get("podSelector", {}).get("matchLabels", {})
    namespaces = peer.get("namespaceSelector", {}).get("matchLabels")
    if port == 53 and namespaces == {"kubernetes.io/metadata.name": "kube-system"} \
            and pods == {"k8s-app": "kube-dns"}:
        return "dns"
    assert namespaces is None, f"egress to another namespace: {peer}"
    if port == 5672 and pods == {"app.kubernetes.io/name": rabbit}:
        return "rabbitmq"
    if port == 3128 and pods == {"app.kubernetes.io/name": "egress-proxy"}:
        return "webhook-proxy"
    if port == 27017 and pods == {"app": f"{mongo}-svc"}:
        return "mongodb"
    raise AssertionError(f"egress to {peer} on port {port} is neither DNS, RabbitMQ nor MongoDB")


def test_network_policies(docs):
    policies = objects(docs, "NetworkPolicy")
    deployments = service_deployments(docs)
    for policy in policies.values():
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to") and rule.get("ports"), f"{policy['metadata']['name']}: open egress rule"
            for peer in rule["to"]:
                for port in rule["ports"]:
                    _peer_kind(docs, peer, port["port"])
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from") and rule.get("ports"), f"{policy['metadata']['name']}: open ingress rule"
            assert [p["port"] for p in rule["ports"]] == [8000]
            for peer in rule["from"]:
                ns = peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                assert ns in ("ingress-nginx", "monitoring"), f"ingress from {peer}"
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        applying = [p for p in policies.values() if selects(p["spec"]["podSelector"], labels)]
        assert any(p["spec"]["policyTypes"] == ["Ingress", "Egress"] and not p["spec"].get("ingress")
                   and not p["spec"].get("egress") for p in applying), f"{name}: no default deny"
        reachable = {_peer_kind(docs, peer, port["port"])
                     for p in applying for rule in p["spec"].get("egress", [])
                     for peer in rule["to"] for port in rule["ports"]}
        # only ticketing's workers send channel callbacks, and only through the egress proxy
        wanted = {"dns", "rabbitmq", "mongodb"} | ({"webhook-proxy"} if name == "ticketing-worker" else set())
        assert reachable == wanted, f"{name} reaches {reachable}"
        sources = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                   for p in applying for rule in p["spec"].get("ingress", []) for peer in rule["from"]}
        expected = {"ingress-nginx", "monitoring"} if name.endswith("-api") else {"monitoring"}
        assert sources == expected, f"{name} accepts traffic from {sources}"


# --- RabbitMQ --------------------------------------------------------------------------------------------

def test_rabbitmq_and_mongodb_sizes(dev, prod):
    assert one(prod, "RabbitmqCluster")["spec"]["replicas"] == 3
    assert one(dev, "RabbitmqCluster")["spec"]["replicas"] == 1
    mongo = one(prod, "MongoDBCommunity")["spec"]
    assert mongo["members"] == 3 and mongo["type"] == "ReplicaSet"
    assert one(dev, "MongoDBCommunity")["spec"]["members"] == 1
    for docs in (dev, prod):
        assert one(docs, "MongoDBCommunity")["spec"].get("arbiters", 0) == 0, "no arbiters"
    assert one(prod, "RabbitmqCluster")["spec"]["persistence"].get("storageClassName")
    for claim in mongo["statefulSet"]["spec"]["volumeClaimTemplates"]:
        assert claim["metadata"]["name"] in ("data-volume", "logs-volume")
        assert claim["spec"].get("storageClassName") and claim["spec"]["resources"]["requests"]["storage"]


def test_each_service_has_its_own_rabbitmq_user(docs):
    deployments = objects(docs, "Deployment")
    users = objects(docs, "User")
    permissions = {p["spec"]["userReference"]["name"]: p for p in objects(docs, "Permission").values()}
    vhosts = {v["spec"]["name"] for v in objects(docs, "Vhost").values()}
    cluster = one(docs, "RabbitmqCluster")["metadata"]["name"]
    for d in [*users.values(), *permissions.values(), *objects(docs, "Vhost").values(),
              *objects(docs, "Policy").values()]:
        assert d["spec"]["rabbitmqClusterReference"] == {"name": cluster}
    for svc in SERVICES:
        user_names = set()
        for role in ROLES:
            d = deployments[f"{svc}-{role}"]
            username, password = secret_ref(d, "AMQP_USERNAME"), secret_ref(d, "AMQP_PASSWORD")
            assert username["name"] == password["name"] and (username["key"], password["key"]) == \
                ("username", "password")
            assert username["name"].endswith("-user-credentials")
            user_names.add(username["name"].removesuffix("-user-credentials"))
            url = config_env(docs, d)["OPS_AMQP_URL"]
            match = re.fullmatch(r"amqp://\$\(AMQP_USERNAME\):\$\(AMQP_PASSWORD\)@([^:/]+):5672/([^/?]+)", url)
            assert match, f"{svc}-{role}: OPS_AMQP_URL {url}"
            assert match.group(1).split(".")[0] == cluster and match.group(2) in vhosts
        assert len(user_names) == 1, f"{svc}: API and worker must log in as the same user"
        user = user_names.pop()
        assert user in users and user in permissions, f"{svc}: User/Permission {user} missing"
        perms = permissions[user]["spec"]["permissions"]
        assert permissions[user]["spec"]["vhost"] == match.group(2)
        for kind in ("configure", "write", "read"):
            rx = re.compile(perms[kind])
            for name in [EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE, *QUEUES[svc], *(f"{q}.dlq" for q in QUEUES[svc]),
                         *process_queues(svc)]:
                assert rx.search(name), f"{svc}: {kind} permission does not cover {name}"
            for other in SERVICES:
                if other != svc:
                    for q in QUEUES[other]:
                        assert not rx.search(q), f"{svc}: {kind} permission covers {other}'s queue {q}"


def test_policy_backs_up_delivery_limit_and_dead_lettering(docs):
    policy = one(docs, "Policy")["spec"]
    shared = objects(docs, "ConfigMap")["ops-shared-config"]["data"]
    max_attempts = int(shared.get("OPS_MAX_ATTEMPTS", ServiceSettings.model_fields["max_attempts"].default))
    assert policy["applyTo"] in ("queues", "quorum_queues")
    assert policy["definition"]["dead-letter-exchange"] == DEAD_LETTER_EXCHANGE
    # The same limit the services declare as x-delivery-limit (services/kit/broker.py).
    assert policy["definition"]["delivery-limit"] == max_attempts + 2
    assert policy["vhost"] in {v["spec"]["name"] for v in objects(docs, "Vhost").values()}
    pattern = re.compile(policy["pattern"])
    for q in ALL_QUEUES:
        assert pattern.search(q), f"the policy misses {q}"
        assert not pattern.search(f"{q}.dlq"), f"the policy would dead-letter {q}.dlq back into ops.dlx"
    for service in SERVICES:
        for q in process_queues(service):  # a process's own queue goes with it: nothing to dead-letter or limit
            assert not pattern.search(q), f"the policy applies to the per-process queue {q}"


# --- MongoDB ---------------------------------------------------------------------------------------------

def test_each_service_has_its_own_database_user(docs):
    mongo = one(docs, "MongoDBCommunity")["spec"]
    assert mongo["security"]["authentication"]["modes"] in (["SCRAM"], ["SCRAM-SHA-256"])
    users_by_secret = {u["connectionStringSecretName"]: u for u in mongo["users"]}
    assert len(users_by_secret) == len(mongo["users"]) == len(SERVICES)
    secret_names = set()
    for u in mongo["users"]:
        assert u["passwordSecretRef"]["name"] and u["scramCredentialsSecretName"]
        secret_names |= {u["passwordSecretRef"]["name"], u["scramCredentialsSecretName"]}
    assert len(secret_names) == 2 * len(SERVICES), "each user needs its own password and SCRAM secrets"
    deployments = objects(docs, "Deployment")
    for svc in SERVICES:
        refs = {(secret_ref(deployments[f"{svc}-{r}"], "OPS_MONGO_URL")["name"],
                 secret_ref(deployments[f"{svc}-{r}"], "OPS_MONGO_URL")["key"]) for r in ROLES}
        assert len(refs) == 1, f"{svc}: API and worker must use one connection string"
        name, key = refs.pop()
        assert key == "connectionString.standard"
        assert name in users_by_secret, f"{svc}: {name} is no MongoDB user's connection-string Secret"
        user = users_by_secret[name]
        assert user["roles"] == [{"name": "readWrite", "db": f"ops_{svc}"}], f"{svc}: roles {user['roles']}"
        for r in ROLES:
            db = config_env(docs, deployments[f"{svc}-{r}"]).get("OPS_MONGO_DB", f"ops_{svc}")
            assert db == f"ops_{svc}", f"{svc}-{r} uses database {db}"


def test_writes_wait_for_majority_and_journal(docs):
    for name, d in service_deployments(docs).items():
        env = config_env(docs, d)
        assert env["OPS_MONGO_WRITE_CONCERN"] == "majority" and env["OPS_MONGO_JOURNAL"] == "true", name


# --- KEDA ------------------------------------------------------------------------------------------------

def test_scaled_objects_watch_the_workers_queues():
    docs = render(OVERLAYS["prod-keda"])
    scaled = objects(docs, "ScaledObject")
    auths = objects(docs, "TriggerAuthentication")
    vhosts = {v["spec"]["name"] for v in objects(docs, "Vhost").values()}
    assert set(scaled) == {f"{s}-worker" for s in SERVICES}
    for svc in SERVICES:
        so = scaled[f"{svc}-worker"]["spec"]
        assert so["scaleTargetRef"]["name"] == f"{svc}-worker"
        assert so["minReplicaCount"] >= 1, "the workers relay the outbox too: never scale them to zero"
        queues = set()
        for trigger in so["triggers"]:
            assert trigger["type"] == "rabbitmq" and trigger["metadata"]["mode"] == "QueueLength"
            assert trigger["metadata"]["queueName"] in ALL_QUEUES, trigger["metadata"]["queueName"]
            assert trigger["metadata"]["vhostName"] in vhosts
            assert "host" not in trigger["metadata"], "the broker URL carries credentials: TriggerAuthentication"
            assert trigger["authenticationRef"]["name"] in auths
            queues.add(trigger["metadata"]["queueName"])
        assert queues == QUEUES[svc], f"{svc}-worker scales on {queues}"
    for auth in auths.values():
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["name"] not in objects(docs, "Secret"), "the KEDA Secret is created in the cluster"


# --- settings --------------------------------------------------------------------------------------------

def test_ops_variables_are_settings_the_services_read(docs):
    for name, d in service_deployments(docs).items():
        fields = setting_names(name.rsplit("-", 1)[0])
        names = set(config_env(docs, d)) | {v["name"] for v in container(d).get("env", [])}
        ops = {n for n in names if n.startswith("OPS_")}
        assert ops <= fields, f"{name}: {ops - fields} are not settings"
        assert not ops & {"OPS_SERVICE_NAME", "OPS_NAMESPACE"}, f"{name}: must not set these"
        assert {"OPS_MONGO_URL", "OPS_AMQP_URL", "OPS_AUTH_SECRET", "OPS_LOG_FORMAT"} <= ops, name


# Placeholders for what Secrets hold at run time, of the shape the settings parse.
SECRET_PLACEHOLDERS = {"OPS_AUTH_SECRET": "s" * 48, "AMQP_USERNAME": "user", "AMQP_PASSWORD": "password"}
EXPANSION = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def container_environment(docs: list[dict], deployment: dict,
                          image_env: dict[str, str]) -> tuple[dict[str, str], dict]:
    """What the process sees: the image's ENV, then envFrom, then env in order with Kubernetes' $(VAR) expansion;
    Secret references stand in as placeholders (the MongoDB URL as MCK writes it for the user, who is returned)."""
    mongo_users = {u["connectionStringSecretName"]: u for u in one(docs, "MongoDBCommunity")["spec"]["users"]}
    env = {**image_env, **config_env(docs, deployment)}
    user: dict = {}
    for var in container(deployment).get("env", []):
        if "value" in var:
            env[var["name"]] = EXPANSION.sub(lambda m: env.get(m.group(1), m.group(0)), var["value"])
        elif var["name"] == "OPS_MONGO_URL":
            user = mongo_users[var["valueFrom"]["secretKeyRef"]["name"]]
            env[var["name"]] = f"mongodb://{user['name']}:pw@ops-mongodb-svc.ops.svc:27017/{user['db']}?replicaSet=ops-mongodb"
        else:
            env[var["name"]] = SECRET_PLACEHOLDERS[var["name"]]
    return env, user


def test_each_deployment_environment_loads_as_its_service_settings(docs, monkeypatch):
    """The manifests and the code agree: every Deployment's environment, on top of its image's ENV, parses with
    the service's own Settings class into the values the manifests around it assume."""
    from dockerfile_parse import DockerfileParser

    from tests.deploy.code import REPO, settings_class

    ingress_prefixes = {rule_path["backend"]["service"]["name"]: rule_path["path"]
                        for ingress in objects(docs, "Ingress").values() for rule in ingress["spec"]["rules"]
                        for rule_path in rule["http"]["paths"]}
    for name, deployment in service_deployments(docs).items():
        service, role = name.rsplit("-", 1)
        image_env = DockerfileParser(path=str(REPO / "deploy" / "docker" / f"{service}.Dockerfile")).envs
        env, mongo_user = container_environment(docs, deployment, image_env)
        for key in [k for k in os.environ if k.startswith("OPS_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        args = container(deployment)["args"]
        monkeypatch.setenv("OPS_ROLE", args[args.index("--role") + 1])  # what `serve` does with --role
        settings = settings_class(service)()

        assert settings.service_name == service and settings.role == role, name
        assert settings.host == "0.0.0.0", f"{name}: listens on {settings.host}, unreachable from the kubelet"
        assert settings.port == container(deployment)["ports"][0]["containerPort"], name
        # The user authenticates against its auth database; the one it may write is the one the service uses.
        assert settings.database == f"ops_{service}", name
        assert mongo_user["roles"] == [{"name": "readWrite", "db": settings.database}], f"{name}: its user may not write there"
        assert (settings.mongo_write_concern, settings.mongo_journal) == ("majority", True), name
        assert settings.amqp_url.startswith("amqp://user:password@"), f"{name}: {settings.amqp_url}"
        assert settings.log_format == "json" and settings.namespace == "", name
        assert settings.auth_secret == SECRET_PLACEHOLDERS["OPS_AUTH_SECRET"], name
        prefix = ingress_prefixes.get(f"{service}-api", "")
        assert prefix.startswith(settings.root_path) and settings.root_path == f"/api/{service}", name
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > settings.shutdown_grace_seconds + 15 + 5, f"{name}: the kubelet would kill a draining pod"
        if service == "ticketing":  # callbacks go to public addresses only (docs/webhooks.md): no allowance
            assert settings.webhook_allowed_networks == [], f"{name}: {settings.webhook_allowed_networks}"


def test_the_four_service_manifests_differ_only_in_the_service_name():
    """deploy/k8s/base/services/*.yaml are one shape written four times, as plain manifests an operator reads
    without kustomize tricks; this keeps the copies from drifting apart (the header line may differ)."""
    def shape(service: str) -> list[str]:
        text = (K8S / "base" / "services" / f"{service}.yaml").read_text()
        # what <svc>-config holds is the service's own (its settings): the rest is one shape
        config, rest = text.split("\n---\n", 1)
        text = config.split("\ndata:\n", 1)[0] + "\n---\n" + rest
        # the name, not a field such as the container's `lifecycle:` hooks
        return re.sub(rf"(?<![A-Za-z]){service}(?![A-Za-z:])", "SERVICE", text).splitlines()[1:]

    reference = shape(SERVICES[0])
    for service in SERVICES[1:]:
        assert shape(service) == reference, f"{service}.yaml has drifted from {SERVICES[0]}.yaml"
