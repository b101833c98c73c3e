"""HTTP API of the lifecycle service (routes under /v1)."""
