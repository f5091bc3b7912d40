"""A seeded web app whose test clients get their session without the login form (no
Argon2 hashing or checking: seconds per test on a busy machine). The login itself is
tested by test_web.py; pages that only need a logged-in account use this."""

from __future__ import annotations

import warnings

from itsdangerous import URLSafeSerializer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from helpers.owner_seed import seed
from helpers.web import ACCOUNTS, START, Clock, Site
from ledger.accounts import add_account, find_account, secret_key, start_session
from ledger.api import Ledger
from tledger.web.app import SESSION_COOKIE, create_app


def quick_site(programme: Ledger) -> Site:
    """:func:`helpers.web.make_site`'s ledger and accounts, without passwords."""
    seed(programme)
    for email, (role, owner) in ACCOUNTS.items():
        add_account(programme, email, role, owner, now=START)
    clock = Clock()
    return Site(programme, clock, create_app(programme, clock=clock))


def session_client(site: Site, email: str) -> TestClient:
    """A client of ``site`` with a live session of ``email`` (as a login would give)."""
    with site.ledger.reading() as conn:
        account = find_account(conn, email)
    session = start_session(site.ledger, account, now=site.clock())
    client = site.client()
    signer = URLSafeSerializer(secret_key(site.ledger), salt="tledger-web")
    client.cookies.set(SESSION_COOKIE, signer.dumps(session.token))
    return client
