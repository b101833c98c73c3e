"""The knowledge service against the real broker and store: candidates and reuses grown from `ticket.closed`,
poison messages dead-lettered, and the article API with its versions, states, auth and validation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import Envelope, TicketClosed
from contracts.vocabulary import Cause, Kind
from services.knowledge.main import create
from services.knowledge.settings import Settings
from tests.support import (captured, collect_dead_letters, dead_letters, eventually, publish, running, settings_for,
                           token)

CLOSED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def client(infra):
    async with running(create(settings_for(Settings, infra, "knowledge"))) as client:
        yield client


def product() -> str:
    """A product code of its own per test, so tests sharing the database do not see each other's candidates."""
    return "p" + uuid.uuid4().hex[:8]


def ticket_id() -> str:
    """Unique in the session and across stores of it: ticket ids are global, and knowledge's `closures` record
    counts each once whatever its product. (A counter restarted when pytest imported this module a second time
    under another name, and a random five-character suffix collided about once in 25 bursts of 300 tickets.)"""
    return f"ZX-20260302-{uuid.uuid4().hex[:12]}"


def closed_event(product_code: str, *, id: str | None = None, kind=Kind.consultation, cause=Cause.other,
                 title="如何登录移动办公？", answer="使用手机号和短信验证码登录。", sequence=7, city="济南",
                 closed_at=CLOSED_AT, **extra) -> Envelope:
    id = id or ticket_id()
    payload = TicketClosed(
        ticket_id=id, kind=kind, status="closed", channel="call_center", product_code=product_code, city=city,
        priority="normal", tier=1, tier_reached=1, opened_at=closed_at - timedelta(hours=3),
        respond_by=closed_at, resolve_by=closed_at + timedelta(days=2), resolved_at=closed_at - timedelta(hours=1),
        closed_at=closed_at, timely=True, cause=cause, satisfied=True, title=title,
        description="客户反映无法登录……", answer=answer, **extra)
    return Envelope.wrap(payload, type="ticket.closed", source="ticketing", subject=id, sequence=sequence,
                         correlationid=str(uuid.uuid4()))


