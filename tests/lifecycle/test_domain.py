"""Pure rules of the lifecycle domain: seed integrity, title normalisation, backlog grouping."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import TicketClosed
from contracts.vocabulary import Cause, Kind, Stage
from services.lifecycle.domain import backlog, catalog, seed, stages

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def closed_ticket(ticket_id="JY-20261102-00001", *, kind=Kind.suggestion, cause=None, title="希望支持批量导入",
                  product_code="mobile_office", description="能否支持Excel批量导入通讯录?") -> TicketClosed:
    return TicketClosed(
        ticket_id=ticket_id, kind=kind, status="closed", channel="account_manager", product_code=product_code,
        city="济南", priority="normal", tier=1, tier_reached=2, opened_at=T0, closed_at=T0 + timedelta(days=1),
        respond_by=T0 + timedelta(hours=4), resolve_by=T0 + timedelta(days=3), cause=cause,
        title=title, description=description, answer="已转产品经理评估")


# --- seed ----------------------------------------------------------------------------------------------------

def test_seed_has_the_documents_4_platforms_and_35_products():
    assert [p["code"] for p in seed.PLATFORMS] == ["cloud", "video", "card", "school"]
    assert {p["name"] for p in seed.PLATFORMS} == {"信息化云平台", "视频监控平台", "一卡通平台", "校讯通平台"}
    assert len(seed.PRODUCTS) == 35


def test_seed_products_named_in_the_document_are_not_samples_and_the_rest_are():
    real = {p["code"]: p["name"] for p in seed.PRODUCTS if not p["sample"]}
    assert real == {"mobile_office": "移动办公", "group_directory": "集团通讯录", "field_force": "外勤通"}


def test_seed_codes_are_unique_valid_and_reference_existing_platforms():
    codes = [p["code"] for p in (*seed.PLATFORMS, *seed.PRODUCTS)]
    assert len(codes) == len(set(codes)), "product and platform codes share one namespace"
    assert all(catalog.valid_code(c) for c in codes)
    assert len({p["name"] for p in seed.PRODUCTS}) == len(seed.PRODUCTS)
    platforms = {p["code"] for p in seed.PLATFORMS}
    assert all(p["platform_code"] in platforms for p in seed.PRODUCTS)


def test_seed_entries_have_stage_vendor_and_product_managers():
    for p in (*seed.PLATFORMS, *seed.PRODUCTS):
        assert p["stage"] in Stage
        assert p["vendor"].startswith("vendor-")
        assert p["product_managers"] and all(pm.startswith("pm-") for pm in p["product_managers"])
    live = [p for p in seed.PRODUCTS if p["stage"] in (Stage.delivered, Stage.commercial)]
    assert len(live) > len(seed.PRODUCTS) / 2
    assert any(p["stage"] in (Stage.trial, Stage.development) for p in seed.PRODUCTS)


# --- catalog -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,ok", [("mobile_office", True), ("a1", True), ("x" * 40, True), ("x" * 41, False),
                                     ("a", False), ("1abc", False), ("Mobile", False), ("mobile-office", False),
                                     ("_abc", False), ("移动办公", False)])
def test_code_format(code, ok):
    assert catalog.valid_code(code) is ok


def test_a_registered_product_starts_in_demand_at_version_1_and_announces_its_state():
    doc = catalog.entry({"code": "smart_hall", "name": "智慧营业厅", "platform_code": "cloud"}, kind="product", now=T0)
    assert (doc["_id"], doc["stage"], doc["version"], doc["sample"]) == ("smart_hall", "demand", 1, False)
    event = catalog.registered(doc)
    assert (event.code, event.kind, event.platform_code, event.stage) == ("smart_hall", "product", "cloud", Stage.demand)


def test_a_platform_entry_has_no_platform_code():
    doc = catalog.entry({**seed.PLATFORMS[0], "platform_code": "x"}, kind="platform", now=T0)
    assert doc["platform_code"] is None and catalog.registered(doc).kind == "platform"


def test_stages_are_ordered_with_chinese_labels():
    assert stages.ORDER[0] == Stage.demand and stages.ORDER[-1] == Stage.retired
    assert stages.ORDER.index(Stage.trial) < stages.ORDER.index(Stage.trial_commercial) < stages.ORDER.index(
        Stage.commercial) < stages.ORDER.index(Stage.delivered)
    assert stages.label("trial_commercial") == "试商用" and stages.label(Stage.delivered) == "交付"


# --- normalise -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("无法登录！", "无法登录"),
    ("无法 登录。", "  无法登录"),
    ("希望支持：批量导入（Excel）", "希望支持批量导入excel"),
    ("通讯录“同步”失败……", "通讯录同步失败"),
    ("Login   FAILS!!", "login fails"),
    ("ＡＰＰ闪退", "app闪退"),          # full-width letters
    ("【外勤通】定位不准、", "外勤通定位不准"),
    ("打卡\t\n失败", "打卡失败"),
])
def test_normalise_treats_these_as_the_same(a, b):
    assert backlog.normalise(a) == backlog.normalise(b)


def test_normalise_output():
    assert backlog.normalise("  希望支持：批量 导入（Excel 表格）! ") == "希望支持批量导入excel表格"
    assert backlog.normalise("Mobile  office, sync-error") == "mobile office sync error"
    assert backlog.normalise("！？。，") == ""


def test_normalise_keeps_different_issues_apart():
    assert backlog.normalise("无法登录") != backlog.normalise("无法注销")


# --- backlog -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,cause,expected", [
    (Kind.suggestion, None, True),
    (Kind.suggestion, Cause.usage_misunderstanding, True),
    (Kind.complaint, Cause.product_defect, True),
    (Kind.fault, Cause.product_defect, True),
    (Kind.consultation, Cause.feature_request, True),
    (Kind.complaint, Cause.billing_error, False),
    (Kind.consultation, Cause.usage_misunderstanding, False),
    (Kind.fault, Cause.network_or_platform, False),
    (Kind.consultation, None, False),
])
def test_which_closed_tickets_reach_the_backlog(kind, cause, expected):
    assert backlog.qualifies(closed_ticket(kind=kind, cause=cause)) is expected


def test_a_first_ticket_starts_an_item():
    ticket = closed_ticket()
    item = backlog.add_ticket(None, ticket, seen_at=T0)
    assert item["_id"] == backlog.item_id("mobile_office", "希望支持批量导入")
    assert item["_id"].startswith("mobile_office:")
    assert (item["count"], item["ticket_ids"], item["kinds"], item["causes"]) == (1, [ticket.ticket_id], ["suggestion"], [])
    assert item["first_seen"] == item["last_seen"] == T0


def test_the_same_ticket_twice_changes_nothing():
    item = backlog.add_ticket(None, closed_ticket(), seen_at=T0)
    assert backlog.add_ticket(item, closed_ticket(), seen_at=T0 + timedelta(hours=1)) is None


def test_a_suggestion_and_a_defect_complaint_with_the_same_title_merge():
    first = backlog.add_ticket(None, closed_ticket("JY-1", title="希望支持批量导入！"), seen_at=T0 + timedelta(days=2))
    complaint = closed_ticket("TS-2", kind=Kind.complaint, cause=Cause.product_defect, title="希望支持 批量导入")
    assert backlog.item_id(complaint.product_code, backlog.grouping_key(complaint)) == first["_id"]
    merged = backlog.add_ticket(first, complaint, seen_at=T0)  # an older close arriving late
    assert merged["count"] == 2 and merged["ticket_ids"] == ["JY-1", "TS-2"]
    assert merged["kinds"] == ["complaint", "suggestion"] and merged["causes"] == ["product_defect"]
    assert merged["first_seen"] == T0 and merged["last_seen"] == T0 + timedelta(days=2)
    assert merged["title"] == "希望支持批量导入！"


def test_items_are_per_product():
    a = closed_ticket(product_code="mobile_office")
    b = closed_ticket(product_code="field_force")
    assert backlog.item_id(a.product_code, backlog.grouping_key(a)) != backlog.item_id(b.product_code, backlog.grouping_key(b))


def test_a_title_of_punctuation_only_groups_by_the_question():
    ticket = closed_ticket(title="？？", description="批量导入 怎么用")
    assert backlog.grouping_key(ticket) == "批量导入怎么用"
