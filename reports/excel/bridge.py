"""The Bridge sheet: why the bottom-up moved between two dates, as a waterfall whose
steps sum exactly to the change and whose end ties to the ledger's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from reports.excel.figures import as_decimal, num
from reports.excel.inputs import ReportInput
from reports.excel.layout import (
    FIRST_DATA_ROW,
    HEADER_ROW,
    Formats,
    number_body,
    print_setup,
    title,
    unit_label,
)
from reports.safe import safe_text

#: Rows between the end total and the table of initiatives behind each step (the chart).
_CHART_ROWS = 19


def write_bridge(workbook: Workbook, sheet: Worksheet, data: ReportInput, fmt: Formats,
                 scale: str) -> None:
    """The bridge as a waterfall: start total, each step, end total (a formula over the
    steps) beside the ledger's end total, whose difference is 0."""
    bridge = data.bridge
    assert bridge is not None  # noqa: S101  (narrows the type)
    unit = unit_label(data, scale)
    bridge_title = safe_text(getattr(bridge, "title", "Bridge"))
    title(sheet, fmt, f"{safe_text(data.programme.name)}: bottom-up bridge ({unit})",
          f"{bridge_title}. The steps sum exactly to the change; the chart's invisible 'Base' "
          "lifts each step to the running total.")
    for pos, heading in enumerate(["Step", unit, "Initiatives", "Base", "Up", "Down", "Total"]):
        sheet.write_string(HEADER_ROW, pos, heading, fmt.header_left)
    end_row, cache = _write_waterfall(sheet, fmt, bridge)
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 14)
    sheet.set_column(2, 2, 44)
    sheet.set_column(3, 6, 12)
    _chart(workbook, sheet, unit, end_row, cache)
    detail = getattr(bridge, "detail", None)
    last_row = end_row + _CHART_ROWS - 1
    # Columns A:C fit the paper at 90 %: no fit-to (which would ignore the page break).
    print_setup(sheet, data, header_row=HEADER_ROW, fit=False)
    sheet.set_print_scale(90)
    if isinstance(detail, pd.DataFrame) and len(detail):
        last_row = _write_step_initiatives(sheet, fmt, detail, unit, end_row + _CHART_ROWS)
        # The waterfall and its chart on the first page, the initiatives from the next.
        sheet.set_h_pagebreaks([end_row + _CHART_ROWS])
    _write_tie(sheet, fmt, bridge, end_row, last_row + 3)
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    # Columns D:G are the chart's helpers (base, up, down, total): not printed.
    sheet.print_area(0, 0, last_row, 2)


def _write_waterfall(sheet: Worksheet, fmt: Formats, bridge: Any
                     ) -> tuple[int, dict[str, list[Any]]]:
    """Start, steps (with the chart's invisible base and its up and down bars) and end.
    Returns the end total's row and the chart's cached series (labels; base, up, down and
    total per row, None where the cell is empty)."""
    cache: dict[str, list[Any]] = {"labels": [], "base": [], "up": [], "down": [],
                                   "total": []}

    def cached(label: str, base: Any, up: Any, down: Any, total: Any) -> None:
        for key, value in (("labels", label), ("base", base), ("up", up), ("down", down),
                           ("total", total)):
            cache[key].append(float(value) if isinstance(value, Decimal) else value)

    start_total = as_decimal(getattr(bridge, "start_total", None)) or Decimal(0)
    first = FIRST_DATA_ROW
    start_when = getattr(bridge, "start", None)
    end_when = getattr(bridge, "end", None)
    start_label = "Bottom-up at start" + (f" ({start_when:%Y-%m-%d})" if start_when else "")
    sheet.write_string(first, 0, start_label, fmt.label_bold)
    cached(start_label, None, None, None, start_total)
    sheet.write_number(first, 1, float(start_total), fmt.amount)
    sheet.write_formula(first, 6, f"=B{first + 1}", fmt.amount, float(start_total))
    running = start_total
    steps: pd.DataFrame = bridge.steps
    records = steps.to_dict("records")
    for offset, rec in enumerate(records):
        row = first + 1 + offset
        amount = as_decimal(rec.get("amount")) or Decimal(0)
        step = safe_text(rec.get("step"))
        sheet.write_string(row, 0, step, fmt.text_in(step))
        sheet.write_number(row, 1, float(amount), fmt.amount)
        initiatives = rec.get("initiatives")
        if initiatives is not None and not pd.isna(initiatives):
            sheet.write_number(row, 2, int(initiatives), fmt.text)
        before, after = f"SUM($B${first + 1}:B{row})", f"SUM($B${first + 1}:B{row + 1})"
        base = min(running, running + amount)
        sheet.write_formula(row, 3, f"=MIN({before},{after})", fmt.amount, float(base))
        up, down = max(amount, Decimal(0)), max(-amount, Decimal(0))
        sheet.write_formula(row, 4, f"=MAX(B{row + 1},0)", fmt.amount, float(up))
        sheet.write_formula(row, 5, f"=MAX(-B{row + 1},0)", fmt.amount, float(down))
        cached(step, base, up, down, None)
        running += amount
    end_row = first + 1 + len(records)
    end_label = "Bottom-up at end" + (f" ({end_when:%Y-%m-%d})" if end_when else "")
    sheet.write_string(end_row, 0, end_label, fmt.label_bold)
    cached(end_label, None, None, None, running)
    sheet.write_formula(end_row, 1, f"=SUM(B{first + 1}:B{end_row})", fmt.amount_bold,
                        float(running))
    sheet.write_formula(end_row, 6, f"=B{end_row + 1}", fmt.amount, float(running))
    return end_row, cache


