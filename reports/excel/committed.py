"""The committed plan on the Finance sheet: per fiscal year, the plan of the committed
initiatives as approved at L3 beside their outturn (actuals of closed months, forecast of
open ones, plan where an initiative has no forecast), and the variance as a live formula.

The Finance sheet's table carries the monthly columns (``COMMITTED_COLUMNS`` of
:mod:`reports.excel.dashboard`); below the Dashboard's waterfall data, a small table sums
them per fiscal year with ``SUMIFS`` (the Horizon is the sum of the years), so the block
ties to the months and the months to the engine (:mod:`ledger.finance`). With no
committed initiative the sheet says so in one line.
"""

from __future__ import annotations

from xlsxwriter.worksheet import Worksheet

from reports.excel.dashboard import FinanceLayout, fin_range, waterfall_row
from reports.excel.figures import num
from reports.excel.formulas import cell, criterion
from reports.excel.inputs import ReportInput
from reports.excel.layout import Formats

#: The block's columns: engine field, header.
BLOCK_COLUMNS = [("period", "Period"), ("committed_plan", "Committed plan (at L3)"),
                 ("committed_outturn", "Outturn of committed"),
                 ("committed_plan_variance", "Outturn - committed plan")]
TITLE = "Committed plan (as approved at L3) beside the outturn of the same initiatives"
NONE_COMMITTED = ("No initiative is committed (at L3 or beyond): no committed plan to "
                  "compare with the outturn.")


def committed_title_row(fin: FinanceLayout) -> int:
    """The block's title row: two rows below the waterfall's four steps."""
    return waterfall_row(fin) + 4 + 2


def write_committed(sheet: Worksheet, data: ReportInput, fmt: Formats,
                    fin: FinanceLayout) -> dict[str, int]:
    """The block (after the waterfall's data: the sheet is written row by row). Returns
    each period's row (empty when nothing is committed)."""
    rep = data.finance
    assert rep is not None  # noqa: S101  (narrows the type)
    top = committed_title_row(fin)
    if rep.committed_initiatives == 0:
        sheet.write_string(top, 0, NONE_COMMITTED, fmt.note)
        return {}
    sheet.write_string(top, 0, f"{TITLE} ({rep.committed_initiatives} committed "
                       "initiatives; outturn: actuals of closed months, forecast of open "
                       "ones, plan where an initiative has no forecast)", fmt.note)
    header = top + 1
    for col, (_key, heading) in enumerate(BLOCK_COLUMNS):
        sheet.write_string(header, col, heading, fmt.header_left if col == 0 else fmt.header)
    records = [{str(k): v for k, v in r.items()} for r in rep.fiscal.to_dict("records")]
    years = [str(r["period"]) for r in records if r["period"] != "Horizon"]
    rows = {str(r["period"]): header + 1 + i for i, r in enumerate(records)}
    for rec in records:
        period = str(rec["period"])
        row, horizon = rows[period], period == "Horizon"
        style = fmt.amount_sub if horizon else fmt.amount
        sheet.write_string(row, 0, period, fmt.label_bold if horizon else fmt.label)
        for col, (key, _h) in enumerate(BLOCK_COLUMNS[1:3], start=1):
            if horizon:
                formula = "=SUM(" + ",".join(cell(rows[y], col) for y in years) + ")"
            else:
                formula = (f"=SUMIFS({fin_range(fin, key)},{fin_range(fin, 'fiscal_year')},"
                           f"{criterion(period)})")
            sheet.write_formula(row, col, formula, style, num(rec[key]))
        sheet.write_formula(row, 3, f"={cell(row, 2)}-{cell(row, 1)}", style,
                            num(rec["committed_plan_variance"]))
    return rows
