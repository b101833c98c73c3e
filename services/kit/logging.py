"""structlog set-up: JSON lines in production, readable console lines locally; the correlation id travels in a
context variable from the HTTP request (or the consumed event) into every log line and every event published."""

import logging
import sys
import uuid
from contextvars import ContextVar

import structlog

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str:
    return correlation_id.get() or str(uuid.uuid4())


def bind_correlation_id(value: str | None) -> str:
    value = value or str(uuid.uuid4())
    correlation_id.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)
    return value


def configure_logging(service: str, fmt: str = "console", level: str = "INFO") -> None:
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json" \
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries that log through the standard library (uvicorn, faststream, aio-pika) keep their own lines.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format=f"%(asctime)s {service} %(name)s %(levelname)s %(message)s")


log = structlog.get_logger
