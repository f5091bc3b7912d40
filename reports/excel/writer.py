"""Writing the workbook: the self-audit first, then every sheet with XlsxWriter into a
frame file, then the Initiatives rows streamed in, then an atomic rename into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import xlsxwriter

from reports.excel.about import write_about
from reports.excel.audit import verify
from reports.excel.breakdowns import write_breakdown
from reports.excel.bridge import write_bridge
from reports.excel.checks import write_checks
from reports.excel.committed import write_committed
from reports.excel.dashboard import write_dashboard, write_finance
from reports.excel.detail import DetailPlan, inject_detail_rows, write_detail
from reports.excel.formulas import DetailRefs
from reports.excel.funnel import write_funnel
from reports.excel.inputs import SCALES, ReportInput
from reports.excel.layout import FIRST_DATA_ROW, Formats, pick_scale, print_setup
from reports.excel.pnl import write_pnl
from reports.excel.summary import summary_last_col, write_summary
from reports.excel.top import write_top
from reports.unit_cost import HEADER_ROW as UNIT_COST_HEADER_ROW
from reports.unit_cost import write_unit_cost_sheet
from reports.xlsxwriter_internals import write_formulas_verbatim

if TYPE_CHECKING:
    from ledger.ratio import RatioReport


def write_gap_report(
    data: ReportInput,
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the gap report to ``path`` (xlsx) and return it.

    The file appears whole or not at all: it is written to a temporary file beside
    ``path`` and renamed into place.

    Args:
        data: the loaded inputs (see :func:`reports.gap_report.load_report`).
        path: where to write.
        progress: called with the number of Initiatives rows written so far (every 500).

    Raises:
        ReportMismatch: the formulas would not recalculate to the engine's figures.
    """
    verify(data)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, tmp_name = tempfile.mkstemp(prefix=".tledger-report-", suffix=".xlsx",
                                    dir=target.parent)
    os.close(descriptor)
    try:
        frame_name = tmp_name + ".frame"
        try:
            plan = _write_frame(data, frame_name)
            inject_detail_rows(frame_name, tmp_name, data, plan, progress)
        finally:
            Path(frame_name).unlink(missing_ok=True)
        # mkstemp makes the file 0600: give it the mode any new file gets (0644 under the
        # usual umask 022), so colleagues on a shared drive can open the report.
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def _umask() -> int:
    """The process's umask (read by setting it and putting it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_frame(data: ReportInput, filename: str) -> DetailPlan:
    """Every sheet but the Initiatives rows; returns where those rows go."""
    scale = pick_scale(data)
    workbook = xlsxwriter.Workbook(filename, {
        "constant_memory": True,
        # Defence in depth: write_string is used for all text, but never let any string
        # turn into a formula, number or link.
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "default_date_format": "yyyy-mm-dd",
    })
    fmt = Formats(workbook, data.metric.decimals, SCALES[scale][0])
    workbook.set_properties({
        "title": f"{data.programme.name}: gap report",
        "subject": f"{data.metric.code} {data.scenario}",
        "author": "tledger",
        "comments": f"Written by tledger {data.version}",
    })
    refs = DetailRefs(data.detail)
    dashboard_sheet = workbook.add_worksheet("Dashboard") if data.finance is not None else None
    summary_sheet = workbook.add_worksheet("Summary")
    # The Funnel (stage gates) follows the breakdowns with targets (units, levers); the
    # people views (By owner, Top initiatives) come after it.
    breakdown_sheets, funnel_sheet = [], None
    for bd in data.breakdowns:
        if not bd.targets and funnel_sheet is None and data.funnel is not None:
            funnel_sheet = workbook.add_worksheet("Funnel")
        breakdown_sheets.append(workbook.add_worksheet(bd.sheet))
    if funnel_sheet is None and data.funnel is not None:
        funnel_sheet = workbook.add_worksheet("Funnel")
    top_sheet = workbook.add_worksheet("Top initiatives") if data.top is not None else None
    detail_sheet = workbook.add_worksheet("Initiatives")
    checks_sheet = workbook.add_worksheet("Checks")
    bridge_sheet = workbook.add_worksheet("Bridge") if data.bridge is not None else None
    finance_sheet = workbook.add_worksheet("Finance") if data.finance is not None else None
    pnl_sheet = (workbook.add_worksheet("P&L reconciliation") if data.pnl is not None
                 and len(data.pnl.frame) else None)
    unit_cost_sheets = [(workbook.add_worksheet(unit_cost_sheet_name(data, rep)), rep)
                        for rep in data.unit_costs]
    about_sheet = workbook.add_worksheet("About")
    for sheet in workbook.worksheets():
        # Its formulas use SUM, SUMIF(S), COUNTIFS, SUMPRODUCT, EXACT, IF, MIN, MAX, ROUND,
        # AND and ISNUMBER only: no prefixes.
        write_formulas_verbatim(sheet)

    summary_rows = write_summary(workbook, summary_sheet, data, fmt, scale, refs)
    for sheet, breakdown in zip(breakdown_sheets, data.breakdowns, strict=True):
        write_breakdown(sheet, data, breakdown, fmt, scale, refs, summary_rows)
    if funnel_sheet is not None:
        write_funnel(funnel_sheet, data, fmt, scale, refs,
                     (summary_rows["Bottom-up"], summary_last_col(data)))
    if top_sheet is not None:
        write_top(top_sheet, data, fmt, scale, refs)
    plan = write_detail(detail_sheet, data, fmt)
    write_checks(checks_sheet, data, fmt)
    if bridge_sheet is not None:
        write_bridge(workbook, bridge_sheet, data, fmt, scale)
    if dashboard_sheet is not None and finance_sheet is not None:
        finance = write_finance(finance_sheet, data, fmt, scale, summary_rows)
        write_dashboard(workbook, dashboard_sheet, data, fmt, scale, finance, finance_sheet,
                        _bridge_rows(data) if bridge_sheet is not None else None)
        write_committed(finance_sheet, data, fmt, finance)
    if pnl_sheet is not None:
        write_pnl(pnl_sheet, data, fmt)
    for sheet, rep in unit_cost_sheets:
        write_unit_cost_sheet(workbook, sheet, rep)
        print_setup(sheet, data, header_row=UNIT_COST_HEADER_ROW, label_cols=2)
    write_about(about_sheet, data, fmt, scale)
    (dashboard_sheet or summary_sheet).activate()
    workbook.close()
    return plan


def unit_cost_sheet_name(data: ReportInput, rep: RatioReport) -> str:
    """``Unit cost``, or ``Unit cost CODE`` when the ledger has several ratio metrics
    (Excel allows 31 characters and no ``[]:*?/\\`` in a sheet name)."""
    if len(data.unit_costs) == 1:
        return "Unit cost"
    code = "".join("_" if c in "[]:*?/\\" else c for c in rep.ratio.metric.code)
    return f"Unit cost {code}"[:31]


def _bridge_rows(data: ReportInput) -> list[tuple[str, int]]:
    """The Bridge sheet's start, step and end rows (as :mod:`reports.excel.bridge` lays
    them out), labelled for the Dashboard's movement lines."""
    assert data.bridge is not None  # noqa: S101  (narrows the type)
    steps = [str(s) for s in data.bridge.steps["step"]]
    first = FIRST_DATA_ROW
    return [("Bottom-up at start", first),
            *((step.capitalize(), first + 1 + i) for i, step in enumerate(steps)),
            ("Bottom-up now", first + 1 + len(steps))]
