"""A ticket closed as a duplicate (close_reason `merged`) answered nothing: it grows no candidate and counts no
reuse; the ticket it was merged into counts when it closes. Older closures (no close_reason) still count."""

from __future__ import annotations

from contracts.events import TicketClosed
from services.kit import metrics
from services.knowledge.domain.candidates import answered, grow, key_of
from services.knowledge.events.handlers import QUEUE
from tests.knowledge.test_api import candidates_of, client, closed_event, product  # noqa: F401 - the fixture
from tests.knowledge.test_domain import closed
from tests.support import eventually, publish


def test_a_merged_closure_feeds_no_candidate():
    merged = closed(close_reason="merged", merged_into="ZX-20260302-00009")
    assert not answered(merged) and key_of(merged) is None and grow(None, merged) is None
    assert key_of(closed()) is not None and grow(None, closed(close_reason="satisfied")) is not None


def test_a_version_1_closure_without_close_reason_still_counts():
    old = TicketClosed.model_validate({**closed().model_dump(mode="json"), "close_reason": "satisfied"})
    assert answered(old) and key_of(old) is not None


def closures_consumed(infra) -> float:
    return metrics.EVENTS_CONSUMED.labels("knowledge", f"{infra.namespace}.{QUEUE}", "ticket.closed", "ok")._value.get()


async def test_a_merged_closure_on_the_broker_is_consumed_and_grows_nothing(client, infra):  # noqa: F811
    code = product()
    before = closures_consumed(infra)
    duplicate = closed_event(code, title="如何登录移动办公？", close_reason="merged", merged_into="ZX-20260302-99999")
    answer = closed_event(code, title="如何登录移动办公？")
    await publish(infra, duplicate, answer)

    async def both_consumed():
        return closures_consumed(infra) >= before + 2

    await eventually(both_consumed, what="both closures consumed")
    [candidate] = await candidates_of(client, infra, code)
    assert candidate["ticket_ids"] == [answer.subject] and candidate["occurrences"] == 1