def _write_tie(sheet: Worksheet, fmt: Formats, bridge: Any, end_row: int, row: int) -> None:
    """The audit's tie to the ledger's end total, at ``row`` (below the printed area)."""
    end_total = as_decimal(getattr(bridge, "end_total", None)) or Decimal(0)
    steps = sum((as_decimal(a) or Decimal(0) for a in bridge.steps["amount"]), Decimal(0))
    running = (as_decimal(getattr(bridge, "start_total", None)) or Decimal(0)) + steps
    sheet.write_string(row, 0, "Bottom-up at end per the ledger", fmt.label)
    sheet.write_number(row, 1, float(end_total), fmt.amount)
    sheet.write_string(row + 1, 0, "Difference (0 when the bridge ties)", fmt.label_bold)
    sheet.write_formula(row + 1, 1, f"=B{end_row + 1}-B{row + 1}", fmt.amount,
                        float(running - end_total))
    sheet.conditional_format(row + 1, 1, row + 1, 1, {
        "type": "formula", "criteria": f"=ROUND(B{row + 2},6)<>0", "format": fmt.mismatch})


def _chart(workbook: Workbook, sheet: Worksheet, unit: str, end_row: int,
           cache: dict[str, list[Any]]) -> None:
    """A stacked column chart: an invisible base lifts each up or down bar. Each series
    carries its cached values (a constant-memory sheet cannot be read back for them)."""
    first = FIRST_DATA_ROW
    chart = workbook.add_chart({"type": "column", "subtype": "stacked"})
    for col, colour, key, name in ((3, None, "base", "Base"), (4, "#548235", "up", "Up"),
                                   (5, "#C00000", "down", "Down"),
                                   (6, "#1F3864", "total", "Total")):
        series: dict[str, Any] = {
            "name": [sheet.name, HEADER_ROW, col], "name_data": [name],
            "categories": [sheet.name, first, 0, end_row, 0],
            "categories_data": cache["labels"],
            "values": [sheet.name, first, col, end_row, col], "values_data": cache[key],
            "gap": 50,
        }
        series.update({"fill": {"none": True}, "border": {"none": True}} if colour is None
                      else {"fill": {"color": colour}})
        chart.add_series(series)
    chart.set_title({"name": f"Bottom-up bridge ({unit})", "name_font": {"size": 12}})
    chart.set_legend({"none": True})
    chart.set_y_axis({"num_format": number_body(0, 3) if unit.endswith(" 000") else
                      number_body(0, 6) if unit.endswith(" m") else "#,##0"})
    # The chart covers the printed columns A:C only.
    chart.set_size({"width": 34 * 7 + 5 + 14 * 7 + 5 + 44 * 7 + 5, "height": 260})
    sheet.insert_chart(end_row + 5, 0, chart)


def _write_step_initiatives(sheet: Worksheet, fmt: Formats, detail: pd.DataFrame, unit: str,
                            row: int) -> int:
    """Below the chart: the initiatives behind each step and their amounts (in columns
    A:C, the printed ones, ID and name together). Returns the last row."""
    sheet.write_string(row, 0, "Initiatives behind each step", fmt.label_bold)
    row += 1
    for pos, heading in enumerate(["Step", unit, "Initiative"]):
        sheet.write_string(row, pos, heading, fmt.header_left)
    for rec in detail.to_dict("records"):
        row += 1
        step = safe_text(rec.get("step"))
        sheet.write_string(row, 0, step, fmt.text_in(step))
        sheet.write_number(row, 1, num(rec.get("amount")), fmt.amount)
        who = f"{safe_text(rec.get('external_id'))} {safe_text(rec.get('name'))}".strip()
        sheet.write_string(row, 2, who, fmt.text_in(who))
    return row
