"""The Initiatives sheet: XlsxWriter writes its frame (titles, header, widths, filter);
its data rows are streamed into the finished workbook's XML as SpreadsheetML."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from ledger.months import fiscal_year
from reports.excel.inputs import DETAIL_ATTRS, DetailTable, ReportInput
from reports.excel.layout import (
    FIRST_DATA_ROW,
    HEADER_ROW,
    Formats,
    fit,
    note,
    print_setup,
    title,
)
from reports.safe import looks_like_formula, safe_text
from reports.sheetxml import inject_rows, inline_text
from reports.xlsxwriter_internals import style_index


@dataclass
class DetailPlan:
    """Where and how the Initiatives rows go into the finished workbook."""

    sheet_number: int
    attrs: list[str]
    first_month_col: int
    total_col: int
    text_style: int
    quoted_style: int
    """Text that starts like a formula (``= + - @``): Excel's quote prefix keeps an edit
    of the cell from turning it into one."""
    weight_style: int
    amount_styles: dict[int, int]


def write_detail(sheet: Worksheet, data: ReportInput, fmt: Formats) -> DetailPlan:
    """The Initiatives sheet's frame: titles, header, widths, filter, panes, print set-up."""
    detail = data.detail
    attrs = list(DETAIL_ATTRS)
    weighted = "weight" in detail.attributes.columns
    if weighted:
        attrs.append(("weight", "Weight", 8))
    first_month_col = len(attrs)
    n_months = len(detail.months)
    total_col = first_month_col + n_months
    units = sorted({m.unit for m in data.metrics})
    title(sheet, fmt,
          f"{safe_text(data.programme.name)}: initiatives and their {data.scenario} phasing",
          f"One row per initiative and metric; in-month amounts, exact, in the row's unit "
          f"({', '.join(units)})" + ("; risk-weighted by stage gate (weight per fact, rounded "
                                    "half away from zero)" if weighted else "") +
          f"; {note(data, data.metric.unit)}")
    for pos, (name, header, width) in enumerate(attrs):
        sheet.write_string(HEADER_ROW, pos, header, fmt.header_left)
        sheet.set_column(pos, pos, fit(detail.attributes[name], header, width))
    for pos, month in enumerate(detail.months):
        sheet.write_datetime(HEADER_ROW, first_month_col + pos,
                             datetime(month.year, month.month, 1), fmt.header_date)
    sheet.write_string(HEADER_ROW, total_col, "Total", fmt.header)
    sheet.set_column(first_month_col, first_month_col + n_months - 1, 11)
    sheet.set_column(total_col, total_col, 14)

    # The data rows are streamed into the sheet's XML after XlsxWriter has finished (see
    # inject_detail_rows): here only the style indices they will use are fixed.
    plan = DetailPlan(
        sheet_number=sheet.index + 1,
        attrs=[name for name, _h, _w in attrs],
        first_month_col=first_month_col,
        total_col=total_col,
        text_style=style_index(fmt.text),
        quoted_style=style_index(fmt.text_in("=")),
        weight_style=style_index(fmt.weight),
        amount_styles={int(d): style_index(fmt.detail(int(d)))
                       for d in sorted(set(detail.decimals.tolist()))},
    )
    last_row = FIRST_DATA_ROW + max(len(detail), 1) - 1
    sheet.autofilter(HEADER_ROW, 0, last_row, total_col)
    sheet.freeze_panes(HEADER_ROW + 1, 1)
    print_setup(sheet, data, header_row=HEADER_ROW, label_cols=2)
    _detail_pages(sheet, data)
    return plan


def _detail_pages(sheet: Worksheet, data: ReportInput) -> None:
    """One page across for the attributes and one per fiscal year of months (ID and name
    repeat on each), however many pages tall."""
    months = data.detail.months
    fiscal_years = {fiscal_year(m, data.programme.fy_start_month) for m in months}
    sheet.fit_to_pages(1 + max(1, len(fiscal_years)), 0)


