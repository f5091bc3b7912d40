"""Office trackers as a transformation office keeps them, for issue 14's "map values, not
only columns": written with XlsxWriter (so formula cells carry a saved value, as Excel's
do), each with the mapping file that imports it and its expected totals.

Every tracker starts with a "Read me" sheet, has title rows and a unit note, labels such as
"Net benefit" and "Gate 3 - Approved" where the ledger has codes, a comments column filled
on only one of an initiative's rows, a comment typed as a formula, owner names written two
ways, status columns (RAG) and total or subtotal rows.

The expected totals are summed here from the source data (Decimals, times the sheet's
scale, in minor units), never read back from the workbook or the ledger.

``python tests/trackers/build_imap.py DIR`` writes the four workbooks and their mappings.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

#: The months of the standard test programme (FY from July, 2026-07 to 2028-06).
MONTHS = [date(2026 + (6 + i) // 12, (6 + i) % 12 + 1, 1) for i in range(24)]


@dataclass
class Line:
    """One row of a tracker: an initiative's attributes as the office writes them, one
    metric's label and its amounts (as written, before the sheet's scale)."""

    ext: str
    name: str
    owner: str
    unit: str
    lever: str
    stage: str
    metric: str
    amounts: dict[int, Decimal]
    """month index (0 = Jul-26) -> amount as written in the sheet."""
    comment: str | None = None
    formula_comment: str | None = None
    """A comment typed with a leading "=": written as a formula saving ``formula_saved``."""
    formula_saved: int | str = 0
    """0 (as some programs save it) or ``#NAME?`` (as Excel does)."""
    rag: str = "G"


@dataclass
class Tracker:
    """A written tracker: the workbook, its mapping, and what importing it must give."""

    path: Path
    mapping: Path
    expected: dict[tuple[str, str], int] = field(default_factory=dict)
    """(metric code, scenario) -> total in minor units."""
    per_initiative: dict[tuple[str, str], int] = field(default_factory=dict)
    """(external id, metric code) -> total in minor units."""
    initiatives: dict[str, dict[str, str]] = field(default_factory=dict)
    """external id -> the attributes the ledger must hold (codes and owner as resolved)."""
    notes: dict[str, str] = field(default_factory=dict)
    formula_cells: list[str] = field(default_factory=list)
    """Sheet!cell of each formula comment (a warning names it)."""


def _amounts(rng: random.Random, first: int, count: int, step: str) -> dict[int, Decimal]:
    unit = Decimal(step)
    return {m: Decimal(rng.randint(5, 4000)) * unit for m in range(first, first + count)}


def _expect(tracker: Tracker, lines: list[Line], codes: dict[str, str], scale: int,
            decimals: dict[str, int], scenario: str = "plan") -> None:
    for line in lines:
        code = codes[line.metric]
        total = sum((a for a in line.amounts.values()), Decimal(0))
        minor = int(total * scale * 10 ** decimals[code])
        assert minor == total * scale * 10 ** decimals[code]  # exact by construction
        tracker.expected[(code, scenario)] = tracker.expected.get((code, scenario), 0) + minor
        key = (line.ext, code)
        tracker.per_initiative[key] = tracker.per_initiative.get(key, 0) + minor


def _read_me(book: xlsxwriter.Workbook, lines: list[str]) -> None:
    sheet = book.add_worksheet("Read me")
    bold = book.add_format({"bold": True})
    sheet.write_string(0, 0, lines[0], bold)
    for r, text in enumerate(lines[1:], start=2):
        sheet.write_string(r, 0, text)


# ------------------------------------------------------------------ 1: the office's pipeline

OFFICE_STAGES = {"Idea": "L0", "Gate 1 - Validated": "L1", "Gate 2 - Business case": "L2",
                 "Gate 3 - Approved": "L3", "Gate 4 - Implemented": "L4"}
OFFICE_OWNERS = {"A. Ng": "Anna Ng", "B Chen": "Bo Chen"}


