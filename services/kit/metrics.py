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
# How long each took to answer as the process saw it, waiting at the store included: nx-27017 answers one command
# at a time, so a long command of one service is time every other service's request waits (bench/intake.py).
STORE_COMMAND_SECONDS = Histogram("ops_store_command_seconds", "Time from sending a store command to its answer",
                                  ["service", "command", "collection"],
                                  buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
