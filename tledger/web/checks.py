"""``/checks`` (office, finance): the findings of :func:`ledger.engine.checks`, grouped by
check, each linking to what it is about; ``/checks.json`` the same findings as ``tledger
checks --format json`` prints them.

A finding's subject that is an initiative id (or a list of ids, as a pair) links to the
initiative's page; a target scope (a cascade gap, a target outside the horizon) and any
other metric-specific finding link to the dashboard for that metric (and breakdown).
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import Connection, text
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.engine import checks
from tledger.web.context import OFFICE_FINANCE, Web

#: Scope kinds that are a breakdown of the dashboard.
BREAKDOWN_SCOPES = ("business_unit", "lever")
#: How a subject lists several initiatives (e.g. a pair): "A / B", "A, B" or "A and B".
_SEPARATORS = re.compile(r"\s*(?: / |, | and )\s*")


def _plain(value: Any) -> Any:
    """A finding's value for JSON: amounts as exact strings, months as ISO dates."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _initiative_ids(conn: Connection) -> set[str]:
    return {str(e) for e in conn.execute(text("SELECT external_id FROM initiative")).scalars()}


def subject_links(finding: dict[str, Any], ids: set[str]) -> list[tuple[str, str | None]]:
    """The subject as (text, link) parts: each initiative id links to its page; a target
    scope or a metric to the dashboard; anything else unlinked."""
    subject = str(finding["subject"] or "")
    parts = [p for p in _SEPARATORS.split(subject) if p]
    if any(p in ids for p in parts):  # "A / B", or "A, B, C … (+2)": the ids link
        return [(p, f"/initiatives/{quote(p, safe='')}" if p in ids else None)
                for p in parts]
    metric = finding["metric"]
    if metric:
        query = {"metric": str(metric)}
        if finding["scope"] in BREAKDOWN_SCOPES:
            query["by"] = str(finding["scope"])
        return [(subject or str(metric), "/dashboard?" + urlencode(query))]
    return [(subject, None)]


def grouped(found: list[dict[str, Any]], ids: set[str]) -> list[dict[str, Any]]:
    """The findings by check, in the order the checks first appear (errors first)."""
    groups: dict[str, dict[str, Any]] = {}
    for f in found:
        group = groups.setdefault(str(f["check"]), {"check": str(f["check"]), "rows": [],
                                                    "errors": 0})
        group["rows"].append({**f, "links": subject_links(f, ids)})
        group["errors"] += f["severity"] == "error"
    return list(groups.values())


def routes(web: Web) -> list[BaseRoute]:
    ledger = web.ledger

    def findings() -> tuple[list[dict[str, Any]], set[str]]:
        # The file check (every page of a SQLite file) is `tledger checks`' and `tledger
        # verify`'s: seconds on a large ledger, too slow for a page.
        with ledger.reading() as conn:
            frame = checks(ledger, conn=conn, check_storage=False)
            ids = _initiative_ids(conn)
        return [{str(k): v for k, v in rec.items()} for rec in frame.to_dict("records")], ids

    def checks_page(request: Request, session: Session, form: FormData | None) -> Response:
        found, ids = findings()
        errors = sum(f["severity"] == "error" for f in found)
        return web.render("checks.html", session=session, groups=grouped(found, ids),
                          errors=errors, warnings=len(found) - errors, title="Checks")

    def checks_json(request: Request, session: Session, form: FormData | None) -> Response:
        found, _ = findings()
        body = json.dumps([{k: _plain(v) for k, v in f.items()} for f in found], indent=2,
                          ensure_ascii=False)
        return Response(body + "\n", media_type="application/json",
                        headers={"content-disposition": 'attachment; filename="checks.json"'})

    return [
        Route("/checks", web.page(checks_page, roles=OFFICE_FINANCE), methods=["GET"]),
        Route("/checks.json", web.page(checks_json, roles=OFFICE_FINANCE), methods=["GET"]),
    ]
