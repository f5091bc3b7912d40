"""Single sign-on against a real OpenID Connect provider run locally (oidc-provider-mock,
Authlib's own provider code in a thread on 127.0.0.1), on both backends.

The test plays the browser: it follows the app's redirect to the provider's authorization
endpoint, completes it there as the mock lets a test (posting the subject), and brings the
redirect back to the app's callback. Wrong audiences, expired tokens, other issuers and
other nonces are real ID tokens the provider signs: the mock lets a user's claims override
those of the token it issues."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from helpers.oidc import oidc_provider, sso_environment
from helpers.web import Site, TestClient, csrf_of, make_site, submissions
from sqlalchemy import text

from ledger import settings
from ledger.accounts import list_accounts
from ledger.settings import SettingError
from tledger.web.app import create_app
from tledger.web.sso import SSO_COOKIE, signing_algorithms

CLIENT_ID = "tledger-web"
#: The test's own calls to the provider (one client: a TLS context costs ~0.1 s to make).
HTTP = httpx.Client(timeout=10)
APP = "http://localhost"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider() as issuer:
        yield issuer
    HTTP.close()


def configure(monkeypatch: pytest.MonkeyPatch, issuer: str, **more: str) -> None:
    for name, value in {**sso_environment(issuer, APP, CLIENT_ID), **more}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def site(programme, provider, monkeypatch) -> Site:
    configure(monkeypatch, provider)
    made = make_site(programme)
    made.clock.now = datetime.now(UTC)  # the provider stamps tokens with the real time
    return made


def browser(site: Site) -> TestClient:
    """A browser at the app's base URL (TLEDGER_BASE_URL: http only on this machine)."""
    return TestClient(site.app, base_url=APP, follow_redirects=False)  # type: ignore[arg-type]


def to_provider(client, provider: str) -> str:
    """The app's first leg: the provider's authorization URL it redirects the browser to."""
    started = client.get("/login/sso")
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert location.startswith(provider + "/oauth2/authorize?")
    for part in (f"client_id={CLIENT_ID}", "code_challenge_method=S256", "code_challenge=",
                 "nonce=", "state=", "scope=openid+email"):
        assert part in location, part
    return location


def at_provider(provider: str, location: str, sub: str, claims: dict) -> str:
    """Sign ``sub`` in at the provider with ``claims``; the callback path it sends back."""
    assert HTTP.put(f"{provider}/users/{sub}", json=claims).status_code == 204
    done = HTTP.post(location, data={"sub": sub})
    assert done.status_code == 302, done.text
    back = done.headers["location"]
    assert back.startswith(f"{APP}/login/sso/callback?")
    return back.removeprefix(APP)


def sign_in(site: Site, provider: str, sub: str, claims: dict, client=None):
    client = client or browser(site)
    back = at_provider(provider, to_provider(client, provider), sub, claims)
    return client, client.get(back)


def verified(email: str, **more: object) -> dict:
    return {"email": email, "email_verified": True, **more}


def test_a_known_account_signs_in_with_its_role_and_email_case_ignored(site, provider):
    client, back = sign_in(site, provider, "sub-office", verified("Off@Example.COM"))
    assert back.status_code == 303
    assert back.headers["location"] == "/"
    assert SSO_COOKIE not in client.cookies  # the state is spent with the answer
    page = client.get("/initiatives")
    assert page.status_code == 200
    assert "off@example.com (office)" in page.text
    assert client.get("/reports/gap.xlsx").status_code == 200  # the office's rights

    owner, back = sign_in(site, provider, "sub-ana", verified("ana@example.com"))
    assert back.status_code == 303
    assert "My initiatives" in owner.get("/initiatives").text
    assert owner.get("/initiatives/GR-0003").status_code == 404  # Ben's, as with a password
    assert owner.get("/reports/gap.xlsx").status_code == 403
    # The session is the password login's: logging out ends it.
    html = owner.get("/initiatives").text
    assert owner.post("/logout", data={"csrf": csrf_of(html)}).status_code == 303
    assert owner.get("/initiatives").status_code == 303