async def candidates_of(client, infra, product_code: str) -> list[dict]:
    response = await client.get("/v1/candidates", params={"product_code": product_code},
                                headers=token(infra, "analyst"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


# --- candidates and reuses from ticket.closed --------------------------------------------------------------


async def test_same_question_twice_is_one_candidate_and_redelivery_counts_once(client, infra):
    code = product()
    first = closed_event(code, title="如何登录移动办公？")
    second = closed_event(code, title=" 如何 登录移动办公 ! ", answer="请联系客户经理开通账号")
    async with captured(infra, "knowledge.candidate.updated") as received:
        # the first counted before the others arrive: the consumer handles deliveries concurrently, so which of
        # two closes arriving together is counted first (and names the candidate) is not fixed
        await publish(infra, first)

        async def one_occurrence():
            items = await candidates_of(client, infra, code)
            return items and items[0]["occurrences"] == 1

        await eventually(one_occurrence, what="the first close counted")
        for envelope in (second, first, second):
            await publish(infra, envelope)

        async def two_occurrences():
            items = await candidates_of(client, infra, code)
            return items if items and items[0]["occurrences"] == 2 else None

        [candidate] = await eventually(two_occurrences, what="one candidate with 2 occurrences")

        async def both_events():
            ours = [e for e in await received() if e["data"]["product_code"] == code]
            return ours if len(ours) >= 2 else None

        events = await eventually(both_events, what="two knowledge.candidate.updated events")

    assert candidate["type"] == "service_script" and candidate["type_label"] == "客服口径"
    assert candidate["question"] == "如何登录移动办公？"
    assert sorted(candidate["ticket_ids"]) == sorted([first.subject, second.subject])
    assert [(a["answer"], a["count"]) for a in candidate["answers"]] == [("使用手机号和短信验证码登录。", 1),
                                                                         ("请联系客户经理开通账号", 1)]
    assert candidate["version"] == 2
    assert [(e["subject"], e["sequence"], e["data"]["occurrences"]) for e in events] == \
        [(candidate["id"], 1, 1), (candidate["id"], 2, 2)]

    one = await client.get(f"/v1/candidates/{candidate['id']}", headers=token(infra, "agent"))
    assert one.status_code == 200 and one.json()["occurrences"] == 2
    # The duplicates were processed after the second event: still 2 once the queue is drained.
    await publish(infra, closed_event(code, title="另一个问题"))
    await eventually(lambda: _count(client, infra, code, 2), what="the follow-up candidate")
    assert (await client.get(f"/v1/candidates/{candidate['id']}", headers=token(infra, "agent"))).json()[
        "occurrences"] == 2


async def _count(client, infra, code, n):
    return len(await candidates_of(client, infra, code)) == n


async def test_complaints_feed_faq_and_handbook_candidates_and_other_tickets_feed_none(client, infra):
    code = product()
    for kind, cause in [(Kind.complaint, Cause.usage_misunderstanding), (Kind.complaint, Cause.billing_error),
                        (Kind.complaint, Cause.network_or_platform), (Kind.suggestion, Cause.feature_request)]:
        await publish(infra, closed_event(code, kind=kind, cause=cause, title=f"{kind} {cause}"))
    await publish(infra, closed_event(code, title="最后一个咨询"))  # processed after the others
    await eventually(lambda: _count(client, infra, code, 3), what="three candidates")
    items = await candidates_of(client, infra, code)
    assert sorted(c["type"] for c in items) == ["complaint_guide", "faq", "service_script"]
    only_faq = await client.get("/v1/candidates", params={"product_code": code, "type": "faq"},
                                headers=token(infra, "product_manager"))
    assert [c["type"] for c in only_faq.json()["items"]] == ["faq"]


async def test_candidates_list_most_frequent_first_with_a_cursor(client, infra):
    code = product()
    for title, times in [("问题甲", 1), ("问题乙", 3), ("问题丙", 2)]:
        for _ in range(times):
            await publish(infra, closed_event(code, title=title))

    async def six():
        return sum(c["occurrences"] for c in await candidates_of(client, infra, code)) == 6

    await eventually(six, what="six tickets counted")
    seen, cursor = [], None
    while True:
        params = {"product_code": code, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/candidates", params=params, headers=token(infra, "analyst"))).json()
        seen += [(c["question"], c["occurrences"]) for c in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert seen == [("问题乙", 3), ("问题丙", 2), ("问题甲", 1)]


async def test_a_ticket_answered_from_an_article_counts_one_reuse(client, infra):
    code = product()
    article = await create_article(client, infra, code)
    envelope = closed_event(code, knowledge_article_id=article["id"])
    for _ in range(2):
        await publish(infra, envelope)
    await publish(infra, closed_event(code, knowledge_article_id="KB-999999"))  # unknown article: logged, acked
    marker = closed_event(code, title="之后的问题")
    await publish(infra, marker)
    await eventually(lambda: _count(client, infra, code, 1), what="the event after the reuses")

    got = (await client.get(f"/v1/articles/{article['id']}", headers=token(infra, "agent"))).json()
    assert (got["reuse_count"], got["reuse_by_month"], got["version"]) == (1, {"2026-03": 1}, 1)
    assert [c["question"] for c in await candidates_of(client, infra, code)] == ["之后的问题"]  # reuses grow none
    assert not [m for m in await dead_letters(infra, "knowledge.tickets")
                if json.loads(m.body).get("data", {}).get("product_code") == code]


async def test_poison_messages_are_dead_lettered_and_the_consumer_goes_on(client, infra):
    code = product()
    await publish(infra, b"not json", routing_key="ticket.closed")
    incomplete = closed_event(code).model_dump(mode="json")
    del incomplete["data"]["title"]
    await publish(infra, incomplete)
    await publish(infra, closed_event(code, title="毒消息之后"))

    await eventually(lambda: _count(client, infra, code, 1), what="the valid event after the poison")
    letters = await collect_dead_letters(infra, "knowledge.tickets", lambda got: len(got) >= 2,
                                         what="two dead letters")
    bodies = [m.body for m in letters]
    assert b"not json" in bodies
    assert [json.loads(b)["subject"] for b in bodies if b != b"not json"] == [incomplete["subject"]]
    assert {m.headers["x-error-type"] for m in letters} == {"ValidationError"}
    assert all(m.headers["x-queue"] == f"{infra.namespace}.knowledge.tickets" for m in letters)


# --- articles --------------------------------------------------------------------------------------------


async def create_article(client, infra, code, **overrides) -> dict:
    body = {"type": "faq", "product_code": code, "title": "如何登录", "body": "使用手机号登录。", "tags": ["登录"],
            **overrides}
    response = await client.post("/v1/articles", json=body, headers=token(infra, "agent"))
    assert response.status_code == 201, response.text
    return response.json()


async def test_article_versions_and_states(client, infra):
    code = product()
    pm = token(infra, "product_manager", products=[code])
    created = await create_article(client, infra, code)
    id = created["id"]
    assert id.startswith("KB-") and len(id) == 9
    assert (created["state"], created["version"], created["reuse_count"]) == ("draft", 1, 0)

    stale = await client.put(f"/v1/articles/{id}", json={"title": "x", "body": "y", "note": "n"},
                             headers={**token(infra, "agent"), "If-Match": '"2"'})
    assert stale.status_code == 412 and stale.headers["content-type"].startswith("application/problem+json")

    edited = await client.put(f"/v1/articles/{id}", json={"title": "如何登录移动办公", "body": "手机号 + 验证码。",
                                                          "note": "补充验证码登录"},
                              headers={**token(infra, "complaint_handler"), "If-Match": '"1"'})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.headers["etag"]) == (2, '"2"')

    async with captured(infra, "knowledge.article.*") as received:
        published = await client.post(f"/v1/articles/{id}/publish", headers={**pm, "If-Match": "2"})
        assert published.status_code == 200, published.text
        assert (published.json()["state"], published.json()["version"]) == ("published", 3)

        v1 = (await client.get(f"/v1/articles/{id}", params={"version": 1}, headers=token(infra, "agent"))).json()
        assert (v1["version"], v1["title"], v1["body"], v1["state"], v1["latest_version"]) == \
            (1, "如何登录", "使用手机号登录。", "draft", 3)
        latest = (await client.get(f"/v1/articles/{id}", headers=token(infra, "agent"))).json()
        assert (latest["title"], latest["state"]) == ("如何登录移动办公", "published")
        assert [v["version"] for v in latest["versions"]] == [1, 2, 3]
        missing = await client.get(f"/v1/articles/{id}", params={"version": 9}, headers=token(infra, "agent"))
        assert missing.status_code == 404

        archived = await client.post(f"/v1/articles/{id}/archive", headers={**pm, "If-Match": "3"})
        assert archived.json()["state"] == "archived"
        again = await client.post(f"/v1/articles/{id}/publish", headers={**pm, "If-Match": "4"})
        assert again.status_code == 409 and again.json()["type"] == "/problems/illegal-state"
        assert (await client.put(f"/v1/articles/{id}", json={"title": "x", "body": "y", "note": "n"},
                                 headers={**token(infra, "agent"), "If-Match": "4"})).status_code == 409

        async def two_events():
            ours = [e for e in await received() if e["subject"] == id]
            return ours if len(ours) >= 2 else None

        events = await eventually(two_events, what="published and archived events")
    assert [(e["type"], e["sequence"], e["data"]["version"]) for e in events] == \
        [("knowledge.article.published", 3, 3), ("knowledge.article.archived", 4, 4)]
    assert events[0]["data"]["title"] == "如何登录移动办公"


async def test_article_list_filters_and_pages(client, infra):
    code = product()
    ids = [(await create_article(client, infra, code, type=t))["id"] for t in ("faq", "faq", "service_script")]
    published = await client.post(f"/v1/articles/{ids[0]}/publish", headers={**token(infra, "admin"),
                                                                              "If-Match": "1"})
    assert published.status_code == 200, published.text
    reader = token(infra, "analyst")
    faqs = (await client.get("/v1/articles", params={"product_code": code, "type": "faq"}, headers=reader)).json()
    assert [a["id"] for a in faqs["items"]] == [ids[1], ids[0]]   # newest first
    drafts = (await client.get("/v1/articles", params={"product_code": code, "state": "draft"},
                               headers=reader)).json()
    assert {a["id"] for a in drafts["items"]} == {ids[1], ids[2]}
    first = (await client.get("/v1/articles", params={"product_code": code, "limit": 2}, headers=reader)).json()
    rest = (await client.get("/v1/articles", params={"product_code": code, "limit": 2,
                                                     "cursor": first["next_cursor"]}, headers=reader)).json()
    assert [a["id"] for a in first["items"] + rest["items"]] == ids[::-1] and rest["next_cursor"] is None


async def test_auth_roles_and_scope(client, infra):
    code = product()
    body = {"type": "faq", "product_code": code, "title": "t", "body": "b"}
    assert (await client.post("/v1/articles", json=body)).status_code == 401
    assert (await client.get("/v1/candidates")).status_code == 401
    forbidden = await client.post("/v1/articles", json=body, headers=token(infra, "vendor", vendor="acme"))
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/candidates", headers=token(infra, "vendor", vendor="acme"))).status_code == 403
    article = await create_article(client, infra, code)
    assert (await client.post(f"/v1/articles/{article['id']}/publish",
                              headers={**token(infra, "agent"), "If-Match": "1"})).status_code == 403
    other_pm = token(infra, "product_manager", products=["someone-else"])
    assert (await client.post(f"/v1/articles/{article['id']}/publish",
                              headers={**other_pm, "If-Match": "1"})).status_code == 403
    assert (await client.get(f"/v1/articles/{article['id']}", headers=token(infra, "agent"))).json()["state"] == \
        "draft"


async def test_bad_article_input_is_a_422_problem_and_writes_nothing(client, infra):
    code = product()
    bad = await client.post("/v1/articles", json={"type": "poem", "product_code": code, "title": " ", "body": "b"},
                            headers=token(infra, "agent"))
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in bad.json()["errors"]} == {"type", "title"}
    listed = await client.get("/v1/articles", params={"product_code": code}, headers=token(infra, "agent"))
    assert listed.json()["items"] == []
    assert (await client.get("/v1/articles/KB-000000", headers=token(infra, "agent"))).status_code == 404


async def test_operations_endpoints_describe_the_service(client):
    assert (await client.get("/healthz")).json()["service"] == "knowledge"
    assert (await client.get("/readyz")).json()["checks"] == {"store": True, "broker": True}
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/articles", "/v1/articles/{article_id}", "/v1/articles/{article_id}/publish",
            "/v1/articles/{article_id}/archive", "/v1/articles/{article_id}/diff", "/v1/candidates",
            "/v1/candidates/{candidate_id}", "/v1/trainings", "/v1/trainings/{training_id}"} <= set(paths)
    asyncapi = json.dumps((await client.get("/asyncapi.json")).json())
    for event_type in ("knowledge.article.published", "knowledge.article.archived", "knowledge.candidate.updated",
                       "knowledge.training.recorded"):
        assert event_type in asyncapi


async def test_a_burst_of_closes_on_one_question_counts_every_ticket(client, infra):
    """Many closes of the same question arrive at once: they all land on one hot candidate document, and
    none may be lost to write conflicts (nor dead-lettered)."""
    code = product()
    events = [closed_event(code) for _ in range(100)]
    await publish(infra, *events)

    async def all_counted():
        items = await candidates_of(client, infra, code)
        return items and items[0]["occurrences"] == len(events)

    await eventually(all_counted, timeout=30, what="every close counted on the one candidate")
    letters = await dead_letters(infra, "knowledge.tickets")
    assert not [m for m in letters if m.body.startswith(b"{") and json.loads(m.body)["data"]["product_code"] == code]
