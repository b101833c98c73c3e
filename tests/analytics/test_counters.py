"""Integration tests of the counters (store/counters.py) and the metrics read from them, on the real store and
broker: the job's crash safety, breakdowns, time series, scope and bad input."""

import json
import uuid
from datetime import timedelta

import pytest

from contracts.events import Envelope, ProductRegistered
from services.analytics.domain import counters as c
from services.analytics.events.handlers import apply_ticket_event
from services.analytics.main import create
from services.analytics.settings import Settings
from services.analytics.store.counters import COUNTER_BATCHES, COUNTERS, META, CountersJob
from tests.analytics.test_api import OPENED_AT, closed, opened, product
from tests.support import eventually, running, settings_for, token


@pytest.fixture(scope="module")
async def quiet(infra):
    """An API-only instance on a database of its own: no consumer, no job, so that a test runs the job itself."""
    settings = settings_for(Settings, infra, "analytics", role="api")
    app = create(settings.model_copy(update={"mongo_db": settings.mongo_db + "_" + uuid.uuid4().hex[:6]}))
    async with running(app) as client:
        yield app, client


async def figures(client, headers, path="/v1/metrics/summary", **params):
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def caught_up(client, headers, check, path="/v1/metrics/summary", **params):
    async def probe():
        body = await figures(client, headers, path, **params)
        return body if body["lag"]["pending_tickets"] == 0 and check(body) else None

    return await eventually(probe, timeout=20, what=f"{path} {params}")


async def test_a_batch_cut_short_is_applied_again_exactly_once(quiet, infra):
    app, client = quiet
    rt = app.state.runtime
    analyst = token(infra, "analyst")
    code = product()
    for n in range(3):
        await apply_ticket_event(rt, opened(f"TS-K{n}", code))
    job = CountersJob(rt.store, "tickets")
    real_apply = job.apply

    async def crash(journal, meta):
        raise RuntimeError("the replica died after journalling its batch")

    job.apply = crash
    with pytest.raises(RuntimeError):
        await job.run()
    assert (await figures(client, analyst, product_code=code))["opened"] == 0  # nothing applied yet
    assert await rt.store[COUNTER_BATCHES].count_documents({"n": {"$gt": 0}}) == 1

    job.apply = real_apply
    await CountersJob(rt.store, "tickets").run()  # another replica takes over: it finds the journal
    body = await figures(client, analyst, product_code=code)
    assert body["opened"] == 3 and body["lag"]["pending_tickets"] == 0

    # A crash after the buckets were written but before the batch was marked done: the buckets carry its number.
    meta = await rt.store[COUNTER_BATCHES].find_one({"_id": META})
    bucket = await rt.store[COUNTERS].find_one({"_id": c.bucket_id("P", "d", "20260302")})
    assert bucket["b"] == meta["last_batch"]
    await apply_ticket_event(rt, closed("TS-K0", code))
    captured = {}

    async def crash_after_buckets(journal, meta):
        captured["journal"] = dict(journal)
        raise RuntimeError("died")

    job = CountersJob(rt.store, "tickets")
    job.apply = crash_after_buckets
    with pytest.raises(RuntimeError):
        await job.run()
    await CountersJob(rt.store, "tickets").apply(captured["journal"], dict(meta))  # buckets and all written
    await rt.store[COUNTER_BATCHES].replace_one({"_id": META}, meta)                # … but "done" was not
    await rt.store[COUNTER_BATCHES].insert_one(captured["journal"])
    await CountersJob(rt.store, "tickets").run()
    body = await figures(client, analyst, product_code=code)
    assert (body["opened"], body["closed"], body["backlog"]) == (3, 1, 2)


async def test_a_ticket_changed_while_counted_stays_dirty_and_is_counted_again(quiet, infra):
    app, client = quiet
    rt = app.state.runtime
    code = product()
    await apply_ticket_event(rt, opened("TS-M1", code))
    job = CountersJob(rt.store, "tickets")
    real_apply = job.apply

    async def change_meanwhile(journal, meta):
        await apply_ticket_event(rt, closed("TS-M1", code))  # the consumer writes between read and clear
        return await real_apply(journal, meta)

    job.apply = change_meanwhile
    await job.count_batch()
    await CountersJob(rt.store, "tickets").run()
    body = await figures(client, token(infra, "analyst"), product_code=code)
    assert (body["opened"], body["closed"], body["satisfaction_rate"]) == (1, 1, 1.0)


