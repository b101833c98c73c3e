"""Admin APIs of the SLA: the business calendar per year (`GET/PUT /v1/calendar/{year}`) and the versioned SLA
policies (`GET/PUT /v1/sla-policies`). Every staff role reads them; only admins write. A write is one document
with its `ticketing.sla_config.changed` event (store/sla_config.py); open tickets follow in the background
(store/sla_recalc.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib.metadata import version as package_version
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from contracts.events import SlaConfigChanged
from contracts.vocabulary import Role
from services.kit.app import Runtime, runtime
from services.kit.auth import Principal, authenticate
from services.kit.clock import stored_now
from services.kit.problems import Problem, invalid
from services.ticketing.domain.calendar import library_knows
from services.ticketing.domain.sla import Policy, Rule, rules_problem
from services.ticketing.store import sla_config
from services.ticketing.store.sla_config import day_entry, sla_of

router = APIRouter(prefix="/v1", tags=["sla"])

R = Role
# The operator's own staff; not the channel systems (intake) nor the vendors, who see their tickets' deadlines
STAFF = (R.account_manager, R.agent, R.ops_engineer, R.complaint_handler, R.product_manager, R.analyst, R.admin)
Year = Path(ge=2000, le=2100, description="e.g. 2027")


def require_staff(principal: Principal) -> None:
    if not principal.has(*STAFF):
        raise Problem(403, "forbidden", "Forbidden", "The calendar and the SLA policies are for the operator's staff.")


def require_admin(principal: Principal) -> None:
    if not principal.has(R.admin):
        raise Problem(403, "forbidden", "Forbidden", "Only an admin changes the calendar and the SLA policies.")


# Now to the millisecond: what BSON keeps, so that the answer of a PUT and a later GET say the same.
utcnow = stored_now


# --- calendar -----------------------------------------------------------------------------------------------

class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DayIn(Strict):
    date: date
    working: bool = Field(description="true: a working day (e.g. 调休); false: a day off (e.g. 春节)")
    note: str | None = Field(None, max_length=200, description="why, e.g. 春节 / 春节调休 / 本地停电")


class CalendarIn(Strict):
    """Every admin override of the year (the list replaces the previous one; an empty list removes them)."""

    days: list[DayIn] = Field(max_length=366)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"days": [
        {"date": "2027-02-05", "working": False, "note": "春节"},
        {"date": "2027-02-06", "working": False, "note": "春节"},
        {"date": "2027-02-20", "working": True, "note": "春节调休"},
    ]}]})


class DayOut(BaseModel):
    date: date
    weekday: int = Field(description="1 Monday … 7 Sunday")
    working: bool
    source: Literal["library", "admin"]
    name: str | None = None
    by: str | None = None
    at: datetime | None = None
    note: str | None = None


class CalendarOut(BaseModel):
    year: int
    timezone: str
    working_hours: dict[str, Any]
    library: dict[str, Any]
    days: list[DayOut]
    revision: int


def calendar_out(rt: Runtime, year: int) -> CalendarOut:
    config = sla_of(rt).current()
    cal = config.calendar
    days = [DayOut(date=d.day, weekday=d.day.isoweekday(), working=d.working, source=d.source, name=d.name,
                   by=d.by, at=d.at, note=d.note) for d in cal.days_of(year)]
    knows = library_knows(year)
    return CalendarOut(
        year=year, timezone=str(cal.zone), revision=config.revision,
        working_hours={"start": cal.start.strftime("%H:%M"), "end": cal.end.strftime("%H:%M"),
                       "weekdays": "Monday to Friday", "business_day_hours": cal.day_length.total_seconds() / 3600},
        library={"package": f"chinesecalendar {package_version('chinesecalendar')}", "knows_year": knows,
                 "without_it": None if knows else "no public holiday is known for this year: Monday to Friday are "
                                                  "working days except the days an admin overrides"},
        days=days)


@router.get("/calendar/{year}", response_model=CalendarOut, summary="The business calendar of a year 工作日历")
async def get_calendar(year: int = Year, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    """Every day of the year that is not what Monday-to-Friday says (holidays, 调休) with its source: `library`
    (the State Council schedule from chinesecalendar) or `admin` (who, when); and the working hours."""
    require_staff(principal)
    return calendar_out(rt, year)


@router.put("/calendar/{year}", response_model=CalendarOut, summary="Override days of a year (admin)")
async def put_calendar(body: CalendarIn, year: int = Year, principal: Principal = Depends(authenticate),
                       rt: Runtime = Depends(runtime)):
    require_admin(principal)
    seen: dict[date, int] = {}
    for index, day in enumerate(body.days):
        if day.date.year != year:
            raise invalid(f"days.{index}.date", f"{day.date.isoformat()} is not in {year}")
        if day.date in seen:
            raise invalid(f"days.{index}.date", f"{day.date.isoformat()} is listed twice (also days.{seen[day.date]})")
        seen[day.date] = index
    now = utcnow()

    def edit(doc: dict[str, Any]):
        before = {d["day"]: d for d in doc.get("calendar", {}).get(str(year), [])}
        days = []
        for day in sorted(body.days, key=lambda d: d.date):
            kept = before.get(day.date.isoformat())
            unchanged = kept is not None and kept["working"] == day.working and kept.get("note") == day.note
            # a day an admin decided before keeps who decided it and when
            days.append(kept if unchanged else day_entry(day.date, day.working, principal.sub, now, day.note))
        calendar = {**doc.get("calendar", {}), str(year): days}
        return {"calendar": calendar}, SlaConfigChanged(revision=0, what="calendar", year=year, actor=principal.sub)

    await sla_config.change(rt, edit)
    return calendar_out(rt, year)


# --- policies -----------------------------------------------------------------------------------------------

RULE_EXAMPLE = [
    {"kind": "consultation", "clock": "business", "respond": {"amount": 4, "unit": "hours"},
     "resolve": {"amount": 2, "unit": "days"}},
    {"kind": "complaint", "clock": "business", "respond": {"amount": 4, "unit": "hours"},
     "resolve": {"amount": 5, "unit": "days"}, "update": {"amount": 1, "unit": "days"}},
    {"kind": "complaint", "priority": "urgent", "clock": "business", "respond": {"amount": 2, "unit": "hours"},
     "resolve": {"amount": 3, "unit": "days"}, "update": {"amount": 1, "unit": "days"}},
    {"kind": "suggestion", "clock": "business", "respond": {"amount": 2, "unit": "days"},
     "resolve": {"amount": 15, "unit": "days"}},
    {"kind": "fault", "severity": 1, "clock": "wall", "respond": {"amount": 15, "unit": "minutes"},
     "resolve": {"amount": 4, "unit": "hours"}},
    {"kind": "fault", "severity": 2, "clock": "wall", "respond": {"amount": 30, "unit": "minutes"},
     "resolve": {"amount": 8, "unit": "hours"}},
    {"kind": "fault", "severity": 3, "clock": "wall", "respond": {"amount": 2, "unit": "hours"},
     "resolve": {"amount": 48, "unit": "hours"}},
]


class PoliciesIn(Strict):
    """A new version of the SLA policies: a rule per kind (optionally per priority or fault severity)."""

    rules: list[Rule] = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=500, description="why, e.g. 省公司要求紧急投诉3个工作日内答复")
    apply_to_open_tickets: bool = Field(False, description="false: open tickets keep the version they were opened "
                                                           "under; true: their deadlines follow this version too")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"rules": RULE_EXAMPLE, "note": "省公司要求：紧急投诉3个工作日内答复", "apply_to_open_tickets": False}]})


class PoliciesOut(BaseModel):
    version: int
    current_version: int
    rules: list[Rule]
    by: str | None
    at: datetime | None
    note: str | None
    minimum_policy_version: int = Field(description="open tickets under an older version follow this one")
    versions: list[int]
    revision: int


def policies_out(rt: Runtime, version: int | None = None) -> PoliciesOut:
    config = sla_of(rt).current()
    policy = config.current if version is None else config.policies.get(version)
    if policy is None:
        raise Problem(404, "not-found", "No such policy version", f"No SLA policy version {version}.")
    return PoliciesOut(version=policy.version, current_version=config.current.version, rules=policy.rules,
                       by=policy.by, at=policy.at, note=policy.note,
                       minimum_policy_version=config.minimum_policy_version, versions=sorted(config.policies),
                       revision=config.revision)


@router.get("/sla-policies", response_model=PoliciesOut, summary="The SLA policies in force (or an older version)")
async def get_policies(version: int | None = Query(None, ge=1, description="an older version"),
                       principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_staff(principal)
    return policies_out(rt, version)


@router.put("/sla-policies", response_model=PoliciesOut, summary="A new version of the SLA policies (admin)")
async def put_policies(body: PoliciesIn, principal: Principal = Depends(authenticate), rt: Runtime = Depends(runtime)):
    require_admin(principal)
    if (problem := rules_problem(body.rules)) is not None:
        raise invalid(*problem)
    now = utcnow()
    created: list[int] = []

    def edit(doc: dict[str, Any]):
        versions = [p["version"] for p in doc.get("policies", [])] or [1]
        policy = Policy(version=max(versions) + 1, rules=body.rules, by=principal.sub, at=now, note=body.note)
        created[:] = [policy.version]
        minimum = policy.version if body.apply_to_open_tickets else doc.get("minimum_policy_version", 1)
        return ({"policies": [*doc.get("policies", []), policy.model_dump(mode="python")],
                 "minimum_policy_version": minimum},
                SlaConfigChanged(revision=0, what="policies", policy_version=policy.version, actor=principal.sub))

    await sla_config.change(rt, edit)
    return policies_out(rt, created[0])
