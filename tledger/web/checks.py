"""``/checks`` (office, finance): the findings of :func:`ledger.engine.checks`, grouped by
check, each linking to what it is about; ``/checks.json`` the same findings as ``tledger
checks --format json`` prints them.

A finding's subject that is an initiative id (or a list of ids, as a pair) links to the
initiative's page; a target scope (a cascade gap, a target outside the horizon) and any
other metric-specific finding link to the dashboard for that metric (and breakdown).

The office marks a ``possible_double_count`` pair as reviewed from the page (``POST
/checks/review-pair``: :func:`ledger.claims.review_pair`, the signed-in account its
author, as ``tledger checks review-pair``); the page lists the reviewed pairs (office and
finance) as ``tledger checks reviewed`` does.
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
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.claims import review_pair, reviewed_pairs
from ledger.engine import checks
from ledger.errors import LedgerError
from tledger.web.context import FLASH_COOKIE, OFFICE, OFFICE_FINANCE, Web

#: The key the /checks page's flash message is carried under.
FLASH_KEY = "/checks"
#: The check whose findings (a pair of initiatives) the office may mark as reviewed.
PAIR_CHECK = "possible_double_count"

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
        links = subject_links(f, ids)
        pair = [label for label, href in links if href and href.startswith("/initiatives/")]
        group["rows"].append({**f, "links": links,
                              "pair": pair if f["check"] == PAIR_CHECK and len(pair) == 2
                              else None})
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
        reviewed = reviewed_pairs(ledger).to_dict("records")
        shown = web.flashed(request, FLASH_KEY)
        response = web.render("checks.html", session=session, groups=grouped(found, ids),
                              errors=errors, warnings=len(found) - errors, reviewed=reviewed,
                              message=shown[0] if shown else "", title="Checks")
        if shown is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def review_post(request: Request, session: Session, form: FormData | None) -> Response:
        assert form is not None  # noqa: S101  (narrows the type: POST routes get a form)
        first = str(form.get("first") or "").strip()
        second = str(form.get("second") or "").strip()
        back = RedirectResponse("/checks", status_code=303)
        try:
            if not first or not second:
                raise LedgerError("a pair needs two initiative ids")
            done = review_pair(ledger, first, second, note=str(form.get("note") or "")[:2000],
                               user=session.account.email)
        except LedgerError as exc:
            message = str(exc).replace("--note is required", "a note is required")
            return web.flash(back, request, FLASH_KEY, f"Nothing was saved: {message}")
        return web.flash(back, request, FLASH_KEY,
                         f"{done.first} and {done.second} reviewed as not a double count "
                         f"(submission {done.submission_id}).")

    def checks_json(request: Request, session: Session, form: FormData | None) -> Response:
        found, _ = findings()
        body = json.dumps([{k: _plain(v) for k, v in f.items()} for f in found], indent=2,
                          ensure_ascii=False)
        return Response(body + "\n", media_type="application/json",
                        headers={"content-disposition": 'attachment; filename="checks.json"'})

    return [
        Route("/checks", web.page(checks_page, roles=OFFICE_FINANCE), methods=["GET"]),
        Route("/checks.json", web.page(checks_json, roles=OFFICE_FINANCE), methods=["GET"]),
        Route("/checks/review-pair", web.page(review_post, roles=OFFICE), methods=["POST"]),
    ]
