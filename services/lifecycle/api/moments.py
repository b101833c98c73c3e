"""When a lifecycle record happened: the request's `at` (a centre entering its history dates it in the past) or
now, as the store keeps it (milliseconds); and the stage a record belongs to."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.vocabulary import Stage
from services.kit.clock import stored_now as now_ms  # the routes' now, as the store keeps it
from services.kit.clock import to_milliseconds
from services.kit.problems import Problem, invalid
from services.lifecycle.domain.gates import label


def moment(value: datetime | None, now: datetime, field: str = "at") -> datetime:
    """When a record really happened: the request's (a centre entering its history dates it in the past) or now;
    never in the future."""
    if value is None:
        return now
    try:
        value = value.astimezone(UTC)
    except OverflowError as error:  # 0001-01-01 east of UTC has no UTC instant
        raise invalid(field, "out of range") from error
    value = to_milliseconds(value)
    if value > now:
        raise invalid(field, "must not be in the future")
    return value


def require_stage(product: dict, *stages: Stage) -> None:
    """A record of one phase belongs to that phase: tendering after the contract, or a test round in
    development, would date the product's history wrongly."""
    if product["stage"] not in stages:
        allowed = "、".join(f"{s.value} ({label(s)})" for s in stages)
        raise Problem(409, "wrong-stage", "Not in this stage",
                      f"{product['code']!r} is in stage {product['stage']} ({label(product['stage'])}); "
                      f"this is recorded only in {allowed}.", stage=product["stage"],
                      allowed_stages=[s.value for s in stages])

__all__ = ["moment", "now_ms", "require_stage"]
