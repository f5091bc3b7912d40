"""How the sheets look: where titles and headers go, the finance number formats in the
chosen scale, column widths and print set-up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from ledger.errors import LedgerError
from reports.excel.columns import Column
from reports.excel.figures import as_decimal
from reports.excel.inputs import SCALES, ReportInput

# Sheet layout: rows 0-2 title, note, blank; header row 3; data from row 4.
HEADER_ROW = 3
FIRST_DATA_ROW = 4


class Formats:
    """The workbook's formats: finance number formats in the chosen scale."""

    def __init__(self, workbook: Workbook, decimals: int, power: int) -> None:
        def add(**props: Any) -> Any:
            base = {"font_name": "Calibri", "font_size": 10}
            base.update(props)
            return workbook.add_format(base)

        self.amount_fmt = number_format(decimals, power)
        self.title = add(bold=True, font_size=14, font_color="#1F3864")
        self.note = add(italic=True, font_color="#595959")
        self.header = add(bold=True, bg_color="#1F3864", font_color="#FFFFFF", border=1,
                          text_wrap=True, valign="vcenter", align="center")
        self.header_left = add(bold=True, bg_color="#1F3864", font_color="#FFFFFF", border=1,
                               valign="vcenter")
        self.header_date = add(bold=True, bg_color="#1F3864", font_color="#FFFFFF", border=1,
                               num_format="mmm-yy", align="center")
        self.header_sub = add(bold=True, bg_color="#2F5597", font_color="#FFFFFF", border=1,
                              align="center")
        self.label = add()
        self.label_bold = add(bold=True)
        self.text = add()
        self.amount = add(num_format=self.amount_fmt)
        self.amount_sub = add(num_format=self.amount_fmt, bold=True, bg_color="#D9E1F2")
        self.amount_bold = add(num_format=self.amount_fmt, bold=True, top=1)
        self.pct = add(num_format="0.0%", italic=True)
        self.pct_sub = add(num_format="0.0%", italic=True, bold=True, bg_color="#D9E1F2")
        self.weight = add(num_format="0%")
        self.shortfall = workbook.add_format({"bg_color": "#F8CBAD", "font_color": "#9C0006"})
        self.mismatch = workbook.add_format({"bg_color": "#FF0000", "font_color": "#FFFFFF",
                                             "bold": True})
        self.ok = workbook.add_format({"font_color": "#375623"})
        self.datetime = add(num_format="yyyy-mm-dd hh:mm:ss", align="left")
        self.month = add(num_format="mmm-yy", align="left")
        self._detail: dict[int, Any] = {}
        self._add = add

    def detail(self, decimals: int) -> Any:
        """Detail amounts: exact, in the row's own unit (every decimal shown)."""
        if decimals not in self._detail:
            self._detail[decimals] = self._add(num_format=number_format(decimals, 0))
        return self._detail[decimals]

    def amount_in(self, col: Column) -> Any:
        """An amount in a month column, or in a (shaded) subtotal column."""
        return self.amount if col.kind == "month" else self.amount_sub

    def pct_in(self, col: Column) -> Any:
        """A coverage ratio in a month column, or in a (shaded) subtotal column."""
        return self.pct if col.kind == "month" else self.pct_sub


def number_format(decimals: int, power: int) -> str:
    """Thousands separators, negatives in red parentheses, a dash for zero; ``power`` 3
    or 6 shows thousands or millions while the cell keeps the exact amount."""
    shown = max(0, decimals - power) if power == 0 else (1 if power == 6 else 0)
    body = "#,##0" + ("." + "0" * shown if shown else "") + "," * (power // 3)
    return f'{body}_);[Red]({body});"–"_)'


def pick_scale(data: ReportInput) -> str:
    """The scale amounts are shown in: the one asked for, else thousands for a currency
    metric with a fiscal-year figure of a million or more, else units."""
    if data.scale != "auto":
        if data.scale not in SCALES:
            raise LedgerError(f"scale {data.scale!r}: expected auto, units, thousands or "
                              "millions")
        return data.scale
    currency = str(getattr(data.programme, "currency", ""))
    if data.metric.unit != currency:
        return "units"  # tonnes, FTE...: shown as they are
    biggest = Decimal(0)
    for rec in data.summary.fiscal.to_dict("records"):
        for key in ("target", "bottom_up"):
            value = as_decimal(rec.get(key))
            if value is not None:
                biggest = max(biggest, abs(value))
    return "thousands" if biggest >= 1_000_000 else "units"


def unit_label(data: ReportInput, scale: str) -> str:
    return f"{data.metric.unit}{SCALES[scale][1]}".strip()


def column_headers(sheet: Worksheet, fmt: Formats, cols: Sequence[Column]) -> None:
    """The header row's month dates and subtotal labels (Summary and breakdown sheets)."""
    for col in cols:
        if col.kind == "month":
            assert col.month is not None  # noqa: S101  (narrows the type)
            sheet.write_datetime(HEADER_ROW, col.index,
                                 datetime(col.month.year, col.month.month, 1), fmt.header_date)
        else:
            sheet.write_string(HEADER_ROW, col.index, col.label, fmt.header_sub)


def title(sheet: Worksheet, fmt: Formats, text: str, note_text: str) -> None:
    sheet.write_string(0, 0, text, fmt.title)
    sheet.write_string(1, 0, note_text, fmt.note)


def note(data: ReportInput, unit: str) -> str:
    """The line under each title: metric, scenario, weighting, unit and as-of."""
    as_of = (f"as of {data.as_of:%Y-%m-%d %H:%M} UTC" if data.as_of is not None
             else "current")
    weighted = ", risk-weighted" if data.weighted else ""
    return (f"{data.metric.code} ({data.metric.name}), {data.scenario} scenario{weighted}; "
            f"amounts in {unit}; {as_of} (submission {data.as_of_submission}).")


def fit(values: pd.Series, header: str, minimum: int, maximum: int = 60) -> int:
    """A column width that fits the longest value (within bounds), like Excel's autofit."""
    if values.empty:
        return max(minimum, len(header) + 2)
    longest = int(values.map(lambda v: len(str(v)) if v is not None else 0).max())
    return max(min(minimum, len(header) + 2), min(maximum, max(longest, len(header)) + 2))


def print_setup(sheet: Worksheet, header_row: int, label_cols: int, paper: int = 9) -> None:
    """Landscape, one page wide, header rows (and label columns) on every page; ``paper``
    9 is A4, 8 is A3 (for the wide month-by-month sheets)."""
    sheet.set_landscape()
    sheet.set_paper(paper)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0, header_row)
    if label_cols:
        sheet.repeat_columns(0, label_cols - 1)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_footer("&L&A&C&D &T&RPage &P of &N")


def shortfall_criteria(data: ReportInput) -> tuple[str, str]:
    """Gap is target minus bottom-up: for a benefit a positive gap is a shortfall; for a
    cost, a negative gap (bottom-up above target) is the overrun to flag."""
    return (">", "0") if data.metric.kind != "cost" else ("<", "0")


def set_period_column_widths(sheet: Worksheet, cols: Sequence[Column]) -> None:
    """Month columns 12 wide, subtotal columns 14."""
    for col in cols:
        sheet.set_column(col.index, col.index, 12 if col.kind == "month" else 14)
