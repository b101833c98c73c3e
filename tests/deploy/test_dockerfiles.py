"""The services' Dockerfiles (deploy/docker/) and the build context's .dockerignore, checked offline.

No Docker engine runs here, so the images are not built. Instead: hadolint lints each Dockerfile, the project's
own image rules are read from the parsed Dockerfiles, and `test_image_contents` rebuilds what an image would hold
(the files its COPY lines take from the context, packaged as setuptools would) and imports the service from that
alone, in a Python that cannot see this checkout.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy.code import REPO, SERVICES, setting_names, venv_tool

DOCKER_DIR = REPO / "deploy" / "docker"
# What a service needs at runtime, as paths of the build context.
RUNTIME_SOURCES = {"pyproject.toml", "contracts", "services/__init__.py", "services/kit"}




def dockerfile(name: str) -> Path:
    path = DOCKER_DIR / f"{name}.Dockerfile"
    assert path.is_file(), f"missing {path.relative_to(REPO)}"
    return path


def stages(name: str) -> list[list[dict]]:
    """The Dockerfile's instructions (comments dropped), one list per build stage, each starting with its FROM."""
    result: list[list[dict]] = []
    for instruction in DockerfileParser(path=str(dockerfile(name))).structure:
        if instruction["instruction"] == "COMMENT":
            continue
        if instruction["instruction"] == "FROM":
            result.append([])
        assert result, f"{name}.Dockerfile: {instruction['instruction']} before the first FROM"
        result[-1].append(instruction)
    return result


def instructions(stage: list[dict], kind: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == kind]


def from_image(stage: list[dict]) -> tuple[str, str | None]:
    """(image, stage name) of a stage's FROM, e.g. ("python:3.11-slim-bookworm", "build")."""
    words = stage[0]["value"].split()
    words = [w for w in words if not w.startswith("--")]  # --platform=...
    if len(words) == 3 and words[1].upper() == "AS":
        return words[0], words[2]
    assert len(words) == 1, f"unexpected FROM {stage[0]['value']!r}"
    return words[0], None


def parse_copy(value: str) -> tuple[dict[str, str], list[str], str]:
    """(flags, sources, destination) of a COPY instruction (shell form)."""
    words = shlex.split(value)
    flags = {}
    while words and words[0].startswith("--"):
        key, _, flag_value = words.pop(0)[2:].partition("=")
        flags[key] = flag_value
    assert len(words) >= 2, f"COPY needs a source and a destination: {value!r}"
    return flags, words[:-1], words[-1]


def normalised(source: str) -> str:
    source = source.strip()
    while source.startswith("./"):
        source = source[2:]
    return source.rstrip("/") or "."


def context_copies(name: str) -> list[tuple[list[str], str, str]]:
    """(sources, destination, workdir) of every COPY that takes files from the build context, in order."""
    copies = []
    for stage in stages(name):
        workdir = "/"
        for instruction in stage:
            if instruction["instruction"] == "WORKDIR":
                workdir = str(Path(workdir, instruction["value"].strip()))
            elif instruction["instruction"] in ("COPY", "ADD"):
                flags, sources, destination = parse_copy(instruction["value"])
                if "from" not in flags:
                    copies.append((sources, destination, workdir))
    return copies


# --- .dockerignore, with the build context's matching rules (last matching pattern wins; a pattern also
# --- matches every path under a directory it matches) --------------------------------------------------------

def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    path = REPO / ".dockerignore"
    assert path.is_file(), ".dockerignore is missing at the repository root"
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line[1:].strip() if include else line
        pattern = normalised(pattern.lstrip("/"))
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i:end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        patterns.append((include, re.compile(regex)))
    return patterns


def excluded(path: str, patterns=None) -> bool:
    """Whether `path` (relative to the repository root) is left out of the build context."""
    patterns = dockerignore_patterns() if patterns is None else patterns
    parts = path.split("/")
    candidates = [path] + ["/".join(parts[:n]) for n in range(1, len(parts))]
    result = False
    for include, regex in patterns:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            result = not include
    return result


def context_files(source: str, patterns) -> list[Path]:
    """The files under a COPY source that reach the build context."""
    path = REPO / source
    assert path.exists(), f"COPY source {source} does not exist"
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [f for f in files if not excluded(f.relative_to(REPO).as_posix(), patterns)]


