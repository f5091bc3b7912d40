"""A breakdown sheet (By unit / By lever / By owner): each part's target, bottom-up, gap
and coverage (By owner: bottom-up only, owners have no targets), their totals, and the
difference to the Summary that is zero when it ties (outside the print area)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from reports.excel.columns import Column, column_layout
from reports.excel.figures import Figures, as_decimal, num
from reports.excel.formulas import DetailRefs, cell, difference, needs_exact
from reports.excel.inputs import UNALLOCATED, BreakdownSheet, ReportInput
from reports.excel.layout import (
    HEADER_ROW,
    Formats,
    colour_gap,
    column_headers,
    coverage_rules,
    favourable_is,
    note,
    period_pages,
    print_setup,
    set_period_column_widths,
    title,
    unit_label,
)
from reports.excel.lines import PartLines
from reports.safe import safe_text

PART_LINES = ["Target", "Bottom-up", "Gap", "Coverage"]
_LABEL_COLS = 3  # part, name, line
_LABEL_WIDTHS = (14, 20, 10)


def part_lines(breakdown: BreakdownSheet) -> list[str]:
    """The lines each part shows: all four, or bottom-up alone for a dimension without
    targets (owners)."""
    return PART_LINES if breakdown.targets else ["Bottom-up"]
_FIGURE_KEYS = {"Target": "target", "Bottom-up": "bottom_up", "Gap": "gap"}


@dataclass
class _Rows:
    """Where the blocks below the parts go (each maps a line to its row)."""

    first_part: int
    last_part: int
    totals: dict[str, int]
    summary_link: dict[str, int]
    difference: dict[str, int]

    @classmethod
    def after_parts(cls, first_part: int, next_row: int, targets: bool) -> _Rows:
        row = next_row + 1  # a blank row before the totals
        total_lines = ["Target", "Bottom-up", "Gap"] if targets else ["Bottom-up"]
        tie_lines = ["Target", "Bottom-up"] if targets else ["Bottom-up"]
        totals = {line: row + i for i, line in enumerate(total_lines)}
        row += len(total_lines) + 1
        summary_link = {line: row + i for i, line in enumerate(tie_lines)}
        row += len(tie_lines) + 1
        difference = {line: row + i for i, line in enumerate(tie_lines)}
        return cls(first_part, next_row - 1, totals, summary_link, difference)

    @property
    def last_printed(self) -> int:
        """The last row inside the print area: the totals (the tie rows are the audit's)."""
        return max(self.totals.values())


def write_breakdown(sheet: Worksheet, data: ReportInput, breakdown: BreakdownSheet, fmt: Formats,
                    scale: str, refs: DetailRefs, summary_rows: dict[str, int]) -> None:
    """Write one breakdown sheet; ``summary_rows`` are the Summary's line rows it ties to."""
    unit = unit_label(data, scale)
    months = data.detail.months
    cols = column_layout(months, data.programme.fy_start_month, _LABEL_COLS)
    summary_cols = column_layout(months, data.programme.fy_start_month, 1)
    figures = Figures(breakdown.report)
    title(sheet, fmt,
          f"{safe_text(data.programme.name)}: gap by {breakdown.heading.lower()} ({unit})",
          note(data, unit) + " Totals tie to the Summary: the difference rows are 0.")
    for pos, heading in enumerate([breakdown.heading, "Name", unit]):
        sheet.write_string(HEADER_ROW, pos, heading, fmt.header_left)
    column_headers(sheet, fmt, cols)

    first_part_row = HEADER_ROW + 1
    next_row = _write_parts(sheet, data, breakdown, fmt, cols, figures, refs, first_part_row)
    rows = _Rows.after_parts(first_part_row, next_row, breakdown.targets)
    _write_totals(sheet, fmt, cols, figures, rows)
    summary_figures = Figures(data.summary)
    summary_part = summary_figures.parts[0] if summary_figures.parts else "Programme"
    _write_summary_links(sheet, fmt, cols, summary_cols, summary_figures, summary_part,
                         summary_rows, rows)
    _write_differences(sheet, fmt, cols, summary_cols, figures, summary_figures,
                       summary_part, rows)
    _flag(sheet, data, fmt, cols, rows)
    for pos, width in enumerate(_LABEL_WIDTHS):
        sheet.set_column(pos, pos, width)
    set_period_column_widths(sheet, cols)
    sheet.freeze_panes(HEADER_ROW + 1, _LABEL_COLS)
    print_setup(sheet, data, header_row=HEADER_ROW, label_cols=_LABEL_COLS)
    period_pages(sheet, data, cols)
    sheet.print_area(0, 0, rows.last_printed, cols[-1].index)


def _write_parts(sheet: Worksheet, data: ReportInput, breakdown: BreakdownSheet, fmt: Formats,
                 cols: Sequence[Column], figures: Figures, refs: DetailRefs, row: int) -> int:
    """Each part's four lines from ``row`` on; returns the row after the last part."""
    exact = needs_exact(p for p in figures.parts if p != UNALLOCATED)
    for part in figures.parts:
        unallocated = part == UNALLOCATED
        name = ("no " + breakdown.heading.lower() if unallocated
                else breakdown.names.get(part, ""))
        shown = part_lines(breakdown)
        rows = {line: row + i for i, line in enumerate(shown)}
        lines = PartLines(sheet, fmt, cols, figures, part)
        part_text, name_text = safe_text(part), safe_text(name)
        for line in shown:
            sheet.write_string(rows[line], 0, part_text, fmt.text_in(part_text, fmt.label_bold))
            sheet.write_string(rows[line], 1, name_text, fmt.text_in(name_text))
            sheet.write_string(rows[line], 2, line, fmt.label)
            if line == "Target":
                lines.target(rows[line])
            elif line == "Bottom-up":
                lines.bottom_up(rows[line], partial(
                    refs.sumifs, metric=data.metric.code, part_column=breakdown.column,
                    part=part, unallocated=unallocated, exact=part in exact,
                    part_ref=cell(rows[line], 0, absolute=True)))
            elif line == "Gap":
                lines.gap(rows[line], rows["Target"], rows["Bottom-up"])
            else:
                lines.coverage(rows[line], rows["Target"], rows["Bottom-up"])
        row += len(shown)
    return row


def _parts_total(figures: Figures, line: str, col: Column) -> float:
    """The parts' exact sum of a line's figure in ``col`` (the total row's cached value)."""
    values = [as_decimal(figures.get(part, col, _FIGURE_KEYS[line])) for part in figures.parts]
    return float(sum((v for v in values if v is not None), Decimal(0)))


def _label_range(rows: _Rows) -> str:
    """The part rows' line labels (column C), which the totals' SUMIF matches on."""
    labels_col = xl_col_to_name(2)
    return f"${labels_col}${rows.first_part + 1}:${labels_col}${rows.last_part + 1}"


def _write_totals(sheet: Worksheet, fmt: Formats, cols: Sequence[Column], figures: Figures,
                  rows: _Rows) -> None:
    """Target and bottom-up totals sum the parts' lines (SUMIF on the label); the total
    gap is their difference."""
    for line in rows.totals:
        sheet.write_string(rows.totals[line], 0, "Total", fmt.label_bold)
        sheet.write_string(rows.totals[line], 2, line, fmt.label_bold)
        for col in cols:
            col_name = xl_col_to_name(col.index)
            if line == "Gap":
                formula = difference(rows.totals["Target"], rows.totals["Bottom-up"],
                                     col.index)
            elif figures.parts:
                formula = (f'=SUMIF({_label_range(rows)},"{line}",'
                           f"{col_name}{rows.first_part + 1}:{col_name}{rows.last_part + 1})")
            else:
                formula = "=0"
            sheet.write_formula(rows.totals[line], col.index, formula, fmt.amount_bold,
                                _parts_total(figures, line, col))


def _write_summary_links(sheet: Worksheet, fmt: Formats, cols: Sequence[Column],
                         summary_cols: Sequence[Column], summary_figures: Figures,
                         summary_part: str, summary_rows: dict[str, int], rows: _Rows) -> None:
    """The Summary's target and bottom-up, linked cell by cell."""
    for line in rows.summary_link:
        sheet.write_string(rows.summary_link[line], 0, "Summary", fmt.label)
        sheet.write_string(rows.summary_link[line], 2, line, fmt.label)
        key = _FIGURE_KEYS[line]
        for col, summary_col in zip(cols, summary_cols, strict=True):
            sheet.write_formula(rows.summary_link[line], col.index,
                                f"=Summary!{cell(summary_rows[line], summary_col.index)}",
                                fmt.amount, num(summary_figures.get(summary_part, summary_col,
                                                                    key)))


def _write_differences(sheet: Worksheet, fmt: Formats, cols: Sequence[Column],
                       summary_cols: Sequence[Column], figures: Figures,
                       summary_figures: Figures, summary_part: str, rows: _Rows) -> None:
    """Total minus Summary, 0 when the breakdown ties."""
    for line in rows.difference:
        sheet.write_string(rows.difference[line], 0, "Difference", fmt.label_bold)
        sheet.write_string(rows.difference[line], 1, "total minus Summary: 0 when it ties",
                           fmt.note)
        sheet.write_string(rows.difference[line], 2, line, fmt.label)
        for col in cols:
            key = _FIGURE_KEYS[line]
            summary_col = _summary_col(col, cols, summary_cols)
            expected = _parts_total(figures, line, col) - num(
                summary_figures.get(summary_part, summary_col, key))
            sheet.write_formula(rows.difference[line], col.index,
                                difference(rows.totals[line], rows.summary_link[line],
                                           col.index),
                                fmt.amount, expected)


def _flag(sheet: Worksheet, data: ReportInput, fmt: Formats, cols: Sequence[Column],
          rows: _Rows) -> None:
    """Colour the parts' and the total's gaps (favourable green, unfavourable red) and
    coverage (red, amber, green); a difference that is not 0 shows red."""
    last_col = cols[-1].index
    labels_col = xl_col_to_name(2)
    first_data_col = xl_col_to_name(cols[0].index)
    if "Gap" in rows.totals:
        bad, good = favourable_is(data)
        for comparison, cell_format in ((bad, fmt.unfavourable), (good, fmt.favourable)):
            sheet.conditional_format(rows.first_part, cols[0].index, rows.last_part, last_col, {
                "type": "formula",
                "criteria": f'=AND(${labels_col}{rows.first_part + 1}="Gap",'
                            f"{first_data_col}{rows.first_part + 1}{comparison}0)",
                "format": cell_format,
            })
        colour_gap(sheet, data, fmt, rows.totals["Gap"], cols[0].index, rows.totals["Gap"],
                   last_col)
        _colour_part_coverage(sheet, data, fmt, cols, rows)
    # The bottom-up always ties; a target difference is the cascade gap (the parts'
    # targets do not add up to the programme's).
    first_diff = min(rows.difference.values())
    sheet.conditional_format(first_diff, cols[0].index, max(rows.difference.values()),
                             last_col, {
                                 "type": "formula",
                                 "criteria": f"=ROUND({first_data_col}{first_diff + 1},6)<>0",
                                 "format": fmt.mismatch,
                             })


def _colour_part_coverage(sheet: Worksheet, data: ReportInput, fmt: Formats,
                          cols: Sequence[Column], rows: _Rows) -> None:
    """Red, amber, green on the parts' Coverage lines (only those rows)."""
    labels_col = xl_col_to_name(2)
    ref = f"{xl_col_to_name(cols[0].index)}{rows.first_part + 1}"
    is_coverage = f'${labels_col}{rows.first_part + 1}="Coverage"'
    for test, cell_format in coverage_rules(data, fmt):
        sheet.conditional_format(rows.first_part, cols[0].index, rows.last_part,
                                 cols[-1].index, {
                                     "type": "formula",
                                     "criteria": f"=AND({is_coverage},ISNUMBER({ref}),"
                                                 f"{ref}{test})",
                                     "format": cell_format, "stop_if_true": True})


def _summary_col(col: Column, cols: Sequence[Column],
                 summary_cols: Sequence[Column]) -> Column:
    """The Summary column matching breakdown column ``col`` (same position in the layout)."""
    return summary_cols[cols.index(col)]
