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
    PERIOD_WIDTHS,
    Formats,
    colour_coverage,
    colour_gap,
    column_headers,
    column_px,
    note,
    number_body,
    period_pages,
    print_setup,
    set_period_column_widths,
    title,
    unit_label,
)
from reports.excel.lines import PartLines
from reports.safe import safe_text
from reports.xlsxwriter_internals import cached_series

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
    for line in ("Gap", "Cumulative gap"):
        colour_gap(sheet, data, fmt, rows[line], 1, rows[line], last_col)
    colour_coverage(sheet, data, fmt, rows["Coverage"], 1, last_col)

    # The charts sit right under the table (its last line a run-rate), inside the print
    # area; their data (links to the table, months contiguous) is below them, outside it.
    month_cols = [col for col in cols if col.kind == "month"]
    chart_top = rows[SUMMARY_LINES[-1]] + 2
    chart_rows = _chart_rows(month_cols)
    series_rows = _write_chart_data(sheet, fmt, chart_top + chart_rows + 1, rows, month_cols,
                                    figures, part)
    if month_cols:
        _charts(workbook, sheet, data, series_rows, month_cols, unit, scale, chart_top,
                chart_width=_chart_width(month_cols))

    sheet.set_column(0, 0, _LABEL_WIDTH)
    set_period_column_widths(sheet, cols)
    sheet.freeze_panes(HEADER_ROW + 1, 1)
    print_setup(sheet, data, header_row=HEADER_ROW, label_cols=1)
    period_pages(sheet, data, cols)
    sheet.print_area(0, 0, chart_top + chart_rows - 1, last_col)
    return rows


def summary_last_col(data: ReportInput) -> int:
    """The Summary's horizon column."""
    return column_layout(data.detail.months, data.programme.fy_start_month, 1)[-1].index


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


_LABEL_WIDTH = 22
#: Rows the charts take (20 px each at the default height).
_CHART_HEIGHT = 300


def _chart_rows(month_cols: Sequence[Column]) -> int:
    return (_CHART_HEIGHT // 20 + 2) if month_cols else 0


def _chart_width(month_cols: Sequence[Column]) -> int:
    """Each chart spans the label and first ten months' columns,
    so it prints whole on the first page."""
    n = min(10, len(month_cols))
    return column_px(_LABEL_WIDTH) + n * column_px(PERIOD_WIDTHS["month"])


def _write_chart_data(sheet: Worksheet, fmt: Formats, chart_row: int, rows: dict[str, int],
                      month_cols: Sequence[Column], figures: Figures, part: str
                      ) -> dict[str, int]:
    """The charts' series (links to the table, months contiguous: the table interleaves
    fiscal-year columns), below the charts and outside the print area. Returns each
    series' row."""
    sheet.write_string(chart_row, 0, "Chart data (links to the table above)", fmt.note)
    series_rows = {"Month": chart_row + 1, "Target": chart_row + 2,
                   "Bottom-up": chart_row + 3, "Cumulative target": chart_row + 4,
                   "Cumulative bottom-up": chart_row + 5}
    sheet.write_string(series_rows["Month"], 0, "Month", fmt.label)
    for pos, col in enumerate(month_cols):
        assert col.month is not None  # noqa: S101  (narrows the type)
        sheet.write_datetime(series_rows["Month"], 1 + pos,
                             datetime(col.month.year, col.month.month, 1), fmt.month)
    for name, key in (("Target", "target"), ("Bottom-up", "bottom_up"),
                      ("Cumulative target", "cumulative_target"),
                      ("Cumulative bottom-up", "cumulative_bottom_up")):
        sheet.write_string(series_rows[name], 0, name, fmt.label)
        for pos, col in enumerate(month_cols):
            sheet.write_formula(series_rows[name], 1 + pos, f"={cell(rows[name], col.index)}",
                                fmt.amount, num(figures.get(part, col, key)))
    return series_rows


def _charts(workbook: Workbook, sheet: Worksheet, data: ReportInput, rows: dict[str, int],
            month_cols: Sequence[Column], unit: str, scale: str, top: int,
            chart_width: int) -> None:
    """Two charts side by side on the same scale: in-month target and bottom-up as
    columns, and the cumulative target and bottom-up as lines (the gap is the distance
    between them; no second axis). Axes carry the report's number format; the series'
    cached values are the engine's figures, so a preview that does not recalculate shows
    the chart."""
    n = len(month_cols)
    figures = Figures(data.summary)
    part = figures.parts[0] if figures.parts else "Programme"
    # XlsxWriter cannot read a constant-memory sheet back for the charts' caches: each
    # series is given its cached values (add_series' *_data options).
    months_cache = [float((datetime(c.month.year, c.month.month, 1)
                           - datetime(1899, 12, 30)).days)
                    for c in month_cols if c.month is not None]
    keys = {"Target": "target", "Bottom-up": "bottom_up",
            "Cumulative target": "cumulative_target",
            "Cumulative bottom-up": "cumulative_bottom_up"}

    def series(name: str) -> dict[str, Any]:
        return cached_series({"name": [sheet.name, rows[name], 0], "name_data": [name],
                              "categories": [sheet.name, rows["Month"], 1, rows["Month"], n],
                              "values": [sheet.name, rows[name], 1, rows[name], n]},
                             [num(figures.get(part, col, keys[name])) for col in month_cols],
                             months_cache)

    axis_format = number_body(0,
                              {"units": 0, "thousands": 3, "millions": 6}[scale])
    gridlines = {"visible": True, "line": {"color": "#D9D9D9"}}
    monthly = workbook.add_chart({"type": "column"})
    for name, colour in (("Target", "#1F3864"), ("Bottom-up", "#8FAADC")):
        monthly.add_series({**series(name), "fill": {"color": colour}, "gap": 60})
    cumulative = workbook.add_chart({"type": "line"})
    for name, colour, dash in (("Cumulative target", "#1F3864", "dash"),
                               ("Cumulative bottom-up", "#2E75B6", "solid")):
        cumulative.add_series({**series(name),
                               "line": {"color": colour, "width": 2.25, "dash_type": dash}})
    for chart, heading in ((monthly, f"In month: target vs bottom-up ({unit})"),
                           (cumulative, f"Cumulative: target vs bottom-up ({unit})")):
        chart.set_title({"name": heading, "name_font": {"size": 11}})
        chart.set_x_axis({"num_format": "mmm-yy", "num_font": {"rotation": -45, "size": 8},
                          "date_axis": False})
        chart.set_y_axis({"num_format": axis_format, "num_font": {"size": 8},
                          "major_gridlines": gridlines})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": chart_width // 2 - 8, "height": _CHART_HEIGHT})
    sheet.insert_chart(top, 0, monthly, {"x_offset": 4, "y_offset": 4,
                                         "object_position": 3})
    sheet.insert_chart(top, 0, cumulative, {"x_offset": chart_width // 2 + 4, "y_offset": 4,
                                            "object_position": 3})
