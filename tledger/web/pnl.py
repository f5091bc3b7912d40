"""``/reconcile`` (office, finance): the P&L reconciliation of :func:`ledger.pnl.reconcile`
for one metric, each business unit then the programme, by month or fiscal year, as of an
instant (the same figures as ``tledger reconcile --format json`` for the same arguments);
``/reconcile/{unit}/{YYYY-MM}`` the drill-down of one unit-month (:func:`ledger.pnl.drill`,
as ``tledger reconcile --unit U --month M --lines``).

A unit-month whose claims exceed the movement beyond the programme's claim tolerance is
marked by the rule the ``claim_over_pnl`` check applies (:func:`ledger.pnl.over_claims`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.api import Ledger
from ledger.asof import parse_as_of, submission_at
from ledger.errors import LedgerError, NotFound
from ledger.months import fiscal_year_label
from ledger.pnl import (
    FIGURES,
    PROGRAMME,
    Reconciliation,
    claim_tolerance,
    drill,
    fiscal_year_of,
    gl_lines,
    over_claims,
    percent,
    reconcile,
)
from tledger.web.context import OFFICE_FINANCE, Web
from tledger.web.switches import VIEWS

#: A drill-down's month in its path.
_MONTH = re.compile(r"\d{4}-\d{2}")
#: Longest value echoed back in an error.
_ECHO = 40


@dataclass(frozen=True)
class PnlSwitches:
    """What ``/reconcile`` shows: a metric ("" for the first with GL actuals), months or
    fiscal years, an as-of ("" for now)."""

    metric: str = ""
    view: str = "monthly"
    as_of: str = ""

    def query(self, **changes: str) -> str:
        pairs = {"metric": self.metric, "view": "" if self.view == "monthly" else self.view,
                 "as_of": self.as_of, **changes}
        return urlencode({k: v for k, v in pairs.items() if v})


def parse_pnl_switches(params: Mapping[str, str]) -> PnlSwitches:
    """The switches of a query string; a bad view or as-of is one line (LedgerError)."""
    view = str(params.get("view", "")).strip() or "monthly"
    if view not in VIEWS:
        raise LedgerError(f"view {view[:_ECHO]!r}: expected one of {', '.join(VIEWS)}")
    as_of = str(params.get("as_of", "")).strip()
    parse_as_of(as_of[:60])
    return PnlSwitches(str(params.get("metric", "")).strip(), view, as_of)


def gl_metrics(ledger: Ledger, as_of: str) -> list[str]:
    """The codes of the metrics with GL lines in force at ``as_of`` (those ``tledger
    reconcile`` shows without ``--metric``), in the ledger's metric order."""
    point = parse_as_of(as_of or None)
    with ledger.snapshot() as conn:
        sub = submission_at(conn, point)[0] if point is not None else None
        ids = {int(i) for i in gl_lines(conn, sub)["metric_id"]}
        return [m.code for m in ledger.metrics(conn) if m.id in ids]


def flagged(result: Reconciliation, tolerance: Decimal) -> set[tuple[str, str]]:
    """The (unit, YYYY-MM) cells ``claim_over_pnl`` warns about at ``tolerance``."""
    return {(unit, str(row["period"])) for rows in result.metrics
            for unit, month_rows in rows.units.items()
            for row in over_claims(month_rows, tolerance)}


def table_rows(ledger: Ledger, result: Reconciliation, sw: PnlSwitches,
               ) -> tuple[list[dict[str, Any]], Decimal]:
    """The page's rows: the reconciliation's, each with its drill-down link (a reported
    unit-month) and whether the claim check warns about it (a fiscal year: any of its
    months); and the claim tolerance."""
    with ledger.reading() as conn:
        tolerance = claim_tolerance(conn, result.as_of)
        fy_start = ledger.programme(conn).fy_start_month
    over = flagged(result, tolerance)
    over_years = {(unit, fiscal_year_label(fiscal_year_of(period, fy_start)))
                  for unit, period in over}
    out = []
    for rec in result.frame.to_dict("records"):
        part, period = str(rec["part"]), str(rec["period"])
        unit = part != PROGRAMME
        link = None
        if unit and sw.view == "monthly" and rec["reported"]:
            link = (f"/reconcile/{quote(part, safe='')}/{period}?"
                    + urlencode({k: v for k, v in (("metric", str(rec["metric"])),
                                                   ("as_of", sw.as_of)) if v}))
        warn = (part, period) in (over if sw.view == "monthly" else over_years)
        out.append({**{f: rec[f] for f in FIGURES}, "part": part, "period": period,
                    "reported": bool(rec["reported"]), "unit": unit, "link": link,
                    "over": warn})
    return out, tolerance


def routes(web: Web) -> list[BaseRoute]:
    ledger = web.ledger

    def reconcile_page(request: Request, session: Session, form: FormData | None) -> Response:
        sw = parse_pnl_switches(request.query_params)
        choices = gl_metrics(ledger, sw.as_of)
        if not sw.metric and choices:
            sw = PnlSwitches(choices[0], sw.view, sw.as_of)
        rows: list[dict[str, Any]] = []
        tolerance = None
        kind = None
        if sw.metric:
            result = reconcile(ledger, metric=sw.metric, fiscal_year=sw.view == "fiscal",
                               as_of=sw.as_of or None)
            rows, share = table_rows(ledger, result, sw)
            tolerance = percent(share)
            kind = result.kinds.get(sw.metric)
        return web.render("reconcile.html", session=session, sw=sw, choices=choices,
                          rows=rows, tolerance=tolerance, kind=kind, views=VIEWS,
                          title="P&L reconciliation")

    def drill_page(request: Request, session: Session, form: FormData | None) -> Response:
        unit = str(request.path_params["unit"])
        month = str(request.path_params["month"])
        if not _MONTH.fullmatch(month):
            raise LedgerError(f"month {month[:_ECHO]!r}: expected YYYY-MM, e.g. 2026-07")
        sw = parse_pnl_switches(request.query_params)
        try:
            found = drill(ledger, unit=unit, month=month, metric=sw.metric or None,
                          as_of=sw.as_of or None)
        except LedgerError as exc:
            # The same error, without the CLI's option dashes (a NotFound stays a 404).
            kind = NotFound if isinstance(exc, NotFound) else LedgerError
            raise kind(str(exc).removeprefix("--")) from None
        back = "/reconcile?" + PnlSwitches(sw.metric, "monthly", sw.as_of).query()
        cells = [{"cell": c, "line_sum": sum((ln.amount for ln in c.lines),
                                             Decimal(0).scaleb(-c.decimals)),
                  "claim_sum": sum((cl.amount for cl in c.claims),
                                   Decimal(0).scaleb(-c.decimals))} for c in found.cells]
        return web.render("reconcile_drill.html", session=session, found=found, cells=cells,
                          back=back, sw=sw,
                          title=f"{found.unit} {found.month:%Y-%m}: P&L drill-down")

    return [
        Route("/reconcile", web.page(reconcile_page, roles=OFFICE_FINANCE), methods=["GET"]),
        Route("/reconcile/{unit}/{month}", web.page(drill_page, roles=OFFICE_FINANCE),
              methods=["GET"]),
    ]
