"""The web face: ``tledger serve``.

A thin Starlette app over the ledger API. It reads with :mod:`ledger.grid`,
:mod:`ledger.history`, :mod:`ledger.engine` and writes only through
:func:`ledger.grid.save_grid`, always as the logged-in account (never an author from a
form). Roles: an owner sees the programme's headline and their own initiatives and edits
their phasing; finance reads everything; the office reads and edits every initiative.

Blocking ledger calls run in Starlette's thread pool, so one slow save does not hold up
other requests in the same worker.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger import settings
from ledger.accounts import (
    LoginThrottled,
    Session,
    authenticate,
    end_session,
    resume_session,
    secret_key,
    setting,
    start_session,
)
from ledger.api import Ledger
from ledger.errors import Conflict, LedgerError, NotFound
from ledger.grid import (
    PLAN_LOCK_ORDINAL,
    CellKey,
    GridConflict,
    parse_cells,
    read_grid,
    save_description,
    save_grid,
)
from ledger.history import history_page
from ledger.months import fiscal_year, fiscal_year_label
from tledger.web import views
from tledger.web.approvals import stage_panel
from tledger.web.context import ALL_ROLES, FLASH_COOKIE, Forbidden, Handler, Web
from tledger.web.features import FEATURES
from tledger.web.initiatives import office_form

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "tledger_session"
LOGIN_COOKIE = "tledger_login"
#: Changes the initiative page lists (whole submissions: the last one's every change); a
#: link leads to older ones.
HISTORY_ROWS = 50
#: Rounding warnings carried to the page after a save (a cookie holds about 4 KB).
FLASH_WARNINGS = 20
#: Idle timeout and absolute lifetime of a session (minutes), overridable by environment.
#: Session limits in minutes, unless TLEDGER_SESSION_IDLE_MINUTES /
#: TLEDGER_SESSION_LIFETIME_MINUTES say otherwise (read when the app is made, through
#: ledger.settings, so a bad value is one line, not a traceback at import).
IDLE_MINUTES = 30
LIFETIME_MINUTES = 12 * 60

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
     b"form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response, errors and static files too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _now() -> datetime:
    return datetime.now(UTC)


# The route handlers are closures over the app's state (ledger, templates, clock): each is
# short, but mccabe counts them into this function. Splitting them into a class of routes
# is left for the web's next step (issue 15).
def create_app(ledger: Ledger, *, clock: Callable[[], datetime] = _now,  # noqa: C901
               idle: timedelta | None = None, lifetime: timedelta | None = None) -> Starlette:
    """The web app over ``ledger``. ``clock`` is a seam for session-expiry tests."""
    idle = idle or timedelta(minutes=settings.count("TLEDGER_SESSION_IDLE_MINUTES",
                                                    IDLE_MINUTES))
    lifetime = lifetime or timedelta(minutes=settings.count("TLEDGER_SESSION_LIFETIME_MINUTES",
                                                            LIFETIME_MINUTES))
    signer = URLSafeSerializer(secret_key(ledger), salt="tledger-web")
    sso = settings.oidc() is not None  # single sign-on (tledger/web/sso.py) offered
    passwords = settings.password_login()
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["amount"] = views.amount

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    def cookie(response: Response, request: Request, name: str, value: str) -> None:
        response.set_cookie(name, signer.dumps(value), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")

    def unsigned(request: Request, name: str) -> str | None:
        raw = request.cookies.get(name)
        if not raw:
            return None
        try:
            value = signer.loads(raw)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def flash(response: Response, request: Request, ext: str, message: str,
              rounded: dict[CellKey, str] | None = None) -> Response:
        """Carry ``message`` (and the first rounding warnings) to the page of ``ext`` that
        ``response`` redirects to."""
        warnings = [[*key, text] for key, text in list((rounded or {}).items())[:FLASH_WARNINGS]]
        more = len(rounded or {}) - len(warnings)
        if more > 0:
            warnings.append(["", "", "", f"and {more} more amount(s) rounded"])
        response.set_cookie(FLASH_COOKIE, signer.dumps({"ext": ext, "message": message,
                                                       "rounded": warnings}),
                            httponly=True, samesite="lax", max_age=300,
                            secure=request.url.scheme == "https", path="/")
        return response

    def flashed(request: Request, ext: str) -> tuple[str, dict[CellKey, str]] | None:
        """The message and warnings a save left for the page of ``ext`` (None: none)."""
        raw = request.cookies.get(FLASH_COOKIE)
        if not raw:
            return None
        try:
            value = signer.loads(raw)
            if value["ext"] != ext:
                return None
            return str(value["message"]), {(str(m), str(s), str(mo)): str(w)
                                           for m, s, mo, w in value["rounded"]}
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def session_of(request: Request) -> Session | None:
        token = unsigned(request, SESSION_COOKIE)
        if token is None:
            return None
        return resume_session(ledger, token, now=clock(), idle=idle, lifetime=lifetime)

    def check_csrf(form: FormData, expected: str) -> None:
        given = form.get("csrf")
        if not isinstance(given, str) or not hmac.compare_digest(given, expected):
            raise Forbidden("the form's security token is missing or out of date: reload "
                            "the page and try again")

    def owners_edit_actual(conn: Connection | None = None) -> bool:
        return (setting(ledger, "owners_edit_actual", conn) or "").lower() == "yes"

    def page(handler: Handler, *, roles: tuple[str, ...] = ALL_ROLES
             ) -> Callable[[Request], Awaitable[Response]]:
        """A route that needs a live session of one of ``roles`` (and, for POST, the
        session's CSRF token)."""

        def run(request: Request, form: FormData | None) -> Response:
            session = session_of(request)
            if session is None:
                if request.method == "POST":
                    return render("message.html", 403, title="Not logged in", session=None,
                                  message="your session has ended: log in again")
                return RedirectResponse("/login", status_code=303)
            try:
                if session.account.role not in roles:
                    raise Forbidden("your role may not do this")
                if form is not None:
                    check_csrf(form, session.csrf_token)
                return handler(request, session, form)
            except Forbidden as exc:
                return render("message.html", 403, title="Not allowed", session=session,
                              message=str(exc))
            except NotFound as exc:
                return render("message.html", 404, title="Not found", session=session,
                              message=str(exc))
            except LedgerError as exc:
                return render("message.html", 400, title="Not done", session=session,
                              message=str(exc))

        async def endpoint(request: Request) -> Response:
            form = await request.form() if request.method == "POST" else None
            return await run_in_threadpool(run, request, form)

        return endpoint

    # ------------------------------------------------------------------ login, logout
    def login_page(request: Request, message: str = "", status: int = 200,
                   email: str = "") -> Response:
        token = secrets.token_urlsafe(32)
        response = render("login.html", status, csrf=token, message=message, email=email,
                          session=None, sso=sso, passwords=passwords)
        cookie(response, request, LOGIN_COOKIE, token)
        return response

    async def login_get(request: Request) -> Response:
        return login_page(request)

    async def login_post(request: Request) -> Response:
        if not passwords:
            return login_page(request, "this ledger signs in through single sign-on only", 403)
        form = await request.form()
        expected = unsigned(request, LOGIN_COOKIE)
        given = form.get("csrf")
        if expected is None or not isinstance(given, str) or not hmac.compare_digest(
                given, expected):
            return login_page(request, "the login form was out of date: try again", 403)
        email = str(form.get("email") or "")[:200]
        password = str(form.get("password") or "")
        address = request.client.host if request.client else "unknown"

        def attempt() -> Response:
            try:
                account = authenticate(ledger, email, password, address, now=clock())
            except LoginThrottled as exc:
                return login_page(request, str(exc), 429, email)
            if account is None:
                return login_page(request, "wrong email or password (or the account is "
                                  "disabled)", 401, email)
            session = start_session(ledger, account, now=clock())
            response = RedirectResponse("/", status_code=303)
            cookie(response, request, SESSION_COOKIE, session.token)
            response.delete_cookie(LOGIN_COOKIE, path="/")
            return response

        return await run_in_threadpool(attempt)

    def logout(request: Request, session: Session, form: FormData | None) -> Response:
        end_session(ledger, session.token, now=clock())
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ pages
    def home(request: Request, session: Session, form: FormData | None) -> Response:
        # Owners start at their own initiatives (what they come to change); office and
        # finance at the dashboard (the programme's gap).
        home_page = "/initiatives" if session.account.role == "owner" else "/dashboard"
        return RedirectResponse(home_page, status_code=303)

    def this_fy(prog: Any) -> int:
        fys = [fiscal_year(m, prog.fy_start_month) for m in prog.months]
        today = fiscal_year(clock().date(), prog.fy_start_month)
        return min(max(today, fys[0]), fys[-1])

    def may_edit(session: Session) -> bool:
        return session.account.role in ("office", "owner")

    def scenarios(conn: Connection | None = None) -> list[str]:
        return ["plan", "forecast", *(["actual"] if owners_edit_actual(conn) else [])]

    def initiative_view(request: Request, session: Session, *, status: int = 200,
                        typed: dict[CellKey, str] | None = None,
                        errors: dict[CellKey, str] | None = None,
                        rounded: dict[CellKey, str] | None = None,
                        conflict: GridConflict | None = None, message: str = "",
                        note: str = "", hidden: dict[str, str] | None = None) -> Response:
        ext = request.path_params["external_id"]
        before = request.query_params.get("before", "")
        with ledger.reading() as conn:  # one snapshot: grid, totals and history agree
            grid = read_grid(ledger, ext, scenarios(conn), conn)
            ini = grid.initiative
            if session.account.role == "owner" and not views.owns(session, ini):
                raise NotFound(f"no initiative {ext[:60]!r} in this ledger")
            fy = this_fy(grid.programme)
            totals = views.owner_totals(ledger, conn, owner=str(ini["owner"]), fy=fy,
                                        unit=ini["business_unit"])
            changes = history_page(conn, int(ini["initiative_id"]), str(ini["external_id"]),
                                   {m.id: m for m in grid.metrics}, limit=HISTORY_ROWS,
                                   before=int(before) if before.isdigit() else None)
            stage = stage_panel(ledger, conn, ini, session)
            office = office_form(ledger, conn, session)
        # The submission that wrote the attributes shown (current_initiatives' valid_from).
        attributes_version = int(ini["valid_from"])
        editable = may_edit(session) and ini["status"] == "active"
        plan_locked = (session.account.role == "owner"
                       and int(ini["stage_ordinal"]) >= PLAN_LOCK_ORDINAL)
        table = views.grid_table(grid, editable=editable, plan_locked=plan_locked,
                                 typed=typed or {}, errors=errors or {}, rounded=rounded or {})
        return render("initiative.html", status, session=session, grid=grid, ini=ini,
                      table=table, editable=editable, plan_locked=plan_locked, stage=stage,
                      history=changes.rows, older=changes.older, totals=totals,
                      fy=fiscal_year_label(fy), conflict=conflict, message=message, note=note,
                      errors=errors or {}, rounded=rounded or {},
                      attributes_version=attributes_version, office=office,
                      hidden=hidden or views.hidden_fields(grid))

    def initiative_get(request: Request, session: Session, form: FormData | None) -> Response:
        shown = flashed(request, str(request.path_params["external_id"]))
        if shown is None:
            return initiative_view(request, session)
        response = initiative_view(request, session, message=shown[0], rounded=shown[1])
        response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def initiative_post(request: Request, session: Session, form: FormData | None) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        ext = request.path_params["external_id"]
        allowed = set(scenarios())
        texts: dict[CellKey, str] = {}
        for name, value in form.multi_items():
            if not name.startswith("c|"):
                continue
            parts = name[2:].rsplit("|", 2)
            if len(parts) != 3 or parts[1] not in allowed:
                raise Forbidden(f"cell {name[:60]!r} is not editable here")
            texts[(parts[0], parts[1], parts[2])] = str(value)
        try:
            as_of = int(str(form.get("as_of") or ""))
            versions = {(k[2:].rsplit("|", 1)[0], k[2:].rsplit("|", 1)[1]): int(str(v))
                        for k, v in form.multi_items() if k.startswith("v|")}
        except (ValueError, IndexError):
            raise LedgerError("the page's version fields are damaged: reload the page "
                              "and make the change again") from None
        note = str(form.get("note") or "")[:2000]
        hidden = {k: str(v) for k, v in form.multi_items() if k == "as_of" or k.startswith("v|")}
        owner = session.account.owner_name if session.account.role == "owner" else None
        metrics = ledger.metrics()
        parsed = parse_cells(texts, metrics)
        if parsed.errors:
            return initiative_view(request, session, status=422, typed=texts,
                                   errors=parsed.errors, note=note, hidden=hidden,
                                   message="Nothing was saved: correct the marked cells.")
        try:
            result = save_grid(ledger, ext, read_as_of=as_of, read_versions=versions,
                               cells=parsed.values, user=session.account.email, note=note,
                               owner=owner, lock_plan=session.account.role == "owner")
        except GridConflict as exc:
            return initiative_view(request, session, status=409, conflict=exc,
                                   message=str(exc).splitlines()[0])
        except NotFound:
            raise
        except LedgerError as exc:
            return initiative_view(request, session, status=400, typed=texts, note=note,
                                   hidden=hidden, message=f"Nothing was saved: {exc}")
        if result.submission_id is None:
            message = "Nothing changed."
        else:
            message = (f"Saved {result.changed} month(s) as submission "
                       f"{result.submission_id}.")
        # Post/redirect/get: the page is read by the next request, after the write lock is
        # released, and a reload does not post the save again.
        return flash(page_redirect(ext), request, ext, message, parsed.rounded)

    def description_post(request: Request, session: Session, form: FormData | None
                         ) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        ext = request.path_params["external_id"]
        try:
            version = int(str(form.get("attributes_version") or ""))
        except ValueError:
            raise LedgerError("the page's version fields are damaged: reload the page "
                              "and make the change again") from None
        owner = session.account.owner_name if session.account.role == "owner" else None
        try:
            sub = save_description(ledger, ext, read_version=version,
                                   description=str(form.get("description") or ""),
                                   user=session.account.email, owner=owner)
        except NotFound:
            raise
        except LedgerError as exc:
            return initiative_view(request, session, status=409 if isinstance(exc, Conflict)
                                   else 400, message=f"Nothing was saved: {exc}")
        message = ("Description unchanged." if sub is None
                   else f"Description saved as submission {sub}.")
        return flash(page_redirect(ext), request, ext, message)

    def page_redirect(ext: str) -> Response:
        return RedirectResponse(f"/initiatives/{quote(ext, safe='')}", status_code=303)

    def programme(request: Request, session: Session, form: FormData | None) -> Response:
        with ledger.reading() as conn:
            prog = ledger.programme(conn)
            headline = views.headline(ledger, conn)
        return render("programme.html", session=session, prog=prog, headline=headline)

    web = Web(ledger=ledger, env=env, clock=clock, render=render, page=page, flash=flash,
              flashed=flashed, this_fy=this_fy, signer=signer)
    # The page modules' routes first: their more specific paths (``/initiatives/{id}/
    # attributes``) before the grid's ``/initiatives/{id}``, which would match them too.
    routes: list[BaseRoute] = []
    for feature in FEATURES:
        routes.extend(feature(web))
    routes += [
        Route("/", page(home)),
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", page(logout), methods=["POST"]),
        Route("/initiatives/{external_id:path}/description",
              page(description_post, roles=("office", "owner")), methods=["POST"]),
        Route("/initiatives/{external_id:path}", page(initiative_get), methods=["GET"]),
        Route("/initiatives/{external_id:path}",
              page(initiative_post, roles=("office", "owner")), methods=["POST"]),
        Route("/programme", page(programme)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> Starlette:
    """The app for ``TLEDGER_DATABASE_URL``: what each uvicorn worker process builds."""
    return create_app(Ledger.open(os.environ.get("TLEDGER_DATABASE_URL")))

