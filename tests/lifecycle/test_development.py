"""Development and testing (开发/测试): daily reports, the function test list, test rounds and their reports,
issues that hold testing → trial, and the optimisation plan, against the real broker and store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.vocabulary import Stage
from services.lifecycle.domain import development as d
from services.lifecycle.domain import gates
from services.lifecycle.main import create
from services.lifecycle.settings import Settings
from services.lifecycle.store import gates as gate_facts
from services.lifecycle.store.timeline import timeline
from tests.lifecycle.stages import new_product, put_in_stage
from tests.support import running, settings_for, token

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(infra):
    return create(settings_for(Settings, infra, "lifecycle"))


def is_problem(response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field:
        assert response.json()["errors"][0]["field"] == field, response.json()


async def open_blocking(rt, code: str) -> set[str]:
    product = await rt.store["products"].find_one({"_id": code})
    facts = await gate_facts.gather(rt, product)
    return {m.code for m in gates.missing(facts, Stage.trial, datetime.now(UTC))}


# --- domain ------------------------------------------------------------------------------------------------------

def test_fix_and_reopen_keep_the_history():
    issue = {"_id": "is-1", "state": "open", "blocking": True, "title": "导入超时", "history": []}
    fixed = d.fix(issue, note="分批提交", release="v1.2", by="vendor-1", at=T0)
    assert (fixed["state"], fixed["release"], fixed["fixed_by"]) == ("fixed", "v1.2", "vendor-1")
    with pytest.raises(ValueError):
        d.fix(fixed, note="again", release=None, by="vendor-1", at=T0)
    reopened = d.reopen(fixed, note="复测仍超时", by="pm-1", at=T0 + DAY)
    assert (reopened["state"], reopened["reopen_count"], reopened["fixed_at"]) == ("open", 1, None)
    assert [e["action"] for e in reopened["history"]] == ["fixed", "reopened"]
    with pytest.raises(ValueError):
        d.reopen(reopened, note=None, by="pm-1", at=T0)
    assert d.issue_summary(reopened) == "测试阻断性问题《导入超时》：待修复"


def test_a_city_report_names_one_of_the_16_cities_and_only_it_does():
    assert d.check_city(d.Party.city, "青岛") is None
    assert d.check_city(d.Party.city, None) == "required when party is city"
    assert "16" in d.check_city(d.Party.city, "北京")
    assert d.check_city(d.Party.centre, "青岛") is not None
    assert d.party_key(d.Party.city, "青岛") == "city:青岛" and d.party_key(d.Party.centre, None) == "centre"
    assert d.party_label("city", "青岛") == "地市公司（青岛）" and d.party_label("cmcc_subsidiary", None) == "中移公司"
    assert d.next_round([]) == 1 and d.next_round([1, 3]) == 4


# --- routes --------------------------------------------------------------------------------------------------------

async def test_every_route_needs_a_token(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-d0", stage="testing")
        for method, path in [("GET", "dev-reports"), ("POST", "dev-reports"), ("GET", "test-cases"),
                             ("POST", "test-cases"), ("GET", "test-rounds"), ("POST", "test-rounds"),
                             ("POST", "test-rounds/1/reports"), ("POST", "test-rounds/1/optimisation-plan"),
                             ("GET", "issues"), ("POST", "issues"), ("POST", "issues/is-x/fix"),
                             ("POST", "issues/is-x/reopen")]:
            response = await client.request(method, f"/v1/products/{code}/{path}", json={})
            assert response.status_code == 401, (method, path, response.text)


async def test_staff_read_and_only_the_products_manager_or_an_admin_runs_the_tests(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-d9", vendor="vendor-d9", stage="testing")
        base = f"/v1/products/{code}"
        for path in ("dev-reports", "test-cases", "test-rounds", "issues"):
            is_problem(await client.get(f"{base}/{path}", headers=token(infra, "intake")), 403)
            for role in ("agent", "vendor", "analyst", "account_manager", "complaint_handler"):
                assert (await client.get(f"{base}/{path}", headers=token(infra, role))).status_code == 200, (path, role)
            is_problem(await client.get(f"/v1/products/no_such_product/{path}", headers=token(infra, "agent")), 404)
        other_pm = token(infra, "product_manager", sub="pm-other", products=["cloud_fax"])
        own_vendor = token(infra, "vendor", vendor="vendor-d9")
        for path, payload in [("test-rounds", {}), ("issues", {"title": "x", "blocking": False})]:
            for headers in (other_pm, own_vendor, token(infra, "ops_engineer")):
                is_problem(await client.post(f"{base}/{path}", headers=headers, json=payload), 403)
        scoped = token(infra, "product_manager", sub="pm-scoped", products=[code])
        assert (await client.post(f"{base}/test-rounds", headers=scoped, json={})).status_code == 201


async def test_the_vendor_files_one_report_a_day_while_it_builds(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-d1", vendor="vendor-d1", stage="development")
        vendor = token(infra, "vendor", sub="vendor-d1-dev", vendor="vendor-d1")
        path = f"/v1/products/{code}/dev-reports"
        first = await client.post(path, headers=vendor, json={"day": "2026-11-02", "progress": "完成登录模块", "percent": 20})
        assert first.status_code == 201, first.text
        assert first.json()["id"] == f"{code}:2026-11-02" and first.json()["by"] == "vendor-d1-dev"
        pm = token(infra, "product_manager", sub="pm-d1")
        assert (await client.post(path, headers=pm, json={"day": "2026-11-03", "progress": "联调",
                                                         "risks": "接口文档待确认"})).status_code == 201
        is_problem(await client.post(path, headers=vendor, json={"day": "2026-11-02", "progress": "补充"}), 409)

        for headers in (token(infra, "vendor", vendor="vendor-other"), token(infra, "product_manager", sub="pm-x"),
                        token(infra, "agent"), token(infra, "vendor")):
            is_problem(await client.post(path, headers=headers, json={"day": "2026-11-04", "progress": "x"}), 403)
        tomorrow = (datetime.now(UTC) + 2 * DAY).date().isoformat()
        for payload, field in [({"day": tomorrow, "progress": "明天"}, "day"),
                               ({"day": "2026-11-05", "progress": "  "}, "progress"),
                               ({"day": "2026-11-05", "progress": "x", "percent": 101}, "percent"),
                               ({"day": "11/05", "progress": "x"}, "day"),
                               ({"day": "2026-11-05", "progress": "x", "mood": "good"}, "mood")]:
            is_problem(await client.post(path, headers=vendor, json=payload), 422, field)

        listed = await client.get(path, headers=token(infra, "analyst"))
        assert [r["day"] for r in listed.json()["items"]] == ["2026-11-03", "2026-11-02"]
        is_problem(await client.get(path, headers=token(infra, "intake")), 403)
        page = (await client.get(path, headers=vendor, params={"limit": 1})).json()
        rest = (await client.get(path, headers=vendor, params={"limit": 1, "cursor": page["next_cursor"]})).json()
        assert [r["day"] for r in page["items"] + rest["items"]] == ["2026-11-03", "2026-11-02"]

        await put_in_stage(infra, code, "trial")
        late = await client.post(path, headers=vendor, json={"day": "2026-11-06", "progress": "x"})
        is_problem(late, 409)
        assert late.json()["allowed_stages"] == ["development", "testing"]


async def test_the_function_test_list_by_terminal(app, infra):
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-d2", vendor="vendor-d2", stage="development")
        vendor = token(infra, "vendor", vendor="vendor-d2")
        path = f"/v1/products/{code}/test-cases"
        for terminal, function in [("mobile", "登录"), ("pc", "批量导入"), ("mobile", "消息推送")]:
            response = await client.post(path, headers=vendor, json={"terminal": terminal, "function": function,
                                                                     "expected": "成功"})
            assert response.status_code == 201, response.text
        assert response.json()["terminal_label"] == "手机端"
        is_problem(await client.post(path, headers=vendor, json={"terminal": "tablet", "function": "x"}), 422, "terminal")
        is_problem(await client.post(path, headers=token(infra, "vendor", vendor="vendor-zz"),
                                     json={"terminal": "pc", "function": "x"}), 403)

        everything = (await client.get(path, headers=token(infra, "agent"))).json()
        assert everything["counts"] == {"mobile": 2, "pc": 1}
        assert [(c["terminal"], c["function"]) for c in everything["items"]] == [
            ("mobile", "登录"), ("mobile", "消息推送"), ("pc", "批量导入")]
        pc = (await client.get(path, headers=vendor, params={"terminal": "pc"})).json()
        assert [c["function"] for c in pc["items"]] == ["批量导入"] and pc["counts"]["mobile"] == 2
        is_problem(await client.get(path, headers=vendor, params={"terminal": "tv"}), 422, "query.terminal")


async def test_rounds_reports_issues_and_the_plan_that_goes_back_to_development(app, infra):
    pm = token(infra, "product_manager", sub="pm-d3")
    vendor = token(infra, "vendor", sub="vendor-d3-dev", vendor="vendor-d3")
    started = datetime.now(UTC) - 3 * DAY
    async with running(app) as client:
        code = await new_product(client, infra, pm="pm-d3", vendor="vendor-d3", stage="development")
        base = f"/v1/products/{code}"
        is_problem(await client.post(f"{base}/test-rounds", headers=pm, json={}), 409)  # still in development
        await put_in_stage(infra, code, "testing")

        is_problem(await client.post(f"{base}/test-rounds", headers=vendor, json={}), 403)
        one = await client.post(f"{base}/test-rounds", headers=pm, json={"started_at": started.isoformat()})
        assert one.status_code == 201, one.text
        assert one.json()["round"] == 1 and one.headers["location"] == f"{base}/test-rounds/1"
        is_problem(await client.post(f"{base}/test-rounds", headers=pm,
                                     json={"started_at": (started - DAY).isoformat()}), 422, "started_at")

        reports = f"{base}/test-rounds/1/reports"
        city = {"party": "city", "city": "青岛", "result": "fail", "summary": "手机端导入超时",
                "terminals": {"mobile": "fail", "pc": "pass"}}
        assert (await client.post(reports, headers=pm, json=city)).status_code == 201
        is_problem(await client.post(reports, headers=pm, json=city), 409)
        yantai = await client.post(reports, headers=pm, json={**city, "city": "烟台", "result": "pass",
                                                               "terminals": None})
        assert yantai.status_code == 201
        centre = await client.post(reports, headers=pm, json={"party": "centre", "result": "pass", "summary": "通过"})
        assert [r["party_label"] for r in centre.json()["reports"]] == ["地市公司（青岛）", "地市公司（烟台）", "信息化中心"]
        for payload, field in [({**city, "city": None}, "city"), ({**city, "city": "北京"}, "city"),
                               ({"party": "centre", "city": "青岛", "result": "pass", "summary": "x"}, "city"),
                               ({"party": "cmcc", "result": "pass", "summary": "x"}, "party"),
                               ({"party": "centre", "result": "ok", "summary": "x"}, "result"),
                               ({"party": "cmcc_subsidiary", "result": "pass", "summary": "x",
                                 "at": (started - DAY).isoformat()}, "at")]:
            is_problem(await client.post(reports, headers=pm, json=payload), 422, field)
        is_problem(await client.post(f"{base}/test-rounds/9/reports", headers=pm, json=city), 404)
        is_problem(await client.post(reports, headers=vendor, json={**city, "city": "济南"}), 403)

        issues = f"{base}/issues"
        is_problem(await client.post(issues, headers=vendor, json={"title": "x", "blocking": True}), 403)
        is_problem(await client.post(issues, headers=pm, json={"title": "x", "blocking": True, "round": 7}), 422, "round")
        is_problem(await client.post(issues, headers=pm, json={"title": "x"}), 422, "blocking")
        blocking = (await client.post(issues, headers=pm, json={"title": "手机端批量导入超时", "terminal": "mobile",
                                                                 "blocking": True, "round": 1})).json()
        minor = (await client.post(issues, headers=pm, json={"title": "PC端按钮错位", "terminal": "pc",
                                                              "blocking": False, "round": 1})).json()
        assert (blocking["state"], blocking["state_label"], blocking["terminal_label"]) == ("open", "待修复", "手机端")

        rt = app.state.runtime
        assert "blocking_issues" in await open_blocking(rt, code)
        listed = (await client.get(issues, headers=vendor, params={"blocking": "false"})).json()["items"]
        assert [i["id"] for i in listed] == [minor["id"]]
        listed = (await client.get(issues, headers=vendor, params={"blocking": "true", "state": "open"})).json()
        assert [i["id"] for i in listed["items"]] == [blocking["id"]]

        fix = f"{issues}/{blocking['id']}/fix"
        is_problem(await client.post(fix, headers=token(infra, "vendor", vendor="vendor-zz"), json={"note": "x"}), 403)
        is_problem(await client.post(fix, headers=vendor, json={"release": "v1"}), 422, "note")
        fixed = await client.post(fix, headers=vendor, json={"note": "改为分批提交", "release": "v1.2.3"})
        assert fixed.status_code == 200, fixed.text
        assert (fixed.json()["state"], fixed.json()["fixed_by"], fixed.json()["release"]) == ("fixed", "vendor-d3-dev", "v1.2.3")
        is_problem(await client.post(fix, headers=vendor, json={"note": "again"}), 409)
        assert "blocking_issues" not in await open_blocking(rt, code)

        reopen = f"{issues}/{blocking['id']}/reopen"
        is_problem(await client.post(reopen, headers=vendor, json={}), 403)
        again = await client.post(reopen, headers=pm, json={"note": "复测仍超时"})
        assert again.status_code == 200 and again.json()["reopen_count"] == 1
        assert [e["action"] for e in again.json()["history"]] == ["fixed", "reopened"]
        is_problem(await client.post(reopen, headers=pm, json={}), 409)
        assert "blocking_issues" in await open_blocking(rt, code)
        is_problem(await client.post(f"{issues}/is-nothing/fix", headers=pm, json={"note": "x"}), 404)

        plan = f"{base}/test-rounds/1/optimisation-plan"
        is_problem(await client.post(plan, headers=pm, json={"summary": "优化", "issue_ids": ["is-nothing"]}), 422,
                   "issue_ids")
        is_problem(await client.post(plan, headers=vendor, json={"summary": "优化", "issue_ids": [blocking["id"]]}), 403)
        recorded = await client.post(plan, headers=pm, json={"summary": "优化批量导入性能",
                                                             "issue_ids": [blocking["id"], minor["id"]]})
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["optimisation_plan"]["issue_ids"] == [blocking["id"], minor["id"]]
        is_problem(await client.post(plan, headers=pm, json={"summary": "再来", "issue_ids": [minor["id"]]}), 409)

        rounds = (await client.get(f"{base}/test-rounds", headers=token(infra, "ops_engineer"))).json()["items"]
        assert [(r["round"], len(r["reports"]), r["optimisation_plan"] is not None) for r in rounds] == [(1, 3, True)]
        two = await client.post(f"{base}/test-rounds", headers=token(infra, "admin"), json={})
        assert two.json()["round"] == 2 and two.json()["reports"] == []

        kinds = [e["kind"] for e in (await timeline(rt, code, [], limit=1000))[0]]
        assert {"test_round", "test_round_report", "test_issue", "optimisation_plan"} <= set(kinds)

        # 优化方案 → back to development: the vendor fixes the reopened issue there, the list stays readable
        await put_in_stage(infra, code, "development")
        assert (await client.post(fix, headers=vendor, json={"note": "重写导入"})).status_code == 200
        is_problem(await client.post(issues, headers=pm, json={"title": "新问题", "blocking": False}), 409)
