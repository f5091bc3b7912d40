"""`tledger serve` as a real process: it serves the login page over HTTP on both backends;
several workers need PostgreSQL."""

from __future__ import annotations

import os
import subprocess

import httpx
from helpers.web_serve import SERVE, serving


def test_serve_answers_the_login_page_with_its_security_headers(db_url):
    with serving(db_url) as base:
        response = httpx.get(f"{base}/login")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "server" not in response.headers


def test_serve_refuses_several_workers_on_sqlite_in_one_line(tmp_path):
    from ledger.api import Ledger

    url = f"sqlite:///{tmp_path / 'l.db'}"
    Ledger.init(url).dispose()
    done = subprocess.run([*SERVE, "--db", url, "--workers", "2"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 1
    assert "--workers above 1 needs a PostgreSQL ledger" in done.stderr
    assert "Traceback" not in done.stderr


def _login_cookie(base: str, headers: dict[str, str]) -> str:
    from helpers.web import PASSWORD, csrf_of

    with httpx.Client(base_url=base, headers=headers, follow_redirects=False) as client:
        page = client.get("/login")
        # Sent by hand: the client speaks plain http to the server, as the proxy does, and
        # would hold back a Secure cookie that the browser (on https) sends.
        login_cookie = page.headers["set-cookie"].split(";")[0]
        client.cookies.clear()
        done = client.post("/login", headers={"Cookie": login_cookie},
                           data={"csrf": csrf_of(page.text), "email": "ana@example.com",
                                 "password": PASSWORD})
        assert done.status_code == 303, done.text
        return next(c for c in done.headers.get_list("set-cookie")
                    if c.startswith("tledger_session="))


def test_behind_a_trusted_proxy_https_makes_the_session_cookie_secure(programme, db_url):
    from helpers.web import make_site

    make_site(programme)
    https = {"X-Forwarded-Proto": "https"}
    with serving(db_url, "--forwarded-allow-ips", "127.0.0.1") as base:
        assert "; secure" in _login_cookie(base, https).lower()


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(programme, db_url):
    from helpers.web import make_site

    make_site(programme)
    with serving(db_url) as base:
        assert "secure" not in _login_cookie(base, {"X-Forwarded-Proto": "https"}).lower()
