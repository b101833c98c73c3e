"""`If-Match` on changes (RFC 9110 §13.1.1, RFC 6585 §3): the version a change is based on.

A resource's `version` is its ETag (`"3"`); a change names the version it read, and a stale one is a 412. Where
every change must be conditional (knowledge's articles, issue 9), a change without If-Match is a 428, so that no
client overwrites an edit it never saw; `*` names no version and counts as missing there.
"""

from __future__ import annotations

from services.kit.problems import Problem


def parse_if_match(value: str | None, *, what: str = "resource", required: bool = False) -> int | None:
    """The version an If-Match header names; None when it names none (absent or `*`) and that is allowed."""
    cleaned = None if value is None else value.strip().removeprefix("W/").strip('"')
    if cleaned is None or cleaned == "*" or cleaned == "":
        if required:
            raise Problem(428, "precondition-required", "Precondition required",
                          f"Send If-Match with the {what} version you read (its ETag), e.g. If-Match: \"3\".")
        return None
    if not cleaned.isdigit():
        raise Problem(400, "bad-if-match", "Invalid If-Match",
                      f"If-Match takes the {what} version, e.g. If-Match: 3.")
    return int(cleaned)


def check_version(current: int, expected: int | None, *, what: str = "resource") -> None:
    """412 when the change was based on another version than the current one."""
    if expected is not None and expected != current:
        raise Problem(412, "precondition-failed", "Version mismatch",
                      f"If-Match names version {expected}, the {what} is at version {current}; read it again.",
                      current_version=current)
