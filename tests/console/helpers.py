"""What the console's browser tests do again and again: sign in through the development sign-in page, open an area,
save a screenshot."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ARTIFACTS = Path(os.environ.get("OPS_TEST_ARTIFACTS") or Path(__file__).resolve().parent / "artifacts")
ROLES = ("agent", "complaint_handler", "ops_engineer", "product_manager", "vendor", "account_manager", "analyst",
         "admin")
AREAS = ("tickets", "knowledge", "lifecycle", "dashboard")


def sign_in(page: Page, console: str, role: str, sub: str, *, name: str | None = None, city: str | None = None,
            products: list[str] | tuple[str, ...] | None = None, vendor: str | None = None) -> None:
    """Sign in through pages/SignIn.tsx as `role` (one of ROLES) and wait for the frame showing who is signed in."""
    page.goto(f"{console}/")
    signed_in, form = page.get_by_test_id("current-user"), page.get_by_role("textbox", name="工号", exact=True)
    signed_in.or_(form).first.wait_for()
    if signed_in.count():  # someone else is signed in on this page: sign them out first
        page.get_by_role("button", name=re.compile(r"退\s*出")).click()
    form.wait_for()
    choose_role(page, role)
    page.get_by_role("textbox", name="工号", exact=True).fill(sub)
    if name:
        page.get_by_role("textbox", name="姓名", exact=True).fill(name)
    if city:
        page.get_by_role("textbox", name="地市", exact=True).fill(city)
    if products:
        page.get_by_role("textbox", name="负责产品", exact=True).fill(",".join(products))
    if vendor:
        page.get_by_role("textbox", name="厂家编号", exact=True).fill(vendor)
    page.get_by_role("button", name=re.compile(r"登\s*录")).click()
    expect(page.get_by_test_id("current-user")).to_contain_text(f"{name or sub}（{role}）")


def choose_role(page: Page, role: str) -> None:
    """Pick the sign-in form's role in its antd Select and check the Select shows it."""
    select = page.locator(".ant-select", has=page.get_by_role("combobox", name="角色"))
    chosen = re.compile(rf"\s{re.escape(role)}$")
    pick_option(page, select, chosen, shown=select.locator(".ant-select-selection-item"))


def pick_option(page: Page, select, option: re.Pattern | str, *, shown=None, typed: str | None = None,
                attempts: int = 4) -> None:
    """Open the antd Select `select` (typing `typed` into its search box, if given), click the option whose text
    matches `option`, and check that `shown` (when given) then shows it.

    On a loaded machine the pick can miss in two ways, both seen in fresh-clone runs: the click lands while the list is
    still sliding open and leaves the old value (once: signed in as agent, not admin), or the list closes under the
    click (a re-render of the form) and the click waits for an option that is gone. Each attempt is bounded and the
    pick is made again with the list opened afresh."""
    dropdown = page.locator(".ant-select-dropdown:visible")
    for attempt in range(attempts):
        last = attempt == attempts - 1
        if not dropdown.count():
            select.click()
            if typed:
                page.keyboard.type(typed)
        try:
            dropdown.locator(".ant-select-item-option").filter(has_text=option).first.click(
                timeout=None if last else 4000)
            if shown is not None:
                expect(shown).to_have_text(option, timeout=None if last else 2000)
            return
        except (AssertionError, PlaywrightTimeoutError):
            if last:
                raise
            page.keyboard.press("Escape")  # a list left open would be clicked shut by the next attempt's opening
            expect(dropdown).to_have_count(0)


def wait_until(check, timeout: float, what: str):
    """check() again and again until it gives something true (returned), or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(0.3)


def file_ticket(http: httpx.Client, base: str, body: dict, headers: dict[str, str]) -> dict:
    """The ticket a channel files through the gateway (`base`), as ticketing answers it (201). Ticketing learns the
    seeded catalog from lifecycle's start-up events: a 422 'unknown product' until then is tried again."""
    def filed():
        r = http.post(f"{base}/api/ticketing/v1/tickets", json=body, headers=headers)
        return r if r.status_code != 422 else None

    r = wait_until(filed, 30, "ticketing knows the seeded catalog")
    assert r.status_code == 201, r.text
    return r.json()


def open_area(page: Page, console: str, area: str) -> None:
    """Go to /<area> inside the signed-in console (a reload keeps the token: it is in sessionStorage)."""
    page.goto(f"{console}/{area}")
    expect(page.get_by_test_id("current-user")).to_be_visible()


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot under ARTIFACTS ($OPS_TEST_ARTIFACTS, else tests/console/artifacts/); prints its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
