"""Render the kustomize overlays of deploy/k8s with `kubectl kustomize` and parse the result.

`render(dir)` returns the rendered objects as dicts; `OVERLAYS` lists every directory that must render.
kubectl is not a Python package: without it on PATH (or at $KUBECTL) rendering fails with a message that
names what to install — a missing tool must fail the tests, never skip them.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"

# Every directory that must render: the two environments and production with the optional KEDA component.
OVERLAYS: dict[str, Path] = {
    "dev": K8S / "overlays" / "dev",
    "prod": K8S / "overlays" / "prod",
    "prod-keda": K8S / "overlays" / "prod-keda",
}

INSTALL_HINT = (
    "kubectl (>= 1.27, which embeds kustomize v5) is needed to render deploy/k8s and was not found on PATH "
    "(or at $KUBECTL). Install it, e.g. on Debian/Ubuntu: `apt-get install kubectl` from the Kubernetes apt "
    "repository (https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/), or put the kubectl binary "
    "on PATH."
)


class RenderError(RuntimeError):
    pass


def kubectl() -> str:
    path = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not path or not os.access(path, os.X_OK):
        raise RenderError(INSTALL_HINT)
    return path


@functools.lru_cache(maxsize=None)
def _render(directory: str) -> tuple[dict, ...]:
    proc = subprocess.run([kubectl(), "kustomize", directory], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RenderError(f"`kubectl kustomize {directory}` failed ({proc.returncode}):\n{proc.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


def render(kustomize_dir: Path) -> list[dict]:
    """The objects `kubectl kustomize <kustomize_dir>` renders (cached per directory; returns fresh copies)."""
    import copy

    return copy.deepcopy(list(_render(str(Path(kustomize_dir).resolve()))))