async def test_a_store_counted_on_another_set_of_cuboids_is_counted_again(quiet, infra):
    """After the cuboid set changed (domain/counters.py `LAYOUT_VERSION`), the old buckets and a journal of the
    old set are dropped and every ticket is counted again: the figures come out whole, nothing twice."""
    app, client = quiet
    rt = app.state.runtime
    analyst = token(infra, "analyst")
    code = product()
    await apply_ticket_event(rt, opened("TS-L1", code, city="青岛"))
    await apply_ticket_event(rt, closed("TS-L2", code, city="青岛"))
    await CountersJob(rt.store, "tickets").run()
    before = await figures(client, analyst, product_code=code, city="青岛", channel="call_center")
    # What the previous set left: an old bucket, an unfinished journal of it, and a `meta` without `layout`.
    await rt.store[COUNTERS].insert_one({"_id": "CI|d|20260302", "cub": "CI", "g": "d", "t": "20260302", "cells": "{}",
                                         "b": 1})
    meta = await rt.store[COUNTER_BATCHES].find_one({"_id": META})
    await rt.store[COUNTER_BATCHES].insert_one({"_id": f"batch:{meta['last_batch'] + 1}",
                                                "n": meta["last_batch"] + 1, "buckets": "{}", "counted": "{}"})
    await rt.store[COUNTER_BATCHES].replace_one({"_id": META}, {k: v for k, v in meta.items() if k != "layout"})
    await CountersJob(rt.store, "tickets").run()
    assert await rt.store[COUNTERS].find_one({"_id": "CI|d|20260302"}) is None
    assert await rt.store[COUNTER_BATCHES].count_documents({"n": {"$gt": 0}}) == 0
    assert (await rt.store[COUNTER_BATCHES].find_one({"_id": META}))["layout"] == c.LAYOUT_VERSION
    after = await figures(client, analyst, product_code=code, city="青岛", channel="call_center")
    assert (after["opened"], after["closed"]) == (before["opened"], before["closed"]) == (2, 1)


async def test_breakdown_by_city_and_cause_with_chinese_labels(client, infra, send):
    code = product()
    await send(opened("TS-N1", code, city="青岛"), opened("TS-N2", code, city="青岛"),
                      closed("TS-N3", code, city="烟台"))
    analyst = token(infra, "analyst")
    body = await caught_up(client, analyst, lambda b: sum(i["opened"] for i in b["items"]) == 3,
                           "/v1/metrics/breakdown", dimension="city", product_code=code)
    assert [(i["key"], i["label"], i["opened"], i["closed"]) for i in body["items"]] == [
        ("青岛", "青岛", 2, 0), ("烟台", "烟台", 1, 1)]
    assert body["dimension"] == "city" and body["as_of"] is not None
    assert body["lag"]["queued_events"] is not None  # the broker was asked how many events wait
    causes = await figures(client, analyst, "/v1/metrics/breakdown", dimension="cause", product_code=code)
    assert {(i["key"], i["label"]) for i in causes["items"]} == {(None, "未归因"),
                                                                  ("usage_misunderstanding", "理解偏差")}
    kinds = await figures(client, analyst, "/v1/metrics/breakdown", dimension="kind", product_code=code)
    assert [(i["key"], i["label"]) for i in kinds["items"]] == [("complaint", "投诉")]


