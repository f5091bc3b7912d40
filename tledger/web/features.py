"""The page modules the app is made of, beyond login and the owners' grid.

Each entry is a function ``routes(web: Web) -> list[BaseRoute]``; :func:`create_app` calls
each with the app's :class:`~tledger.web.context.Web` and mounts what it returns, in this
order (a more specific path before a general one).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute

from tledger.web import (
    approvals,
    checks,
    dashboard,
    imports,
    initiatives,
    pnl,
    reporting,
    sso,
    targets,
)
from tledger.web.context import Web

FEATURES: list[Callable[[Web], list[BaseRoute]]] = [
    sso.routes,
    dashboard.routes,
    reporting.routes,
    imports.routes,
    targets.routes,
    approvals.routes,
    initiatives.routes,
    checks.routes,
    pnl.routes,
]
