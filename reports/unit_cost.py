"""The unit-cost workbook: a ratio metric's gap (``ledger.ratio.ratio_gap``) as live Excel
formulas that tie to the ledger's figures.

One sheet ``Unit cost``, one block per part (the programme, then each unit with
``by="business_unit"``): a row per month, then a row per fiscal year and ``Horizon``.
The baselines, savings, uplift and target levels are inputs; everything else is a formula:

* numerator ``=baseline - savings``, denominator ``=baseline + uplift``;
* implied ``=ROUND(numerator / denominator, d)`` (Excel's ROUND is half away from zero,
  as the ledger rounds), gap ``=target - implied``;
* allowed ``=ROUND(target x denominator, n)``, money gap ``=allowed - numerator``;
* a period's inputs, numerator, denominator and allowed are ``SUM``\\ s of its months, its
  implied ``=ROUND(SUM(N) / SUM(D), d)`` (a ratio of sums, never an average of the monthly
  levels) and its target ``=ROUND(SUM(allowed) / SUM(D), d)``.

A cell the ledger cannot compute (no baseline, no target, no volume) is left empty, and so
is every formula that would need it. Each formula carries the ledger's value as its cached
result, so a reader that does not recalculate shows the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from ledger.ratio import HORIZON, RatioReport
from reports.safe import write_text

__all__ = ["COLUMNS", "write_unit_cost_sheet", "write_unit_cost_workbook"]

#: The sheet's columns, in order: (header, the report's column).
COLUMNS = [
    ("Part", "part"), ("Period", "period"), ("Numerator baseline", "numerator_baseline"),
    ("Savings", "savings"), ("Numerator", "numerator"),
    ("Denominator baseline", "denominator_baseline"), ("Uplift", "uplift"),
    ("Denominator", "denominator"), ("Target", "target"), ("Implied", "implied"),
    ("Gap", "gap"), ("Allowed", "allowed"), ("Money gap", "money_gap"),
]
_COL = {key: i for i, (_h, key) in enumerate(COLUMNS)}
HEADER_ROW = 3  # 0-based: row 4
_INPUTS = ("numerator_baseline", "savings", "denominator_baseline", "uplift")


@dataclass
class _Formats:
    text: Any
    bold: Any
    num: Any
    den: Any
    level: Any


def _cell(row: int, key: str) -> str:
    return str(xl_rowcol_to_cell(row, _COL[key]))


def _number(value: object) -> float | None:
    # The xlsx number type is a double: the ledger's Decimal, shown as written.
    return None if value is None else float(str(value))


def _month_formulas(row: int, d: int, n: int) -> dict[str, str]:
    def c(key: str) -> str:
        return _cell(row, key)

    return {
        "numerator": f"={c('numerator_baseline')}-{c('savings')}",
        "denominator": f"={c('denominator_baseline')}+{c('uplift')}",
        "implied": f"=ROUND({c('numerator')}/{c('denominator')},{d})",
        "gap": f"={c('target')}-{c('implied')}",
        "allowed": f"=ROUND({c('target')}*{c('denominator')},{n})",
        "money_gap": f"={c('allowed')}-{c('numerator')}",
    }


def _period_formulas(row: int, first: int, last: int, d: int) -> dict[str, str]:
    def span(key: str) -> str:
        return f"SUM({_cell(first, key)}:{_cell(last, key)})"

    def c(key: str) -> str:
        return _cell(row, key)

    out = {key: f"={span(key)}" for key in (*_INPUTS, "allowed")}
    out.update({
        "numerator": f"={c('numerator_baseline')}-{c('savings')}",
        "denominator": f"={c('denominator_baseline')}+{c('uplift')}",
        "implied": f"=ROUND({c('numerator')}/{c('denominator')},{d})",
        "target": f"=ROUND({c('allowed')}/{c('denominator')},{d})",
        "gap": f"={c('target')}-{c('implied')}",
        "money_gap": f"={c('allowed')}-{c('numerator')}",
    })
    return out


def _allowed(rec: dict[str, Any]) -> Decimal | None:
    """The report's allowed cost: money gap + numerator, exactly."""
    if rec["money_gap"] is None or rec["numerator"] is None:
        return None
    value: Decimal = rec["money_gap"] + rec["numerator"]
    return value


