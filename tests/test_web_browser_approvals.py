"""A stage approval cycle in real headless Chromium against `tledger serve`, on both
backends: the owner requests L3, the office approves, the owner's plan cells are then
read-only while the forecast stays editable."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers.web import PASSWORD, make_site
from helpers.web_serve import serving

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed here "
                       "(.ci/run installs it: apt-get install chromium)"),
]
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _log_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_owner_requests_l3_office_approves_and_the_plan_locks(programme, db_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    make_site(programme)
    plan_cell = 'input[name="c|benefit|plan|2026-07-01"]'
    with serving(db_url) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        owner = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        _log_in(owner, base, "ana@example.com")
        owner.goto(f"{base}/initiatives/GR-0001")
        assert owner.locator(plan_cell).count() == 1  # at L2 the plan is the owner's
        owner.fill('.stage-request-form input[name="note"]', "business case signed")
        with owner.expect_navigation():
            owner.click("text=Request move to L3")
        assert owner.inner_text("#message").startswith("Requested the move to L3")
        assert "pending the office's approval" in owner.inner_text("#request-state")
        assert owner.locator(".stage-request-form").count() == 0  # one request at a time

        office = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        _log_in(office, base, "off@example.com")
        with office.expect_navigation():
            office.click("nav >> text=Approvals")
        row = office.locator("#pending tr", has_text="GR-0001")
        assert "L2 → L3" in row.inner_text()
        assert "business case signed" in row.inner_text()
        office.screenshot(path=str(tmp_path / "approvals.png"), full_page=False)
        if os.environ.get("TLEDGER_UPDATE_SCREENSHOTS") == "1":
            office.screenshot(path=str(DOCS / "web-approvals.png"), full_page=False)
        row.locator('form[action$="/approve"] input[name="note"]').fill("steerco 3 Dec")
        with office.expect_navigation():
            row.locator('form[action$="/approve"] button').click()
        assert "the plan is committed" in office.inner_text("#message")
        assert office.locator("#none-pending").count() == 1

        owner.reload()
        assert owner.inner_text("dl.attributes").count("L3") == 1
        assert owner.inner_text("#plan-committed").startswith(
            "Plan committed at L3 on ")
        assert "by off@example.com: change the forecast, or ask the office" in \
            owner.inner_text("#plan-committed")
        assert "approved by off@example.com" in owner.inner_text("#request-state")
        # The plan row is text now; the forecast row still takes input.
        assert owner.locator(plan_cell).count() == 0
        assert owner.locator('input[name="c|benefit|forecast|2026-07-01"]').count() == 1
        plan_row = owner.locator("#phasing tbody tr", has_text="plan").first
        assert "1,000.00" in plan_row.inner_text() or "1000.00" in plan_row.inner_text()
        owner.screenshot(path=str(tmp_path / "committed.png"), full_page=False)
        browser.close()
