"""The lifecycle domain: pure rules and data (no I/O), unit-tested in tests/lifecycle/test_domain.py."""