#: An identity the provider vouches for but the ledger does not let in: claims, why, status.
NO_ACCESS = [
    (verified("nobody@example.com"), "no access: ask the programme office to add you", 403),
    (verified("gone@example.com"), "no access", 403),  # disabled
    ({"email": "off@example.com", "email_verified": False}, "not a verified email", 403),
    ({"name": "No Email"}, "sent no email claim", 401),
]
#: ID tokens the provider really signs, with one claim that is not for us: claims, why.
NOT_FOR_US = [
    ({"aud": "another-app"}, "aud"),
    ({"exp": int(time.time()) - 3600}, "exp"),
    ({"iss": "https://impostor.example.com"}, "iss"),
    ({"nonce": "not-the-one-we-sent"}, "nonce"),
]


def test_unknown_disabled_or_unverified_identities_get_no_access(site, provider):
    before = [a.email for a in list_accounts(site.ledger)]
    for n, (claims, why, status) in enumerate(NO_ACCESS):
        client, back = sign_in(site, provider, f"sub-no-{n}", claims)
        assert (back.status_code, why in back.text) == (status, True), back.text
        assert client.get("/initiatives").status_code == 303  # no session
    assert [a.email for a in list_accounts(site.ledger)] == before  # nothing created
    with site.ledger.reading() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM web_session")).scalar_one() == 0


def test_id_tokens_the_provider_signed_for_something_else_are_refused(site, provider):
    for override, why in NOT_FOR_US:
        client, back = sign_in(site, provider, f"sub-{why}",
                               verified("off@example.com", **override))
        assert back.status_code == 401, back.text
        assert f"ID token was refused ({why}" in back.text, back.text
        assert client.get("/initiatives").status_code == 303
    with site.ledger.reading() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM web_session")).scalar_one() == 0


def test_a_token_expired_by_the_apps_clock_or_a_stale_sign_in_is_refused(site, provider):
    # The mock's ID tokens last an hour; with the app's clock an hour and two minutes on
    # (past the minute of leeway) the token the provider just signed has expired.
    site.clock.now = datetime.now(UTC) + timedelta(hours=1, minutes=2)
    client, back = sign_in(site, provider, "sub-late", verified("off@example.com"))
    assert back.status_code == 401
    assert "ID token was refused (exp" in back.text
    # A sign-in left at the provider longer than its window must start again.
    site.clock.now = datetime.now(UTC)
    client = browser(site)
    back = at_provider(provider, to_provider(client, provider), "sub-slow",
                       verified("off@example.com"))
    site.clock.advance(minutes=11)
    response = client.get(back)
    assert response.status_code == 400
    assert "took too long" in response.text
    assert client.get("/initiatives").status_code == 303


def test_a_replayed_or_forged_state_is_refused(site, provider):
    client = browser(site)
    location = to_provider(client, provider)
    cookie = client.cookies.get(SSO_COOKIE)
    back = at_provider(provider, location, "sub-replay", verified("fin@example.com"))
    assert client.get(back).status_code == 303  # the first use signs in
    # The same callback again: the browser no longer holds the state...
    again = client.get(back)
    assert again.status_code == 400
    assert "already used" in again.text
    # ... and with the spent cookie put back, the provider refuses the code it redeemed.
    client.cookies.set(SSO_COOKIE, cookie, path="/login/sso")
    again = client.get(back)
    assert again.status_code == 401
    assert "refused the sign-in (invalid_grant)" in again.text
    # Another browser with the callback link (no cookie, a forged one, or its own state).
    other = browser(site)
    assert other.get(back).status_code == 400
    other.cookies.set(SSO_COOKIE, cookie[:-4] + "AAAA", path="/login/sso")
    assert other.get(back).status_code == 400
    to_provider(other, provider)  # a sign-in of its own: a state that is not the link's
    refused = other.get(back)
    assert refused.status_code == 400
    assert "not started from this browser" in refused.text
    assert other.get("/initiatives").status_code == 303