def office_pipeline(folder: Path) -> Tracker:
    """The tracker of the issue: a cover sheet, "Pipeline" with two title rows and an
    "AUD 000" note, "Net benefit" / "One-off cost" metric labels, gate labels, comments on
    one of two rows, a formula comment, owner aliases, a RAG column, subtotal rows per
    business unit, a grand total, text month headers (Jul-26), FY total columns."""
    units = [("PRO", "Processing"), ("MIN", "Mining")]
    lines = _office_lines(units)
    path = folder / "imap_office_pipeline.xlsx"
    book = xlsxwriter.Workbook(str(path))
    _read_me(book, ["How to fill in this tracker",
                    "One row per initiative and measure: Net benefit and One-off cost.",
                    "Amounts in AUD thousands, in-month (not cumulative).",
                    "Stage: Idea, then Gate 1 to Gate 4. Comments are for the office."])
    sheet = book.add_worksheet("Pipeline")
    bold = book.add_format({"bold": True})
    num = book.add_format({"num_format": "#,##0.0"})
    sheet.write_string(0, 0, "Cost 2028 transformation: initiative pipeline", bold)
    sheet.write_string(1, 0, "All figures AUD 000")
    header = ["Initiative ID", "Initiative", "Owner", "BU", "Lever", "Stage", "Metric",
              "Comments", "RAG"]
    months_at = len(header)
    header += [f"{m:%b-%y}" for m in MONTHS] + ["FY27 total", "FY28 total", "Total"]
    for c, text in enumerate(header):
        sheet.write_string(3, c, text, bold)
    tracker = Tracker(path, folder / "imap_office_pipeline.toml")
    r = 4
    for unit, unit_name in units:
        first_row = r
        for line in (x for x in lines if x.unit == unit):
            _office_row(sheet, r, line, months_at, num, tracker)
            r += 1
        sheet.write_string(r, 0, f"Sub-total {unit_name}", bold)
        for m in range(24):
            col = xl_col_to_name(months_at + m)
            sheet.write_formula(r, months_at + m, f"=SUBTOTAL(9,{col}{first_row + 1}:"
                                f"{col}{r})", num)
        r += 2  # a blank row between units
    sheet.write_string(r, 0, "Grand total", bold)
    book.close()
    codes = {"Net benefit": "benefit", "One-off cost": "cost"}
    _expect(tracker, lines, codes, 1000, {"benefit": 2, "cost": 2})
    for line in lines:
        tracker.initiatives.setdefault(line.ext, {
            "name": line.name, "owner": OFFICE_OWNERS.get(line.owner, line.owner),
            "business_unit": line.unit, "lever": line.lever,
            "stage": OFFICE_STAGES[line.stage]})
        if line.comment:
            tracker.notes[line.ext] = line.comment
    tracker.mapping.write_text(OFFICE_MAPPING, encoding="utf-8")
    return tracker


def _office_lines(units: list[tuple[str, str]]) -> list[Line]:
    rng = random.Random(14)
    lines: list[Line] = []
    n = 0
    for unit, _unit_name in units:
        for k in range(6):
            n += 1
            ext = f"OPS-{n:03d}"
            owner = ["Anna Ng", "Bo Chen", "Cara Diaz"][n % 3]
            stage = list(OFFICE_STAGES)[n % 5]
            lever = ["PROC", "LAB", "MAINT", "ENERGY"][k % 4]
            name = f"{['Contract', 'Roster', 'Pump', 'Lighting'][k % 4]} review {n}"
            benefit = Line(ext, name, owner, unit, lever, stage, "Net benefit",
                           _amounts(rng, n % 6, 14, "0.1"))
            cost = Line(ext, name, owner, unit, lever, stage, "One-off cost",
                        _amounts(rng, n % 6, 3, "0.5"))
            # Owner written another way on the cost row; the mapping says who that is.
            alias = {v: k for k, v in OFFICE_OWNERS.items()}.get(owner)
            if alias and n % 2:
                cost.owner = alias
            if n % 3 == 0:
                benefit.comment = f"Phasing per site plan v{n}"
            if n == 4:
                cost.formula_comment = "=owner to confirm timing"
            cost.rag = "A" if n % 4 == 0 else "G"
            lines += [benefit, cost]
    return lines


def _comment(sheet: Any, r: int, c: int, line: Line, tracker: Tracker) -> None:
    """The comment cell: text, or a formula whose saved value is 0 or ``#NAME?``."""
    if line.comment:
        sheet.write_string(r, c, line.comment)
    if line.formula_comment:
        sheet.write_formula(r, c, line.formula_comment, None, line.formula_saved)
        tracker.formula_cells.append(f"{sheet.name}!{xl_col_to_name(c)}{r + 1}")


