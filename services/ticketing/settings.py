import ipaddress
from datetime import time
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "ticketing"
    port: int = 8001
    # Channel callbacks (services/ticketing/events/webhooks.py). Seconds between attempts after the 1st, 2nd, …
    # failure (then `failed`): 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h, nine attempts over about 22 hours.
    # Set as JSON, e.g. OPS_WEBHOOK_RETRY_DELAYS='[5, 30, 120]'.
    webhook_retry_delays: list[float] = [5, 30, 120, 600, 3600, 3 * 3600, 6 * 3600, 12 * 3600]
    webhook_retry_jitter: float = 0.2        # each delay ± this fraction
    webhook_timeout_seconds: float = 15.0    # per attempt, connect to last byte (the convention: 15–30 s)
    webhook_poll_seconds: float = 1.0        # how often the delivery job looks for due deliveries
    webhook_pass_seconds: float = 20.0       # a pass starts no attempt after this (bounded within its lease)
    webhook_concurrency: int = 8             # attempts in flight at once
    webhook_registry_seconds: float = 2.0    # a worker reads the registered webhooks again after this long
    # How long a callback's host name may take to resolve (OPS_WEBHOOK_RESOLVE_TIMEOUT_SECONDS): at registration
    # a name that has not resolved by then is a 422 naming `url`, as one that does not resolve; before an attempt
    # through the proxy it is left to the proxy (events/webhooks.addresses_of). Straight out, the connection's own
    # lookup is bounded by the attempt's webhook_timeout_seconds.
    webhook_resolve_timeout_seconds: float = Field(2.0, gt=0)
    # An HTTP(S) forward proxy every callback goes through (OPS_WEBHOOK_PROXY), e.g. http://egress-proxy:3128:
    # in Kubernetes the workers reach no address outside the cluster but that proxy (deploy/README.md).
    webhook_proxy: str | None = None
    # Networks a callback URL may point into although they are not public (OPS_WEBHOOK_ALLOWED_NETWORKS, CIDRs
    # separated by commas, e.g. 127.0.0.1/32 for a receiver on this machine). Empty, the default: callbacks go to
    # public addresses only; loopback, private, link-local (the cloud metadata address), unspecified, multicast
    # and reserved ones are refused at registration and at every delivery (domain/webhooks.address_refusal).
    webhook_allowed_networks: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = []
    # Largest attachment accepted (OPS_ATTACHMENT_MAX_BYTES); a byte more is 413 and nothing is stored.
    attachment_max_bytes: int = 10 * 1024 * 1024
    # Possible duplicates at intake (domain/duplicates.py): the least Jaccard similarity of two tickets' words,
    # how many of the group's open tickets of this and last week are compared (newest first), how many are shown.
    duplicate_detection: bool = True  # off: the intake asks no duplicate query and answers an empty list
    duplicate_min_similarity: float = 0.5
    duplicate_candidates: int = 10
    duplicate_limit: int = 5
    # OPS_DUPLICATE_INDEX: each process ranks them from its memory of the last two weeks instead of one store
    # query per intake (store/duplicates.py). Off by default: it removes the query (1.2 -> 0.15 store commands per
    # ticket) but on the 2-core box, at saturation, the outbox relay then fell behind (bench/README.md, issue 8).
    duplicate_index: bool = False
    # at most this many tickets in memory (~0.7 KiB each, domain/duplicates.RecentTickets); beyond it the oldest
    # fall back to the store's query
    duplicate_index_max_tickets: int = 50_000
    # Whether each process also hears the intakes and changes of the other replicas (a queue of its own); one
    # process alone knows its own tickets without it.
    duplicate_index_events: bool = True
    # The business calendar's working day (Asia/Shanghai), SPEC §3: OPS_WORK_DAY_START / OPS_WORK_DAY_END.
    work_day_start: time = time(8, 30)
    work_day_end: time = time(17, 30)
    # A received_at up to this far in the future is clock skew between the channel and us, taken as now.
    received_at_skew_seconds: float = 5.0
    # How often open tickets are brought up to a changed calendar or policy (one replica at a time).
    sla_recalculate_seconds: float = 30.0
    # Scheduled work (store/scheduled.py): how often breaches are looked for, how long before a complaint's
    # update_by its assignee is reminded, after how many business days without feedback a resolved ticket
    # closes as no_feedback (SPEC §3: 3), and how often that is looked for.
    sla_breach_scan_seconds: float = Field(30.0, gt=0)
    update_reminder_lead_seconds: float = Field(3600.0, gt=0)
    auto_close_days: float = Field(3.0, gt=0)
    auto_close_scan_seconds: float = Field(60.0, gt=0)
    # How often merges cut short by a dying process are looked for (events/merges.py: those a minute old).
    merge_recovery_seconds: float = Field(15.0, gt=0)
    # A one-time backfill is recorded done only when its passes have found nothing left for this long
    # (store/backfills.py): longer than a rolling deploy, whose older replicas still write the old shape.
    backfill_settle_seconds: float = Field(3600.0, ge=0)
    # Replays (kit/replay.py, a consumer rebuilding a read model): tickets per page (read, sent and confirmed
    # before the cursor moves on) and how long one pass of the job sends pages before it hands its lease back.
    replay_page: int = Field(300, gt=0, le=2000)
    replay_pass_seconds: float = Field(20.0, gt=0)

    @field_validator("webhook_allowed_networks", mode="before")
    @classmethod
    def networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        # a host address with its prefix (10.1.2.3/8) means the network it is in
        return [ipaddress.ip_network(v, strict=False) if isinstance(v, str) else v for v in value]
