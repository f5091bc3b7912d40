"""The gap report's Summary table as plain data: for ``--format csv`` and scripts.

Same rows and columns as the workbook's Summary sheet: target, bottom-up, gap, the
cumulative lines, coverage and the run-rates (a month's amount x 12; in a subtotal column
the exit run-rate, the period's last month x 12), by month with fiscal-year subtotals and
the horizon total.
Amounts are exact decimal strings (never floats); coverage is the engine's ratio, empty
where the target is zero.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from ledger.engine import GapReport

from reports.excel.columns import column_layout, last_month_col
from reports.excel.figures import Figures
from reports.safe import csv_text

__all__ = ["summary_table", "write_summary_csv"]

_LINES = [
    ("Target", "target", False),
    ("Bottom-up", "bottom_up", False),
    ("Gap", "gap", False),
    ("Cumulative target", "cumulative_target", True),
    ("Cumulative bottom-up", "cumulative_bottom_up", True),
    ("Cumulative gap", "cumulative_gap", True),
    ("Coverage", "coverage", False),
]
#: The run-rate lines: the monthly field x 12, and the fiscal frame's exit run-rate.
_RUN_RATES = [
    ("Run-rate (x 12)", "bottom_up", "exit_run_rate"),
    ("Target run-rate (x 12)", "target", "target_exit_run_rate"),
]


def summary_table(report: GapReport) -> pd.DataFrame:
    """The Summary sheet's table from a :class:`ledger.engine.GapReport` (by=None).

    Columns: ``line``, one per month (``2026-07``), one per fiscal year (``FY27``) after its
    months, and ``Horizon``. Values are Decimals (None for an empty coverage).
    """
    figures = Figures(report)
    part = figures.parts[0] if figures.parts else "Programme"
    cols = column_layout(report.programme.months, report.programme.fy_start_month, 1)
    records: list[dict[str, Any]] = []
    for label, key, cumulative in _LINES:
        rec: dict[str, Any] = {"line": label}
        for col in cols:
            name = f"{col.month:%Y-%m}" if col.month is not None else col.label
            source = last_month_col(cols, col) if cumulative and col.kind != "month" else col
            value = figures.get(part, source, key)
            rec[name] = value if isinstance(value, Decimal) else (
                None if value is None or pd.isna(value) else Decimal(str(value)))
        records.append(rec)
    for label, monthly_key, exit_key in _RUN_RATES:
        rec = {"line": label}
        for col in cols:
            name = f"{col.month:%Y-%m}" if col.month is not None else col.label
            if col.kind == "month":
                value = figures.get(part, col, monthly_key)
                rec[name] = None if value is None else Decimal(value) * 12
            else:
                rec[name] = figures.get(part, col, exit_key)
        records.append(rec)
    return pd.DataFrame.from_records(records)


def write_summary_csv(report: GapReport, out: io.TextIOBase | Any) -> int:
    """Write :func:`summary_table` as CSV to the text stream ``out``; return the row count."""
    table = summary_table(report)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_text(c) for c in table.columns])
    for row in table.itertuples(index=False, name=None):
        writer.writerow([csv_text(v) if isinstance(v, str) else ("" if v is None else str(v))
                         for v in row])
    return len(table)