def _office_row(sheet: Any, r: int, line: Line, months_at: int, num: Any,
                tracker: Tracker) -> None:
    values = [line.ext, line.name, line.owner, line.unit, line.lever, line.stage, line.metric]
    for c, text in enumerate(values):
        sheet.write_string(r, c, text)
    _comment(sheet, r, 7, line, tracker)
    sheet.write_string(r, 8, line.rag)
    for m, amount in line.amounts.items():
        sheet.write_number(r, months_at + m, float(amount), num)
    first_l, mid = xl_col_to_name(months_at), xl_col_to_name(months_at + 11)
    next_l, last_l = xl_col_to_name(months_at + 12), xl_col_to_name(months_at + 23)
    fy27 = sum((a for m, a in line.amounts.items() if m < 12), Decimal(0))
    fy28 = sum((a for m, a in line.amounts.items() if m >= 12), Decimal(0))
    for k, (a, b, cached) in enumerate([(first_l, mid, fy27), (next_l, last_l, fy28),
                                        (first_l, last_l, fy27 + fy28)]):
        sheet.write_formula(r, months_at + 24 + k, f"=SUM({a}{r + 1}:{b}{r + 1})", num,
                            float(cached))


OFFICE_MAPPING = '''# The office's pipeline tracker, as issue 14 describes it.
sheet = "Pipeline"
scale = 1000                     # "All figures AUD 000"
ignore = ["RAG"]

[columns]
note = "Comments"                # kept with the import, never compared (the default too)

[values.metric]
"Net benefit" = "benefit"
"One-off cost" = "cost"

[values.stage]
"Idea" = "L0"
"Gate 1 - Validated" = "L1"
"Gate 2 - Business case" = "L2"
"Gate 3 - Approved" = "L3"
"Gate 4 - Implemented" = "L4"

[values.owner]
"A. Ng" = "Anna Ng"
"B Chen" = "Bo Chen"
'''


# ------------------------------------------------------------------ 2: a site's tracker

def site_tracker(folder: Path) -> Tracker:
    """A site's tracker that writes the ledger's *names* (no value map needed for them):
    metric "One-off cost to achieve", business unit "Mining", lever "Labour"; stages as
    "L2 - Planned" (mapped); a "Remarks" column (a note by default); amounts as finance
    types them ("1,200.50", "(350)"); months as real dates; a "Total" row."""
    rng = random.Random(27)
    lines: list[Line] = []
    for n in range(1, 9):
        ext = f"MIN-{n:02d}"
        lever = ["Labour", "Procurement", "Maintenance", "Energy"][n % 4]
        stage = ["L1 - Validated", "L2 - Planned", "L3 - Approved"][n % 3]
        owner = "Dev Patel" if n % 2 else "Eve Okafor"
        benefit = Line(ext, f"Haul road {n}", owner, "Mining", lever, stage,
                       "Recurring net benefit", _amounts(rng, n, 12, "0.01"))
        cost = Line(ext, f"Haul road {n}", owner, "Mining", lever, stage,
                    "One-off cost to achieve", _amounts(rng, n, 2, "1"))
        if n % 2 == 0:
            cost.comment = "Capex approved in FY27 budget"
        lines += [benefit, cost]
    path = folder / "imap_site_tracker.xlsx"
    book = xlsxwriter.Workbook(str(path))
    _read_me(book, ["Mining site savings tracker", "Maintained by the site finance team.",
                    "Amounts in AUD (whole dollars and cents)."])
    sheet = book.add_worksheet("Savings")
    bold = book.add_format({"bold": True})
    month_fmt = book.add_format({"num_format": "mmm-yy", "bold": True})
    sheet.write_string(0, 0, "Mining: savings tracker", bold)
    sheet.write_string(1, 0, "Amounts in AUD")
    header = ["Ref", "Initiative name", "Initiative owner", "Business unit", "Value lever",
              "Maturity", "Measure", "Remarks", "Status"]
    for c, text in enumerate(header):
        sheet.write_string(4, c, text, bold)
    months_at = len(header)
    for m, month in enumerate(MONTHS):
        sheet.write_datetime(4, months_at + m, datetime(month.year, month.month, 1), month_fmt)
    r = 5
    for i, line in enumerate(lines):
        for c, text in enumerate([line.ext, line.name, line.owner, line.unit, line.lever,
                                  line.stage, line.metric]):
            sheet.write_string(r, c, text)
        if line.comment:
            sheet.write_string(r, 7, line.comment)
        sheet.write_string(r, 8, "On track")
        for m, amount in line.amounts.items():
            if i % 3 == 1:  # typed as text, the way finance pastes it
                text = f"{amount:,.2f}" if amount >= 0 else f"({-amount:,.2f})"
                sheet.write_string(r, months_at + m, text)
            else:
                sheet.write_number(r, months_at + m, float(amount))
        r += 1
    sheet.write_string(r, 0, "Total", bold)
    book.close()
    tracker = Tracker(path, folder / "imap_site_tracker.toml")
    codes = {"Recurring net benefit": "benefit", "One-off cost to achieve": "cost"}
    _expect(tracker, lines, codes, 1, {"benefit": 2, "cost": 2})
    levers = {"Labour": "LAB", "Procurement": "PROC", "Maintenance": "MAINT", "Energy": "ENERGY"}
    stages = {"L1 - Validated": "L1", "L2 - Planned": "L2", "L3 - Approved": "L3"}
    for line in lines:
        tracker.initiatives.setdefault(line.ext, {
            "name": line.name, "owner": line.owner, "business_unit": "MIN",
            "lever": levers[line.lever], "stage": stages[line.stage]})
        if line.comment:
            tracker.notes[line.ext] = line.comment
    tracker.mapping.write_text(SITE_MAPPING, encoding="utf-8")
    return tracker


