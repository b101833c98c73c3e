"""Every role signs in through the development sign-in page and the frame loads each area's URL: the menu, who is
signed in, no script error. A screenshot of each main page is saved (their paths are printed)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.console.helpers import AREAS, ROLES, open_area, shot, sign_in

pytestmark = pytest.mark.browser

CLAIMS = {  # what each role's token needs to see its own scope
    "product_manager": {"products": ["mobile_office"]},
    "vendor": {"vendor": "vendor-05"},
    "account_manager": {"city": "济南"},
}
MENU = {"tickets": "工单", "knowledge": "知识库", "lifecycle": "产品生命周期", "dashboard": "运营看板"}


def test_sign_in_page_loads(page, console):
    page.goto(console)
    expect(page.get_by_label("工号")).to_be_visible()
    shot(page, "sign-in")


@pytest.mark.parametrize("role", ROLES)
def test_frame_loads_every_area(page, console, role):
    sign_in(page, console, role, f"{role}-01", **CLAIMS.get(role, {}))
    for area in AREAS:
        open_area(page, console, area)
        expect(page).to_have_url(f"{console}/{area}")
        menu = page.get_by_role("menu")
        for label in MENU.values():
            expect(menu.get_by_text(label, exact=True)).to_be_visible()
        expect(page.locator(".ant-menu-item-selected")).to_contain_text(MENU[area])
        if role in ("agent", "analyst", "product_manager"):
            page.wait_for_load_state("networkidle")
            shot(page, f"frame-{area}-{role}")
    assert not page.errors, f"script errors as {role}: {page.errors}"
