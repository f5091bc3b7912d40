"""The Summary sheet: the programme's target, bottom-up, gap, cumulative lines and
coverage by month with fiscal-year subtotals, and a chart of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from reports.excel.columns import Column, column_layout, last_month_col
from reports.excel.figures import Figures, as_decimal, num
from reports.excel.formulas import DetailRefs, cell, difference
from reports.excel.inputs import ReportInput
from reports.excel.layout import (
    HEADER_ROW,
    Formats,
    column_headers,
    note,
    print_setup,
    set_period_column_widths,
    shortfall_criteria,
    title,
    unit_label,
)
from reports.excel.lines import PartLines
from reports.safe import safe_text

SUMMARY_LINES = ["Target", "Bottom-up", "Gap", "Cumulative target", "Cumulative bottom-up",
                 "Cumulative gap", "Coverage", "Run-rate (x 12)", "Target run-rate (x 12)"]
#: The run-rate lines: the month's amount x 12; a subtotal column shows the exit run-rate
#: (its last month's), the engine's ``exit_run_rate`` / ``target_exit_run_rate``.
RUN_RATE_LINES = {"Run-rate (x 12)": ("Bottom-up", "bottom_up", "exit_run_rate"),
                  "Target run-rate (x 12)": ("Target", "target", "target_exit_run_rate")}


def write_summary(workbook: Workbook, sheet: Worksheet, data: ReportInput, fmt: Formats,
                  scale: str, refs: DetailRefs) -> dict[str, int]:
    """Write the Summary sheet; return the row of each line (the breakdowns link to it)."""
    unit = unit_label(data, scale)
    cols = column_layout(data.detail.months, data.programme.fy_start_month, 1)
    figures = Figures(data.summary)
    part = figures.parts[0] if figures.parts else "Programme"
    title(sheet, fmt, f"{safe_text(data.programme.name)}: gap to target ({unit})",
          note(data, unit))
    sheet.write_string(HEADER_ROW, 0, unit, fmt.header_left)
    column_headers(sheet, fmt, cols)
    rows = {name: HEADER_ROW + 1 + i for i, name in enumerate(SUMMARY_LINES)}

    _write_lines(PartLines(sheet, fmt, cols, figures, part), rows, data.metric.code, refs)
    last_col = cols[-1].index
    comparison, limit = shortfall_criteria(data)
    for line in ("Gap", "Cumulative gap"):
        sheet.conditional_format(rows[line], 1, rows[line], last_col,
                                 {"type": "cell", "criteria": comparison, "value": limit,
                                  "format": fmt.shortfall})

    month_cols = [col for col in cols if col.kind == "month"]
    series_rows = _write_chart_data(sheet, fmt, rows, month_cols, figures, part)
    if month_cols:
        _chart(workbook, sheet, series_rows, len(month_cols), unit,
               anchor=(series_rows["Cumulative gap"] + 2, 0),
               title=f"Target vs bottom-up by month ({unit})")

    sheet.set_column(0, 0, 24)
    set_period_column_widths(sheet, cols)
    sheet.freeze_panes(HEADER_ROW + 1, 1)
    print_setup(sheet, HEADER_ROW, 1, paper=8)
    sheet.print_area(0, 0, rows[SUMMARY_LINES[-1]], last_col)
    return rows


def _write_lines(lines: PartLines, rows: dict[str, int], metric_code: str,
                 refs: DetailRefs) -> None:
    """The table, line by line (a constant-memory sheet is written in row order)."""
    for line in SUMMARY_LINES:
        row = rows[line]
        lines.sheet.write_string(row, 0, line, lines.fmt.label_bold if "gap" in line.lower()
                                 else lines.fmt.label)
        if line == "Target":
            lines.target(row)
        elif line == "Bottom-up":
            lines.bottom_up(row, lambda month_pos: refs.sumifs(month_pos, metric_code))
        elif line == "Gap":
            lines.gap(row, rows["Target"], rows["Bottom-up"])
        elif line == "Cumulative target":
            _write_running_total(lines, row, rows["Target"], "cumulative_target")
        elif line == "Cumulative bottom-up":
            _write_running_total(lines, row, rows["Bottom-up"], "cumulative_bottom_up")
        elif line == "Cumulative gap":
            cols = lines.cols
            for col in cols:
                lines.sheet.write_formula(
                    row, col.index,
                    difference(rows["Cumulative target"], rows["Cumulative bottom-up"],
                               col.index),
                    lines.fmt.amount_in(col),
                    num(lines.figures.cumulative(lines.part, cols, col, "cumulative_gap")))
        elif line in RUN_RATE_LINES:
            _write_run_rate(lines, row, rows, line)
        else:
            lines.coverage(row, rows["Target"], rows["Bottom-up"])


def _write_run_rate(lines: PartLines, row: int, rows: dict[str, int], line: str) -> None:
    """Each month is the source line's amount x 12; a subtotal column repeats its last
    month's: the period's exit run-rate."""
    source, monthly_key, exit_key = RUN_RATE_LINES[line]
    for col in lines.cols:
        if col.kind == "month":
            formula = f"={cell(rows[source], col.index)}*12"
            value = (as_decimal(lines.figures.get(lines.part, col, monthly_key))
                     or Decimal(0)) * 12
            style = lines.fmt.amount
        else:
            formula = f"={cell(row, last_month_col(lines.cols, col).index)}"
            value = as_decimal(lines.figures.get(lines.part, col, exit_key)) or Decimal(0)
            style = lines.fmt.amount_sub
        lines.sheet.write_formula(row, col.index, formula, style, float(value))


def _write_running_total(lines: PartLines, row: int, source_row: int, key: str) -> None:
    """Each month adds its ``source_row`` cell to the month before; a subtotal column
    repeats its last month."""
    cols = lines.cols
    month_cols = [col for col in cols if col.kind == "month"]
    for col in cols:
        value = num(lines.figures.cumulative(lines.part, cols, col, key))
        if col.kind == "month":
            pos = lines.month_pos[col.index]
            formula = f"={cell(source_row, col.index)}" if pos == 0 else \
                f"={cell(row, month_cols[pos - 1].index)}+{cell(source_row, col.index)}"
        else:
            formula = f"={cell(row, last_month_col(cols, col).index)}"
        lines.sheet.write_formula(row, col.index, formula, lines.fmt.amount_in(col), value)


def _write_chart_data(sheet: Worksheet, fmt: Formats, rows: dict[str, int],
                      month_cols: Sequence[Column], figures: Figures, part: str
                      ) -> dict[str, int]:
    """The chart's series below the table, months contiguous (the table interleaves
    fiscal-year columns); each cell links to the table. Returns each series' row."""
    chart_row = rows[SUMMARY_LINES[-1]] + 3
    sheet.write_string(chart_row, 0, "Chart data (links to the table above)", fmt.note)
    series_rows = {"Month": chart_row + 1, "Target": chart_row + 2,
                   "Bottom-up": chart_row + 3, "Cumulative gap": chart_row + 4}
    sheet.write_string(series_rows["Month"], 0, "Month", fmt.label)
    for pos, col in enumerate(month_cols):
        assert col.month is not None  # noqa: S101  (narrows the type)
        sheet.write_datetime(series_rows["Month"], 1 + pos,
                             datetime(col.month.year, col.month.month, 1), fmt.month)
    for name, source_row, key in (("Target", rows["Target"], "target"),
                                  ("Bottom-up", rows["Bottom-up"], "bottom_up"),
                                  ("Cumulative gap", rows["Cumulative gap"], "cumulative_gap")):
        sheet.write_string(series_rows[name], 0, name, fmt.label)
        for pos, col in enumerate(month_cols):
            sheet.write_formula(series_rows[name], 1 + pos, f"={cell(source_row, col.index)}",
                                fmt.amount, num(figures.get(part, col, key)))
    return series_rows


