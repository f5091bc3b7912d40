"""The Top initiatives sheet: the largest initiatives by horizon value, the largest
forecast-vs-plan variances and the largest movements this month, each with owner, stage
and the latest submission note about the initiative as commentary."""

from __future__ import annotations

from typing import Any

import pandas as pd
from xlsxwriter.worksheet import Worksheet

from reports.excel.figures import num
from reports.excel.formulas import DetailRefs, cell
from reports.excel.inputs import ReportInput
from reports.excel.layout import HEADER_ROW, Formats, note, print_setup, title, unit_label
from reports.safe import safe_text

_WIDTHS = [5, 11, 30, 16, 7, 14, 14, 14, 44]
_ATTRS = ["Rank", "ID", "Name", "Owner", "Stage"]


def write_top(sheet: Worksheet, data: ReportInput, fmt: Formats, scale: str,
              refs: DetailRefs) -> None:
    top = data.top
    assert top is not None  # noqa: S101  (narrows the type)
    unit = unit_label(data, scale)
    title(sheet, fmt, f"{safe_text(data.programme.name)}: top initiatives ({unit})",
          note(data, unit) + " Horizon totals of the metric; the note is the latest "
          "submission note that changed the initiative.")
    for pos, width in enumerate(_WIDTHS):
        sheet.set_column(pos, pos, width, fmt.wrap if pos == len(_WIDTHS) - 1 else None)
    # The header row repeated on every page is a blank band; each table has its own.
    sheet.write_string(HEADER_ROW, 0, "", fmt.label)
    row = HEADER_ROW
    total_col = refs.first_month_col + len(data.detail.months)
    since = (f" since {top.movement_since:%Y-%m-%d}" if top.movement_since is not None
             else "")
    tables: list[tuple[str, pd.DataFrame, list[tuple[str, str]]]] = [
        ("Largest by value", top.by_value, [("amount", f"{data.scenario.capitalize()}")]),
        ("Largest forecast vs plan variances", top.variance,
         [("plan", "Plan"), ("forecast", "Forecast"), ("variance", "Variance")]),
        (f"Largest movements this month{since} ({data.scenario})", top.movement,
         [("before", "Before"), ("now", "Now"), ("movement", "Movement")]),
    ]
    for heading, frame, amounts in tables:
        row += 1
        sheet.write_string(row, 0, heading, fmt.label_bold)
        row += 1
        headers = _ATTRS + [h for _k, h in amounts] + [""] * (3 - len(amounts)) + ["Latest note"]
        for pos, text in enumerate(headers):
            sheet.write_string(row, pos, text, fmt.header_left)
        if frame.empty:
            row += 1
            sheet.write_string(row, 1, "none", fmt.note)
        for rank, rec in enumerate(frame.to_dict("records"), start=1):
            row += 1
            _write_attrs(sheet, fmt, row, rank, rec)
            for pos, (key, _h) in enumerate(amounts):
                detail_row = rec.get("detail_row")
                if key == "amount" and detail_row is not None and not pd.isna(detail_row):
                    link = cell(refs.first_row + int(detail_row), total_col, True)
                    sheet.write_formula(row, 5 + pos, f"=Initiatives!{link}", fmt.amount,
                                        num(rec.get(key)))
                else:
                    sheet.write_number(row, 5 + pos, num(rec.get(key)), fmt.amount)
            text = safe_text(rec.get("note"))
            if text:
                sheet.write_string(row, 8, text, fmt.text_in(text, fmt.wrap))
        row += 1
    print_setup(sheet, data, header_row=HEADER_ROW)
    sheet.print_area(0, 0, row, len(_WIDTHS) - 1)


def _write_attrs(sheet: Worksheet, fmt: Formats, row: int, rank: int,
                 rec: dict[Any, Any]) -> None:
    sheet.write_number(row, 0, rank, fmt.count)
    for pos, key in enumerate(["external_id", "name", "owner", "stage"], start=1):
        text = safe_text(rec.get(key))
        if text:
            sheet.write_string(row, pos, text, fmt.text_in(text))
