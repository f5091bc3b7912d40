"""What every page module gets from the app: the ledger, rendering, the guarded route
wrapper, the flash cookie and the clock.

:func:`tledger.web.app.create_app` builds one :class:`Web` and hands it to each module
listed in :mod:`tledger.web.features`; a module returns its routes. So a page module is a
plain function of this context, testable with the app it joins, and the app's own file
stays the login, the owners' grid and the wiring.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ledger.accounts import Session
from ledger.api import Ledger, ProgrammeInfo
from ledger.grid import CellKey

#: A page's body: the request, the live session and (for POST) the checked form.
Handler = Callable[[Request, Session, FormData | None], Response]
#: Every role there is, and the two that see the whole programme.
ALL_ROLES = ("office", "finance", "owner")
OFFICE_FINANCE = ("office", "finance")
OFFICE = ("office",)
#: What a write did, shown once by the page it redirects to (signed; read and cleared there).
FLASH_COOKIE = "tledger_flash"


class Forbidden(Exception):
    """A request the account may not make (403)."""


@dataclass(frozen=True)
class Web:
    """The app's shared services, as page modules see them."""

    ledger: Ledger
    env: Environment
    clock: Callable[[], datetime]
    #: ``render(template, status=200, **context)``: an HTML response.
    render: Callable[..., HTMLResponse]
    #: ``page(handler, roles=...)``: an endpoint that needs a live session of one of
    #: ``roles`` (and, for POST, the session's CSRF token); LedgerError is a 400 page,
    #: NotFound 404, Forbidden 403.
    page: Callable[..., Callable[[Request], Awaitable[Response]]]
    #: ``flash(response, request, key, message)``: carry a message to the next page.
    flash: Callable[..., Response]
    #: ``flashed(request, key)``: the message a redirect carried, or None.
    flashed: Callable[[Request, str], tuple[str, dict[CellKey, str]] | None]
    #: The fiscal year "now" falls in, kept inside the programme's horizon.
    this_fy: Callable[[ProgrammeInfo], int]
    #: The signer of cookies (itsdangerous), for modules that keep a signed value.
    signer: Any


def owner_of(session: Session) -> str | None:
    """The owner name an owner's reads are limited to; None for office and finance."""
    return session.account.owner_name if session.account.role == "owner" else None
