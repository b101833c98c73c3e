"""The stored SLA configuration (admin overrides of the business calendar, every SLA policy version) and the
in-memory copy that intake computes deadlines from.

One document, `sla_config/current`: {revision, calendar: {"2027": [{day, working, by, at, note}, …]}, policies:
[{version, rules, by, at, note}, …], minimum_policy_version}. One document because every change must bump one
revision atomically with itself (nx-27017 has no usable multi-document transactions, kit/store.py), and the
whole is small: a few hundred days and a few dozen versions of a dozen rules.

Why a copy in memory, and how it stays fresh across replicas: intake must not read the store per request for
its deadlines. Every process loads the document at start and holds it as an `SlaConfig`. An admin's PUT writes
the document together with a `ticketing.sla_config.changed` event (one write, through the outbox); every
ticketing process, API-only ones included, receives it on a queue of its own (`Subscription(per_process=True)`,
as the catalog cache does) and reloads when the event's revision is newer than its copy. The writing process
takes the new document at once, so its own next request already follows it. As a safety net for an event a
broker outage made a process miss, a copy older than `refresh_seconds` is reloaded in the background (the
request that notices goes on with the copy it has: no store read on the request path).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import structlog

from contracts.events import SlaConfigChanged
from services.kit.store import Store, public
from services.ticketing.domain.calendar import BusinessCalendar, DayOverride
from services.ticketing.domain.sla import DEFAULT_POLICY, Policy, SlaConfig

log = structlog.get_logger()

SLA_CONFIG = "sla_config"
CONFIG_ID = "current"
CHANGED = "ticketing.sla_config.changed"


def empty_document() -> dict[str, Any]:
    return {"_id": CONFIG_ID, "revision": 0, "calendar": {},
            "policies": [DEFAULT_POLICY.model_dump(mode="python")], "minimum_policy_version": 1}


def overrides_of(doc: dict[str, Any], year: int) -> list[DayOverride]:
    return [DayOverride(date.fromisoformat(d["day"]), d["working"], d["by"], d["at"], d.get("note"))
            for d in doc.get("calendar", {}).get(str(year), [])]


def config_from(doc: dict[str, Any] | None, hours: tuple) -> SlaConfig:
    doc = doc or empty_document()
    overrides = [o for year in doc.get("calendar", {}) for o in overrides_of(doc, int(year))]
    policies = {p["version"]: Policy.model_validate(p) for p in doc.get("policies", [])} or {1: DEFAULT_POLICY}
    return SlaConfig(calendar=BusinessCalendar(start=hours[0], end=hours[1], overrides=overrides),
                     policies=policies, revision=doc.get("revision", 0),
                     minimum_policy_version=doc.get("minimum_policy_version", 1))


class SlaConfigCache:
    def __init__(self, store: Store, hours: tuple, *, refresh_seconds: float = 300.0):
        self.store, self.hours, self.refresh_seconds = store, hours, refresh_seconds
        self.config: SlaConfig = config_from(None, hours)
        self.document: dict[str, Any] = empty_document()
        self._loaded_at = float("-inf")
        self._reloading: asyncio.Task | None = None

    async def load(self) -> SlaConfig:
        self._loaded_at = time.monotonic()
        doc = await self.store[SLA_CONFIG].find_one({"_id": CONFIG_ID})
        self.take(doc)
        return self.config

    def take(self, doc: dict[str, Any] | None) -> None:
        """Hold `doc` unless the copy is already at a newer revision (events and reloads may cross)."""
        doc = public(doc) or empty_document()
        if doc.get("revision", 0) >= self.config.revision:
            self.document, self.config = doc, config_from(doc, self.hours)

    def current(self) -> SlaConfig:
        """The configuration, from memory. A copy past its refresh time reloads in the background."""
        if time.monotonic() - self._loaded_at > self.refresh_seconds and self._reloading is None:
            self._reloading = asyncio.get_running_loop().create_task(self._reload())
        return self.config

    async def _reload(self) -> None:
        try:
            await self.load()
        except Exception:  # noqa: BLE001 - the copy stays as it is; the next request tries again
            log.exception("sla_config.reload_failed")
            self._loaded_at = time.monotonic() - self.refresh_seconds + 10.0
        finally:
            self._reloading = None

    async def changed(self, revision: int) -> None:
        """An event says the stored configuration reached `revision`."""
        if revision > self.config.revision:
            await self.load()


Edit = Callable[[dict[str, Any]], tuple[dict[str, Any], SlaConfigChanged]]


async def change(rt, edit: Edit) -> dict[str, Any]:
    """Apply `edit` (the current document → the new one and the event that announces it) with the next
    revision, written with its event in one write; the local copy takes it at once."""
    def decide(doc: dict[str, Any] | None):
        current = {**empty_document(), **(doc or {})}
        new, event = edit(public(current))
        revision = current.get("revision", 0) + 1
        new = {**current, **new, "revision": revision}
        event = event.model_copy(update={"revision": revision})
        envelope = rt.event(event, type=CHANGED, subject=CONFIG_ID, sequence=revision)
        return new, [envelope]

    written = await rt.store.change(SLA_CONFIG, CONFIG_ID, decide)
    sla_of(rt).take(written)
    return written


def sla_of(rt) -> SlaConfigCache:
    return rt.extras["sla"]


def day_entry(day: date, working: bool, by: str, at: datetime, note: str | None) -> dict[str, Any]:
    return {"day": day.isoformat(), "working": working, "by": by, "at": at, "note": note}
