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
from ledger.reconcile import coverage_bands, coverage_rag
from reports.excel.columns import Column
from reports.excel.figures import as_decimal
from reports.excel.inputs import PAPERS, SCALES, ReportInput
from reports.safe import FORMULA_TRIGGERS

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
        self.wrap = add(text_wrap=True, valign="top")
        self.label_bold = add(bold=True)
        self.text = add()
        self.amount = add(num_format=self.amount_fmt)
        self.amount_sub = add(num_format=self.amount_fmt, bold=True, bg_color="#D9E1F2")
        self.amount_bold = add(num_format=self.amount_fmt, bold=True, top=1)
        self.pct = add(num_format="0.0%", italic=True)
        self.pct_sub = add(num_format="0.0%", italic=True, bold=True, bg_color="#D9E1F2")
        self.weight = add(num_format="0%")
        self.count = add(num_format="#,##0")
        self.count_bold = add(num_format="#,##0", bold=True, top=1)
        # Colour by meaning, never by sign alone: favourable green, unfavourable red,
        # coverage between the two thresholds amber (see rag_formats).
        self.unfavourable = workbook.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.favourable = workbook.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})
        self.amber = workbook.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"})
        self.mismatch = workbook.add_format({"bg_color": "#FF0000", "font_color": "#FFFFFF",
                                             "bold": True})
        self.ok = workbook.add_format({"font_color": "#375623"})
        self.datetime = add(num_format="yyyy-mm-dd hh:mm:ss", align="left")
        self.month = add(num_format="mmm-yy", align="left")
        self._detail: dict[int, Any] = {}
        self._quoted: dict[int, Any] = {}
        self._add = add
        self._props = {id(self.text): {}, id(self.label): {}, id(self.label_bold): {"bold": True}}

    def text_in(self, value: str, base: Any = None) -> Any:
        """``base`` (default: plain text), with Excel's quote prefix when ``value`` starts
        like a formula, so editing the cell never turns it into one."""
        base = self.text if base is None else base
        if not value.startswith(FORMULA_TRIGGERS):
            return base
        key = id(base)
        if key not in self._quoted:
            self._quoted[key] = self._add(quote_prefix=True, **self._props.get(key, {}))
        return self._quoted[key]

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
    """Thousands separators, negatives in parentheses (colour says favourable or not, never
    the sign alone), a dash for zero; ``power`` 3
    or 6 shows thousands or millions while the cell keeps the exact amount."""
    body = number_body(decimals, power)
    return f'{body}_);({body});"–"_)'


def number_body(decimals: int, power: int) -> str:
    """The positive part of :func:`number_format` (chart axes use it alone)."""
    shown = max(0, decimals - power) if power == 0 else (1 if power == 6 else 0)
    return "#,##0" + ("." + "0" * shown if shown else "") + "," * (power // 3)


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


def _header_text(text: str) -> str:
    """Text for a page header: ``&`` doubled (a single one starts a header code)."""
    return text.replace("&", "&&")[:60]


def print_setup(sheet: Worksheet, data: ReportInput, *, header_row: int | None = None,
                label_cols: int = 0, portrait: bool = False, fit: bool = True) -> None:
    """The pack's one page set-up: the paper asked for (A4 by default) landscape, one page
    wide (unless ``fit`` is False: a sheet narrow enough sets its own scale), title and
    header rows (and label columns) on every page, a header with the programme, the sheet
    and the as-of, a footer with the page number.

    Sheets with month columns call :func:`period_pages` afterwards: one fiscal year a page
    wide instead of the whole horizon squeezed onto one."""
    if portrait:
        sheet.set_portrait()
    else:
        sheet.set_landscape()
    sheet.set_paper(PAPERS[data.paper][0])
    if fit:  # one page wide (period_pages widens it to one page per fiscal year)
        sheet.fit_to_pages(1, 0)
    if header_row is not None:
        sheet.repeat_rows(0, header_row)
    if label_cols:
        sheet.repeat_columns(0, label_cols - 1)
    sheet.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)
    as_of = (f"as of {data.as_of:%Y-%m-%d %H:%M} UTC" if data.as_of is not None
             else f"current at {data.written_at:%Y-%m-%d %H:%M} UTC")
    sheet.set_header(f"&L&9{_header_text(data.programme.name)}&C&9&A"
                     f"&R&9{_header_text(as_of)} (submission {data.as_of_submission})",
                     {"margin": 0.3})
    sheet.set_footer("&L&8tledger gap report&R&8Page &P of &N", {"margin": 0.3})


