"""What the services' own code declares, for the deploy tests to compare the manifests with: the services, their
settings classes, the queues each one consumes and the exchanges. Read from the code, never restated, so a
renamed queue or a new setting shows up as a failing comparison instead of a stale manifest."""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path

import pytest

from contracts.events import DEAD_LETTER_EXCHANGE, EXCHANGE
from services.kit.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("ticketing", "lifecycle", "knowledge", "analytics")
EVENTS_EXCHANGE = EXCHANGE
__all__ = ["DEAD_LETTER_EXCHANGE", "EVENTS_EXCHANGE", "REPO", "SERVICES", "all_queues", "queues", "setting_names",
           "process_queues", "settings_class", "venv_tool"]


def settings_class(service: str) -> type[ServiceSettings]:
    return importlib.import_module(f"services.{service}.settings").Settings


def setting_names(service: str | None = None) -> set[str]:
    """The environment variables a deployment may set: OPS_ plus a field name of the service's Settings (of
    ServiceSettings, which every service reads, without a service), except the service name, which each
    service's Settings class fixes."""
    fields = (settings_class(service) if service else ServiceSettings).model_fields
    return {f"OPS_{name.upper()}" for name in fields} - {"OPS_SERVICE_NAME"}


@functools.cache
def _bindings(service: str) -> dict:
    main = importlib.import_module(f"services.{service}.main")
    app = main.create(settings_class(service)(role="worker", namespace=""))
    return dict(app.state.runtime.bus.bindings)


def queues(service: str) -> frozenset[str]:
    """The durable consumer queues the service declares, from its app as a worker builds it (building connects
    nothing)."""
    return frozenset(name for name, (queue, _) in _bindings(service).items() if not queue.exclusive)


def process_queues(service: str) -> frozenset[str]:
    """The queues of one process (exclusive, named after the process; kit/broker.py `process_queue`), as this
    test process would name them."""
    return frozenset(name for name, (queue, _) in _bindings(service).items() if queue.exclusive)


def all_queues() -> frozenset[str]:
    return frozenset().union(*(queues(s) for s in SERVICES))


def venv_tool(name: str) -> Path:
    """A console script installed next to the interpreter running the tests (the project's venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} not found at {path}: install the test extra (pip install -e '.[test]'), which "
                    f"provides it", pytrace=False)
    return path
