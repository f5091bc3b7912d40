"""Finance's dashboard and board pack in real headless Chromium (Debian's `chromium`,
driven by Playwright through `executable_path`), against `tledger serve` on both backends.

The dashboard shows `tledger gap`'s figures and Chart.js draws its chart under the strict
CSP (no console error); the board pack downloaded through the Reports page opens and its
figures tie to the engine: recalculated by LibreOffice (once, on SQLite: the workbook's
formulas do not depend on the database), and as cached on PostgreSQL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.dashboard import assert_matches_cli, cli_gap, dashboard_figures
from helpers.libreoffice import recalculate
from helpers.report_checks import assert_ties_to_engine
from helpers.web import PASSWORD, make_site
from helpers.web_serve import serving

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed here "
                       "(.ci/run installs it: apt-get install chromium)"),
]


def test_finance_sees_the_clis_figures_and_downloads_a_board_pack_that_ties(
        programme, db_url, backend, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    site = make_site(programme)
    with serving(db_url) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1400, "height": 900},
                                      accept_downloads=True)
        page = context.new_page()
        problems: list[str] = []
        # A CSP refusal or a script error is a console error; a failed load is named by
        # its response (the browser's own favicon request is no page's).
        page.on("console", lambda msg: problems.append(msg.text) if msg.type in (
            "error", "warning") and not msg.text.startswith("Failed to load resource")
            else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
                and not r.url.endswith("/favicon.ico") else None)
        page.goto(f"{base}/login")
        page.fill('input[name="email"]', "fin@example.com")
        page.fill('input[name="password"]', PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == f"{base}/dashboard"

        # Switch to risk-weighted by business unit through the form, as a user would.
        page.check('input[name="weighted"]')
        page.select_option('select[name="by"]', "business_unit")
        with page.expect_navigation():
            page.click("#switches button[type=submit]")
        page.wait_for_selector("#chart[data-drawn='2']", timeout=10_000)
        figures = dashboard_figures(page.content())
        compared = assert_matches_cli(figures, "monthly", cli_gap(db_url, "--weighted"),
                                      "month")
        compared += assert_matches_cli(figures, "breakdown", cli_gap(
            db_url, "--weighted", "--by", "business_unit", "--view", "fiscal"), "period")
        assert compared > 100
        # What the browser shows is the text the CLI prints (not only the data attributes).
        first = page.locator("#monthly tbody tr").first
        assert first.locator("td[data-col=target]").inner_text() == \
            figures[("monthly", "Programme", first.get_attribute("data-period") or "",
                     "target")][1]
        assert page.evaluate("document.getElementById('chart').width") > 300
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=False)
        assert problems == []

        # The board pack, downloaded through the Reports page.
        with page.expect_navigation():
            page.click("header >> text=Reports")
        with page.expect_download() as download:
            page.click("#download-pack")
        pack = tmp_path / download.value.suggested_filename
        download.value.save_as(pack)
        assert pack.name.startswith("gap-benefit-plan-as-of-")
        browser.close()
    if backend == "sqlite":
        pack = recalculate([pack], tmp_path)[0]
    assert assert_ties_to_engine(pack, site.ledger) > 100
