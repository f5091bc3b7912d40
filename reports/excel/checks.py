"""The Checks sheet: tledger's findings grouped by kind (check, severity, metric and
scope), each group with its count, the first few months and subjects, one example detail
and the amounts' sum; errors shaded. A cascade gap in 48 months is one line, not 48."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from xlsxwriter.worksheet import Worksheet

from ledger.wording import plural
from reports.excel.figures import as_decimal
from reports.excel.inputs import ReportInput
from reports.excel.layout import FIRST_DATA_ROW, HEADER_ROW, Formats, print_setup, title
from reports.safe import safe_text

#: (header, width) of each column of the grouped findings.
CHECK_COLUMNS = [("Check", 20), ("Severity", 9), ("Metric", 9), ("Scope", 14),
                 ("Findings", 9), ("Months", 26), ("Subjects", 24), ("Detail (first)", 60),
                 ("Amount (sum)", 14)]
#: Months and subjects quoted per group; the rest are counted.
SHOWN = 3

_KEYS = ["check", "severity", "metric", "scope"]


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _listed(values: list[str]) -> str:
    unique = list(dict.fromkeys(v for v in values if v))
    shown = ", ".join(unique[:SHOWN])
    return shown + (f" … (+{len(unique) - SHOWN})" if len(unique) > SHOWN else "")


def group_findings(checks: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per (check, severity, metric, scope), in the findings' order (errors
    first): ``count``, ``months`` and ``subjects`` (the first few, then how many more),
    ``detail`` (the first finding's) and ``amount`` (the exact sum, None if none)."""
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for rec in checks.to_dict("records"):
        key = tuple("" if _missing(rec.get(k)) else str(rec.get(k)) for k in _KEYS)
        group = groups.setdefault(key, {**dict(zip(_KEYS, key, strict=True)), "count": 0,
                                        "months": [], "subjects": [],
                                        "detail": safe_text(rec.get("detail")),
                                        "amount": None})
        group["count"] += 1
        month = rec.get("month")
        if isinstance(month, date):
            group["months"].append(f"{month:%b-%y}")
        if not _missing(rec.get("subject")):
            group["subjects"].append(str(rec.get("subject")))
        amount = as_decimal(rec.get("amount"))
        if amount is not None:
            group["amount"] = (group["amount"] or Decimal(0)) + amount
    for group in groups.values():
        group["months"] = _listed(group["months"])
        group["subjects"] = _listed(group["subjects"])
    return list(groups.values())


def write_checks(sheet: Worksheet, data: ReportInput, fmt: Formats) -> None:
    checks = data.checks
    groups = group_findings(checks) if len(checks) else []
    title(sheet, fmt, f"{safe_text(data.programme.name)}: checks", (
        f"{plural(len(checks), 'finding')} from tledger's checks in "
        f"{plural(len(groups), 'group')}, one line per check, severity, metric and scope; "
        "amounts in the metric's unit."
        if len(checks) else "No findings: every check passed."))
    for pos, (header, width) in enumerate(CHECK_COLUMNS):
        sheet.write_string(HEADER_ROW, pos, header, fmt.header_left)
        sheet.set_column(pos, pos, width)
    amount_fmt = fmt.detail(data.metric.decimals)
    for offset, group in enumerate(groups):
        row = FIRST_DATA_ROW + offset
        for col, key in enumerate(["check", "severity", "metric", "scope"]):
            text = safe_text(group[key])
            sheet.write_string(row, col, text, fmt.text_in(text))
        sheet.write_number(row, 4, group["count"], fmt.text)
        for col, key in ((5, "months"), (6, "subjects"), (7, "detail")):
            text = safe_text(group[key])
            if text:
                sheet.write_string(row, col, text, fmt.text_in(text))
        if group["amount"] is not None:
            sheet.write_number(row, 8, float(group["amount"]), amount_fmt)
    if groups:
        last_row = FIRST_DATA_ROW + len(groups) - 1
        sheet.conditional_format(FIRST_DATA_ROW, 1, last_row, 1, {
            "type": "text", "criteria": "containing", "value": "error",
            "format": fmt.unfavourable})
        sheet.autofilter(HEADER_ROW, 0, last_row, len(CHECK_COLUMNS) - 1)
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    print_setup(sheet, data, header_row=HEADER_ROW)