def _chart(workbook: Workbook, sheet: Worksheet, rows: dict[str, int], n_months: int,
           unit: str, anchor: tuple[int, int], title: str) -> None:
    def ref(row: int) -> list[Any]:
        return [sheet.name, row, 1, row, n_months]

    columns = workbook.add_chart({"type": "column"})
    for name, colour in (("Target", "#1F3864"), ("Bottom-up", "#8FAADC")):
        columns.add_series({
            "name": [sheet.name, rows[name], 0],
            "categories": ref(rows["Month"]),
            "values": ref(rows[name]),
            "fill": {"color": colour},
            "gap": 60,
        })
    line = workbook.add_chart({"type": "line"})
    line.add_series({
        "name": [sheet.name, rows["Cumulative gap"], 0],
        "categories": ref(rows["Month"]),
        "values": ref(rows["Cumulative gap"]),
        "line": {"color": "#C00000", "width": 2.25},
        "y2_axis": True,
    })
    columns.combine(line)
    columns.set_title({"name": title, "name_font": {"size": 12}})
    columns.set_x_axis({"num_format": "mmm-yy", "num_font": {"rotation": -45}})
    columns.set_y_axis({"name": f"In month ({unit})", "num_format": "#,##0,"
                        if "000" in unit else "#,##0",
                        "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    line.set_y2_axis({"name": f"Cumulative gap ({unit})"})
    columns.set_legend({"position": "bottom"})
    columns.set_size({"width": 960, "height": 360})
    sheet.insert_chart(anchor[0], anchor[1], columns, {"x_offset": 5, "y_offset": 5})
