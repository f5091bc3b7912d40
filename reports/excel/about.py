"""The About sheet: what the report is, as of when, written by which tledger, and how
to audit it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from xlsxwriter.worksheet import Worksheet

from reports.excel.inputs import ReportInput
from reports.excel.layout import Formats, print_setup, unit_label
from reports.safe import safe_text

_HOW_TO_AUDIT = [
    "Initiatives holds every initiative's in-month phasing as numbers, one row per "
    "initiative and metric.",
    "Summary: Bottom-up cells are SUMIFS over Initiatives for this metric; subtotals, gap "
    "(target minus bottom-up) and cumulative lines are formulas over the cells above.",
    "Coverage is bottom-up divided by target; it is blank where the target is zero.",
    "Each breakdown sheet sums its parts' bottom-up from Initiatives; its Difference rows "
    "compare its totals with the Summary and are 0 when they tie (a target difference is "
    "a cascade gap: the parts' targets do not add up to the programme's).",
    "Colours follow the metric's kind, not the sign: a gap that is unfavourable (a benefit "
    "short of target, a cost above it) is red, a favourable one green. Coverage is red "
    "below the programme's red threshold, amber below its amber threshold, green above "
    "(mirrored around 100 % for a cost). Negative amounts are in parentheses.",
    "Funnel: initiatives and their horizon value per stage gate, unweighted and "
    "risk-weighted; its live column is SUMIFS over Initiatives and ties to the Summary.",
    "The audit rows (Summary links, Difference) and the Bridge's chart helper columns are "
    "outside the print area; they are in the sheet for anyone who checks.",
]

#: The Finance sheet's committed plan block, in a line of "How to audit it".
COMMITTED_BLOCK = (
    "Finance: when some initiative is committed (at L3 or beyond), its last columns hold, "
    "per month, the committed plan (each active committed initiative's plan as approved "
    "at L3, as tledger stage committed lists it), the outturn of the same initiatives "
    "(actuals of closed months, forecast of open ones, plan where an initiative has no "
    "forecast) and Outturn - committed plan as a formula; below the waterfall's data, "
    "SUMIFS add them per fiscal year.")


def _facts(data: ReportInput, scale: str) -> list[tuple[str, Any]]:
    """The report's particulars, as (label, value) rows."""
    facts: list[tuple[str, Any]] = [
        ("Programme", data.programme.name),
        ("Currency", data.programme.currency),
        ("Metric", f"{data.metric.code} ({data.metric.name}), {data.metric.unit}, "
                   f"{data.metric.kind}"),
        ("Scenario", data.scenario),
        ("Risk-weighted", "yes" if data.weighted else "no"),
        ("Amounts shown in", unit_label(data, scale) + " (cells hold exact amounts)"),
        ("Coverage colours", f"red below {data.coverage_red:.0%}, amber below "
                             f"{data.coverage_amber:.0%}, green above"
                             + (" (a cost: mirrored around 100 %)"
                                if data.metric.kind == "cost" else "")),
        ("Paper", f"{data.paper} landscape"),
        ("As of", data.as_of if data.as_of is not None else "current (latest submission)"),
        ("As-of submission", data.as_of_submission),
        ("Ledger's last submission id", data.last_submission_id),
        ("Written at (UTC)", data.written_at.astimezone(UTC).replace(tzinfo=None)),
        ("Written by", f"tledger {data.version}"),
        ("Initiative rows", len(data.detail)),
    ]
    if data.bridge is not None:
        facts.append(("Bridge from", data.bridge_from))
    return facts


def write_about(sheet: Worksheet, data: ReportInput, fmt: Formats, scale: str) -> None:
    sheet.write_string(0, 0, "About this report", fmt.title)
    row = 2
    for key, value in _facts(data, scale):
        sheet.write_string(row, 0, key, fmt.label_bold)
        if isinstance(value, datetime):
            sheet.write_datetime(row, 1, value.astimezone(UTC).replace(tzinfo=None)
                                 if value.tzinfo else value, fmt.datetime)
        elif isinstance(value, int):
            sheet.write_number(row, 1, value, fmt.text)
        elif value is not None:
            text = safe_text(value)
            sheet.write_string(row, 1, text, fmt.text_in(text))
        row += 1
    row += 1
    sheet.write_string(row, 0, "How to audit it", fmt.label_bold)
    lines = list(_HOW_TO_AUDIT)
    if data.finance is not None:
        lines.append(COMMITTED_BLOCK)
    if data.unit_costs:
        lines.append("Unit cost: baselines, savings, uplift and target levels are numbers; "
                     "numerator, denominator, implied unit cost, gap and money gap are "
                     "formulas (ROUND, as the ledger rounds: half away from zero); a fiscal "
                     "year's unit cost is ROUND(SUM(numerator) / SUM(denominator)), a ratio "
                     "of its sums.")
    for line in lines:
        row += 1
        sheet.write_string(row, 0, "•", fmt.text)
        sheet.write_string(row, 1, line, fmt.text)
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 100, fmt.wrap)
    print_setup(sheet, data, portrait=False)
    sheet.print_area(0, 0, row, 1)
