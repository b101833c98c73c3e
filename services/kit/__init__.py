"""Plumbing shared by the four services, written once: settings, logging, store, outbox, broker, consumers,
auth, problem+json errors, pagination and the app factory."""
