"""Event and shared message models of the ops support system, defined once (SPEC §3, §4).

Every service imports its event envelope, event payloads and the domain vocabulary from here; no
service defines its own copy of a message another service reads.
"""