def _write_row(ws: Any, fmt: _Formats, row: int, rec: dict[str, Any],
               formulas: dict[str, str], label: str, bold: bool) -> None:
    write_text(ws, row, _COL["part"], rec["part"], fmt.bold if bold else fmt.text)
    write_text(ws, row, _COL["period"], label, fmt.bold if bold else fmt.text)
    formats = {"numerator_baseline": fmt.num, "savings": fmt.num, "numerator": fmt.num,
               "allowed": fmt.num, "money_gap": fmt.num, "denominator_baseline": fmt.den,
               "uplift": fmt.den, "denominator": fmt.den, "target": fmt.level,
               "implied": fmt.level, "gap": fmt.level}
    for key, cell_format in formats.items():
        value = _number(rec.get(key))
        if value is None:
            continue  # the ledger cannot compute it: no cell, and no formula needing it
        if key in formulas:
            ws.write_formula(row, _COL[key], formulas[key], cell_format, value)
        else:
            ws.write_number(row, _COL[key], value, cell_format)


def _write_part(ws: Any, fmt: _Formats, rep: RatioReport, part: str, row: int) -> int:
    """Write one part's months, fiscal years and Horizon from ``row``; the next free row."""
    d, n = rep.ratio.metric.decimals, rep.ratio.numerator.decimals
    months = rep.monthly[rep.monthly["part"] == part]
    first = row
    rows_of: dict[str, list[int]] = {}
    for raw in months.to_dict("records"):
        rec = {str(k): v for k, v in raw.items()}
        rec["allowed"] = _allowed(rec)
        _write_row(ws, fmt, row, rec, _month_formulas(row, d, n),
                   f"{rec['month']:%Y-%m}", bold=False)
        rows_of.setdefault(str(rec["fiscal_year"]), []).append(row)
        row += 1
    last = row - 1
    periods = rep.fiscal[rep.fiscal["part"] == part]
    for raw in periods.to_dict("records"):
        rec = {str(k): v for k, v in raw.items()}
        rec["allowed"] = _allowed(rec)
        span = (first, last) if rec["period"] == HORIZON else (
            min(rows_of[rec["period"]]), max(rows_of[rec["period"]]))
        _write_row(ws, fmt, row, rec, _period_formulas(row, span[0], span[1], d),
                   str(rec["period"]), bold=True)
        row += 1
    return row + 1


def write_unit_cost_sheet(wb: Any, ws: Any, rep: RatioReport) -> None:
    """Write ``rep`` on worksheet ``ws`` of XlsxWriter workbook ``wb`` (rows in order, so
    a ``constant_memory`` workbook takes it too): the title, the rule, the headers, then a
    block per part. The gap report's ``Unit cost`` sheet is this same sheet."""
    if rep.fiscal_year is not None:
        raise ValueError("write the whole horizon: the Horizon row sums every month")

    def number_format(decimals: int) -> Any:
        return wb.add_format({"num_format": "#,##0" + ("." + "0" * decimals
                                                        if decimals else "")})

    fmt = _Formats(wb.add_format(), wb.add_format({"bold": True}),
                   number_format(rep.ratio.numerator.decimals),
                   number_format(rep.ratio.denominator.decimals),
                   number_format(rep.ratio.metric.decimals))
    r = rep.ratio
    ws.set_column(0, 1, 14)
    ws.set_column(2, len(COLUMNS) - 1, 16)
    ws.freeze_panes(HEADER_ROW + 1, 2)
    write_text(ws, 0, 0, f"{rep.programme.name}: {r.metric.code} ({r.metric.unit}) = "
               f"{r.label}, {rep.scenario}{', risk-weighted' if rep.weighted else ''}, "
               f"as of submission {rep.as_of_submission}", fmt.bold)
    write_text(ws, 1, 0, "Numerator = baseline - savings; denominator = baseline + "
               "uplift; implied = ROUND(numerator / denominator); a period's figures "
               "are ratios of its sums, never averages of months. Gap = target - "
               "implied; money gap = ROUND(target x denominator) - numerator.", fmt.text)
    for col, (header, _key) in enumerate(COLUMNS):
        write_text(ws, HEADER_ROW, col, header, fmt.bold)
    row = HEADER_ROW + 1
    for part in dict.fromkeys(rep.monthly["part"]):
        row = _write_part(ws, fmt, rep, str(part), row)


def write_unit_cost_workbook(rep: RatioReport, path: str | Path) -> Path:
    """Write ``rep`` (from :func:`ledger.ratio.ratio_gap`, without a fiscal-year filter) as
    the unit-cost workbook at ``path``."""
    if rep.fiscal_year is not None:
        raise ValueError("write the whole horizon: the Horizon row sums every month")
    out = Path(path)
    wb = xlsxwriter.Workbook(str(out), {"strings_to_formulas": False,
                                        "strings_to_numbers": False})
    try:
        write_unit_cost_sheet(wb, wb.add_worksheet("Unit cost"), rep)
    finally:
        wb.close()
    return out