def test_the_login_page_offers_sso_and_can_turn_passwords_off(site, programme, provider,
                                                                monkeypatch):
    page = browser(site).get("/login").text
    assert 'href="/login/sso"' in page
    assert 'name="password"' in page
    monkeypatch.setenv("TLEDGER_PASSWORD_LOGIN", "off")
    site.app = create_app(programme, clock=site.clock)
    client = browser(site)
    page = client.get("/login").text
    assert 'href="/login/sso"' in page
    assert 'name="password"' not in page
    before = submissions(programme)
    posted = client.post("/login", data={"csrf": "x", "email": "ana@example.com",
                                         "password": "long-enough-password"})
    assert posted.status_code == 403
    assert "single sign-on only" in posted.text
    assert submissions(programme) == before
    _, back = sign_in(site, provider, "sub-only", verified("ben@example.com"))
    assert back.status_code == 303


def test_without_sso_settings_the_routes_are_404_and_the_page_has_no_link(programme,
                                                                         monkeypatch):
    monkeypatch.delenv("TLEDGER_OIDC_ISSUER", raising=False)
    site = make_site(programme)
    client = browser(site)
    assert "/login/sso" not in client.get("/login").text
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback?state=x&code=y").status_code == 404


# ------------------------------------------------------------------ settings (no database)
def _env(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> None:
    for name in ("TLEDGER_OIDC_ISSUER", "TLEDGER_OIDC_CLIENT_ID", "TLEDGER_OIDC_CLIENT_SECRET",
                 "TLEDGER_OIDC_CLIENT_SECRET_FILE", "TLEDGER_OIDC_EMAIL_CLAIM",
                 "TLEDGER_BASE_URL", "TLEDGER_PASSWORD_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        if value is not None:
            monkeypatch.setenv(f"TLEDGER_{name}", value)


GOOD = {"OIDC_ISSUER": "https://login.example.com/tenant/", "OIDC_CLIENT_ID": "abc",
        "BASE_URL": "https://tledger.example.com"}


def test_settings_read_the_secret_from_a_file_and_name_the_claim(monkeypatch, tmp_path):
    _env(monkeypatch)
    assert settings.oidc() is None
    assert settings.password_login() is True
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n", encoding="utf-8")
    _env(monkeypatch, **GOOD, OIDC_CLIENT_SECRET_FILE=str(secret), OIDC_EMAIL_CLAIM="upn",
         PASSWORD_LOGIN="OFF")
    got = settings.oidc()
    assert got is not None
    assert (got.issuer, got.client_secret, got.email_claim, got.redirect_uri) == (
        "https://login.example.com/tenant", "from-a-file", "upn",
        "https://tledger.example.com/login/sso/callback")
    assert "from-a-file" not in repr(got)
    assert settings.password_login() is False


@pytest.mark.parametrize(("values", "message"), [
    ({**GOOD, "OIDC_ISSUER": "http://login.example.com"}, "TLEDGER_OIDC_ISSUER="),
    ({**GOOD, "OIDC_CLIENT_ID": None, "OIDC_CLIENT_SECRET": "x"}, "TLEDGER_OIDC_CLIENT_ID"),
    ({**GOOD, "BASE_URL": None, "OIDC_CLIENT_SECRET": "x"}, "TLEDGER_BASE_URL"),
    (GOOD, "the client secret"),
    ({**GOOD, "OIDC_CLIENT_SECRET": "x", "OIDC_CLIENT_SECRET_FILE": "/x"}, "both set"),
    ({**GOOD, "OIDC_CLIENT_SECRET_FILE": "/no/such/file"}, "a readable file"),
    ({**GOOD, "OIDC_CLIENT_SECRET": "x", "OIDC_EMAIL_CLAIM": "e mail"}, "a claim name"),
    ({"PASSWORD_LOGIN": "off"}, "nobody could log in"),
    ({"PASSWORD_LOGIN": "maybe"}, "on or off"),
])
def test_bad_sso_settings_are_one_line_naming_the_variable(monkeypatch, values, message):
    _env(monkeypatch, **values)
    with pytest.raises(SettingError, match=message) as caught:
        settings.password_login() and settings.oidc()  # both read: one refuses
    assert "\n" not in str(caught.value)


def test_only_public_key_signatures_are_accepted_for_id_tokens():
    offered = {"id_token_signing_alg_values_supported": ["none", "HS256", "RS256", "ES256"]}
    assert signing_algorithms(offered) == ["RS256", "ES256"]
    assert signing_algorithms({"id_token_signing_alg_values_supported": ["none"]}) == ["RS256"]
    assert signing_algorithms({}) == ["RS256"]
