"""The reports pages (office and finance): the Excel board pack and the summary CSV for a
chosen metric, scenario and as-of, and the bridge between two dates with the initiatives
behind each step.

The downloads are what ``tledger report gap`` writes for the same arguments
(:func:`reports.gap_report.load_report` and :func:`reports.excel.write_gap_report`; with
``--format csv``, :func:`reports.summary_csv.write_summary_csv`); the bridge is
:func:`ledger.bridge.bridge`, as ``tledger bridge --detail`` shows it.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ledger.accounts import Session
from ledger.errors import LedgerError
from ledger.months import parse_fiscal_year
from tledger.web.context import OFFICE_FINANCE, Web
from tledger.web.switches import Switches, fiscal_years, parse_switches

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _attachment(body: bytes | str, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"content-disposition": f'attachment; filename="{name}"'})


def _stamp(sw: Switches, submission: int | None, suffix: str) -> str:
    weighted = "-weighted" if sw.weighted else ""
    when = "current" if submission is None else f"as-of-{submission}"
    return f"gap-{sw.metric}-{sw.scenario}{weighted}-{when}.{suffix}"


@dataclass
class BridgeStep:
    step: str
    amount: Decimal
    initiatives: int
    detail: list[dict[str, Any]]


def routes(web: Web) -> list[BaseRoute]:
    """``/reports``, its two downloads and ``/reports/bridge``, for office and finance."""

    def switches_of(request: Request) -> Switches:
        with web.ledger.reading() as conn:
            metrics = web.ledger.metrics(conn)
        return parse_switches(request.query_params, metrics)

    def reports_page(request: Request, session: Session, form: FormData | None) -> Response:
        sw = switches_of(request)
        with web.ledger.reading() as conn:
            prog = web.ledger.programme(conn)
            metrics = web.ledger.metrics(conn)
        return web.render("reports.html", session=session, prog=prog, sw=sw,
                          metrics=metrics, fiscal_years=fiscal_years(prog), title="Reports")

    def board_pack(request: Request, session: Session, form: FormData | None) -> Response:
        from reports.excel import write_gap_report
        from reports.gap_report import load_report

        sw = switches_of(request)
        data = load_report(web.ledger, metric=sw.metric, scenario=sw.scenario,
                           as_of=sw.as_of or None, weighted=sw.weighted)
        with tempfile.TemporaryDirectory() as tmp:
            body = write_gap_report(data, Path(tmp) / "gap.xlsx").read_bytes()
        return _attachment(body, XLSX, _stamp(sw, data.as_of_submission, "xlsx"))

    def summary_csv(request: Request, session: Session, form: FormData | None) -> Response:
        from ledger.engine import gap
        from reports.summary_csv import write_summary_csv

        sw = switches_of(request)
        report = gap(web.ledger, metric=sw.metric, scenario=sw.scenario,
                     as_of=sw.as_of or None, weighted=sw.weighted)
        out = io.StringIO()
        write_summary_csv(report, out)
        return _attachment(out.getvalue(), "text/csv; charset=utf-8",
                           _stamp(sw, report.as_of_submission, "csv"))

    def bridge_page(request: Request, session: Session, form: FormData | None) -> Response:
        from ledger.bridge import bridge
        from ledger.engine import as_of_instant

        sw = switches_of(request)
        start_text = request.query_params.get("from", "").strip()
        end_text = request.query_params.get("to", "").strip()
        if not start_text:
            raise LedgerError("from: give the bridge's start date, e.g. from=2026-10-31")
        start = as_of_instant(start_text[:60])
        end = as_of_instant(end_text[:60]) if end_text else web.clock().astimezone(UTC)
        if end < start:
            raise LedgerError(f"from {start_text[:40]} is later than to "
                              f"{end_text[:40] or 'now'} (a bare date means the end of that "
                              "day, UTC)")
        fy = parse_fiscal_year(sw.fiscal_year) if sw.fiscal_year else None
        result = bridge(web.ledger, start=start, end=end, metric=sw.metric,
                        scenario=sw.scenario, fiscal_year=fy, weighted=sw.weighted)
        steps = []
        for step, amount, count in result.steps.itertuples(index=False):
            rows = result.detail[result.detail["step"] == step]
            steps.append(BridgeStep(str(step), amount, int(count),
                                    rows[["external_id", "name", "amount"]].to_dict("records")))
        with web.ledger.reading() as conn:
            prog = web.ledger.programme(conn)
            metrics = web.ledger.metrics(conn)
        return web.render("bridge.html", session=session, prog=prog, sw=sw, result=result,
                          steps=steps, start_text=start_text, end_text=end_text,
                          movement=result.end_total - result.start_total, metrics=metrics,
                          fiscal_years=fiscal_years(prog), title="Bridge")

    return [
        Route("/reports", web.page(reports_page, roles=OFFICE_FINANCE)),
        Route("/reports/gap.xlsx", web.page(board_pack, roles=OFFICE_FINANCE)),
        Route("/reports/summary.csv", web.page(summary_csv, roles=OFFICE_FINANCE)),
        Route("/reports/bridge", web.page(bridge_page, roles=OFFICE_FINANCE)),
    ]
