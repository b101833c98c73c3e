"""Trials (试用) and trial-commercial (试商用), source §3.1: a product is tried in a few pilot cities with named
customers, at a tariff agreed with the promotion office (信息化推进室); what customers suggest or complain about
during the stage is kept beside it; the stage ends with an evaluation and its evidence, and an optimisation plan
that draws on the backlog. Trial-commercial adds a summary of the cases and industry solutions (试商用总结).

One record per product and stage (`trial_id`). Pure rules, no I/O: the routes (api/trials.py) and the event
handlers (events/trials.py) read the stored state, ask these functions and write what they return."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

from contracts.events import TicketEvent
from contracts.vocabulary import KIND_LABELS, Kind, Stage
from services.kit.problems import Problem

TRIAL_STAGES: tuple[str, ...] = (Stage.trial.value, Stage.trial_commercial.value)
TRIAL_LABELS = {Stage.trial.value: "试用", Stage.trial_commercial.value: "试商用"}
PROMOTION_OFFICE = "信息化推进室"
CONCLUSION_LABELS = {"ready": "可进入下一阶段", "not_ready": "尚不具备条件"}
# The gate document an evaluation files, per stage (SPEC §3 gates trial→trial_commercial→commercial).
EVALUATION_DOCUMENT = {Stage.trial.value: "trial_evaluation",
                       Stage.trial_commercial.value: "trial_commercial_evaluation"}
# Planning may start one stage early. Source §3.1 step 1: once development is done the product manager finds
# cities and willing customers for the trial (so while testing ends); step 6 试商用准备 prepares trial-commercial
# (notice, materials, training of the cities) before it begins, i.e. during the trial.
PLANNED_FROM = {Stage.trial.value: Stage.testing.value, Stage.trial_commercial.value: Stage.trial.value}
FEEDBACK_KINDS = frozenset({Kind.suggestion, Kind.complaint})
FEEDBACK_STATE_LABELS = {"open": "处理中", "closed": "已关闭"}


def trial_id(product_code: str, stage: str) -> str:
    return f"{product_code}:{stage}"


def empty(product_code: str, stage: str, *, at: datetime, by: str) -> dict[str, Any]:
    """A trial record before anything is planned: `at`/`by` are its first write (the timeline's date)."""
    return {"_id": trial_id(product_code, stage), "product_code": product_code, "stage": stage,
            "pilot_cities": [], "pilot_customers": [], "tariff": None, "evaluation": None,
            "optimisation_plan": None, "summary": None, "at": at, "by": by, "updated_at": at, "updated_by": by}


def not_in_stage(product: dict[str, Any], stage: str, what: str) -> Problem:
    return Problem(409, "wrong-stage", "Not in this stage",
                   f"{what} of the {TRIAL_LABELS[stage]} ({stage}) is recorded while {product['code']!r} is in "
                   f"that stage; it is in {product['stage']!r}.", stage=product["stage"])


def check_plannable(product: dict[str, Any], stage: str) -> None:
    """Pilots and tariff: in the stage itself or the stage before it."""
    if product["stage"] not in (stage, PLANNED_FROM[stage]):
        raise Problem(409, "wrong-stage", "Not in this stage",
                      f"The pilots and tariff of the {TRIAL_LABELS[stage]} ({stage}) are planned in "
                      f"{PLANNED_FROM[stage]!r} or {stage!r}; {product['code']!r} is in {product['stage']!r}.",
                      stage=product["stage"])


def check_in_stage(product: dict[str, Any], stage: str, what: str) -> None:
    """The evaluation, the optimisation plan and the summary judge a stage that is running."""
    if product["stage"] != stage:
        raise not_in_stage(product, stage, what)


def check_customers_in_pilot_cities(cities: list[str], customers: list[dict[str, Any]]) -> str | None:
    """The field of the first pilot customer outside the pilot cities (a customer is the pilot's, not a
    stranger's), or None."""
    for n, customer in enumerate(customers):
        if customer["city"] not in cities:
            return f"customers.{n}.city"
    return None


def updated(trial: dict[str, Any], *, at: datetime, by: str, **fields: Any) -> dict[str, Any]:
    return {**trial, **fields, "updated_at": at, "updated_by": by}


# --- trainings (knowledge.training.recorded) ----------------------------------------------------------------

def training_record(event: Any) -> dict[str, Any]:
    """What lifecycle keeps of a training session: the cities trained and when (store/gates.py counts those
    trained since the trial began). `at` is the day's start in UTC so that the timeline sorts it among dated
    records; `held_on` stays the ISO date the gate compares."""
    held_on: date = event.held_on
    return {"_id": event.training_id, "product_code": event.product_code, "cities": list(event.cities),
            "held_on": held_on.isoformat(), "attendance": event.attendance, "audience": event.audience,
            "material_article_id": event.material_article_id,
            "at": datetime.combine(held_on, time(0), tzinfo=timezone.utc), "by": None}


def training_view(pilot_cities: list[str], trainings: list[dict[str, Any]], since: date | None) -> dict[str, Any]:
    """Trained vs untrained pilot cities, counting the sessions held on or after `since` (the stage's start)."""
    counted = [t for t in trainings if since is None or str(t["held_on"]) >= since.isoformat()]
    trained = sorted({c for t in counted for c in t["cities"]})
    return {"sessions": counted, "trained_cities": trained,
            "untrained_pilot_cities": [c for c in pilot_cities if c not in trained]}


# --- feedback during the stage (ticket.opened / ticket.closed) -----------------------------------------------

def feedback_stage(ticket: TicketEvent, product: dict[str, Any] | None, stage_since: datetime | None) -> str | None:
    """The trial stage a suggestion or complaint belongs to: the product's current stage if it is a trial stage
    and the ticket was opened after the stage began; else None (not trial feedback)."""
    if product is None or ticket.kind not in FEEDBACK_KINDS or product.get("stage") not in TRIAL_STAGES:
        return None
    if stage_since is not None and ticket.opened_at < stage_since:
        return None
    return product["stage"]


def merge_feedback(current: dict[str, Any] | None, ticket: TicketEvent, *, stage: str, event_type: str,
                   sequence: int) -> dict[str, Any] | None:
    """The feedback item after this ticket event, or None when nothing changes. Idempotent (the same event twice
    changes nothing) and order-tolerant: a newer ticket version wins, an older one is dropped; the stage it
    was first linked to stays."""
    if current is not None and sequence <= current["sequence"]:
        return None
    closed = event_type == "ticket.closed" or ticket.status == "closed"
    doc = {
        "_id": ticket.ticket_id, "product_code": ticket.product_code,
        "stage": current["stage"] if current else stage,
        "trial_id": current["trial_id"] if current else trial_id(ticket.product_code, stage),
        "ticket_id": ticket.ticket_id, "kind": ticket.kind.value, "kind_label": KIND_LABELS[ticket.kind],
        "city": ticket.city, "title": getattr(ticket, "title", None) or (current or {}).get("title"),
        "description": getattr(ticket, "description", None) or (current or {}).get("description"),
        "state": "closed" if closed else "open",
        "answer": getattr(ticket, "answer", None) or (current or {}).get("answer"),
        "satisfied": ticket.satisfied, "closed_at": ticket.closed_at,
        "at": ticket.opened_at, "by": (current or {}).get("by") or ticket.actor, "sequence": sequence,
    }
    return doc
