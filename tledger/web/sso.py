"""Single sign-on: log in through the company's OpenID Connect provider (issue 17).

Optional: with ``TLEDGER_OIDC_ISSUER`` unset (see :func:`ledger.settings.oidc`) both routes
answer 404 and the login page is the password form alone.

``GET /login/sso`` reads the provider's discovery document, makes a state, a nonce and a
PKCE verifier, keeps them in a short-lived cookie signed with the app's key (so they are
bound to this browser) and sends the browser to the provider's authorization endpoint.

``GET /login/sso/callback`` is where the provider sends it back. It refuses unless the
signed cookie is there, young enough and holds the same state; the cookie is cleared on
every answer, so a state is used once by this browser (and the provider redeems a code
once). It exchanges the code (with the verifier) at the token endpoint, checks the ID
token with Authlib (signature against the provider's JWKS, issuer, audience = our client
id, expiry against the app's clock, nonce, at_hash), reads the email from the configured
claim (refused when the provider says ``email_verified`` is false) and looks the account
up by email, case-insensitively, as password login does. An unknown or disabled account
gets no access and nothing is created: the office adds accounts (``tledger user add``).
A known one gets a session exactly as password login makes it (same cookie, same role);
the log records that it came through SSO.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import ssl
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ledger import settings
from ledger.accounts import Account, find_account, start_session
from ledger.errors import LedgerError, NotFound
from tledger.web.context import Web

log = logging.getLogger("tledger.web")

#: The cookie holding the state, nonce and PKCE verifier of a sign-in under way.
SSO_COOKIE = "tledger_sso"
#: How long a browser may stay at the provider before the sign-in must start again.
SSO_WINDOW = timedelta(minutes=10)
#: Clock skew allowed between the provider and this app when checking exp and iat.
LEEWAY_S = 60
#: Seconds to wait for the provider's discovery, keys and token endpoints.
PROVIDER_TIMEOUT_S = 10.0
#: The ID token signatures accepted: public-key ones only.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
#: How long the provider's discovery document is reused before it is read again.
METADATA_TTL_S = 300.0
SCOPE = "openid email"
CALLBACK = "/login/sso/callback"
NO_ACCESS = "no access: ask the programme office to add you"
COOKIE_SALT = "tledger-sso"


class Refused(LedgerError):
    """A sign-in the app does not accept: a page with the reason and a way back to the
    login page, never a traceback. ``status``: 401 the provider's answer failed a check,
    403 no access for this identity, 502 the provider could not be used."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Pending:
    """What the browser's cookie carries between the two legs of a sign-in."""

    state: str
    nonce: str
    verifier: str
    started: datetime


