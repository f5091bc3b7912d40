"""The "P&L reconciliation" sheet: per metric, each business unit's months and fiscal
years, then the programme's, with live formulas (docs/reconciliation.md).

Inputs are the baseline, the GL actual, the claims and a 1/0 "reconciled" flag (the row has
a movement: a GL extract and a baseline). Formulas: ``movement = baseline - actual`` for
costs (``actual - baseline`` for income), ``unexplained = movement - claimed``; the
programme's month row adds the units' rows of that month that reconcile (``flag x value``
for each unit) and a fiscal year adds its reconciled months (``SUMPRODUCT(flags, values)``).
A figure the ledger leaves empty (not reported, no baseline) is an empty cell without a
formula. Every formula's cached value is the ledger's.
"""

from __future__ import annotations

from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from ledger.months import fiscal_year_label
from ledger.pnl import FIGURES, PROGRAMME, MetricRows, fiscal_year_of, total_rows
from reports.excel.inputs import ReportInput
from reports.excel.layout import FIRST_DATA_ROW, HEADER_ROW, Formats, print_setup, title
from reports.safe import safe_text

#: Column headings; the figures start at column E (index 4).
HEADINGS = ["Metric", "Part", "Period", "Reconciled", "Baseline", "GL actual", "Movement",
            "Claimed", "Unexplained"]
_FLAG, _FIRST_FIGURE = 3, 4
_COL = {f: _FIRST_FIGURE + i for i, f in enumerate(FIGURES)}


def _cell(row: int, figure: str) -> str:
    return str(xl_rowcol_to_cell(row, _COL[figure]))


class _Writer:
    """Writes rows top to bottom, remembering where each unit's months are."""

    def __init__(self, sheet: Worksheet, fmt: Formats, rows: MetricRows, fy_start: int) -> None:
        self.sheet, self.fmt, self.rows, self.fy_start = sheet, fmt, rows, fy_start
        self.amount = fmt.detail(rows.metric.decimals)
        self.bold = fmt.amount_sub

    def labels(self, row: int, part: str, period: str, flag: bool, bold: bool = False) -> None:
        code = safe_text(self.rows.metric.code)
        self.sheet.write_string(row, 0, code, self.fmt.text_in(code))
        name = safe_text(part)
        self.sheet.write_string(row, 1, name, self.fmt.text_in(
            name, self.fmt.label_bold if bold else None))
        self.sheet.write_string(row, 2, period, self.fmt.label_bold if bold else self.fmt.text)
        self.sheet.write_number(row, _FLAG, 1 if flag else 0, self.fmt.count)

    def value(self, row: int, figure: str, minor: int | None, formula: str | None = None,
              fmt: Any = None) -> None:
        if minor is None:
            return  # the ledger leaves it empty: an empty cell, no formula
        number = minor / 10 ** self.rows.metric.decimals
        use = self.amount if fmt is None else fmt
        if formula is None:
            self.sheet.write_number(row, _COL[figure], number, use)
        else:
            self.sheet.write_formula(row, _COL[figure], formula, use, number)

    def month_row(self, row: int, part: str, rec: dict[str, Any]) -> None:
        """A unit's month: inputs, and the two formulas where the row reconciles."""
        self.labels(row, part, rec["period"], rec["movement"] is not None)
        self.value(row, "baseline", rec["baseline"])
        self.value(row, "actual", rec["actual"])
        self.value(row, "claimed", rec["claimed"])
        base, actual = _cell(row, "baseline"), _cell(row, "actual")
        move = f"={base}-{actual}" if self.rows.kind == "cost" else f"={actual}-{base}"
        self.value(row, "movement", rec["movement"], move)
        self.value(row, "unexplained", rec["unexplained"],
                   f"={_cell(row, 'movement')}-{_cell(row, 'claimed')}")

    def sum_row(self, row: int, part: str, period: str, total: dict[str, Any],
                parts: list[int], bold: bool = False) -> None:
        """A total over ``parts`` (rows): each figure the sum of the reconciled parts."""
        self.labels(row, part, period, total["movement"] is not None, bold)
        if not parts:
            return
        flags = [str(xl_rowcol_to_cell(r, _FLAG)) for r in parts]
        for figure in FIGURES:
            cells = [_cell(r, figure) for r in parts]
            if parts == list(range(parts[0], parts[0] + len(parts))):
                formula = (f"=SUMPRODUCT({flags[0]}:{flags[-1]},"
                           f"{cells[0]}:{cells[-1]})")
            else:
                formula = "=" + "+".join(f"{f}*{c}" for f, c in zip(flags, cells, strict=True))
            self.value(row, figure, total[figure], formula, self.bold if bold else None)

    def fiscal_rows(self, row: int, part: str, month_rows: list[int],
                    recs: list[dict[str, Any]], bold: bool) -> int:
        """Each fiscal year of ``recs`` (written at ``month_rows``) as a total row."""
        years: dict[int, list[int]] = {}
        for r, rec in zip(month_rows, recs, strict=True):
            years.setdefault(fiscal_year_of(rec["period"], self.fy_start), []).append(r)
        by_row = dict(zip(month_rows, recs, strict=True))
        for fy, rows in years.items():
            self.sum_row(row, part, fiscal_year_label(fy), total_rows([[by_row[r] for r in rows]]),
                         rows, bold)
            row += 1
        return row


def write_pnl(sheet: Worksheet, data: ReportInput, fmt: Formats) -> None:
    """The sheet (``data.pnl`` must be set)."""
    rec = data.pnl
    assert rec is not None  # noqa: S101  (narrows the type)
    title(sheet, fmt, f"{safe_text(data.programme.name)}: P&L reconciliation",
          "Claimed savings (the initiatives' actual scenario) against the movement the "
          "general ledger shows from the baseline. Movement = baseline - GL actual for costs "
          "(GL actual - baseline for income); unexplained = movement - claimed. Totals add "
          "the rows that reconcile (Reconciled = 1); an empty cell is not reported.")
    for pos, heading in enumerate(HEADINGS):
        sheet.write_string(HEADER_ROW, pos, heading, fmt.header_left)
    row = FIRST_DATA_ROW
    for rows in rec.metrics:
        writer = _Writer(sheet, fmt, rows, data.programme.fy_start_month)
        unit_starts: list[int] = []
        for unit, recs in rows.units.items():
            unit_starts.append(row)
            month_rows = list(range(row, row + len(recs)))
            for r, one in zip(month_rows, recs, strict=True):
                writer.month_row(r, unit, one)
            row = writer.fiscal_rows(row + len(recs), unit, month_rows, recs, bold=False)
        programme = rows.programme()
        month_rows = list(range(row, row + len(programme)))
        for i, (r, one) in enumerate(zip(month_rows, programme, strict=True)):
            writer.sum_row(r, PROGRAMME, one["period"], one,
                           [start + i for start in unit_starts], bold=True)
        row = writer.fiscal_rows(row + len(programme), PROGRAMME, month_rows, programme,
                                 bold=True)
        row += 1
    sheet.set_column(0, 1, 12)
    sheet.set_column(2, 3, 10)
    sheet.set_column(4, 8, 15)
    sheet.freeze_panes(HEADER_ROW + 1, 3)
    print_setup(sheet, data, header_row=HEADER_ROW)
