"""The office's import in real headless Chromium against `tledger serve` (both backends):
a workbook with errors shows each problem's cell; the fixed workbook's dry run is
confirmed and lands as one submission by the office account."""

from __future__ import annotations

import shutil

import pytest
from helpers.web import PASSWORD, make_site, submissions
from helpers.web_imports import bad_and_fixed, last_submission
from helpers.web_serve import serving

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed here "
                       "(.ci/run installs it: apt-get install chromium)"),
]


def test_the_office_sees_cell_references_fixes_and_confirms(programme, db_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    make_site(programme)
    bad, fixed = bad_and_fixed(tmp_path)
    with serving(db_url) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(f"{base}/login")
        page.fill('input[name="email"]', "off@example.com")
        page.fill('input[name="password"]', PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        with page.expect_navigation():
            page.click("header >> text=Imports")
        before = submissions(programme)

        page.set_input_files("#workbook", str(bad))
        with page.expect_navigation():
            page.click("#dry-run")
        cells = page.locator("#problems td.cell").all_inner_texts()
        assert {"J5", "D6"} <= set(cells)
        assert "nothing was written" in page.inner_text("#summary")
        assert page.locator("#confirm").count() == 0
        assert page.get_attribute("#report-csv", "href").endswith("/problems.csv")
        page.screenshot(path=str(tmp_path / "imports-problems.png"), full_page=True)

        with page.expect_navigation():
            page.click("text=Upload another workbook")
        page.set_input_files("#workbook", str(fixed))
        page.fill('input[name="note"]', "fixed pipeline")
        with page.expect_navigation():
            page.click("#dry-run")
        assert "initiatives added: 2" in page.inner_text("#counts")
        assert submissions(programme) == before
        page.screenshot(path=str(tmp_path / "imports-dry-run.png"), full_page=True)
        with page.expect_navigation():
            page.click("#confirm")
        assert "Imported pipeline.xlsx" in page.inner_text("#message")
        browser.close()
    assert submissions(programme) == before + 1
    assert last_submission(programme)["user_name"] == "off@example.com"
