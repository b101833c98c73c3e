"""The flows of issue 8 through ticketing's API, the real store and the real broker: pending (待补充) and the
requester's reply, the hand-back of an upper tier's answer and its relay, the merge of a duplicate (also when
the process dies between its two writes), and the events each of them publishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts.events import Envelope
from services.kit import metrics
from services.ticketing.events import merges
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.domain.ticket import Actor
from services.ticketing.store.collections import TICKETS, from_document, to_document
from tests.support import captured, eventually, publish, running, settings_for, token
from tests.ticketing.test_intake import register, ticket

SERVICE = "ticketing-flows"


@pytest.fixture(scope="module")
async def env(infra):
    """The service with two products of its own, and the tokens the tests act with."""
    app = create(settings_for(Settings, infra, SERVICE))
    async with running(app) as client:
        product, other_product = "p_" + uuid.uuid4().hex[:8], "p_" + uuid.uuid4().hex[:8]
        await register(infra, product)
        await register(infra, other_product)
        staff = token(infra, "agent", sub="agent-flows")

        async def knows_both():
            answers = [await client.post("/v1/tickets", json=ticket(p, title="probe"), headers=staff)
                       for p in (product, other_product)]
            return all(r.status_code == 201 for r in answers)

        await eventually(knows_both, what="the catalog knows both products")
        yield {"client": client, "app": app, "product": product, "other_product": other_product, "staff": staff,
               "pm": token(infra, "product_manager", sub="pm-01", products=[product]),
               "other_pm": token(infra, "product_manager", sub="pm-02", products=[other_product]),
               "vendor": token(infra, "vendor", sub="vendor-a-user", vendor="vendor-a"),
               "other_vendor": token(infra, "vendor", sub="vendor-b-user", vendor="vendor-b"),
               "intake": token(infra, "intake", sub="crm-flows"),
               "other_intake": token(infra, "intake", sub="crm-elsewhere"),
               "qingdao_manager": token(infra, "account_manager", sub="am-qd", city="青岛"),
               "jinan_manager": token(infra, "account_manager", sub="am-jn", city="济南"),
               "analyst": token(infra, "analyst")}


async def opened(env, by="staff", **overrides) -> dict:
    r = await env["client"].post("/v1/tickets", json=ticket(env["product"], **overrides), headers=env[by])
    assert r.status_code == 201, r.text
    return r.json()


async def post(env, tid: str, action: str, body: dict, by="staff", **headers):
    return await env["client"].post(f"/v1/tickets/{tid}/{action}", json=body, headers={**env[by], **headers})


async def in_progress(env, by="staff", **overrides) -> str:
    tid = (await opened(env, by, **overrides))["id"]
    assert (await post(env, tid, "assign", {"assignee": "agent-flows"})).status_code == 200
    return tid


async def events_of(received, tid: str, count: int) -> list[dict]:
    async def arrived():
        ours = [e for e in await received() if e["subject"] == tid]
        return ours if len(ours) >= count else None

    return await eventually(arrived, what=f"{count} events of {tid}")


def problem(r, status: int, slug: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if slug:
        assert r.json()["type"] == f"/problems/{slug}"
    return r.json()


# --- pending (待补充) ---------------------------------------------------------------------------------------

async def test_pending_and_the_requester_reply_return_the_ticket_where_it_was(env, infra):
    async with captured(infra, "ticket.*") as received:
        tid = await in_progress(env, by="intake")
        r = await post(env, tid, "escalate", {"tier": 2, "target": "pm-01", "reason": "需产品经理确认"})
        r = await post(env, tid, "pending", {"needed": "请提供登录失败截图"}, **{"If-Match": r.headers["ETag"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["status_label"], body["tier"]) == ("pending", "待补充", 2)
        assert body["pauses"][0]["needed"] == "请提供登录失败截图" and body["pauses"][0]["end"] is None

        # while pending: notes yes, assign / escalate / resolve no
        assert (await post(env, tid, "notes", {"body": "等待用户补充"})).status_code == 200
        refused = problem(await post(env, tid, "assign", {"assignee": "x"}), 409, "illegal-transition")
        assert refused["ticket_status"] == "pending" and "requester_reply" in refused["allowed_actions"]
        problem(await post(env, tid, "resolve", {"answer": "x", "cause": "other"}), 409)

        r = await post(env, tid, "requester-reply", {"body": "截图已上传"}, by="intake")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["tier"]) == ("escalated", 2) and body["escalation"]["target"] == "pm-01"
        assert body["pauses"][0]["reply"] == "截图已上传" and body["pauses"][0]["end"] is not None
        assert body["paused_seconds"] > 0 and not any(n["body"] == "截图已上传" for n in body["notes"])
        history = (await env["client"].get(f"/v1/tickets/{tid}/history", headers=env["staff"])).json()["items"]
        assert [h["action"] for h in history] == ["open", "assign", "escalate", "pending", "notes",
                                                  "requester_reply"]

        events = await events_of(received, tid, 6)
        by_type = {e["type"]: e["data"] for e in events}
        assert by_type["ticket.pending"]["needed"] == "请提供登录失败截图"
        replied = by_type["ticket.requester_replied"]
        assert replied["body"] == "截图已上传" and replied["status"] == "escalated" and replied["paused_seconds"] > 0
        assert by_type["ticket.progress_noted"]["body"] is None  # an internal note's body stays in ticketing


async def test_pending_refusals(env):
    tid = (await opened(env))["id"]
    problem(await post(env, tid, "pending", {"needed": "x"}), 409, "illegal-transition")  # new
    await post(env, tid, "assign", {"assignee": "agent-flows"})
    problem(await post(env, tid, "requester-reply", {"body": "x"}, by="qingdao_manager"), 409)  # not pending
    problem(await post(env, tid, "pending", {"needed": ""}), 422, "validation-error")
    assert problem(await post(env, tid, "pending", {"need": "x"}), 422)["errors"]
    problem(await post(env, tid, "pending", {"needed": "x"}, by="analyst"), 403, "forbidden")
    problem(await post(env, tid, "pending", {"needed": "x"}, by="vendor"), 403, "forbidden")
    problem(await post(env, tid, "pending", {"needed": "x"}, by="other_pm"), 403, "out-of-scope")
    problem(await post(env, tid, "pending", {"needed": "x"}, **{"If-Match": '"1"'}), 412, "version-mismatch")
    assert (await post(env, tid, "pending", {"needed": "x"}, **{"If-Match": '"2"'})).status_code == 200

    # the requester's words come from the channel that filed it or the city's account manager
    problem(await post(env, tid, "requester-reply", {"body": "x"}, by="other_intake"), 403, "out-of-scope")
    problem(await post(env, tid, "requester-reply", {"body": "x"}, by="jinan_manager"), 403, "out-of-scope")
    problem(await post(env, tid, "requester-reply", {"body": "x"}, by="pm"), 403, "forbidden")
    problem(await post(env, tid, "requester-reply", {"body": " "}, by="qingdao_manager"), 422)
    problem(await post(env, tid, "requester-reply", {"body": "x"}, by="qingdao_manager", **{"If-Match": '"2"'}), 412)
    r = await post(env, tid, "requester-reply", {"body": "补充完毕"}, by="qingdao_manager")
    assert r.status_code == 200 and r.json()["status"] == "in_progress"


# --- hand-back (产品经理反馈…由客服人员答复) ---------------------------------------------------------------------

async def test_the_product_manager_hands_back_and_the_front_line_relays(env, infra):
    async with captured(infra, "ticket.*") as received:
        tid = await in_progress(env)
        await post(env, tid, "escalate", {"tier": 2, "target": "pm-01", "reason": "口径不明"})
        r = await post(env, tid, "answer", {"answer": "请在管理后台重新启用账号", "cause": "usage_misunderstanding"},
                       by="pm", **{"If-Match": '"3"'})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["tier"], body["tier_reached"]) == ("in_progress", 1, 2)
        assert body["proposed_answer"]["answer"] == "请在管理后台重新启用账号" and body["proposed_answer"]["tier"] == 2
        assert [(s["tier"], s["via"]) for s in body["tier_path"]] == [(1, "open"), (2, "escalate"), (1, "answer")]
        problem(await post(env, tid, "answer", {"answer": "again"}, by="pm"), 409, "illegal-transition")

        r = await post(env, tid, "resolve", {}, **{"If-Match": '"4"'})  # relayed as it is
        assert r.status_code == 200, r.text
        assert (r.json()["answer"], r.json()["cause"]) == ("请在管理后台重新启用账号", "usage_misunderstanding")
        history = (await env["client"].get(f"/v1/tickets/{tid}/history", headers=env["staff"])).json()["items"]
        assert [h["action"] for h in history] == ["open", "assign", "escalate", "answer", "resolve"]
        assert history[3]["details"]["from_tier"] == 2 and history[3]["actor"] == "pm-01"
        assert history[4]["details"]["relayed"] == {"from": "pm-01", "tier": 2, "edited": False}

        events = await events_of(received, tid, 5)
        answered = next(e["data"] for e in events if e["type"] == "ticket.answered")
        assert answered["answer"] == "请在管理后台重新启用账号" and answered["from_tier"] == 2 and answered["tier"] == 1


async def test_a_vendor_answers_only_while_the_ticket_is_escalated_to_it(env):
    tid = await in_progress(env)
    problem(await env["client"].get(f"/v1/tickets/{tid}", headers=env["vendor"]), 403, "out-of-scope")
    await post(env, tid, "escalate", {"tier": 3, "target": "vendor-a", "reason": "厂家排查"})
    problem(await post(env, tid, "answer", {"answer": "x"}, by="other_vendor"), 403, "out-of-scope")
    problem(await post(env, tid, "resolve", {"answer": "x", "cause": "other"}, by="vendor"), 403, "forbidden")
    problem(await post(env, tid, "answer", {"answer": ""}, by="vendor"), 422)
    problem(await post(env, tid, "answer", {"answer": "x", "cause": "nonsense"}, by="vendor"), 422)
    problem(await post(env, tid, "answer", {"answer": "x"}, by="vendor", **{"If-Match": '"2"'}), 412)
    assert (await post(env, tid, "notes", {"body": "正在排查日志"}, by="vendor")).status_code == 200
    r = await post(env, tid, "answer", {"answer": "补丁已发布，请升级到 3.2"}, by="vendor")
    assert r.status_code == 200 and (r.json()["status"], r.json()["tier"]) == ("in_progress", 1)

    # handed back: the vendor still reads its part, but the ticket is the front line's now
    assert (await env["client"].get(f"/v1/tickets/{tid}", headers=env["vendor"])).status_code == 200
    problem(await post(env, tid, "notes", {"body": "补充"}, by="vendor"), 403, "out-of-scope")
    problem(await post(env, tid, "resolve", {}), 422, "validation-error")  # no cause proposed: the front line names one
    r = await post(env, tid, "resolve", {"answer": "厂家已发布补丁，请升级到 3.2 版本", "cause": "product_defect"})
    assert r.status_code == 200 and r.json()["answer"] == "厂家已发布补丁，请升级到 3.2 版本"
    history = (await env["client"].get(f"/v1/tickets/{tid}/history", headers=env["staff"])).json()["items"]
    assert history[-1]["details"]["relayed"]["edited"] is True


async def test_answer_refusals_by_role_and_scope(env):
    tid = await in_progress(env)
    problem(await post(env, tid, "answer", {"answer": "x"}, by="pm"), 409)  # at tier 1, not escalated
    await post(env, tid, "escalate", {"tier": 2, "target": "pm-01", "reason": "r"})
    problem(await post(env, tid, "answer", {"answer": "x"}), 403, "forbidden")  # the front line resolves instead
    problem(await post(env, tid, "answer", {"answer": "x"}, by="other_pm"), 403, "out-of-scope")
    problem(await post(env, tid, "answer", {"answer": "x"}, by="vendor"), 403, "out-of-scope")


# --- merge --------------------------------------------------------------------------------------------------

async def test_merge_closes_the_duplicate_and_moves_its_notes_and_requester(env, infra):
    async with captured(infra, "ticket.*") as received:
        target = await in_progress(env)
        source = (await opened(env, by="intake", customer={"name": "王五", "group_name": "青岛某公司"}))["id"]
        await post(env, source, "notes", {"body": "用户再次来电催促", "visibility": "requester"})
        await post(env, source, "notes", {"body": "与前一单相同", "visibility": "internal"})
        r = await post(env, source, "merge", {"into": target}, **{"If-Match": '"3"'})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["close_reason"], body["merged_into"]) == ("closed", "merged", target)

        merged = (await env["client"].get(f"/v1/tickets/{target}", headers=env["staff"])).json()
        assert [(n["body"], n["origin"]) for n in merged["notes"]] == [
            ("用户再次来电催促", source), ("与前一单相同", source)]
        assert merged["merged_from"] == [source] and merged["related_requesters"][0]["customer"]["name"] == "王五"
        assert merged["related_requesters"][0]["filed_by"] == "crm-flows"
        source_history = (await env["client"].get(f"/v1/tickets/{source}/history", headers=env["staff"])).json()
        target_history = (await env["client"].get(f"/v1/tickets/{target}/history", headers=env["staff"])).json()
        assert source_history["items"][-1]["action"] == "merge" and \
            source_history["items"][-1]["details"]["into"] == target
        assert target_history["items"][-1]["action"] == "merged_in" and \
            target_history["items"][-1]["details"]["from"] == source
        # the channel that filed the duplicate follows its requester onto the target, sees no internal note
        as_channel = await env["client"].get(f"/v1/tickets/{target}", headers=env["intake"])
        assert as_channel.status_code == 200 and [n["body"] for n in as_channel.json()["notes"]] == ["用户再次来电催促"]

        events = await events_of(received, source, 5)
        assert [e["type"] for e in events][-2:] == ["ticket.merged", "ticket.closed"]
        closed = events[-1]
        assert closed["dataversion"] == "2" and closed["data"]["close_reason"] == "merged"
        assert closed["data"]["merged_into"] == target and closed["data"]["satisfied"] is None
        assert closed["data"]["paused_seconds"] == 0
        assert events[-2]["data"]["into"] == target and events[-2]["data"]["customer"]["name"] == "王五"


async def test_merge_refusals(env):
    target = await in_progress(env)
    source = (await opened(env))["id"]
    problem(await post(env, source, "merge", {"into": source}), 422, "validation-error")
    assert problem(await post(env, source, "merge", {"into": "ZX-20000101-99999"}), 422)["errors"][0]["field"] == "into"
    problem(await post(env, "ZX-20000101-99999", "merge", {"into": target}), 404, "not-found")
    elsewhere = (await env["client"].post("/v1/tickets", json=ticket(env["other_product"]),
                                          headers=env["staff"])).json()["id"]
    assert problem(await post(env, source, "merge", {"into": elsewhere}), 422)["errors"][0]["field"] == "into"
    complaint = (await opened(env, kind="complaint"))["id"]
    problem(await post(env, source, "merge", {"into": complaint}), 422)
    problem(await post(env, source, "merge", {}), 422)
    problem(await post(env, source, "merge", {"into": target}, by="intake"), 403, "forbidden")
    problem(await post(env, source, "merge", {"into": target}, by="other_pm"), 403, "out-of-scope")
    problem(await post(env, source, "merge", {"into": target}, **{"If-Match": '"5"'}), 412)

    closed = (await opened(env))["id"]
    assert (await post(env, closed, "merge", {"into": target})).status_code == 200
    refused = problem(await post(env, source, "merge", {"into": closed}), 409, "illegal-transition")
    assert closed in refused["detail"]
    problem(await post(env, closed, "merge", {"into": target}), 409, "illegal-transition")  # already closed
    untouched = (await env["client"].get(f"/v1/tickets/{source}", headers=env["staff"])).json()
    assert (untouched["status"], untouched["version"]) == ("new", 1)


def merges_consumed(infra) -> float:
    return metrics.EVENTS_CONSUMED.labels(SERVICE.split("-")[0], f"{infra.namespace}.{merges.QUEUE}",
                                          "ticket.merged", "ok")._value.get()


async def test_a_merge_cut_short_after_its_first_write_is_finished_from_its_event_once(env, infra):
    """The process dies after the source's write: here the source's half is written as the route writes it,
    and the target's half is left to ticketing's own consumer of ticket.merged."""
    rt = env["app"].state.runtime
    target = await in_progress(env)
    source = (await opened(env))["id"]
    await post(env, source, "notes", {"body": "重复来电"})
    target_before = (await env["client"].get(f"/v1/tickets/{target}", headers=env["staff"])).json()
    assert target_before["merged_from"] == []
    target_ticket = from_document(await rt.store[TICKETS].find_one({"_id": target}))
    consumed_before = merges_consumed(infra)

    def decide(doc):
        ticket = from_document(doc)
        events = ticket.merge_into(target_ticket, Actor(sub="agent-flows"), datetime.now(UTC))
        return {**doc, **to_document(ticket, {})}, [
            rt.event(e, type=t, subject=ticket.id, sequence=ticket.version)
            for e, t in zip(events, ("ticket.merged", "ticket.closed"), strict=True)]

    async with captured(infra, "ticket.merged") as received:
        await rt.store.change(TICKETS, source, decide)

        async def finished():
            doc = (await env["client"].get(f"/v1/tickets/{target}", headers=env["staff"])).json()
            return doc if doc["merged_from"] == [source] else None

        merged = await eventually(finished, what="the consumer finished the target's half")
        assert [n["body"] for n in merged["notes"]] == ["重复来电"]
        [event] = await events_of(received, source, 1)

    # delivered again (at least once): nothing changes on the target
    await publish(infra, Envelope.model_validate(event))
    await eventually(lambda: _true(merges_consumed(infra) >= consumed_before + 2), what="the redelivery consumed")
    again = (await env["client"].get(f"/v1/tickets/{target}", headers=env["staff"])).json()
    assert again["version"] == merged["version"] and len(again["notes"]) == 1
    assert await merges.complete(rt, source) is False


async def _true(value: bool) -> bool:
    return value