def column_px(width: float) -> int:
    """Excel's pixel width of a column ``width`` characters wide (Calibri 11 default)."""
    return int(width * 7 + 5) if width >= 1 else int(width * 12 + 0.5)


def period_pages(sheet: Worksheet, data: ReportInput, cols: Sequence[Column]) -> int:
    """Print about one fiscal year a page: fit the sheet to as many pages wide as it has
    fiscal years (the label columns repeat on each), however many tall. Excel and
    LibreOffice pick the scale from the fonts they have; a fiscal year of months prints at
    about 8 pt on A4 with Calibri, larger on A3. Returns the pages wide."""
    wide = max(1, sum(1 for col in cols if col.kind == "fy"))
    sheet.fit_to_pages(wide, 0)
    return wide


#: Column widths (characters) of month and subtotal columns.
PERIOD_WIDTHS = {"month": 11.0, "fy": 13.0, "horizon": 13.0}


def set_period_column_widths(sheet: Worksheet, cols: Sequence[Column]) -> None:
    for col in cols:
        sheet.set_column(col.index, col.index, PERIOD_WIDTHS[col.kind])


def favourable_is(data: ReportInput) -> tuple[str, str]:
    """The comparisons with 0 that make a gap (target minus bottom-up) unfavourable and
    favourable. A benefit short of target (gap > 0) is unfavourable and ahead of it
    (gap < 0) favourable; for a cost it is the other way round (gap < 0 is an overrun)."""
    return (">", "<") if data.metric.kind != "cost" else ("<", ">")


def colour_gap(sheet: Worksheet, data: ReportInput, fmt: Formats, first_row: int,
               first_col: int, last_row: int, last_col: int) -> None:
    """Gap cells: unfavourable red, favourable green (by the metric's kind, not the sign)."""
    bad, good = favourable_is(data)
    for comparison, cell_format in ((bad, fmt.unfavourable), (good, fmt.favourable)):
        sheet.conditional_format(first_row, first_col, last_row, last_col,
                                 {"type": "cell", "criteria": comparison, "value": 0,
                                  "format": cell_format})


def rag_bands(data: ReportInput) -> list[tuple[str, Decimal, str]]:
    """The coverage RAG rule (:func:`ledger.reconcile.coverage_bands`) with the programme's
    thresholds in force at the report's as-of."""
    return coverage_bands(data.metric.kind, data.coverage_red, data.coverage_amber)


def rag_text(data: ReportInput, coverage: Any) -> str:
    """The RAG (Red, Amber, Green) of a coverage ratio; blank for none."""
    return coverage_rag(as_decimal(coverage), data.metric.kind, data.coverage_red,
                        data.coverage_amber)


def rag_formula(data: ReportInput, ref: str) -> str:
    """The formula of :func:`rag_text` over the coverage in cell ``ref``."""
    formula = '"Green"'
    for test, limit, colour in reversed(rag_bands(data)):
        formula = f'IF({ref}{test}{limit},"{colour}",{formula})'
    return f'=IF(ISNUMBER({ref}),{formula},"")'


def coverage_rules(data: ReportInput, fmt: Formats) -> list[tuple[str, Any]]:
    """:func:`rag_bands` as conditional-format tests (appended to a cell reference) and
    their formats, in order, the last one Green; apply each with ``stop_if_true``."""
    styles = {"Red": fmt.unfavourable, "Amber": fmt.amber}
    rules: list[tuple[str, Any]] = [(f"{test}{limit}", styles[colour])
                                    for test, limit, colour in rag_bands(data)]
    return [*rules, (">=-1E300", fmt.favourable)]


def colour_coverage(sheet: Worksheet, data: ReportInput, fmt: Formats, row: int,
                    first_col: int, last_col: int, last_row: int | None = None) -> None:
    """Coverage cells red, amber or green by :func:`rag_bands`. Blank coverage stays
    plain."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    ref = xl_rowcol_to_cell(row, first_col)
    for test, cell_format in coverage_rules(data, fmt):
        sheet.conditional_format(row, first_col, row if last_row is None else last_row,
                                 last_col, {"type": "formula",
                                            "criteria": f"=AND(ISNUMBER({ref}),{ref}{test})",
                                            "format": cell_format, "stop_if_true": True})
