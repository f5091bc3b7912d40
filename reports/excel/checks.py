"""The Checks sheet: tledger's findings, one row each, errors shaded."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from xlsxwriter.worksheet import Worksheet

from ledger.wording import plural
from reports.excel.figures import as_decimal
from reports.excel.inputs import ReportInput
from reports.excel.layout import FIRST_DATA_ROW, HEADER_ROW, Formats, print_setup, title
from reports.safe import safe_text

CHECK_COLUMNS = [("check", "Check", 22), ("severity", "Severity", 9), ("metric", "Metric", 9),
                 ("scope", "Scope", 16), ("month", "Month", 9), ("subject", "Subject", 18),
                 ("detail", "Detail", 70), ("amount", "Amount", 14)]


def write_checks(sheet: Worksheet, data: ReportInput, fmt: Formats) -> None:
    checks = data.checks
    title(sheet, fmt, f"{safe_text(data.programme.name)}: checks", (
        f"{plural(len(checks), 'finding')} from tledger's checks; amounts in the metric's unit."
        if len(checks) else "No findings: every check passed."))
    present = [c for c in CHECK_COLUMNS if c[0] in checks.columns]
    for pos, (_name, header, width) in enumerate(present):
        sheet.write_string(HEADER_ROW, pos, header, fmt.header_left)
        sheet.set_column(pos, pos, width)
    amount_fmt = fmt.detail(data.metric.decimals)
    for offset, rec in enumerate(checks.to_dict("records")):
        row = FIRST_DATA_ROW + offset
        for col, (name, _h, _w) in enumerate(present):
            value = rec.get(name)
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            if name == "amount":
                amount = as_decimal(value)
                if amount is not None:
                    sheet.write_number(row, col, float(amount), amount_fmt)
            elif name == "month" and isinstance(value, date):
                sheet.write_datetime(row, col, datetime(value.year, value.month, 1), fmt.month)
            else:
                sheet.write_string(row, col, safe_text(value), fmt.text)
    if len(checks) and "severity" in checks.columns:
        severity_col = [c[0] for c in present].index("severity")
        last_row = FIRST_DATA_ROW + len(checks) - 1
        sheet.conditional_format(FIRST_DATA_ROW, severity_col, last_row, severity_col, {
            "type": "text", "criteria": "containing", "value": "error",
            "format": fmt.shortfall})
        sheet.autofilter(HEADER_ROW, 0, last_row, len(present) - 1)
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    print_setup(sheet, HEADER_ROW, 0)
