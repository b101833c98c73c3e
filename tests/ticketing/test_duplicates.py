"""Possible duplicates at intake, against the real broker and store: the same group and product with a similar
text is listed on the 201 answer; another product or group, a resolved or closed ticket, an unrelated text, a
ticket outside the caller's scope or older than last week are not; a replay carries the first answer's list.

Each test names a customer group of its own, so that the tests of this module, which share a database, do not
see each other's tickets."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import Envelope, ProductRegistered
from contracts.vocabulary import Channel, Kind
from services.ticketing.domain import duplicates
from services.ticketing.domain.ticket import Actor, Customer, Ticket
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store.collections import TICKETS, to_document
from tests.support import eventually, publish, running, settings_for, token

PRODUCT, OTHER_PRODUCT = "mobile_office", "corporate_directory"
FIRST = ("移动办公无法登录", "客户反映移动办公登录失败，提示密码错误")
SAME_AGAIN = ("移动办公登录不上", "客户说移动办公登录失败，一直提示密码错误")
UNRELATED = ("移动办公考勤打卡定位不准", "员工打卡时定位偏差很大，显示在外地")


def body(text, group, product=PRODUCT, city="济南", code=None):
    title, description = text
    return {"kind": "fault", "channel": "call_center", "product_code": product, "city": city, "title": title,
            "description": description,
            "customer": {"name": "张三", "group_name": group, **({"group_code": code} if code else {})}}


@pytest.fixture(scope="module")
async def service(infra):
    app = create(settings_for(Settings, infra, "ticketing_duplicates"))
    async with running(app) as client:
        await publish(infra, *(Envelope.wrap(
            ProductRegistered(code=code, name=name, stage="delivered", vendor="vendor-a"),
            type="lifecycle.product.registered", source="lifecycle", subject=code, sequence=1, correlationid="test")
            for code, name in ((PRODUCT, "移动办公"), (OTHER_PRODUCT, "集团通讯录"))))

        async def catalog_knows_products():
            for product in (PRODUCT, OTHER_PRODUCT):
                r = await client.post("/v1/tickets", json=body(("probe", "probe"), "探针集团", product),
                                      headers=token(infra, "agent"))
                if r.status_code != 201:
                    return False
            return True

        await eventually(catalog_knows_products, what="the catalog learnt the products from lifecycle's events")
        yield client, app.state.runtime


@pytest.fixture
def api(service):
    return service[0]


async def file(api, infra, payload, headers=None) -> dict:
    r = await api.post("/v1/tickets", json=payload, headers=headers or token(infra, "agent"))
    assert r.status_code == 201, r.text
    return r.json()


def listed(answer) -> list[str]:
    return [d["id"] for d in answer["possible_duplicates"]]


async def test_a_near_identical_ticket_of_the_same_group_and_product_lists_the_first(api, infra):
    first = await file(api, infra, body(FIRST, "济南市交通局"))
    assert first["possible_duplicates"] == []
    second = await file(api, infra, body(SAME_AGAIN, "济南市交通局"))
    [duplicate] = second["possible_duplicates"]
    assert duplicate["id"] == first["id"] and duplicate["title"] == FIRST[0] and duplicate["status"] == "new"
    assert duplicate["opened_at"][:19] == first["opened_at"][:19]
    assert 0.5 <= duplicate["similarity"] < 1
    assert {"登录", "密码", "错误", "失败"} <= set(duplicate["shared_words"])
    assert not {"济南", "交通局"} & set(duplicate["shared_words"])  # the group's own words do not count
    third = await file(api, infra, body(FIRST, "济南市交通局"))
    assert listed(third) == [first["id"], second["id"]]  # the identical one first


async def test_another_product_or_group_or_an_unrelated_text_is_not_listed(api, infra):
    first = await file(api, infra, body(FIRST, "青岛市某医院"))
    assert listed(await file(api, infra, body(SAME_AGAIN, "青岛市某医院", OTHER_PRODUCT))) == []
    assert listed(await file(api, infra, body(SAME_AGAIN, "青岛市另一医院"))) == []
    assert listed(await file(api, infra, body(UNRELATED, "青岛市某医院"))) == []
    assert listed(await file(api, infra, body(SAME_AGAIN, "青岛市某医院"))) == [first["id"]]


async def test_the_group_code_names_the_group_when_given(api, infra):
    first = await file(api, infra, body(FIRST, "淄博市教育局", code="ZB-0042"))
    assert listed(await file(api, infra, body(SAME_AGAIN, "淄博市教育局（本部）", code="zb-0042"))) == [first["id"]]
    assert listed(await file(api, infra, body(SAME_AGAIN, "淄博市教育局", code="ZB-0043"))) == []


async def test_resolved_and_closed_tickets_are_not_listed(api, infra):
    staff = token(infra, "agent")
    resolved = await file(api, infra, body(FIRST, "烟台市某银行"))
    closed = await file(api, infra, body(FIRST, "烟台市某银行"))
    for ticket in (resolved, closed):
        await api.post(f"/v1/tickets/{ticket['id']}/assign", json={"assignee": "a-1"}, headers=staff)
        r = await api.post(f"/v1/tickets/{ticket['id']}/resolve", json={"answer": "已重置", "cause": "other"},
                           headers=staff)
        assert r.status_code == 200
    r = await api.post(f"/v1/tickets/{closed['id']}/feedback", json={"satisfied": True}, headers=staff)
    assert r.json()["status"] == "closed"
    assert listed(await file(api, infra, body(SAME_AGAIN, "烟台市某银行"))) == []
    r = await api.post(f"/v1/tickets/{resolved['id']}/feedback", json={"satisfied": False}, headers=staff)
    assert r.json()["status"] == "in_progress"  # reopened: open again, so a duplicate again
    assert resolved["id"] in listed(await file(api, infra, body(SAME_AGAIN, "烟台市某银行")))


async def test_only_tickets_the_caller_may_see_are_listed(api, infra):
    first = await file(api, infra, body(FIRST, "潍坊某集团", city="潍坊"))
    other_city = token(infra, "account_manager", city="济宁")
    assert listed(await file(api, infra, body(SAME_AGAIN, "潍坊某集团", city="济宁"), other_city)) == []
    same_city = token(infra, "account_manager", city="潍坊")
    assert listed(await file(api, infra, body(SAME_AGAIN, "潍坊某集团", city="潍坊"), same_city)) == [first["id"]]


async def test_this_and_last_week_count_older_weeks_do_not(service, infra):
    api, rt = service
    now = datetime.now(UTC)
    stored = {}
    for label, age in (("last_week", timedelta(days=7)), ("two_weeks_ago", timedelta(days=14))):
        ticket, _ = Ticket.open(id=f"GZ-DUP-{label}", kind=Kind.fault, channel=Channel.call_center,
                                product_code=PRODUCT, city="济南", title=FIRST[0], description=FIRST[1],
                                customer=Customer(name="李四", group_name="德州市某工厂"), actor=Actor(sub="agent-test"),
                                now=now - age)
        await rt.store.insert(TICKETS, to_document(ticket, {"idempotency_key": f"none:{ticket.id}"}))
        stored[label] = ticket.id
    assert listed(await file(api, infra, body(SAME_AGAIN, "德州市某工厂"))) == [stored["last_week"]]


async def test_a_replay_carries_the_duplicates_of_the_first_answer(api, infra):
    channel = token(infra, "intake", sub="crm-dup")  # a channel sees the tickets it filed
    first = await file(api, infra, body(FIRST, "日照市某港口"), channel)
    headers = {**channel, "Idempotency-Key": "dup-replay-1"}
    answer = await file(api, infra, body(SAME_AGAIN, "日照市某港口"), headers)
    assert listed(answer) == [first["id"]]
    staff = token(infra, "agent")
    await api.post(f"/v1/tickets/{first['id']}/assign", json={"assignee": "a-1"}, headers=staff)
    await api.post(f"/v1/tickets/{first['id']}/resolve", json={"answer": "已处理", "cause": "other"}, headers=staff)
    replayed = await api.post("/v1/tickets", json=body(SAME_AGAIN, "日照市某港口"), headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == answer


def test_similarity_is_the_jaccard_index_of_the_words_without_the_group_name():
    first = duplicates.significant_words(*FIRST, "济南市交通局")
    assert duplicates.similarity(first, duplicates.significant_words(*SAME_AGAIN, "济南市交通局")) >= 0.5
    assert duplicates.similarity(first, duplicates.significant_words(*UNRELATED, "济南市交通局")) < 0.3
    assert duplicates.similarity(["a", "b"], ["b", "c"]) == pytest.approx(1 / 3)
    assert duplicates.similarity([], []) == 0.0
    assert "交通局" not in duplicates.significant_words("交通局的移动办公", "登录失败", "济南市交通局")


def test_the_group_key_names_product_and_group_and_a_group_code_decides():
    key = duplicates.group_key(PRODUCT, duplicates.group_of("济南市交通局", None))
    assert key != duplicates.group_key(OTHER_PRODUCT, duplicates.group_of("济南市交通局", None))
    assert key != duplicates.group_key(PRODUCT, duplicates.group_of("济南市教育局", None))
    assert duplicates.group_of("济南市交通局", " JN-1 ") == duplicates.group_of("别名", "jn-1")
    assert key.isalnum()