async def test_timeseries_by_day_week_and_month(client, infra, send):
    code = product()
    await send(opened("ZX-Q1", code, kind="consultation"),
                      opened("ZX-Q2", code, kind="consultation", opened_at=OPENED_AT + timedelta(days=8)),
                      closed("ZX-Q3", code, kind="consultation", opened_at=OPENED_AT - timedelta(days=20)))
    analyst = token(infra, "analyst")
    span = {"from": "2026-02-01", "to": "2026-03-15", "product_code": code}
    days = await caught_up(client, analyst, lambda b: sum(p["value"] for p in b["points"]) == 3,
                           "/v1/metrics/timeseries", metric="opened", interval="day", **span)
    assert len(days["points"]) == 43 and days["points"][0]["start"] == "2026-02-01"
    assert {p["start"]: p["value"] for p in days["points"] if p["value"]} == {
        "2026-02-10": 1, "2026-03-02": 1, "2026-03-10": 1}
    weeks = await figures(client, analyst, "/v1/metrics/timeseries", metric="opened", interval="week", **span)
    assert weeks["points"][0] == {"start": "2026-02-01", "end": "2026-02-02", "value": 0}  # clipped to `from`
    months = await figures(client, analyst, "/v1/metrics/timeseries", metric="backlog", interval="month", **span)
    # ZX-Q3 opened 10 Feb, closed 3 March (closed() closes a day after OPENED_AT): open at February's end
    assert [p["value"] for p in months["points"]] == [1, 2]


async def test_scope_of_product_managers_and_account_managers(client, infra, send):
    mine, theirs = product(), product()
    await send(opened("TS-R1", mine, city="济南"), opened("TS-R2", theirs, city="青岛"))
    analyst = token(infra, "analyst")
    await caught_up(client, analyst, lambda b: b["opened"] == 1, product_code=theirs)
    manager = token(infra, "product_manager", products=[mine])
    assert (await figures(client, manager, product_code=mine))["opened"] == 1
    refused = await client.get("/v1/metrics/summary", params={"product_code": theirs}, headers=manager)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    products = await figures(client, manager, "/v1/metrics/breakdown", dimension="product_code")
    assert [i["key"] for i in products["items"]] == [mine]
    account = token(infra, "account_manager", city="青岛")
    cities = await figures(client, account, "/v1/metrics/breakdown", dimension="city")
    assert [i["key"] for i in cities["items"]] == ["青岛"]
    assert (await client.get("/v1/metrics/summary", params={"city": "济南"}, headers=account)).status_code == 403
    for path, extra in (("/v1/metrics/summary", {}), ("/v1/metrics/breakdown", {"dimension": "city"}),
                        ("/v1/metrics/timeseries", {"metric": "opened", "from": "2026-03-01", "to": "2026-03-02"})):
        assert (await client.get(path, params=extra, headers=token(infra, "vendor", vendor="v1"))).status_code == 403
        assert (await client.get(path, params=extra, headers=token(infra, "intake"))).status_code == 403
        assert (await client.get(path, params=extra)).status_code == 401
        for role in ("analyst", "admin", "agent", "complaint_handler", "ops_engineer"):
            assert (await client.get(path, params=extra, headers=token(infra, role))).status_code == 200, role


