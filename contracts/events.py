"""The event envelope (CloudEvents 1.0 in JSON) and the payload of every event type (SPEC §4).

Routing key = event type, on the topic exchange `ops.events`. `sequence` is the aggregate's version after
the change, so a consumer can ignore an older state arriving after a newer one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.vocabulary import ArticleType, Audience, Cause, Channel, Industry, Kind, Priority, Stage, TicketStatus

EXCHANGE = "ops.events"
DEAD_LETTER_EXCHANGE = "ops.dlx"

P = TypeVar("P", bound="EventData")


class EventData(BaseModel):
    """Base of every payload. Unknown fields are kept so that an older consumer tolerates a newer producer."""

    model_config = ConfigDict(extra="allow")

    DATAVERSION: ClassVar[str] = "1"


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes plus the two extensions SPEC §4 asks for (`correlationid`, `sequence`)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    source: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    dataversion: str = "1"
    correlationid: str
    sequence: int
    data: dict[str, Any]

    @classmethod
    def wrap(cls, payload: EventData, *, type: str, source: str, subject: str, sequence: int,
             correlationid: str) -> "Envelope":
        if EVENT_TYPES.get(type) is not payload.__class__:
            raise ValueError(f"{type!r} does not carry {payload.__class__.__name__}")
        return cls(type=type, source=source, subject=subject, sequence=sequence, correlationid=correlationid,
                   dataversion=payload.DATAVERSION, data=payload.model_dump(mode="json"))

    def payload(self, model: type[P]) -> P:
        return model.model_validate(self.data)


# --- ticketing -------------------------------------------------------------------------------------------


class TicketEvent(EventData):
    """Every ticket event carries the ticket's state after the change, so that a read model can be rebuilt
    from the newest event alone (order tolerance: highest `sequence` wins)."""

    ticket_id: str
    kind: Kind
    status: TicketStatus
    channel: Channel
    product_code: str
    city: str
    industry: Industry | None = None
    priority: Priority
    severity: int | None = None
    tier: int
    tier_reached: int
    assignee: str | None = None
    escalation_target: str | None = None
    opened_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    respond_by: datetime
    resolve_by: datetime
    # optional: producers before issue 8 did not send them (the clocks then ran from opened_at, no update clock)
    received_at: datetime | None = None
    update_by: datetime | None = None
    responded_timely: bool | None = None
    timely: bool | None = None
    cause: Cause | None = None
    satisfied: bool | None = None
    score: int | None = None
    reopen_count: int = 0
    escalation_count: int = 0
    knowledge_article_id: str | None = None
    actor: str | None = None
    # wall time spent pending (待补充) so far, waiting for the requester; business time comes with the SLA engine
    paused_seconds: float = 0


class TicketOpened(TicketEvent):
    title: str
    description: str
    # the customer group (集团) the ticket is about, by name and, when given, code: whose tickets these are, e.g.
    # for ticketing's own possible-duplicate index in every replica (optional: earlier producers did not send it)
    group_name: str | None = None
    group_code: str | None = None


class TicketAssigned(TicketEvent):
    pass


class TicketEscalated(TicketEvent):
    to_tier: int
    target: str
    reason: str


class TicketProgressNoted(TicketEvent):
    visibility: Literal["internal", "requester"]
    body: str | None = None  # only for a requester-visible note: what a channel's webhook forwards


class TicketResolved(TicketEvent):
    answer: str


class TicketReopened(TicketEvent):
    comment: str | None = None


class TicketClosed(TicketEvent):
    """What knowledge, lifecycle and analytics need from a closed ticket, without calling back.

    Version 2: `close_reason` may be `merged` (closed into `merged_into` as a duplicate: not an answer the
    requester was satisfied with; the target's own closure counts instead), which a version-1 model refuses."""

    DATAVERSION: ClassVar[str] = "2"

    title: str
    description: str
    answer: str
    comment: str | None = None
    close_reason: Literal["satisfied", "no_feedback", "merged"] = "satisfied"
    merged_into: str | None = None


class TicketPending(TicketEvent):
    """待补充: the ticket waits for the requester to supply `needed` (requester-visible; a channel forwards it)."""

    needed: str


class TicketRequesterReplied(TicketEvent):
    """The requester supplied what was needed: the ticket is back in the status and tier it was paused from."""

    body: str
    needed: str
    pause_seconds: float  # wall time of the pause this reply ends


class TicketAnswered(TicketEvent):
    """Hand-back (产品经理反馈…由客服人员答复): tier 2 or 3 proposed an answer and returned the ticket to the
    front line, which relays it. Internal: the requester hears the answer when the front line resolves."""

    answer: str
    proposed_cause: Cause | None = None
    from_tier: int
    from_target: str | None = None


class TicketMerged(TicketEvent):
    """The ticket was closed into `into` as a duplicate. ticketing consumes it itself to finish the target's half
    of the merge (its notes and requester onto `into`), so that half is never lost (services/ticketing/events/
    merges.py). `customer` is the requester that moves; the notes are read from the stored source."""

    into: str
    customer: dict[str, Any]
    filed_by: str
    moved_notes: int


class TicketAttachmentAdded(TicketEvent):
    """A file was attached to the ticket (its bytes stay in ticketing; GET …/attachments/{attachment_id})."""

    attachment_id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class TicketSlaBreached(TicketEvent):
    """A deadline of the ticket passed unmet (raised once per deadline and ticket; an update deadline once per
    `update_by` instant, since a complaint can miss its progress report again after each one).

    Version 2: `deadline` may be `update`; `deadline_at` (the instant missed) and `late_seconds` (how late the
    ticket was when the breach was raised, or when it met the deadline late if that came first) are new and
    optional, so a version-1 producer's events still validate."""

    DATAVERSION: ClassVar[str] = "2"

    deadline: Literal["respond", "resolve", "update"]
    deadline_at: datetime | None = None
    late_seconds: float | None = None


class TicketUpdateDue(TicketEvent):
    """Reminder for the assignee: a complaint's progress report to the requester (定期通报处理进度) is due within
    the reminder lead (an hour by default); once per `update_by` instant."""

    due_in_seconds: float


class SlaConfigChanged(EventData):
    """ticketing's business calendar or SLA policies changed (an admin's PUT). Every ticketing process reloads
    its copy from its own queue, so that intake computes deadlines without reading the store per request."""

    revision: int
    what: Literal["calendar", "policies"]
    year: int | None = None
    policy_version: int | None = None
    actor: str | None = None


class TicketSnapshot(TicketEvent):
    """The current state of one ticket, re-sent on a replay request (`replay.requested`, aggregate `ticket`) to
    the asking consumer's queue only, never to the exchange's subscribers. `sequence` is the ticket's current
    version, so a read model applies it like any other ticket event: a no-op on a document that is up to date, the
    newest state on one that is behind or absent. The envelope's `time` is the ticket's last change and its
    `correlationid` the request id.

    Beside the state, what a read model keeps of the ticket's history that no single state shows: the deadlines
    it breached (one `ticket.sla_breached` each, as they were raised) and how it was closed."""

    request_id: str
    title: str | None = None  # what the ticket asks: a report's questions are grouped by it
    breached_deadlines: list[Literal["respond", "resolve", "update"]] = []
    close_reason: Literal["satisfied", "no_feedback", "merged"] | None = None
    merged_into: str | None = None


# --- lifecycle -------------------------------------------------------------------------------------------


class ProductRegistered(EventData):
    code: str
    name: str
    kind: Literal["product", "platform"] = "product"
    platform_code: str | None = None
    stage: Stage
    product_managers: list[str] = []
    vendor: str | None = None
    sample: bool = False


class ProductStageChanged(EventData):
    """A product or platform moved stage (sequence = its version). Beside the move, what its consumers need
    without calling back: ticketing updates its catalog, knowledge opens the drafts of the trial-commercial pack
    when a product enters trial. `at` is when the move really happened (a centre may enter its history late);
    `override_reason` is set when an admin moved it past a gate that lacked something."""

    code: str
    from_stage: Stage
    to_stage: Stage
    note: str | None = None
    actor: str | None = None
    at: datetime | None = None
    name: str | None = None
    kind: Literal["product", "platform"] = "product"
    platform_code: str | None = None
    product_managers: list[str] = []
    vendor: str | None = None
    override_reason: str | None = None


class CatalogSyncRequested(EventData):
    """A consumer of the catalog that holds none of it asks lifecycle to announce every entry again (its queue
    may not have existed when lifecycle last announced them, e.g. on the first start of a fresh broker)."""

    requested_by: str


class BacklogItemShipped(EventData):
    """An optimisation backlog item (产品优化) shipped in a release: the loop 建议收集 → 产品优化 closes, and
    ticketing tells the channel of each ticket that raised it (`ticket_ids`). `sequence` is the item's version in
    the loop (the length of its history); `item_id` with `release` identifies the shipment."""

    product_code: str
    item_id: str
    title: str
    release: str
    shipped_at: datetime
    ticket_ids: list[str]


# --- knowledge -------------------------------------------------------------------------------------------


class ArticlePublished(EventData):
    article_id: str
    type: ArticleType
    product_code: str | None = None
    title: str
    version: int
    # Who may read it (issue 9); events from before audiences existed were all internal ones.
    audience: Audience = Audience.internal


class ArticleArchived(EventData):
    article_id: str
    type: ArticleType
    product_code: str | None = None
    version: int
    audience: Audience = Audience.internal


class CandidateUpdated(EventData):
    """A candidate grew (a closed ticket joined it) or was promoted or dismissed.

    Version 2: `ticket_ids` is the latest tickets only (at most 20; `occurrences` counts them all), no longer every
    ticket, so that the candidate stays small whatever its count; `state` (open | promoted | dismissed) is new."""

    DATAVERSION: ClassVar[str] = "2"

    candidate_id: str
    product_code: str
    type: ArticleType
    question: str
    occurrences: int
    ticket_ids: list[str]
    state: Literal["open", "promoted", "dismissed"] = "open"


class KcsMeasured(EventData):
    """A product's KCS figures of one month changed (subject `<product_code>:<YYYY-MM>`, sequence = their
    version): closed tickets that feed knowledge, of which linked to an article, new versus known, and the
    candidates promoted and dismissed that month (services/knowledge/domain/kcs.py defines each)."""

    product_code: str
    month: str
    closed: int
    linked: int
    reuses: int
    link_rate: float | None = None
    new: int
    known: int
    promoted: int
    dismissed: int
    version: int


class TrainingRecorded(EventData):
    """A training session held for a product (培训指导): lifecycle's trial → trial_commercial gate counts the
    cities trained ("training of the pilot cities recorded", SPEC §3). `sequence` is always 1: a record is
    written once."""

    training_id: str
    product_code: str
    cities: list[str]
    held_on: date
    attendance: int
    audience: str | None = None  # 培训对象, free text (e.g. 客户经理)
    material_article_id: str | None = None


# --- replays (services/kit/replay.py): any owner of aggregates re-sends their current state on request ----------


class ReplayRequested(EventData):
    """A consumer asks the owner of `aggregate` to re-send the current state of every one of them (e.g. one
    `ticket.snapshot` per ticket) to the queue `consumer` alone, then a `replay.completed`: how a read model is
    rebuilt from scratch. Published through the asker's outbox; `request_id` makes it idempotent."""

    request_id: str
    aggregate: str  # e.g. "ticket": each owner answers the aggregates it owns and ignores the others
    consumer: str  # the full name of the asker's queue, namespace included
    requested_by: str | None = None


class ReplayCompleted(EventData):
    """The last message of a replay, after every snapshot was confirmed by the broker: `count` snapshots were sent
    (a snapshot re-sent after the sender restarted mid-stream counts once)."""

    request_id: str
    aggregate: str
    count: int


# --- analytics -------------------------------------------------------------------------------------------


class AnomalyDetected(EventData):
    """A sudden change (突然变化) began: one event per episode, on its first anomalous day (subject: the anomaly id;
    docs/analytics-anomalies.md). `baseline` is the median of the reference days, `count` the day's volume (so far,
    when `partial`).

    Version 2: `direction` may be `drop` (a volume far below its baseline), which a version-1 reader, for whom every
    anomaly was a rise, would misread; the evidence fields after `baseline` are new and optional."""

    DATAVERSION: ClassVar[str] = "2"

    dimension: Literal["product_code", "city"]
    key: str
    day: str  # ISO date, Asia/Shanghai
    count: int
    baseline: float
    anomaly_id: str | None = None
    direction: Literal["spike", "drop"] = "spike"
    partial: bool = False  # the day was still in progress when it was judged (only a spike is judged so)
    day_kind: Literal["workday", "makeup_workday", "weekend", "holiday"] | None = None
    reference: str | None = None  # which days the baseline is the median of, in words
    sigma: float | None = None  # the robust spread (MAD × 1.4826, floored at √baseline and 1)
    threshold: float | None = None  # the count the day had to reach (spike) or fall to (drop)
    samples: list[dict[str, Any]] = []  # the reference days: [{"day": "2026-09-08", "count": 3}, ...]


EVENT_TYPES: dict[str, type[EventData]] = {
    "ticket.opened": TicketOpened,
    "ticket.assigned": TicketAssigned,
    "ticket.escalated": TicketEscalated,
    "ticket.progress_noted": TicketProgressNoted,
    "ticket.resolved": TicketResolved,
    "ticket.reopened": TicketReopened,
    "ticket.closed": TicketClosed,
    "ticket.pending": TicketPending,
    "ticket.requester_replied": TicketRequesterReplied,
    "ticket.answered": TicketAnswered,
    "ticket.merged": TicketMerged,
    "ticket.sla_breached": TicketSlaBreached,
    "ticket.update_due": TicketUpdateDue,
    "ticket.attachment_added": TicketAttachmentAdded,
    "ticket.snapshot": TicketSnapshot,
    "ticketing.sla_config.changed": SlaConfigChanged,
    "lifecycle.product.registered": ProductRegistered,
    "lifecycle.product.stage_changed": ProductStageChanged,
    "catalog.sync_requested": CatalogSyncRequested,
    "lifecycle.backlog_item.shipped": BacklogItemShipped,
    "knowledge.article.published": ArticlePublished,
    "knowledge.article.archived": ArticleArchived,
    "knowledge.candidate.updated": CandidateUpdated,
    "knowledge.training.recorded": TrainingRecorded,
    "knowledge.kcs.measured": KcsMeasured,
    "analytics.anomaly.detected": AnomalyDetected,
    "replay.requested": ReplayRequested,
    "replay.completed": ReplayCompleted,
}