SITE_MAPPING = '''# Mining's site tracker: names of metrics, units and levers read as their codes.
sheet = "Savings"
ignore = ["Status"]

[values.stage]
"L1 - Validated" = "L1"
"L2 - Planned" = "L2"
"L3 - Approved" = "L3"
'''


# ------------------------------------------------------------------ 3: a volume tracker

def volume_tracker(folder: Path) -> Tracker:
    """Tonnes, to the kilogram: metric labelled "Ore tonnes" (mapped to ``volume``),
    fiscal month headers (``FY27 M01``), stage labels "Idea" / "Gate 2", a "Notes" column
    with a formula note, forecast scenario labelled "Latest estimate"."""
    rng = random.Random(9)
    lines: list[Line] = []
    for n in range(1, 7):
        stage = ["Idea", "Gate 2"][n % 2]
        line = Line(f"VOL-{n}", f"Crusher uptime {n}", "Fay Wong" if n % 2 else "F. Wong",
                    "PRO", "MAINT", stage, "Ore tonnes", _amounts(rng, 2 * n, 10, "0.125"))
        if n == 3:
            line.formula_comment = "=see Q2 survey"
            line.formula_saved = "#NAME?"
        elif n % 2:
            line.comment = "Tonnes at the crusher, not the port"
        lines.append(line)
    path = folder / "imap_volume_tracker.xlsx"
    book = xlsxwriter.Workbook(str(path))
    _read_me(book, ["Throughput initiatives", "Amounts in tonnes (t), in-month."])
    sheet = book.add_worksheet("Throughput")
    bold = book.add_format({"bold": True})
    sheet.write_string(0, 0, "Processing: throughput uplift", bold)
    sheet.write_string(1, 0, "Units: t")
    header = ["ID", "Name", "Lead", "Unit", "Lever", "Gate", "Measure", "Case", "Notes"]
    months_at = len(header)
    header += [f"FY{27 + m // 12} M{m % 12 + 1:02d}" for m in range(24)]
    for c, text in enumerate(header):
        sheet.write_string(2, c, text, bold)
    tracker = Tracker(path, folder / "imap_volume_tracker.toml")
    for r, line in enumerate(lines, start=3):
        for c, text in enumerate([line.ext, line.name, line.owner, line.unit, line.lever,
                                  line.stage, line.metric, "Latest estimate"]):
            sheet.write_string(r, c, text)
        _comment(sheet, r, 8, line, tracker)
        for m, amount in line.amounts.items():
            sheet.write_number(r, months_at + m, float(amount))
    book.close()
    _expect(tracker, lines, {"Ore tonnes": "volume"}, 1, {"volume": 3}, "forecast")
    for line in lines:
        tracker.initiatives[line.ext] = {
            "name": line.name, "owner": "Fay Wong", "business_unit": "PRO", "lever": "MAINT",
            "stage": {"Idea": "L0", "Gate 2": "L2"}[line.stage]}
        if line.comment:
            tracker.notes[line.ext] = line.comment
    tracker.mapping.write_text(VOLUME_MAPPING, encoding="utf-8")
    return tracker


