"""Possible duplicates at intake, against the real broker and store: the same group and product with a similar
text is listed on the 201 answer; another product or group, a resolved or closed ticket, an unrelated text, a
ticket outside the caller's scope or older than last week are not; a replay carries the first answer's list.

Each test names a customer group of its own, so that the tests of this module, which share a database, do not
see each other's tickets."""

import sys
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import Envelope, ProductRegistered
from contracts.vocabulary import Channel, Kind
from services.ticketing.domain import duplicates
from services.ticketing.domain.ticket import Actor, Customer, Ticket
from services.ticketing.main import create
from services.ticketing.settings import Settings
from services.ticketing.store.collections import TICKETS, duplicates_of, to_document
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
    app = create(settings_for(Settings, infra, "ticketing_duplicates", duplicate_index=True))
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
    # written behind the service's back (no intake, no event): the process learns them as a restart would, from
    # the store
    await duplicates_of(rt).load(datetime.now(UTC))
    assert listed(await file(api, infra, body(SAME_AGAIN, "德州市某工厂"))) == [stored["last_week"]]


async def test_a_ticket_filed_through_another_replica_is_listed_once_its_event_arrived(service, infra):
    """Each process ranks from its own memory: the other replica learns the ticket from `ticket.opened`."""
    api, _ = service
    async with running(create(settings_for(Settings, infra, "ticketing_duplicates", duplicate_index=True))) as other:
        first = await file(other, infra, body(FIRST, "聊城市某医院", city="聊城"))

        async def listed_here():
            return first["id"] in listed(await file(api, infra, body(SAME_AGAIN, "聊城市某医院", city="聊城")))

        await eventually(listed_here, what="the first replica learnt the other's ticket from its event")


async def test_without_the_memory_index_the_store_answers_the_same(service, infra):
    """OPS_DUPLICATE_INDEX=false (the default): every intake asks the store's index range."""
    async with running(create(settings_for(Settings, infra, "ticketing_duplicates"))) as plain:
        first = await file(plain, infra, body(FIRST, "滨州市某学校", city="滨州"))
        assert listed(await file(plain, infra, body(SAME_AGAIN, "滨州市某学校", city="滨州"))) == [first["id"]]
        assert listed(await file(plain, infra, body(UNRELATED, "滨州市某学校", city="滨州"))) == []


async def test_one_process_alone_ranks_its_own_tickets_without_the_queue_of_events(infra):
    """What `make run` does (OPS_DUPLICATE_INDEX_EVENTS=false): the one process knows a ticket the moment it stored
    it, and the stored status decides what is shown (a ticket resolved since is not, though memory never heard)."""
    settings = settings_for(Settings, infra, "ticketing_duplicates", duplicate_index=True,
                            duplicate_index_events=False)
    async with running(create(settings)) as alone:
        first = await file(alone, infra, body(FIRST, "东营市某油田", city="东营"))
        assert listed(await file(alone, infra, body(SAME_AGAIN, "东营市某油田", city="东营"))) == [first["id"]]
        staff = token(infra, "agent")
        await alone.post(f"/v1/tickets/{first['id']}/assign", json={"assignee": "a-1"}, headers=staff)
        resolved = await alone.post(f"/v1/tickets/{first['id']}/resolve", json={"answer": "已处理", "cause": "other"},
                                    headers=staff)
        assert resolved.status_code == 200, resolved.text
        assert first["id"] not in listed(await file(alone, infra, body(SAME_AGAIN, "东营市某油田", city="东营")))


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


T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def recent(max_tickets=100) -> duplicates.RecentTickets:
    index = duplicates.RecentTickets(timedelta(days=14), max_tickets)
    index.loaded(T0 - timedelta(days=14))
    return index


def ids(found) -> list[str]:
    return None if found is None else [r.ticket_id for r in found]