# --- the tests ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SERVICES)
def test_hadolint_passes(name):
    hadolint = venv_tool("hadolint")
    result = subprocess.run([str(hadolint), "--no-color", str(dockerfile(name))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"hadolint {name}.Dockerfile:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("name", SERVICES)
def test_multi_stage_on_slim_python_311(name):
    all_stages = stages(name)
    assert len(all_stages) >= 2, "a build stage and a runtime stage"
    final_image, _ = from_image(all_stages[-1])
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-[a-z]+)?", final_image), \
        f"the runtime stage must be a pinned slim Python 3.11 image, not {final_image}"
    stage_names = {from_image(s)[1] for s in all_stages}
    for stage in all_stages[:-1]:
        image, _ = from_image(stage)
        # The venv copied into the runtime stage points at the build stage's interpreter: they must match.
        assert image == final_image or image in stage_names, f"build stage on {image}, runtime on {final_image}"


@pytest.mark.parametrize("name", SERVICES)
def test_runs_as_a_numeric_non_root_user(name):
    users = instructions(stages(name)[-1], "USER")
    assert users, "the runtime stage sets no USER (it would run as root)"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1].strip())
    assert match, f"USER {users[-1]!r} must be numeric (uid[:gid]) so that runAsNonRoot can verify it"
    assert int(match[1]) != 0 and (match[2] is None or int(match[2]) != 0), "USER must not be root"


@pytest.mark.parametrize("name", SERVICES)
def test_healthcheck_gets_healthz_with_python(name):
    checks = instructions(stages(name)[-1], "HEALTHCHECK")
    assert len(checks) == 1, "exactly one HEALTHCHECK in the runtime stage"
    check = checks[0]
    assert "CMD" in check and "NONE" not in check.split()
    command = json.loads(check[check.index("CMD") + 3:].strip())
    assert command[:2] == ["python", "-c"], "the slim image has no curl: check with Python's urllib"
    assert "urllib.request" in command[2]
    assert "http://127.0.0.1:8000/healthz" in command[2]


@pytest.mark.parametrize("name", SERVICES)
def test_runs_its_own_service(name):
    final = stages(name)[-1]
    # Kubernetes' `args` (the deployments' `--role api|worker`) replace the image's CMD and are appended to its
    # ENTRYPOINT: the command must be the ENTRYPOINT, and a CMD would pass arguments that override OPS_ROLE.
    entrypoints = instructions(final, "ENTRYPOINT")
    assert entrypoints, "no ENTRYPOINT"
    assert json.loads(entrypoints[-1]) == ["python", "-m", f"services.{name}"], "exec form, running its service"
    assert all(json.loads(cmd) == [] for cmd in instructions(final, "CMD")), "no default arguments"
    assert instructions(final, "EXPOSE") == ["8000"]


@pytest.mark.parametrize("name", SERVICES)
def test_environment_and_labels(name):
    parser = DockerfileParser(path=str(dockerfile(name)))
    env = parser.envs  # the runtime stage's
    for key, value in {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "OPS_HOST": "0.0.0.0",
                       "OPS_PORT": "8000", "OPS_LOG_FORMAT": "json"}.items():
        assert env.get(key) == value, f"ENV {key}={value} expected, found {env.get(key)!r}"
    assert {k for k in env if k.startswith("OPS_")} <= setting_names(), "ENV sets OPS_ variables no service reads"
    labels = parser.labels
    license_ = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    assert labels.get("org.opencontainers.image.licenses") == license_
    assert name in labels.get("org.opencontainers.image.title", "")
    assert labels.get("org.opencontainers.image.description")


@pytest.mark.parametrize("name", SERVICES)
def test_copies_only_its_own_service(name):
    sources = [normalised(s) for copied, _, _ in context_copies(name) for s in copied]
    assert sorted(sources) == sorted(RUNTIME_SOURCES | {f"services/{name}"}), \
        f"{name}.Dockerfile copies {sources}"
    for other in set(SERVICES) - {name}:
        assert not any(s == f"services/{other}" or s.startswith(f"services/{other}/") or s in ("services", ".")
                       for s in sources), f"{name}'s image must not contain services/{other}"
    final = stages(name)[-1]
    for value in instructions(final, "COPY") + instructions(final, "ADD"):
        flags, _, _ = parse_copy(value)
        assert "from" in flags, f"the runtime stage takes files from the build stage only: COPY {value}"


@pytest.mark.parametrize("name", SERVICES)
def test_installs_the_project_without_extras(name):
    runs = [r for stage in stages(name) for r in instructions(stage, "RUN") if re.search(r"\bpip install\b", r)]
    assert len(runs) == 1, f"one pip install expected, found {runs}"
    words = shlex.split(runs[0])
    assert "--no-cache-dir" in words
    assert not {"-e", "--editable"} & set(words), "an editable install would leave the code in /src"
    assert "." in words and not any("[" in w for w in words), "install `.` without extras"


def test_dockerfiles_differ_only_in_the_service_name():
    def shape(name):
        result = []
        for stage in stages(name):
            for instruction in stage:
                value = instruction["value"]
                if instruction["instruction"] == "LABEL":
                    value = " ".join(sorted(re.findall(r"([\w.-]+)=", value)))  # keys; descriptions differ
                result.append((instruction["instruction"], value.replace(name, "<service>")))
        return result

    reference = shape(SERVICES[0])
    for name in SERVICES[1:]:
        assert shape(name) == reference, f"{name}.Dockerfile drifted from {SERVICES[0]}.Dockerfile"


