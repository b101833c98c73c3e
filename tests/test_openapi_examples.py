"""Every request body in every service's OpenAPI carries a Chinese example (issue 8, point 10), and every example
is one the API would accept: each is loaded through the very model the route validates its body with.

The document is built from each service's own `create()`, as `/openapi.json` serves it; building an app opens no
connection, so no store or broker is needed here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

SERVICES = ("ticketing", "lifecycle", "knowledge", "analytics")
HAN = re.compile(r"[\u4e00-\u9fff]")

# The bodies the services take today: the walk must find at least these, so a walk that silently finds nothing
# (a renamed path, a router left out of the document) fails instead of passing.
EXPECTED_BODIES = {
    "ticketing": {
        "POST /v1/tickets", "POST /v1/tickets/{ticket_id}/assign", "POST /v1/tickets/{ticket_id}/escalate",
        "POST /v1/tickets/{ticket_id}/notes", "POST /v1/tickets/{ticket_id}/resolve",
        "POST /v1/tickets/{ticket_id}/feedback", "POST /v1/tickets/{ticket_id}/pending",
        "POST /v1/tickets/{ticket_id}/requester-reply", "POST /v1/tickets/{ticket_id}/answer",
        "POST /v1/tickets/{ticket_id}/merge", "POST /v1/tickets/{ticket_id}/attachments", "POST /v1/webhooks",
        "PUT /v1/calendar/{year}", "PUT /v1/sla-policies",
    },
    "lifecycle": {"POST /v1/products"},
    "knowledge": {"POST /v1/articles", "PUT /v1/articles/{article_id}", "POST /v1/articles/{article_id}/publish",
                  "POST /v1/articles/{article_id}/archive", "POST /v1/trainings",
                  "PUT /v1/synonyms"},
    "analytics": {"POST /v1/imports/subscriptions", "POST /v1/anomalies/{anomaly_id}/acknowledge",
                  "POST /v1/anomalies/{anomaly_id}/explain", "POST /v1/rebuilds"},
}
# Bodies whose only field is an identifier (a user id, a ticket id): their examples have no words to write in Chinese.
IDENTIFIER_ONLY = {"POST /v1/tickets/{ticket_id}/assign", "POST /v1/tickets/{ticket_id}/merge"}


def openapi_of(service: str) -> dict:
    return importlib.import_module(f"services.{service}.main").create().openapi()


def body_models(service: str) -> dict[str, type[BaseModel]]:
    """The pydantic models of a service's api/ package by class name, the name OpenAPI gives their schemas."""
    package = importlib.import_module(f"services.{service}.api")
    found: dict[str, set[type[BaseModel]]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseModel) and value is not BaseModel:
                found.setdefault(name, set()).add(value)
    return {name: classes.pop() for name, classes in found.items() if len(classes) == 1}


def request_bodies(spec: dict):
    """(route, content type, media object, the body's schema) for every request body of the document."""
    schemas = spec.get("components", {}).get("schemas", {})
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for content_type, media in operation.get("requestBody", {}).get("content", {}).items():
                schema = media.get("schema", {})
                ref = schema.get("$ref", "").rsplit("/", 1)[-1]
                yield f"{method.upper()} {path}", content_type, media, ref, schemas.get(ref, schema)


def examples_of(media: dict, schema: dict) -> list:
    """The example bodies a reader of the document sees: the schema's `examples` and the media type's
    `example` / `examples` (FastAPI's `openapi_examples`, or a hand-written `openapi_extra`)."""
    values = list(schema.get("examples", []))
    if "example" in schema:
        values.append(schema["example"])
    if "example" in media:
        values.append(media["example"])
    values += [named["value"] for named in media.get("examples", {}).values() if "value" in named]
    return values


def bodies_without_examples(spec: dict) -> list[str]:
    return [f"{route} ({content_type})" for route, content_type, media, _, schema in request_bodies(spec)
            if not examples_of(media, schema)]


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_has_an_example(service):
    spec = openapi_of(service)
    found = {route for route, *_ in request_bodies(spec)}
    assert EXPECTED_BODIES[service] <= found, f"not in the document: {sorted(EXPECTED_BODIES[service] - found)}"
    missing = bodies_without_examples(spec)
    assert not missing, "request bodies without an example: " + ", ".join(missing)


@pytest.mark.parametrize("service", SERVICES)
def test_every_example_is_chinese_and_accepted_by_the_routes_own_model(service):
    spec, models = openapi_of(service), body_models(service)
    for route, content_type, media, ref, schema in request_bodies(spec):
        examples = examples_of(media, schema)
        if route not in IDENTIFIER_ONLY:
            assert any(HAN.search(json.dumps(e, ensure_ascii=False)) for e in examples), \
                f"{route}: no example in Chinese: {examples}"
        if content_type == "application/json":
            assert ref in models, f"{route}: body schema {ref or schema} is not a model of services/{service}/api"
            for example in examples:
                # through JSON, as a request arrives: dates and enums are strings there
                models[ref].model_validate_json(json.dumps(example, ensure_ascii=False))
        else:  # multipart: no model to load it through; the example names at least every required part
            for example in examples:
                missing = set(schema.get("required", [])) - set(example)
                assert not missing, f"{route} ({content_type}): example lacks {sorted(missing)}"


class Bare(BaseModel):
    assignee: str


class Documented(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "agent-jinan-07"}]})

    assignee: str


def test_the_walk_names_a_body_without_an_example_and_a_model_refuses_a_bad_example():
    """The checks above can fail: a route whose body has no example is named, and an example that breaks its
    model's rules raises."""

    app = FastAPI()

    @app.post("/v1/bare")
    async def bare(body: Bare):
        return body

    @app.post("/v1/documented")
    async def documented(body: Documented):
        return body

    assert bodies_without_examples(app.openapi()) == ["POST /v1/bare (application/json)"]
    with pytest.raises(ValueError):
        Documented.model_validate_json(json.dumps({"assignee": "agent-jinan-07", "城市": "济南"}))
