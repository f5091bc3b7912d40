"""A seeded web app and logged-in test clients (helpers for the web tests; no tests here)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its test client; httpx (what it is built on) works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
from sqlalchemy import text

from helpers.owner_seed import seed
from ledger.accounts import add_account, disable_account, set_password
from ledger.api import Ledger
from tledger.web.app import create_app

PASSWORD = "long-enough-password"
#: login -> (role, owner name)
ACCOUNTS = {
    "ana@example.com": ("owner", "Ana Lima"),
    "ben@example.com": ("owner", "Ben Okafor"),
    "fin@example.com": ("finance", None),
    "off@example.com": ("office", None),
    "gone@example.com": ("owner", "Ana Lima"),
}
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The app's clock: moved by hand, so session expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    ledger: Ledger
    clock: Clock
    app: object

    def client(self, https: bool = False) -> TestClient:
        return TestClient(self.app, base_url="https://testserver" if https else
                          "http://testserver", follow_redirects=False)  # type: ignore[arg-type]

    def login(self, email: str, password: str = PASSWORD, https: bool = False) -> TestClient:
        client = self.client(https)
        response = log_in(client, email, password)
        assert response.status_code == 303, response.text
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no csrf field on the page"
    return found.group(1)


_HIDDEN = re.compile(
    r'<input type="hidden" name="((?:as_of|v\||attributes_version)[^"]*)" value="([^"]*)"')


def hidden_of(html: str) -> dict[str, str]:
    """The version fields a page carries back to its save."""
    return dict(_HIDDEN.findall(html))


def log_in(client: TestClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(page.text), "email": email,
                                       "password": password})


def make_site(programme: Ledger, *, disable_gone: bool = True) -> Site:
    """The standard programme seeded with Ana's GR-0001 (L2) and GR-0002 (L3) and Ben's
    GR-0003, and the :data:`ACCOUNTS` (``gone@`` disabled unless told otherwise)."""
    seed(programme)
    for email, (role, owner) in ACCOUNTS.items():
        add_account(programme, email, role, owner, now=START)
    set_password(programme, "ana@example.com", PASSWORD)
    with programme.writing() as conn:  # one Argon2 hash is enough: it is slow by design
        conn.execute(text("UPDATE account SET password_hash = (SELECT password_hash FROM "
                          "account WHERE email = 'ana@example.com')"))
    if disable_gone:
        disable_account(programme, "gone@example.com", now=START)
    clock = Clock()
    return Site(programme, clock, create_app(programme, clock=clock))


def submissions(led: Ledger) -> int:
    with led.reading() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM submission")).scalar_one())


def save_form(client: TestClient, external_id: str, cells: dict[str, str], note: str = "",
              page_html: str | None = None) -> dict[str, str]:
    """The form a browser would post for ``cells`` on the page (read now unless given)."""
    html = page_html if page_html is not None else client.get(f"/initiatives/{external_id}").text
    return {"csrf": csrf_of(html), **hidden_of(html), "note": note,
            **{f"c|{k}": v for k, v in cells.items()}}


def followed(client: TestClient, response):  # type: ignore[no-untyped-def]
    """The page a save's redirect leads to (the save must have answered 303 to its page)."""
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/initiatives/")
    return client.get(response.headers["location"])
