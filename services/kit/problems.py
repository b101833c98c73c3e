"""RFC 9457 problem details (`application/problem+json`) for every error a service answers."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.logging import current_correlation_id

log = structlog.get_logger()
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str | None = None, *,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers, self.extra = headers, extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = {"type": f"/problems/{self.slug}", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        return {**body, **self.extra}


def field_errors(errors) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": error.get("msg"), "type": error.get("type")})
    return out


def invalid(field: str, message: str) -> Problem:
    """A 422 for a rule that request validation cannot express (e.g. an unknown product)."""
    return Problem(422, "validation-error", "Invalid request", f"{field}: {message}",
                   errors=[{"field": field, "message": message, "type": "value_error"}])


def install(app: FastAPI) -> None:
    def respond(problem: Problem, request: Request) -> JSONResponse:
        return JSONResponse(problem.body(request.url.path), status_code=problem.status, media_type=MEDIA_TYPE,
                            headers=problem.headers)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem):
        return respond(exc, request)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        errors = field_errors(exc.errors())
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return respond(Problem(422, "validation-error", "Invalid request", detail, errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed"}
        return respond(Problem(exc.status_code, "http-error", titles.get(exc.status_code, "HTTP error"),
                               str(exc.detail), headers=getattr(exc, "headers", None)), request)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("http.unexpected_error", path=request.url.path)
        # Answered by Starlette's outermost middleware, past the one that adds the header to other answers.
        return respond(Problem(500, "internal-error", "Internal error",
                               "The request failed unexpectedly; the X-Correlation-ID response header names it in the logs.",
                               headers={"X-Correlation-ID": current_correlation_id()}), request)