@pytest.mark.parametrize("path,params,field", [
    ("/v1/metrics/breakdown", {"dimension": "colour"}, "dimension"),
    ("/v1/metrics/breakdown", {}, "query.dimension"),
    ("/v1/metrics/timeseries", {"metric": "speed", "from": "2026-03-01", "to": "2026-03-02"}, "metric"),
    ("/v1/metrics/timeseries", {"metric": "opened", "interval": "hour", "from": "2026-03-01", "to": "2026-03-02"},
     "interval"),
    ("/v1/metrics/timeseries", {"metric": "opened", "from": "2026-03-01"}, "to"),
    ("/v1/metrics/timeseries", {"metric": "opened", "from": "2020-01-01", "to": "2026-03-02"}, "to"),
    ("/v1/metrics/summary", {"to": "2026-03-02T10:30:00"}, "to"),
    ("/v1/metrics/summary", {"channel": "fax"}, "query.channel"),
    ("/v1/metrics/summary", {"industry": "mining"}, "query.industry"),
    ("/v1/metrics/breakdown", {"dimension": "city", "city": "北京"}, "city"),
])
async def test_bad_metrics_queries_are_422_naming_the_field(client, infra, path, params, field):
    response = await client.get(path, params=params, headers=token(infra, "analyst"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_midnight_datetimes_are_days(client, infra):
    body = await figures(client, token(infra, "analyst"), **{"from": "2026-03-01T00:00:00+08:00",
                                                            "to": "2026-03-01T16:00:00Z"})
    assert body["period"]["end"].startswith("2026-03-01T16:00:00")


async def test_products_are_labelled_with_the_catalog_name(client, infra, send):
    code = product()
    await send(Envelope.wrap(ProductRegistered(code=code, name="移动办公", stage="commercial"),
                                    type="lifecycle.product.registered", source="lifecycle", subject=code,
                                    sequence=1, correlationid="test-catalog"),
                      opened("TS-S1", code))
    analyst = token(infra, "analyst")
    body = await caught_up(client, analyst, lambda b: [i["label"] for i in b["items"]] == ["移动办公"],
                           "/v1/metrics/breakdown", dimension="product_code", product_code=code)
    assert body["items"][0]["key"] == code


async def test_a_store_counted_on_the_set_before_gets_the_new_cuboids_derived_without_counting_a_ticket(infra):
    """From a set since `SOURCE_SINCE_LAYOUT`, an upgrade derives every other cuboid from the all-dimensions day
    buckets: the buckets come out as the job counts them (every cell, every grain, weeks that span two months), the
    tickets are not counted again, and an old family's bucket is gone."""
    settings = settings_for(Settings, infra, "analytics", role="api")
    app = create(settings.model_copy(update={"mongo_db": settings.mongo_db + "_derive_" + uuid.uuid4().hex[:6]}))
    async with running(app):
        rt = app.state.runtime
        codes = [product() for _ in range(3)]
        cities, channels = ["济南", "青岛", "烟台", "潍坊"], ["call_center", "account_manager", "customer"]
        industries, causes = ["education", "finance", None], ["usage_misunderstanding", "product_defect", None]
        for n in range(150):  # 75 days from 2026-03-02: three months, and weeks across their ends
            at = OPENED_AT + timedelta(days=n // 2, hours=n % 7)
            common = dict(opened_at=at, city=cities[n % 4], channel=channels[n % 3], industry=industries[n % 3],
                          kind=["complaint", "consultation", "fault", "suggestion"][n % 4],
                          respond_by=at + timedelta(hours=4), resolve_by=at + timedelta(days=7))
            if n % 3:
                await apply_ticket_event(rt, opened(f"TS-D{n}", codes[n % 3], **common))
            else:
                await apply_ticket_event(rt, closed(
                    f"TS-D{n}", codes[n % 3], **common, cause=causes[n % 2], satisfied=n % 2 == 0,
                    first_response_at=at + timedelta(hours=1), resolved_at=at + timedelta(hours=n % 50 + 1),
                    closed_at=at + timedelta(days=1 + n % 3)))
        await CountersJob(rt.store, "tickets").run()

        def comparable(docs):
            return {d["_id"]: {k: ({key: {**m, **({c.HIST: c.dense(m[c.HIST])} if c.HIST in m else {})}
                                    for key, m in json.loads(v).items()} if k.startswith("c_") else v)
                               for k, v in d.items() if k != "b"} for d in docs}

        counted = comparable(await rt.store[COUNTERS].find({}).to_list())
        assert {key.split("|")[2][:6] for key in counted if key.split("|")[1] == "d"} >= {"202603", "202604", "202605"}
        # the set before: another family's bucket, and no other cuboid than the source kept
        source = c.FAMILY[c.SOURCE_CUBOID]
        for doc in await rt.store[COUNTERS].find({"fam": {"$nin": [source]}}, {"_id": 1}).to_list():
            await rt.store[COUNTERS].delete_one({"_id": doc["_id"]})
        await rt.store[COUNTERS].insert_one({"_id": "OLD|d|20260302", "fam": "OLD", "g": "d", "t": "20260302",
                                             "c_OLD": "{}", "b": 1})
        meta = await rt.store[COUNTER_BATCHES].find_one({"_id": META})
        await rt.store[COUNTER_BATCHES].replace_one({"_id": META}, {**meta, "layout": c.SOURCE_SINCE_LAYOUT})

        assert await CountersJob(rt.store, "tickets").run() == 0  # no ticket counted again
        assert comparable(await rt.store[COUNTERS].find({}).to_list()) == counted
        assert all(d.get("b") == meta["last_batch"] for d in await rt.store[COUNTERS].find({}, {"b": 1}).to_list())
        assert (await rt.store[COUNTER_BATCHES].find_one({"_id": META}))["layout"] == c.LAYOUT_VERSION
