"""The ticket aggregate and its status machine (SPEC §3). Pure: no I/O; every action returns the event it owes.

new (受理) → in_progress (初步处理) → escalated (tier 2 产品经理 / tier 3 厂家) → resolved (答复) → closed (归档);
unsatisfied feedback reopens a resolved ticket to the front line (直至满意). in_progress/escalated → pending
(待补充) → back where it came from when the requester replies; escalated → in_progress at tier 1 when an upper
tier hands its answer back (产品经理反馈…由客服人员答复); any open ticket → closed as a duplicate of another (merge).
Anything else is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, model_validator

from contracts.events import (
    TicketAnswered, TicketAssigned, TicketAttachmentAdded, TicketClosed, TicketEscalated, TicketEvent, TicketMerged,
    TicketOpened, TicketPending, TicketProgressNoted, TicketReopened, TicketRequesterReplied, TicketResolved,
    TicketSlaBreached, TicketUpdateDue,
)
from contracts.vocabulary import Cause, Channel, Industry, Kind, Priority, TicketStatus
from services.ticketing.domain import sla
from services.ticketing.domain.attachments import Attachment
from services.ticketing.domain.schedule import SlaBreach

S = TicketStatus


class IllegalTransition(Exception):
    """The action is not allowed in the ticket's current status (HTTP 409)."""

    def __init__(self, action: str, status: TicketStatus, detail: str | None = None):
        self.action, self.status = action, status
        super().__init__(detail or f"'{action}' is not allowed while the ticket is {status.value}")


class MergeTargetRefused(IllegalTransition):
    """The ticket a merge goes `into` cannot take it (closed, resolved, merged or being merged away itself): a
    409 that names `into`, whether the target was found so when the merge was asked or when it was written."""

    def __init__(self, status: TicketStatus, into: str, detail: str):
        self.into = into
        super().__init__("merge", status, detail)


