"""Each service's AsyncAPI document (`GET /asyncapi.json`) names exactly the events the service's code builds, so that
the two cannot drift apart again (issue 10: `ticket.snapshot` and `replay.completed` were sent but not documented).

What a service builds is read from its source: every event payload class of `contracts.events.EVENT_TYPES` that
its package instantiates or puts in a table to instantiate from (knowledge's `EVENT_OF`), plus those built by the
shared kit classes and functions it uses (kit/replay.py: `ReplaySender` answers a replay, `ReplayRequests` asks
for one). What it documents is what it declared in its ServiceSpec (`publishes`, and `sends` for events sent to one
consumer's queue by name), as the served document lists it."""

import ast
import importlib
import pathlib

import httpx
import pytest

from contracts.events import EVENT_TYPES
from tests.support import settings_for

ROOT = pathlib.Path(__file__).resolve().parents[1]
SERVICES = ("ticketing", "knowledge", "lifecycle", "analytics")
BY_CLASS = {model.__name__: event_type for event_type, model in EVENT_TYPES.items()}


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def built(tree: ast.AST) -> set[str]:
    """The event types whose payload class `tree` instantiates, or holds in a tuple to instantiate later."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in BY_CLASS:
            found.add(BY_CLASS[_name(node.func)])
        elif isinstance(node, ast.Tuple):
            found |= {BY_CLASS[_name(e)] for e in node.elts if _name(e) in BY_CLASS}
    return found


def kit_builders() -> dict[tuple[str, str], set[str]]:
    """(kit module, top-level class or function) → the event types it builds, itself or through the other
    top-level functions of its module that it calls (kit/catalog.py: `keep_asking` asks through
    `ask_for_the_catalog`)."""
    builders = {}
    for path in (ROOT / "services" / "kit").glob("*.py"):
        tops = {top.name: top for top in ast.parse(path.read_text(encoding="utf-8")).body
                if isinstance(top, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)}
        calls = {name: {_name(n.func) for n in ast.walk(top) if isinstance(n, ast.Call)} & set(tops)
                 for name, top in tops.items()}
        events = {name: built(top) for name, top in tops.items()}
        changed = True
        while changed:  # until no call adds an event type
            changed = False
            for name in tops:
                more = set().union(*(events[c] for c in calls[name])) - events[name]
                if more:
                    events[name] |= more
                    changed = True
        builders |= {(path.stem, name): found for name, found in events.items() if found}
    return builders


def kit_names_used(tree: ast.AST) -> set[tuple[str, str]]:
    """(kit module, name) that a service module uses: `from services.kit.m import n`, or `m.n` after
    `from services.kit import m`."""
    used, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("services.kit."):
            used |= {(node.module.rsplit(".", 1)[1], alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "services.kit":
            modules |= {alias.asname or alias.name for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            used.add((node.value.id, node.attr))
    return used


def built_by(service: str) -> set[str]:
    builders, found = kit_builders(), set()
    for path in (ROOT / "services" / service).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found |= built(tree)
        for used in kit_names_used(tree):
            found |= builders.get(used, set())
    return found


def documented(asyncapi: dict) -> set[str]:
    """The event types of the document's send operations (their channels are named by event type)."""
    return {op["channel"]["$ref"].rsplit("/", 1)[1] for op in asyncapi["operations"].values()
            if op["action"] == "send"}


def test_the_source_scan_finds_what_is_known_to_be_built():
    """The scan itself: a replay's answer is built in kit/replay.py and ticketing's store, a replay's request in
    kit/replay.py on analytics' behalf, knowledge's article events only through its EVENT_OF table."""
    assert {"ticket.snapshot", "replay.completed", "ticket.opened"} <= built_by("ticketing")
    assert "replay.requested" in built_by("analytics") and "replay.completed" not in built_by("analytics")
    assert {"knowledge.article.published", "knowledge.article.archived"} <= built_by("knowledge")
    assert "catalog.sync_requested" in built_by("ticketing")  # through kit/catalog.keep_asking


@pytest.mark.parametrize("service", SERVICES)
async def test_the_asyncapi_document_names_every_event_the_service_builds(service, infra):
    settings_cls = importlib.import_module(f"services.{service}.settings").Settings
    app = importlib.import_module(f"services.{service}.main").create(settings_for(settings_cls, infra, service))
    spec = app.state.spec
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    names = documented(response.json())
    assert names == {*spec.publishes, *spec.sends}
    assert names == built_by(service), (f"built but not documented: {sorted(built_by(service) - names)}; "
                                        f"documented but never built: {sorted(names - built_by(service))}")