def inject_detail_rows(src: str, dst: str, data: ReportInput, plan: DetailPlan,
                       progress: Callable[[int], None] | None) -> None:
    """Copy the workbook ``src`` to ``dst``, streaming the Initiatives rows into its sheet
    (:func:`reports.sheetxml.inject_rows`)."""
    last_row = FIRST_DATA_ROW + max(len(data.detail), 1)
    inject_rows(src, dst, plan.sheet_number, f"A1:{xl_col_to_name(plan.total_col)}{last_row}",
                _detail_rows(data.detail, plan, progress))


def _attribute_cells(detail: DetailTable, plan: DetailPlan
                     ) -> tuple[list[list[str | None]], list[list[int]]]:
    """Each attribute column's cell text, cleaned once (characters XML cannot hold
    dropped); None for an empty cell, a weight as the repr of its double. Beside it, each
    text cell's style: quote-prefixed when it starts like a formula."""
    columns: list[list[str | None]] = []
    styles: list[list[int]] = []
    for name in plan.attrs:
        cells: list[str | None] = []
        cell_styles: list[int] = []
        for value in detail.attributes[name].tolist():
            style = plan.text_style
            if value is None or (isinstance(value, float) and value != value):
                cells.append(None)
            elif isinstance(value, Decimal):
                cells.append(f"{float(value)!r}")
            else:
                cells.append(inline_text(value))
                if looks_like_formula(value):
                    style = plan.quoted_style
            cell_styles.append(style)
        columns.append(cells)
        styles.append(cell_styles)
    return columns, styles


def _detail_rows(detail: DetailTable, plan: DetailPlan,
                 progress: Callable[[int], None] | None, chunk: int = 500
                 ) -> Iterable[str]:
    """The Initiatives sheet's data rows as SpreadsheetML, a chunk of rows at a time.

    Text cells are inline strings (``t="inlineStr"``): a string type, so a name such as
    ``=HYPERLINK(...)`` is text, never a formula. Numbers are the shortest text that reads
    back as the same double (``repr``), the exact amount's nearest double.
    """
    n_rows = len(detail)
    if n_rows == 0:
        return
    letters = [xl_col_to_name(col) for col in range(plan.total_col + 1)]
    month_letters = letters[plan.first_month_col:plan.total_col]
    first_letter, last_letter = month_letters[0], month_letters[-1]
    total_letter = letters[plan.total_col]
    divisor = np.power(10.0, detail.decimals.astype(np.float64))
    totals = (np.where(detail.present, detail.amounts, 0).sum(axis=1) / divisor).tolist()
    styles = [plan.amount_styles[int(d)] for d in detail.decimals.tolist()]
    columns, text_styles = _attribute_cells(detail, plan)
    is_weight = [name == "weight" for name in plan.attrs]
    for start in range(0, n_rows, chunk):
        stop = min(n_rows, start + chunk)
        values = (detail.amounts[start:stop] / divisor[start:stop, None]).tolist()
        present = detail.present[start:stop].tolist()
        parts: list[str] = []
        for offset in range(stop - start):
            index = start + offset
            row = FIRST_DATA_ROW + index + 1  # 1-based, as SpreadsheetML counts
            style = styles[index]
            parts.append(f'<row r="{row}">')
            for pos, column in enumerate(columns):
                text = column[index]
                if text is None:
                    continue
                if is_weight[pos]:
                    parts.append(f'<c r="{letters[pos]}{row}" s="{plan.weight_style}">'
                                 f"<v>{text}</v></c>")
                else:
                    parts.append(f'<c r="{letters[pos]}{row}" s="{text_styles[pos][index]}" '
                                 f't="inlineStr"><is>{text}</is></c>')
            row_values, row_present = values[offset], present[offset]
            parts.extend(f'<c r="{month_letters[j]}{row}" s="{style}"><v>{row_values[j]!r}</v></c>'
                         for j in range(len(row_values)) if row_present[j])
            parts.append(f'<c r="{total_letter}{row}" s="{style}">'
                         f"<f>SUM({first_letter}{row}:{last_letter}{row})</f>"
                         f"<v>{totals[index]!r}</v></c></row>")
        yield "".join(parts)
        if progress is not None:
            progress(stop)
