"""Prometheus metrics shared by every service (`GET /metrics`)."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("ops_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("ops_http_request_seconds", "HTTP request latency", ["service", "method", "route"])
EVENTS_PUBLISHED = Counter("ops_events_published_total", "Events published by the outbox relay", ["service", "type"])
EVENTS_CONSUMED = Counter("ops_events_consumed_total", "Events consumed", ["service", "queue", "type", "outcome"])
# Every command a service sends to its store (PyMongo command monitoring): the round trips behind a request or an
# event, which `make bench-intake` divides by the tickets accepted.
STORE_COMMANDS = Counter("ops_store_commands_total", "Commands sent to the document store",
                         ["service", "command", "collection"])