class Provider:
    """The OpenID provider as the settings name it; every call goes over the network."""

    def __init__(self, config: settings.OidcSettings) -> None:
        self.config = config
        self._tls: ssl.SSLContext | None = None
        self._meta: tuple[float, dict[str, Any]] | None = None

    def tls(self) -> ssl.SSLContext:
        """One TLS context for every call (loading the CA bundle costs ~0.1 s each time)."""
        if self._tls is None:
            import certifi

            self._tls = ssl.create_default_context(cafile=certifi.where())
        return self._tls

    def _client(self) -> Any:
        with warnings.catch_warnings():
            # Authlib 1.7+ suggests httpx2 at import; httpx (a dependency here) is what it
            # supports today.
            warnings.simplefilter("ignore", DeprecationWarning)
            from authlib.integrations.httpx_client import OAuth2Client

        return OAuth2Client(client_id=self.config.client_id,
                            client_secret=self.config.client_secret, scope=SCOPE,
                            redirect_uri=self.config.redirect_uri,
                            code_challenge_method="S256", timeout=PROVIDER_TIMEOUT_S,
                            verify=self.tls())

    def _get_json(self, url: str) -> dict[str, Any]:
        import httpx

        try:
            response = httpx.get(url, timeout=PROVIDER_TIMEOUT_S, verify=self.tls())
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Refused(f"the identity provider could not be reached ({url[:80]}): "
                          f"{str(exc)[:120] or exc.__class__.__name__}", 502) from exc
        if not isinstance(body, dict):
            raise Refused(f"the identity provider answered {url[:80]} with something other "
                          "than a JSON object", 502)
        return body

    def metadata(self) -> dict[str, Any]:
        """The discovery document, checked to name our issuer (kept for
        :data:`METADATA_TTL_S`; the keys are fetched afresh for every token)."""
        if self._meta is not None and time.monotonic() - self._meta[0] < METADATA_TTL_S:
            return self._meta[1]
        meta = self._get_json(self.config.issuer + "/.well-known/openid-configuration")
        if str(meta.get("issuer", "")).rstrip("/") != self.config.issuer:
            raise Refused(f"the identity provider names itself {str(meta.get('issuer'))[:80]!r}"
                          f", not the configured issuer {self.config.issuer!r}", 502)
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise Refused(f"the identity provider's discovery document has no {key}", 502)
        self._meta = (time.monotonic(), meta)
        return meta

    def authorization_url(self, pending: Pending) -> str:
        url, _ = self._client().create_authorization_url(
            self.metadata()["authorization_endpoint"], state=pending.state,
            code_verifier=pending.verifier, nonce=pending.nonce)
        return str(url)

    def claims(self, code: str, pending: Pending, now: datetime) -> dict[str, Any]:
        """The ID token's claims for ``code``, after every check (else :class:`Refused`)."""
        import httpx
        from authlib.integrations.base_client import OAuthError
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet
        from joserfc.jws import JWSRegistry

        meta = self.metadata()
        try:
            with self._client() as client:
                token = client.fetch_token(meta["token_endpoint"], code=code,
                                           grant_type="authorization_code",
                                           code_verifier=pending.verifier)
        except OAuthError as exc:
            raise Refused(f"the identity provider refused the sign-in ({exc.error}): start "
                          "again") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise Refused("the identity provider's token endpoint failed: "
                          f"{str(exc)[:120] or exc.__class__.__name__}", 502) from exc
        if not isinstance(token.get("id_token"), str):
            raise Refused("the identity provider sent no ID token (is the openid scope "
                          "allowed for this client?)")
        keys = self._get_json(meta["jwks_uri"])
        client_id = self.config.client_id
        try:
            decoded = jwt.decode(token["id_token"], KeySet.import_key_set(keys),  # type: ignore[arg-type]
                                 registry=JWSRegistry(algorithms=signing_algorithms(meta)))
            claims = CodeIDToken(
                decoded.claims, decoded.header,
                # The issuer exactly as discovery spells it (some end in "/").
                {"iss": {"essential": True, "value": meta["issuer"]},
                 "aud": {"essential": True, "value": client_id},
                 "exp": {"essential": True}, "nonce": {"essential": True}},
                {"nonce": pending.nonce, "client_id": client_id,
                 "access_token": token.get("access_token")})
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY_S)
        except (JoseError, ValueError) as exc:
            raise Refused(f"the identity provider's ID token was refused ({_why(exc)}): "
                          "start again") from exc
        return dict(claims)


def signing_algorithms(meta: dict[str, Any]) -> list[str]:
    """The provider's ID token algorithms that a public key verifies: never ``none``, and
    never an HMAC one (keyed by the client secret, which is not the provider's proof)."""
    offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    return [alg for alg in offered if isinstance(alg, str) and alg in ASYMMETRIC] or ["RS256"]


def _why(exc: Exception) -> str:
    name = getattr(exc, "claim", None) or getattr(exc, "error", None)
    detail = getattr(exc, "description", None) or str(exc)
    return f"{name}: {detail}"[:160] if name else (detail[:160] or exc.__class__.__name__)


def email_of(claims: dict[str, Any], claim: str) -> str:
    """The email the ID token asserts (refused when absent or marked unverified)."""
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"the identity provider sent no {claim} claim to match an account "
                      "by (see TLEDGER_OIDC_EMAIL_CLAIM)")
    if claims.get("email_verified") is False:
        raise Refused(f"the identity provider says {value[:60]} is not a verified email: "
                      "no access", 403)
    return value.strip()


