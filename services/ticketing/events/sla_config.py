"""Every ticketing process keeps its copy of the SLA configuration fresh from its own queue (store/sla_config.py
says why and how)."""

from __future__ import annotations

from contracts.events import Envelope, SlaConfigChanged
from services.kit.app import Runtime
from services.kit.consumer import Subscription
from services.ticketing.store.sla_config import CHANGED, sla_of


def subscriptions(rt: Runtime) -> list[Subscription]:
    async def reload_copy(envelope: Envelope) -> None:
        await sla_of(rt).changed(envelope.payload(SlaConfigChanged).revision)

    return [Subscription("ticketing.sla-config-cache", (CHANGED,), reload_copy, per_process=True)]