VOLUME_MAPPING = '''# Throughput tracker: tonnes, fiscal month headers, forecast.
sheet = "Throughput"

[columns]
owner = "Lead"

[values.metric]
"Ore tonnes" = "volume"

[values.scenario]
"Latest estimate" = "forecast"

[values.stage]
"Idea" = "L0"
"Gate 2" = "L2"

[values.owner]
"F. Wong" = "Fay Wong"
'''


# ------------------------------------------------------------------ 4: a long tracker

def long_tracker(folder: Path) -> Tracker:
    """A long layout exported from a planning tool: one row per initiative, metric and
    month ("Period", "Value"), metric labels "Savings" / "Implementation cost", lever names,
    an "Owner" written two ways, a "Comment" column on some rows, a check column."""
    rng = random.Random(3)
    lines: list[Line] = []
    for n in range(1, 6):
        lever = ["Procurement", "Energy"][n % 2]
        owner = "Gus Ito"
        benefit = Line(f"PT-{n}", f"Tender {n}", owner, "PRO", lever, "L3", "Savings",
                       _amounts(rng, 3 + n, 6, "0.05"))
        cost = Line(f"PT-{n}", f"Tender {n}", "G. Ito", "PRO", lever, "L3",
                    "Implementation cost", _amounts(rng, 3 + n, 1, "2.5"))
        lines += [benefit, cost]
    path = folder / "imap_long_tracker.xlsx"
    book = xlsxwriter.Workbook(str(path))
    _read_me(book, ["Export from the planning tool", "One row per initiative, metric and "
                    "month. Values in AUD."])
    sheet = book.add_worksheet("Export")
    bold = book.add_format({"bold": True})
    sheet.write_string(0, 0, "Planning tool export: Processing procurement", bold)
    header = ["Initiative code", "Title", "Owner", "BU", "Cost lever", "Stage", "Metric",
              "Period", "Value", "Comment", "Check"]
    for c, text in enumerate(header):
        sheet.write_string(2, c, text, bold)
    r = 3
    for line in lines:
        for k, (m, amount) in enumerate(sorted(line.amounts.items())):
            for c, text in enumerate([line.ext, line.name, line.owner, line.unit, line.lever,
                                      line.stage, line.metric]):
                sheet.write_string(r, c, text)
            sheet.write_string(r, 7, f"{MONTHS[m]:%Y-%m}")
            sheet.write_number(r, 8, float(amount))
            if line.metric == "Savings" and k == 0 and line.ext.endswith(("1", "3")):
                sheet.write_string(r, 9, "Price held until contract renewal")
                line.comment = "Price held until contract renewal"
            sheet.write_boolean(r, 10, True)
            r += 1
    book.close()
    tracker = Tracker(path, folder / "imap_long_tracker.toml")
    _expect(tracker, lines, {"Savings": "benefit", "Implementation cost": "cost"}, 1,
            {"benefit": 2, "cost": 2})
    levers = {"Procurement": "PROC", "Energy": "ENERGY"}
    for line in lines:
        tracker.initiatives.setdefault(line.ext, {
            "name": line.name, "owner": "Gus Ito", "business_unit": "PRO",
            "lever": levers[line.lever], "stage": "L3"})
        if line.comment:
            tracker.notes[line.ext] = line.comment
    tracker.mapping.write_text(LONG_MAPPING, encoding="utf-8")
    return tracker


LONG_MAPPING = '''# The planning tool's export: one row per initiative, metric and month.
sheet = "Export"
layout = "long"
ignore = ["Check"]

[values.metric]
"Savings" = "benefit"
"Implementation cost" = "cost"

[values.owner]
"G. Ito" = "Gus Ito"
'''


BUILDERS: dict[str, Callable[[Path], Tracker]] = {
    "office_pipeline": office_pipeline,
    "site_tracker": site_tracker,
    "volume_tracker": volume_tracker,
    "long_tracker": long_tracker,
}


def build_all(folder: Path) -> dict[str, Tracker]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: build(folder) for name, build in BUILDERS.items()}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    for name, tracker in build_all(out).items():
        print(f"{name}: {tracker.path} {tracker.mapping}")
