"""Single sign-on in real headless Chromium against `tledger serve` and a real OpenID
Connect provider, on both backends: the cookies that carry the state across the
provider's redirect and the session cookie behave in a browser as the ASGI tests assume."""

from __future__ import annotations

import shutil

import httpx
import pytest
from helpers.oidc import oidc_provider, sso_environment
from helpers.web import make_site
from helpers.web_serve import free_port, serving

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed here "
                       "(.ci/run installs it: apt-get install chromium)"),
]


def through_provider(page, base: str, sub: str) -> None:  # type: ignore[no-untyped-def]
    """From the login page, through the provider's form as ``sub``, back to tledger."""
    page.goto(f"{base}/login")
    with page.expect_navigation():
        page.click("text=Sign in with your company account")
    page.fill('input[name="sub"]', sub)
    with page.expect_navigation(url=f"{base}/**"):
        page.click('button[type="submit"] >> nth=0')


def test_an_office_account_signs_in_through_the_provider_and_a_stranger_does_not(
        programme, db_url, monkeypatch, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    make_site(programme)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with oidc_provider() as issuer:
        for name, value in sso_environment(issuer, base).items():
            monkeypatch.setenv(name, value)
        for sub, email in [("sub-off", "Off@example.com"), ("sub-x", "x@example.com")]:
            httpx.put(f"{issuer}/users/{sub}", json={"email": email, "email_verified": True})
        with serving(db_url, port=port), sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1000, "height": 600})
            through_provider(page, base, "sub-off")
            assert page.url == f"{base}/dashboard"  # the office's home
            assert "off@example.com (office)" in page.inner_text("header")
            page.screenshot(path=str(tmp_path / "signed-in.png"))
            with page.expect_navigation():
                page.click("header button[type=submit]")  # log out
            assert page.url == f"{base}/login"

            through_provider(page, base, "sub-x")
            assert "/login/sso/callback" in page.url
            assert "no access: ask the programme office to add you" in page.content()
            page.goto(f"{base}/initiatives")
            assert page.url == f"{base}/login"  # no session was made
            browser.close()