def test_dockerignore_keeps_the_context_small():
    patterns = dockerignore_patterns()
    for path in (".venv/bin/python", ".data/mongo/db.sqlite", "tests/deploy/test_dockerfiles.py",
                 ".git/HEAD", "ops_support.egg-info/PKG-INFO", "bench/close_loop.py", "deploy/docker-compose.yml",
                 "services/kit/__pycache__/app.cpython-311.pyc", ".env", "deploy/.env"):
        assert excluded(path, patterns), f"{path} would be sent to the build context"
    for name in SERVICES:
        for source in {normalised(s) for copied, _, _ in context_copies(name) for s in copied}:
            assert context_files(source, patterns), f"{source} (copied by {name}.Dockerfile) is ignored"
            if (REPO / source).is_dir():
                expected = {p for p in (REPO / source).rglob("*.py") if "__pycache__" not in p.parts}
                assert expected <= set(context_files(source, patterns)), f"files under {source} are ignored"


# The image's code, built outside the repository checkout, then imported by a Python that cannot see the checkout.
PROBE = r"""
import importlib, sys
site, dependencies, name, *others = sys.argv[1:]
sys.path[:0] = [site]
sys.path.append(dependencies)

import services
assert services.__file__.startswith(site), f"services imported from {services.__file__}, not the image"
main = importlib.import_module(f"services.{name}.main")
app = main.create()
paths = set(app.openapi()["paths"])
assert {"/healthz", "/readyz", "/metrics"} <= paths, sorted(paths)
assert any(path.startswith("/v1/") for path in paths), f"no API under /v1: {sorted(paths)}"
print(f"{name}: {app.title}, {len(paths)} paths")

for other in others:
    try:
        importlib.import_module(f"services.{other}")
    except ModuleNotFoundError as error:
        if error.name != f"services.{other}":
            raise
    else:
        sys.exit(f"services.{other} is importable in the {name} image")
"""


def editable_finder_is_inert(site_packages: Path) -> None:
    """The venv has the project installed editable: a .pth file runs a finder that maps `services` and `contracts`
    to this checkout. The probe runs with -S (no .pth files) and must find nothing of the project in
    site-packages itself."""
    for name in ("services", "contracts"):
        assert not (site_packages / name).exists(), f"{site_packages / name} would shadow the image's code"


@pytest.mark.parametrize("name", SERVICES)
def test_image_contents(name, tmp_path):
    patterns = dockerignore_patterns()
    build_root = tmp_path / "build"  # the build stage's filesystem, for what the COPY lines put there
    project_dir = None
    for sources, destination, workdir in context_copies(name):
        target = build_root / Path(workdir, destination).relative_to("/")
        for source in sources:
            source_path = REPO / normalised(source)
            files = context_files(normalised(source), patterns)
            for file in files:
                if source_path.is_dir():  # a directory's contents go into the destination
                    copy_to = target / file.relative_to(source_path)
                elif destination.endswith("/") or len(sources) > 1:
                    copy_to = target / file.name
                else:
                    copy_to = target
                copy_to.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, copy_to)
    for stage in stages(name):
        workdir = "/"
        for instruction in stage:
            if instruction["instruction"] == "WORKDIR":
                workdir = str(Path(workdir, instruction["value"].strip()))
            elif instruction["instruction"] == "RUN" and "pip install" in instruction["value"]:
                project_dir = build_root / Path(workdir).relative_to("/")
    assert project_dir is not None and (project_dir / "pyproject.toml").is_file(), \
        "pip install runs where the COPY lines put pyproject.toml"

    # What `pip install .` puts in site-packages: the packages setuptools discovers under pyproject's rules
    # (a directory without __init__.py would be left out), with their .py files.
    from setuptools import find_packages
    find = tomllib.loads((project_dir / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(where=str(project_dir), include=find.get("include", ("*",)),
                             exclude=find.get("exclude", ()))
    assert f"services.{name}" in packages and "services.kit" in packages and "contracts" in packages, packages
    site = tmp_path / "site-packages"
    for package in packages:
        package_dir = project_dir / package.replace(".", "/")
        for module in package_dir.glob("*.py"):
            (site / package.replace(".", "/")).mkdir(parents=True, exist_ok=True)
            shutil.copy2(module, site / package.replace(".", "/") / module.name)

    dependencies = Path(sysconfig.get_paths()["purelib"])
    editable_finder_is_inert(dependencies)
    env = {k: v for k, v in DockerfileParser(path=str(dockerfile(name))).envs.items() if k != "PATH"}
    env["PATH"] = "/usr/bin:/bin"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    others = [other for other in SERVICES if other != name]
    result = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, str(site), str(dependencies), name, *others],
                            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"the {name} image's code fails on its own:\n{result.stdout}{result.stderr}"
    assert f"{name}:" in result.stdout