class Pages:
    """The two routes' bodies, over the app's :class:`Web` and the configured provider."""

    def __init__(self, web: Web, config: settings.OidcSettings) -> None:
        self.web = web
        self.config = config
        self.provider = Provider(config)

    def refused(self, message: str, status: int) -> Response:
        response = self.web.render("sso_refused.html", status, title="Not signed in",
                                   session=None, message=message)
        response.delete_cookie(SSO_COOKIE, path="/login/sso")
        return response

    def pending_of(self, request: Request) -> Pending | None:
        """The sign-in this browser started, or None (no cookie, or forged or edited)."""
        raw = request.cookies.get(SSO_COOKIE)
        if not raw:
            return None
        try:
            value = self.web.signer.loads(raw, salt=COOKIE_SALT)
            return Pending(str(value["state"]), str(value["nonce"]), str(value["verifier"]),
                           datetime.fromisoformat(str(value["started"])))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def start(self, request: Request) -> Response:
        from authlib.common.security import generate_token

        pending = Pending(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          generate_token(64), self.web.clock())
        response = RedirectResponse(self.provider.authorization_url(pending), status_code=303)
        response.set_cookie(
            SSO_COOKIE,
            self.web.signer.dumps({"state": pending.state, "nonce": pending.nonce,
                                   "verifier": pending.verifier,
                                   "started": pending.started.isoformat()}, salt=COOKIE_SALT),
            max_age=int(SSO_WINDOW.total_seconds()), httponly=True, samesite="lax",
            secure=request.url.scheme == "https", path="/login/sso")
        return response

    def account_for(self, email: str) -> Account:
        """The enabled account of ``email`` (case-insensitive); never creates one."""
        try:
            with self.web.ledger.reading() as conn:
                account = find_account(conn, email)
        except NotFound:
            raise Refused(f"{NO_ACCESS} ({email[:60]})", 403) from None
        if account.disabled:
            raise Refused(f"{NO_ACCESS} ({email[:60]})", 403)
        return account

    def checked_code(self, request: Request) -> tuple[str, Pending]:
        """The code the provider sent and the sign-in it belongs to, else Refused."""
        pending = self.pending_of(request)
        state = request.query_params.get("state", "")
        if pending is None or not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise Refused("this sign-in was not started from this browser, was already used, "
                          "or its link was altered: sign in again", 400)
        if self.web.clock() - pending.started > SSO_WINDOW:
            raise Refused("the sign-in took too long: sign in again", 400)
        if "error" in request.query_params:
            raise Refused("the identity provider did not sign you in "
                          f"({request.query_params['error'][:60]})")
        code = request.query_params.get("code", "")
        if not code:
            raise Refused("the identity provider sent no code: sign in again", 400)
        return code, pending

    def finish(self, request: Request) -> Response:
        from tledger.web.app import LOGIN_COOKIE, SESSION_COOKIE

        code, pending = self.checked_code(request)
        claims = self.provider.claims(code, pending, self.web.clock())
        account = self.account_for(email_of(claims, self.config.email_claim))
        session = start_session(self.web.ledger, account, now=self.web.clock())
        log.info("login %s (%s) by single sign-on, subject %s", account.email, account.role,
                 str(claims.get("sub"))[:80])
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, self.web.signer.dumps(session.token),
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        response.delete_cookie(SSO_COOKIE, path="/login/sso")
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response


def routes(web: Web) -> list[BaseRoute]:
    config = settings.oidc()
    pages = Pages(web, config) if config is not None else None

    def endpoint(step: Callable[[Pages, Request], Response]
                 ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            if pages is None:
                return web.render("message.html", 404, title="Not found", session=None,
                                  message="single sign-on is not configured for this ledger")

            def attempt() -> Response:
                try:
                    return step(pages, request)
                except Refused as exc:
                    log.warning("single sign-on refused: %s", exc)
                    return pages.refused(str(exc), exc.status)

            return await run_in_threadpool(attempt)

        return run

    return [Route("/login/sso", endpoint(Pages.start), methods=["GET"]),
            Route(CALLBACK, endpoint(Pages.finish), methods=["GET"])]