class RuleViolation(Exception):
    """The request is well-formed but breaks a domain rule (HTTP 422)."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


# action → statuses it may start from; the status it leads to is decided by the action itself
ALLOWED_FROM: dict[str, frozenset[TicketStatus]] = {
    "assign": frozenset({S.new, S.in_progress, S.escalated}),
    "escalate": frozenset({S.new, S.in_progress, S.escalated}),
    "notes": frozenset({S.new, S.in_progress, S.pending, S.escalated, S.resolved}),
    "resolve": frozenset({S.in_progress, S.escalated}),
    "feedback": frozenset({S.resolved}),
    "attach": frozenset({S.new, S.in_progress, S.pending, S.escalated, S.resolved}),  # as notes: not once archived
    # 待补充: while pending, notes still go on; assign, escalate and resolve wait for the requester's reply
    "pending": frozenset({S.in_progress, S.escalated}),
    "requester_reply": frozenset({S.pending}),
    # hand-back from tier 2 or 3 (an escalated ticket is always at tier ≥ 2)
    "answer": frozenset({S.escalated}),
    # the ticket closed as a duplicate: anything not closed yet (a resolved one waiting for feedback too)
    "merge": frozenset({S.new, S.in_progress, S.pending, S.escalated, S.resolved}),
    "auto_close": frozenset({S.resolved}),  # no feedback in time (domain/schedule.py)
}
# what a ticket may be merged into: one still being worked on, so that the requester moved onto it is answered
# with the rest (a resolved target has given its answer already, a closed one is archived)
MERGE_TARGET_STATUSES = frozenset({S.new, S.in_progress, S.pending, S.escalated})
CloseReason = Literal["satisfied", "no_feedback", "merged"]
MAX_ATTACHMENTS = 50  # per ticket: the list stays one page, the ticket document small


class Customer(BaseModel):
    name: str
    contact: str | None = None
    group_name: str
    group_code: str | None = None


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    actor: str
    actor_name: str | None = None
    from_status: TicketStatus | None = None
    to_status: TicketStatus
    details: dict[str, Any] = {}


class Note(BaseModel):
    at: datetime
    author: str
    body: str
    visibility: Literal["internal", "requester"]
    origin: str | None = None  # the ticket it was written on, when it came with a merged duplicate


class Pause(BaseModel):
    """One stretch of 待补充: from `start` (the request for `needed`) to `end` (the requester's `reply`; None while
    it lasts). The SLA engine derives deadlines from these (start, end) intervals; the ticket keeps them as they
    happened and shifts nothing itself."""

    start: datetime
    end: datetime | None = None
    needed: str
    resume_status: TicketStatus
    resume_tier: int
    reply: str | None = None


class ProposedAnswer(BaseModel):
    """What tier 2 or 3 handed back to the front line to relay (产品经理反馈…由客服人员答复)."""

    answer: str
    cause: Cause | None = None
    by: str
    by_name: str | None = None
    tier: int
    target: str | None = None
    at: datetime


class TierStep(BaseModel):
    """A change of the tier that holds the ticket: escalated up, handed back or reopened down to the front line."""

    tier: int
    via: Literal["escalate", "answer", "reopen"]
    target: str | None = None
    at: datetime


class RelatedRequester(BaseModel):
    """A requester whose duplicate ticket was merged into this one: answered with it."""

    ticket_id: str
    customer: Customer
    channel: Channel
    city: str
    filed_by: str
    at: datetime


class MergeIntent(BaseModel):
    """A merge under way (services/ticketing/events/merges.py): this ticket is reserved to be closed into `into`
    and takes no other action until the merge is finished or given up."""

    into: str
    at: datetime
    by: str
    by_name: str | None = None


class Escalation(BaseModel):
    tier: int
    target: str
    reason: str
    at: datetime


class Feedback(BaseModel):
    satisfied: bool
    score: int | None = None
    comment: str | None = None
    at: datetime


class Actor(BaseModel):
    sub: str
    name: str | None = None


class Ticket(BaseModel):
    id: str
    kind: Kind
    status: TicketStatus = S.new
    channel: Channel
    product_code: str
    city: str
    industry: Industry | None = None
    priority: Priority = Priority.normal
    severity: int | None = None
    title: str
    description: str
    customer: Customer
    tier: int = 1
    tier_reached: int = 1
    assignee: str | None = None
    escalation: Escalation | None = None
    escalated_to: list[str] = []
    respond_by: datetime
    resolve_by: datetime
    # SLA (domain/sla.py): the clocks run from received_at (when the requester contacted the channel, which may
    # be before the ticket was filed); update_by is the next progress report due (complaints, while open); the
    # policy version the deadlines follow and the revision of the SLA configuration they were computed under
    received_at: datetime
    update_by: datetime | None = None
    sla_policy_version: int = 1
    sla_revision: int = 0
    sla_paused_seconds: float = 0.0
    # scheduled work (domain/schedule.py): the breaches raised, kept whatever happens next, and the update_by
    # instants the assignee was reminded of
    sla_breaches: list[SlaBreach] = []
    update_reminders: list[datetime] = []
    # when the assignee was reminded of a report still unwritten; None once a requester-visible note is written
    # (domain/reminders.py)
    update_reminded_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    answer: str | None = None
    cause: Cause | None = None
    knowledge_article_id: str | None = None
    feedback: Feedback | None = None
    reopen_count: int = 0
    escalation_count: int = 0
    notes: list[Note] = []
    attachments: list[Attachment] = []
    pauses: list[Pause] = []
    proposed_answer: ProposedAnswer | None = None
    tier_path: list[TierStep] = []  # after opening at tier 1
    close_reason: CloseReason | None = None
    merged_into: str | None = None
    merged_from: list[str] = []
    merging: MergeIntent | None = None  # reserved for a merge into another ticket (reserve_merge … finish_merge)
    related_requesters: list[RelatedRequester] = []
    history: list[HistoryEntry] = []
    filed_by: str
    opened_at: datetime
    updated_at: datetime
    version: int = 1

    @model_validator(mode="before")
    @classmethod
    def received_when_opened_before_received_at_existed(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("received_at") is None and "opened_at" in data:
            data = {**data, "received_at": data["opened_at"]}
        return data

    # --- creation ---------------------------------------------------------------------------------------

    @classmethod
    def open(cls, *, id: str, kind: Kind, channel: Channel, product_code: str, city: str, title: str,
             description: str, customer: Customer, actor: Actor, now: datetime, industry: Industry | None = None,
             priority: Priority | None = None, severity: int | None = None, received_at: datetime | None = None,
             sla_config: sla.SlaConfig = sla.DEFAULT_CONFIG) -> tuple["Ticket", TicketOpened]:
        if kind == Kind.fault:
            severity = severity or 3
        elif severity is not None:
            raise RuleViolation("severity", "severity applies to faults only")
        if received_at is not None and received_at > now:
            raise RuleViolation("received_at", "lies in the future")
        received_at = received_at or now
        priority = priority or Priority.normal
        policy = sla_config.current
        found = sla.compute(sla_config.target(policy, kind, priority, severity), sla_config.calendar, kind=kind,
                            received_at=received_at)
        ticket = cls(id=id, kind=kind, channel=channel, product_code=product_code, city=city, industry=industry,
                     priority=priority, severity=severity, title=title, description=description,
                     customer=customer, respond_by=found.respond_by, resolve_by=found.resolve_by,
                     update_by=found.update_by, received_at=received_at, sla_policy_version=policy.version,
                     sla_revision=sla_config.revision, filed_by=actor.sub, opened_at=now, updated_at=now)
        ticket._record("open", actor, None, now, {"channel": channel.value})
        return ticket, TicketOpened(**ticket.state(actor), title=title, description=description,
                                    group_name=customer.group_name, group_code=customer.group_code)

    # --- actions ----------------------------------------------------------------------------------------

    def assign(self, assignee: str, actor: Actor, now: datetime) -> TicketAssigned:
        before = self._check("assign")
        self.assignee = assignee
        if self.status == S.new:
            self.status = S.in_progress
        self._record("assign", actor, before, now, {"assignee": assignee})
        return TicketAssigned(**self.state(actor))

    def escalate(self, tier: int, target: str, reason: str, actor: Actor, now: datetime) -> TicketEscalated:
        before = self._check("escalate")
        if tier not in (2, 3):
            raise RuleViolation("tier", "escalation goes to tier 2 (product manager) or 3 (vendor or other department)")
        if tier <= self.tier:
            raise IllegalTransition("escalate", self.status,
                                    f"the ticket is already at tier {self.tier}; escalation goes up (to tier {self.tier + 1}+)")
        self.status, self.tier = S.escalated, tier
        self.tier_reached = max(self.tier_reached, tier)
        self.escalation = Escalation(tier=tier, target=target, reason=reason, at=now)
        if target not in self.escalated_to:
            self.escalated_to = [*self.escalated_to, target]
        self.escalation_count += 1
        self.tier_path = [*self.tier_path, TierStep(tier=tier, via="escalate", target=target, at=now)]
        self._record("escalate", actor, before, now, {"tier": tier, "target": target, "reason": reason})
        return TicketEscalated(**self.state(actor), to_tier=tier, target=target, reason=reason)

    def add_note(self, body: str, visibility: Literal["internal", "requester"], actor: Actor,
                 now: datetime) -> TicketProgressNoted:
        before = self._check("notes")
        self.notes = [*self.notes, Note(at=now, author=actor.sub, body=body, visibility=visibility)]
        if visibility == "requester":
            self._responded(now)  # a progress report to the requester (定期通报处理进度) is a response
            self.update_reminded_at = None  # the report the assignee was reminded of is written
        self._record("notes", actor, before, now, {"visibility": visibility})
        return TicketProgressNoted(**self.state(actor), visibility=visibility,
                                   body=body if visibility == "requester" else None)

    def resolve(self, answer: str | None, cause: Cause | None, knowledge_article_id: str | None, actor: Actor,
                now: datetime) -> TicketResolved:
        """Answer the requester. After a hand-back the answer and cause default to the proposed ones (relayed
        as they are); the history says whether the front line relayed the proposal as it was or edited it."""
        before = self._check("resolve")
        proposal = self.proposed_answer
        answer = answer or (proposal.answer if proposal else None)
        cause = cause or (proposal.cause if proposal else None)
        if not answer:
            raise RuleViolation("answer", "an answer is required (there is no proposed answer to relay)")
        if cause is None:
            raise RuleViolation("cause", "a cause is required (the proposed answer names none)")
        self.status = S.resolved
        self.answer, self.cause, self.knowledge_article_id = answer, cause, knowledge_article_id
        self.resolved_at = now
        self._responded(now)
        details: dict[str, Any] = {"cause": cause.value, "knowledge_article_id": knowledge_article_id}
        if proposal is not None:
            details["relayed"] = {"from": proposal.by, "tier": proposal.tier, "edited": answer != proposal.answer}
            self.proposed_answer = None  # relayed: a later escalation's proposal starts afresh
        self._record("resolve", actor, before, now, details)
        return TicketResolved(**self.state(actor), answer=answer)

    def give_feedback(self, satisfied: bool, score: int | None, comment: str | None, actor: Actor,
                      now: datetime) -> TicketClosed | TicketReopened:
        before = self._check("feedback")
        self.feedback = Feedback(satisfied=satisfied, score=score, comment=comment, at=now)
        if satisfied:
            self.status, self.closed_at, self.close_reason = S.closed, now, "satisfied"
            self._record("feedback", actor, before, now, {"satisfied": True, "score": score})
            return TicketClosed(**self.state(actor), title=self.title, description=self.description,
                                answer=self.answer or "", comment=comment, close_reason="satisfied")
        # 直至投诉者满意: back to the front line, which re-investigates and may escalate again
        self.status, self.tier, self.reopen_count = S.in_progress, 1, self.reopen_count + 1
        self.escalation = None
        self.tier_path = [*self.tier_path, TierStep(tier=1, via="reopen", at=now)]
        self._record("feedback", actor, before, now, {"satisfied": False, "score": score, "comment": comment})
        return TicketReopened(**self.state(actor), comment=comment)

    def attach(self, attachment: Attachment, actor: Actor, now: datetime) -> TicketAttachmentAdded:
        before = self._check("attach")
        if len(self.attachments) >= MAX_ATTACHMENTS:
            raise RuleViolation("file", f"a ticket holds at most {MAX_ATTACHMENTS} attachments")
        self.attachments = [*self.attachments, attachment]
        self._record("attach", actor, before, now, {"attachment_id": attachment.id, "filename": attachment.filename,
                                                    "content_type": attachment.content_type, "size": attachment.size})
        return TicketAttachmentAdded(**self.state(actor), attachment_id=attachment.id, filename=attachment.filename,
                                     content_type=attachment.content_type, size=attachment.size,
                                     sha256=attachment.sha256)

    def request_information(self, needed: str, actor: Actor, now: datetime) -> TicketPending:
        """待补充: ask the requester for `needed`; the ticket waits, and comes back to this status and tier."""
        before = self._check("pending")
        self.pauses = [*self.pauses, Pause(start=now, needed=needed, resume_status=self.status,
                                           resume_tier=self.tier)]
        self.status = S.pending
        self._responded(now)  # the requester hears from us: asking what is missing is a response
        self._record("pending", actor, before, now, {"needed": needed})
        return TicketPending(**self.state(actor), needed=needed)

    def requester_reply(self, body: str, actor: Actor, now: datetime) -> TicketRequesterReplied:
        """The requester supplied what was needed: back to the status and tier the ticket was paused from.
        The reply stays with the pause it ends (not as a note: notes are staff's reports to the requester, and
        a requester-visible note counts as a response, which a requester's own words must not)."""
        before = self._check("requester_reply")
        pause = self.pauses[-1].model_copy(update={"end": now, "reply": body})
        self.pauses = [*self.pauses[:-1], pause]
        self.status, self.tier = pause.resume_status, pause.resume_tier
        seconds = (now - pause.start).total_seconds()
        self._record("requester_reply", actor, before, now, {"pause_seconds": seconds,
                                                             "resumed_status": pause.resume_status.value,
                                                             "resumed_tier": pause.resume_tier})
        return TicketRequesterReplied(**self.state(actor), body=body, needed=pause.needed, pause_seconds=seconds)

    def hand_back(self, answer: str, cause: Cause | None, actor: Actor, now: datetime) -> TicketAnswered:
        """产品经理反馈…由客服人员答复: tier 2 or 3 hands its answer back to the front line (tier 1, in_progress),
        which relays it when it resolves. The escalation ends (its target no longer acts on the ticket); the tiers
        it went through stay in `tier_path` and the history."""
        before = self._check("answer")
        if self.tier < 2:
            raise IllegalTransition("answer", self.status, "only tier 2 or 3 hands an answer back to the front line")
        from_tier, target = self.tier, self.escalation.target if self.escalation else None
        self.proposed_answer = ProposedAnswer(answer=answer, cause=cause, by=actor.sub, by_name=actor.name,
                                              tier=from_tier, target=target, at=now)
        self.status, self.tier, self.escalation = S.in_progress, 1, None
        self.tier_path = [*self.tier_path, TierStep(tier=1, via="answer", target=target, at=now)]
        self._record("answer", actor, before, now, {"from_tier": from_tier, "target": target,
                                                    "cause": cause.value if cause else None})
        return TicketAnswered(**self.state(actor), answer=answer, proposed_cause=cause, from_tier=from_tier,
                              from_target=target)

    def merge_into(self, target: "Ticket", actor: Actor, now: datetime) -> tuple[TicketMerged, TicketClosed]:
        """Close this ticket as a duplicate of `target` (close_reason `merged`) in one step: only this ticket
        changes here; `target.absorb` is the other half. The API goes through the reservation instead
        (`reserve_merge`, `target.take_in`, `finish_merge`: services/ticketing/events/merges.py), so that the
        target is checked when it is written, not only when it was read. Refused into itself, into a ticket not
        being worked on any more, and across products or kinds: a duplicate asks the same of the same product,
        and a complaint must not lose its own deadlines (the regulator's 15 days) inside a consultation."""
        before = self._check("merge")
        self._mergeable_into(target)
        return self._close_merged(target.id, before, actor, now)

    def reserve_merge(self, target: "Ticket", actor: Actor, now: datetime) -> MergeIntent:
        """The first step of a merge: the same checks as `merge_into` against the target as read, then this
        ticket is reserved for it (`merging`): every other action, and a merge into it, waits (409) until
        `finish_merge` closes it or `release_merge` gives the merge up. No version of its own: nothing the
        requester or a reader acts on has changed yet."""
        self._check("merge")
        self._mergeable_into(target)
        self.merging = MergeIntent(into=target.id, at=now, by=actor.sub, by_name=actor.name)
        return self.merging

    def finish_merge(self, into: str, actor: Actor, now: datetime) -> tuple[TicketMerged, TicketClosed] | None:
        """The last step: the target has taken this ticket in (`take_in`), so it closes as merged into it, as
        `merge_into` would. None when it is closed into `into` already (finished before: by the recovery, say)."""
        if self.merged_into == into and self.status == S.closed:
            return None
        if self.merging is None or self.merging.into != into:
            raise IllegalTransition("merge", self.status, f"ticket {self.id} is not being merged into {into}")
        before = self.status
        if before not in ALLOWED_FROM["merge"]:
            raise IllegalTransition("merge", before)
        self.merging = None
        return self._close_merged(into, before, actor, now)

    def release_merge(self, into: str) -> bool:
        """Give up a merge into `into` that the target refused (or that never got that far): the reservation
        goes, nothing else had changed. False when there was none for `into`."""
        if self.merging is None or self.merging.into != into:
            return False
        self.merging = None
        return True

    def take_in(self, source: "Ticket", actor: Actor, now: datetime) -> bool:
        """The target's half of a merge, checked against this ticket as it is now (at write time): it must
        still be worked on and not be merged away itself, else MergeTargetRefused. Then `absorb`."""
        if self.status not in MERGE_TARGET_STATUSES:
            raise MergeTargetRefused(self.status, self.id, f"ticket {self.id} is {self.status.value}: merge into a "
                                     "ticket still being worked on (new, in_progress, pending or escalated)")
        if self.merging is not None:
            raise MergeTargetRefused(self.status, self.id, f"ticket {self.id} is being merged into "
                                     f"{self.merging.into} itself")
        source._same_question(self)
        return self.absorb(source, actor, now)

    def _mergeable_into(self, target: "Ticket") -> None:
        if target.id == self.id:
            raise RuleViolation("into", "a ticket cannot be merged into itself")
        if target.status not in MERGE_TARGET_STATUSES:
            raise MergeTargetRefused(self.status, target.id,
                                     f"ticket {target.id} is {target.status.value}: merge into a ticket still being "
                                     "worked on (new, in_progress, pending or escalated)")
        if target.merging is not None:
            raise MergeTargetRefused(self.status, target.id, f"ticket {target.id} is being merged into "
                                     f"{target.merging.into} itself")
        self._same_question(target)

    def _same_question(self, target: "Ticket") -> None:
        if target.product_code != self.product_code:
            raise RuleViolation("into", f"ticket {target.id} is about product {target.product_code}, this one about "
                                        f"{self.product_code}: only duplicates of one product are merged")
        if target.kind != self.kind:
            raise RuleViolation("into", f"ticket {target.id} is a {target.kind.value}, this one a {self.kind.value}: "
                                        "only tickets of one kind are merged")

    def _close_merged(self, into: str, before: TicketStatus, actor: Actor,
                      now: datetime) -> tuple[TicketMerged, TicketClosed]:
        if self.status == S.pending:  # the wait for the requester ends with the ticket
            self.pauses = [*self.pauses[:-1], self.pauses[-1].model_copy(update={"end": now})]
        self.status, self.closed_at, self.close_reason, self.merged_into = S.closed, now, "merged", into
        self._record("merge", actor, before, now, {"into": into, "notes": len(self.notes)})
        merged = TicketMerged(**self.state(actor), into=into, customer=self.customer.model_dump(),
                              filed_by=self.filed_by, moved_notes=len(self.notes))
        closed = TicketClosed(**self.state(actor), title=self.title, description=self.description,
                              answer=self.answer or "", close_reason="merged", merged_into=into)
        return merged, closed

    def absorb(self, source: "Ticket", actor: Actor, now: datetime) -> bool:
        """The target's half of a merge: `source`'s notes (marked with their origin) and requester (with those
        merged into it before) come onto this ticket, and its history says so. Idempotent: a source already
        absorbed changes nothing (returns False). Recorded whatever this ticket's status is by now, so that what
        the source carried is never lost."""
        if source.id in self.merged_from:
            return False
        moved = [n if n.origin else n.model_copy(update={"origin": source.id}) for n in source.notes]
        requester = RelatedRequester(ticket_id=source.id, customer=source.customer, channel=source.channel,
                                     city=source.city, filed_by=source.filed_by, at=now)
        self.notes = sorted([*self.notes, *moved], key=lambda n: n.at)
        self.related_requesters = [*self.related_requesters, requester, *source.related_requesters]
        self.merged_from = [*self.merged_from, source.id]
        self.version += 1
        self.updated_at = now
        self.history = [*self.history, HistoryEntry(
            at=now, action="merged_in", actor=actor.sub, actor_name=actor.name, from_status=self.status,
            to_status=self.status, details={"from": source.id, "notes": len(moved),
                                            "requesters": 1 + len(source.related_requesters)})]
        return True

    # --- scheduled work (domain/schedule.py decides when) ---------------------------------------------

    def record_breaches(self, breaches: list[SlaBreach], actor: Actor, now: datetime) -> list[TicketSlaBreached]:
        """Keep the breaches on the ticket (one version for all), one `ticket.sla_breached` each."""
        self.sla_breaches = [*self.sla_breaches, *breaches]
        self._record("sla_breached", actor, self.status, now,
                     {"breaches": [b.model_dump(mode="json", exclude={"raised_at"}) for b in breaches]})
        return [TicketSlaBreached(**self.state(actor), deadline=b.deadline, deadline_at=b.deadline_at,
                                  late_seconds=b.late_seconds) for b in breaches]

    def remind_update(self, actor: Actor, now: datetime) -> TicketUpdateDue:
        """The assignee is reminded that the progress report due at `update_by` is near (once per instant)."""
        assert self.update_by is not None
        self.update_reminders = [*self.update_reminders, self.update_by]
        self.update_reminded_at = now
        self._record("update_reminded", actor, self.status, now, {"update_by": self.update_by.isoformat(),
                                                                  "assignee": self.assignee})
        return TicketUpdateDue(**self.state(actor), due_in_seconds=(self.update_by - now).total_seconds())

    def auto_close(self, actor: Actor, now: datetime) -> TicketClosed:
        """No feedback in time (SPEC §3): closed as `no_feedback`, with no satisfaction either way (an
        unsatisfied answer to an earlier resolution stays on the ticket, but says nothing about this one)."""
        before = self._check("auto_close")
        self.status, self.closed_at, self.close_reason = S.closed, now, "no_feedback"
        self._record("auto_close", actor, before, now, {"close_reason": "no_feedback",
                                                        "resolved_at": self.resolved_at.isoformat()
                                                        if self.resolved_at else None})
        return TicketClosed(**{**self.state(actor), "satisfied": None, "score": None}, title=self.title,
                            description=self.description, answer=self.answer or "", close_reason="no_feedback")

    # --- derived ----------------------------------------------------------------------------------------

    def paused_seconds(self, now: datetime | None = None) -> float:
        """Wall time spent pending; an open pause counts up to `now` (by default the last change)."""
        until = now or self.updated_at
        return sum(((p.end or max(until, p.start)) - p.start).total_seconds() for p in self.pauses)

    @property
    def responded_timely(self) -> bool | None:
        return None if self.first_response_at is None else self.first_response_at <= self.respond_by

    @property
    def timely(self) -> bool | None:
        """及时: resolved by its resolve deadline (the latest resolution counts)."""
        return None if self.resolved_at is None else self.resolved_at <= self.resolve_by

    def breached(self, now: datetime) -> bool:
        """Past a deadline now (respond, resolve, update), or answered or resolved after one."""
        return any(now > deadline for deadline in self.deadlines_in_play())

    def deadlines_in_play(self) -> list[datetime]:
        """The deadlines that make the ticket breached once `now` passes them, while it stays as it is: a
        response or resolution in time takes its deadline out, a late one keeps it (it stays late). While a pause
        is open the clocks stand still: only a deadline already passed when it began counts, and a complaint's
        15-day limit, which runs pause or not."""
        resolved = self.status in (S.resolved, S.closed)
        in_play = []
        if self.first_response_at is None or self.first_response_at > self.respond_by:
            in_play.append(self.respond_by)
        ended = self.resolved_at or self.closed_at  # a duplicate closed by a merge was never resolved
        if not resolved or ended is None or ended > self.resolve_by:
            in_play.append(self.resolve_by)
        if self.update_by is not None and not resolved:
            in_play.append(self.update_by)
        paused_since = next((start for start, end in self.pause_intervals() if end is None), None)
        if paused_since is not None and not resolved:
            late_already = [d for d in in_play if d < paused_since
                            or (d == self.respond_by and self.first_response_at is not None)]
            limit = sla.resolve_limit(self.kind, self.received_at)
            in_play = late_already + ([limit] if limit is not None else [])
        # a breach raised stays: a late note moves update_by on, the missed report stays missed
        return in_play + [b.deadline_at for b in self.sla_breaches]

    def pause_intervals(self) -> list[tuple[datetime, datetime | None]]:
        """The paused intervals (待补充) as (start, end or None), from `pauses` when the ticket has them."""
        return [(p["start"], p.get("end")) if isinstance(p, dict) else (p.start, p.end)
                for p in getattr(self, "pauses", None) or ()]

    def last_requester_contact(self) -> datetime | None:
        """The last time the requester heard from us or we from them: a requester-visible note, the answer,
        their feedback. The update clock (定期通报处理进度) restarts from it."""
        moments = [n.at for n in self.notes if n.visibility == "requester"]
        moments += [m for m in (self.resolved_at, self.feedback.at if self.feedback else None) if m is not None]
        return max(moments, default=None)

    def recalculate_sla(self, config: sla.SlaConfig, as_of: datetime) -> dict[str, Any] | None:
        """Set the deadlines from `config` and the ticket's own history (pauses, contacts); the old and new
        values when the calendar or the policy moved them (a config newer than the one they were computed
        under), else None: a deadline that moves because of the ticket's own action (a note restarts the update
        clock, a pause ends) needs no word in the history."""
        policy = config.policy_for(self.sla_policy_version)
        before = {"respond_by": self.respond_by, "resolve_by": self.resolve_by, "update_by": self.update_by,
                  "sla_policy_version": self.sla_policy_version, "sla_revision": self.sla_revision}
        # as the clocks stood at the ticket's last change (its own writes recompute): deadlines that only
        # depend on what happened, not on when the recalculation ran
        moment = min(as_of, self.updated_at)
        found = sla.compute(config.target(policy, self.kind, self.priority, self.severity), config.calendar,
                            kind=self.kind, received_at=self.received_at, pauses=self.pause_intervals(),
                            last_contact=self.last_requester_contact(),
                            open_=self.status not in (S.resolved, S.closed), as_of=moment)
        moved_by_config = config.revision != self.sla_revision or policy.version != self.sla_policy_version
        self.respond_by, self.resolve_by, self.update_by = found.respond_by, found.resolve_by, found.update_by
        self.sla_paused_seconds = found.paused.total_seconds()
        self.sla_policy_version, self.sla_revision = policy.version, config.revision
        after = {"respond_by": self.respond_by, "resolve_by": self.resolve_by, "update_by": self.update_by,
                 "sla_policy_version": self.sla_policy_version, "sla_revision": self.sla_revision}
        if not moved_by_config or all(before[k] == after[k] for k in ("respond_by", "resolve_by", "update_by",
                                                                       "sla_policy_version")):
            return None
        return {"before": before, "after": after}

    def record_sla_recalculated(self, change: dict[str, Any], actor: Actor, now: datetime, *,
                                new_version: bool) -> None:
        """The history entry of a recalculation (`sla_recalculated`, old and new deadlines); a version of its
        own when it is the only change (the background job), none when it rides on an action."""
        if new_version:
            self.version += 1
        self.updated_at = max(self.updated_at, now) if new_version else self.updated_at
        self.history = [*self.history, HistoryEntry(at=now, action="sla_recalculated", actor=actor.sub,
                                                    actor_name=actor.name, from_status=self.status,
                                                    to_status=self.status, details=change)]

    def state(self, actor: Actor | None = None) -> dict[str, Any]:
        """The fields every ticket event carries (contracts.events.TicketEvent)."""
        return dict(
            ticket_id=self.id, kind=self.kind, status=self.status, channel=self.channel,
            product_code=self.product_code, city=self.city, industry=self.industry, priority=self.priority,
            severity=self.severity, tier=self.tier, tier_reached=self.tier_reached, assignee=self.assignee,
            escalation_target=self.escalation.target if self.escalation else None, opened_at=self.opened_at,
            first_response_at=self.first_response_at, resolved_at=self.resolved_at, closed_at=self.closed_at,
            respond_by=self.respond_by, resolve_by=self.resolve_by, received_at=self.received_at,
            update_by=self.update_by, responded_timely=self.responded_timely,
            timely=self.timely, cause=self.cause, satisfied=self.feedback.satisfied if self.feedback else None,
            score=self.feedback.score if self.feedback else None, reopen_count=self.reopen_count,
            escalation_count=self.escalation_count, knowledge_article_id=self.knowledge_article_id,
            actor=actor.sub if actor else None, paused_seconds=self.paused_seconds(),
        )

    # --- internals --------------------------------------------------------------------------------------

    def _check(self, action: str) -> TicketStatus:
        if self.status not in ALLOWED_FROM[action]:
            raise IllegalTransition(action, self.status)
        if self.merging is not None:
            raise IllegalTransition(action, self.status, f"ticket {self.id} is being merged into "
                                    f"{self.merging.into}; try again in a moment")
        return self.status

    def _responded(self, now: datetime) -> None:
        if self.first_response_at is None:
            self.first_response_at = now

    def _record(self, action: str, actor: Actor, before: TicketStatus | None, now: datetime,
                details: dict[str, Any]) -> None:
        if before is not None:
            self.version += 1
        self.updated_at = now
        self.history = [*self.history, HistoryEntry(at=now, action=action, actor=actor.sub, actor_name=actor.name,
                                                    from_status=before, to_status=self.status, details=details)]


EVENT_TYPE = {
    TicketOpened: "ticket.opened", TicketAssigned: "ticket.assigned", TicketEscalated: "ticket.escalated",
    TicketProgressNoted: "ticket.progress_noted", TicketResolved: "ticket.resolved",
    TicketReopened: "ticket.reopened", TicketClosed: "ticket.closed",
    TicketAttachmentAdded: "ticket.attachment_added",
    TicketPending: "ticket.pending", TicketRequesterReplied: "ticket.requester_replied",
    TicketAnswered: "ticket.answered", TicketMerged: "ticket.merged",
    TicketSlaBreached: "ticket.sla_breached", TicketUpdateDue: "ticket.update_due",
}


def event_type(event: TicketEvent) -> str:
    return EVENT_TYPE[type(event)]
