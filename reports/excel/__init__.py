"""Finance's gap report as an Excel workbook that audits itself.

Every figure finance reads is either an input written as a number (targets, each
initiative's in-month phasing) or a live formula over cells it can see:

* **Initiatives**: one row per initiative and metric: attributes, the monthly phasing as
  numbers, and a row total ``=SUM(...)``.
* **Summary**: months as columns with fiscal-year subtotal columns and a horizon total.
  Bottom-up cells are ``SUMIFS`` over the Initiatives sheet; gap, cumulative and subtotal
  cells are formulas over the cells above or beside them; coverage shows nothing where
  the target is zero.
* **By unit / By lever / By owner**: each part's bottom-up (``SUMIFS`` over Initiatives)
  against its target (owners: bottom-up only), the unallocated row, totals, and a
  difference-to-Summary row that is zero when the breakdown ties.
* **Funnel** (per stage gate: count and value, unweighted and risk-weighted) and **Top
  initiatives** (by value, forecast-vs-plan variance, movement this month).
* **Checks**, **Bridge** (when asked for) and **About** (what, as of when, written by which
  tledger).

Before a byte is written, :func:`write_gap_report` recomputes every bottom-up cell the way
``SUMIFS`` will (from the detail it is about to write) and refuses to write a report whose
formulas would not recalculate to the engine's numbers. Formulas carry the engine's value
as their cached result, so a viewer that does not recalculate still shows the right number.

The workbook is written with XlsxWriter in ``constant_memory`` mode: each sheet's rows are
written strictly in order and flushed, so memory stays flat however many initiatives there
are. Amounts reach Excel as the nearest double to the exact value (Excel's numbers are
binary floats; cents survive the round trip); text from the ledger goes through
``write_string`` only, so a name such as ``=HYPERLINK(...)`` stays text.

One responsibility a module: ``inputs`` (what the report is written from),
``columns``, ``figures`` and ``formulas`` (the month layout, the engine's numbers, formula
text), ``layout`` (formats, scale, titles, print set-up), ``audit`` (the self-audit),
one module per sheet (``summary``, ``breakdowns`` with the ``lines`` they share with the
Summary, ``detail``, ``checks``, ``bridge``, ``about``) and ``writer``, which puts them
together.
"""

from __future__ import annotations

from reports.excel.inputs import (
    BREAKDOWN_SHEETS,
    BreakdownSheet,
    DetailTable,
    ReportInput,
    ReportMismatch,
    build_detail,
)
from reports.excel.writer import write_gap_report

__all__ = [
    "BREAKDOWN_SHEETS",
    "BreakdownSheet",
    "DetailTable",
    "ReportInput",
    "ReportMismatch",
    "build_detail",
    "write_gap_report",
]
