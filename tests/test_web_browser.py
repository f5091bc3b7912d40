"""The owner's flow in real headless Chromium (Debian's `chromium`, driven by Playwright
through `executable_path`), against `tledger serve` on both backends.

Screenshots of the main pages are written to the test's temporary directory; with
TLEDGER_UPDATE_SCREENSHOTS=1 the initiative page's is also written to docs/ for the README.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers.owner_seed import plan_of
from helpers.web import PASSWORD, START, make_site, submissions
from helpers.web_serve import serving

from ledger.accounts import add_account, set_password

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed here "
                       "(.ci/run installs it: apt-get install chromium)"),
]
DOCS = Path(__file__).resolve().parent.parent / "docs"


def cell(name: str) -> str:
    return f'input[name="c|{name}"]'


def save(page) -> None:  # type: ignore[no-untyped-def]
    """Click Save and wait for the answer page (a click alone does not wait for it)."""
    with page.expect_navigation():
        page.click("form.grid button[type=submit]")


def test_an_owner_edits_saves_and_is_refused_when_stale_or_wrong(programme, db_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    site = make_site(programme)
    with serving(db_url) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill('input[name="email"]', "ana@example.com")
        page.fill('input[name="password"]', PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == f"{base}/initiatives"
        assert "GR-0003" not in page.content()
        page.screenshot(path=str(tmp_path / "my-initiatives.png"), full_page=True)

        # Edit three months, save, see the totals and the history change.
        with page.expect_navigation():
            page.click("text=GR-0001")
        assert page.inner_text("#owner-forecast") == "0.00"
        for month, value in [("2026-07-01", "100"), ("2026-08-01", "1,200"),
                             ("2026-09-01", "(50)")]:
            page.fill(cell(f"benefit|forecast|{month}"), value)
        save(page)
        assert page.inner_text("#message").startswith("Saved 3 month(s)")
        assert page.inner_text("#owner-forecast") == "1,250.00"
        history = page.inner_text("#history")
        assert "ana@example.com" in history
        assert "benefit forecast 2026-08" in history
        page.screenshot(path=str(tmp_path / "initiative.png"), full_page=False)
        if os.environ.get("TLEDGER_UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(DOCS / "web-initiative.png"), full_page=False)

        # Two tabs on the same initiative: the second save is refused with the diff.
        second = context.new_page()
        second.goto(f"{base}/initiatives/GR-0001")
        page.fill(cell("benefit|forecast|2026-07-01"), "111")
        save(page)
        assert page.inner_text("#message").startswith("Saved 1 month(s)")
        before = submissions(site.ledger)
        second.fill(cell("benefit|forecast|2026-07-01"), "222")
        save(second)
        conflict = second.inner_text("#conflict")
        assert "benefit forecast 2026-07\t100.00\t111.00\t222.00" in conflict
        second.screenshot(path=str(tmp_path / "stale-save.png"), full_page=False)
        assert submissions(site.ledger) == before

        # A typo is named on its cell and nothing is saved.
        page.fill(cell("benefit|forecast|2026-10-01"), "abc")
        page.fill(cell("benefit|forecast|2026-11-01"), "5")
        save(page)
        assert "found 'abc', expected a number" in page.inner_text("td.bad .cell-error")
        assert submissions(site.ledger) == before
        assert "2026-11" not in plan_of(site.ledger, "GR-0001", "forecast")

        # Another owner's initiative is not there for her.
        response = page.goto(f"{base}/initiatives/GR-0003")
        assert response is not None
        assert response.status == 404
        browser.close()


def test_the_office_sees_every_initiative_and_the_programme(programme, db_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    make_site(programme)
    add_account(programme, "boss@example.com", "office", None, now=START)
    set_password(programme, "boss@example.com", PASSWORD)
    with serving(db_url) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/login")
        page.fill('input[name="email"]', "boss@example.com")
        page.fill('input[name="password"]', PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == f"{base}/dashboard"  # the office's home page
        with page.expect_navigation():
            page.click("header >> text=Initiatives")
        assert all(ext in page.content() for ext in ("GR-0001", "GR-0002", "GR-0003"))
        with page.expect_navigation():
            page.click("text=Programme")
        assert "7,200.75" in page.inner_text("#headline")
        page.screenshot(path=str(tmp_path / "programme.png"), full_page=True)
        browser.close()