def test_the_index_answers_nothing_until_loaded_then_the_open_tickets_of_the_window_newest_first():
    index = duplicates.RecentTickets(timedelta(days=14), 100)
    assert index.candidates("k", T0, 10) is None  # not loaded: the caller asks the store
    index.loaded(T0 - timedelta(days=14))
    for n, status in enumerate(("new", "in_progress", "resolved", "pending")):
        index.opened(f"t{n}", "k", T0 + timedelta(minutes=n), status, 1, ["登录", "失败"])
    index.opened("other", "k2", T0, "new", 1, ["登录"])
    assert ids(index.candidates("k", T0 + timedelta(hours=1), 10)) == ["t3", "t1", "t0"]
    assert ids(index.candidates("k", T0 + timedelta(hours=1), 2)) == ["t3", "t1"]
    assert ids(index.candidates("k", T0 + timedelta(days=14, minutes=2), 10)) == ["t3"]  # the older left the window
    assert ids(index.candidates("unknown", T0, 10)) == []


def test_a_later_state_wins_whatever_order_the_opening_and_the_changes_arrive_in():
    index = recent()
    index.status_changed("t1", "resolved", 3, T0)  # its resolution overtook its opening
    index.opened("t1", "k", T0, "new", 1, ["登录"])
    assert ids(index.candidates("k", T0, 10)) == []
    index.status_changed("t1", "in_progress", 4, T0)  # reopened
    index.status_changed("t1", "resolved", 3, T0)  # a late copy of the older state changes nothing
    assert ids(index.candidates("k", T0, 10)) == ["t1"]
    assert index.holds_opening("t1") and not index.holds_opening("t2")


def test_beyond_its_bound_the_index_drops_the_oldest_and_says_when_it_cannot_answer():
    index = recent(max_tickets=3)
    for n in range(5):
        index.opened(f"t{n}", "k" if n < 3 else "k2", T0 + timedelta(minutes=n), "new", 1, ["登录"])
    assert len(index) == 3
    # t0 and t1 are gone: for "k" memory holds only t2 since then, fewer than asked, so the store must say
    assert index.candidates("k", T0 + timedelta(hours=1), 2) is None
    assert ids(index.candidates("k", T0 + timedelta(hours=1), 1)) == ["t2"]  # the newest one is known for sure
    assert ids(index.candidates("k2", T0 + timedelta(hours=1), 2)) == ["t4", "t3"]


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


def deep_size(*roots) -> int:
    """Bytes of the objects reachable from `roots` through containers and slotted objects, each counted once (a
    word shared by many tickets once): what the index itself holds, whatever other threads allocate meanwhile."""
    seen: set[int] = set()
    total, stack = 0, list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += list(obj)
        elif hasattr(obj, "__slots__"):
            stack += [getattr(obj, name) for name in obj.__slots__ if hasattr(obj, name)]
    return total


def test_a_ticket_in_the_index_takes_well_under_a_kilobyte_so_that_a_full_index_fits_a_process():
    """The default bound (50,000 tickets, settings.duplicate_index_max_tickets) must fit within the 150 MiB a
    service process may use (issue 7), beside everything else: at most 1 KB a ticket of realistic text, each with
    a word of its own (0.6 KB as written). Kept as a frozenset of each ticket's own strings, one took 3.1 KB."""
    texts = [("移动办公如何重置密码", "客户忘记移动办公登录密码，询问如何自助重置，短信验证码收不到"),
             ("集团通讯录同步失败投诉", "客户投诉集团通讯录连续三天无法同步新员工，影响通知下发，要求尽快处理"),
             ("外勤通定位异常", "外勤通签到时定位偏差超过两公里，多名员工无法正常打卡，影响考勤")]
    count = 5000
    index = recent(max_tickets=count)
    for n in range(count):
        title, description = texts[n % len(texts)]
        group = f"集团客户{n % 2000}"
        words = duplicates.significant_words(title, f"{description}，工号{n}", group)
        assert len(words) > 10
        index.opened(f"ZX-20261201-{n:05d}", duplicates.group_key(PRODUCT, group), T0 + timedelta(seconds=n), "new",
                     1, words)
    assert len(index) == count
    used = deep_size(index._by_id, index._by_key, index._by_age)
    assert used / count < 1000, f"{used / count:.0f} bytes a ticket"
