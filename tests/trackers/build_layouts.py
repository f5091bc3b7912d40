"""A corpus of tracker workbooks as transformation offices keep them (``lay_*``).

Each builder writes one file from its own source data (initiatives and their monthly
amounts as :class:`~decimal.Decimal`) and returns a :class:`Tracker`: the file, the mapping
it needs (if any), and the phasing the ledger must hold after importing it, computed from
the source data here, never by the importer. Written with openpyxl (hidden rows and
columns, filters, merged cells) and XlsxWriter (formulas with their saved values, serial
date headers); ``.ods`` and ``.xls`` copies are made by LibreOffice in the test session
(:func:`libreoffice_copy`).

The programme is the tests' standard one (tests/conftest.py): AUD, fiscal year from July,
2026-07 to 2028-06, business units PRO and MIN, levers PROC, LAB, MAINT, ENERGY.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import xlsxwriter
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FY27 = [date(2026, 7, 1) if m == 7 else date(2026 + (m < 7), m, 1)
        for m in (7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6)]
FY28 = [date(d.year + 1, d.month, 1) for d in FY27]
MONTHS = FY27 + FY28
CENT = Decimal("0.01")


@dataclass
class Initiative:
    ext: str
    name: str
    owner: str
    unit: str
    lever: str
    stage: str
    amounts: dict[date, Decimal]
    """Amounts as the sheet shows them (before any scale)."""


@dataclass
class Tracker:
    """One corpus workbook and what importing it must give."""

    path: Path
    expected: dict[tuple[str, str], int]
    """(external id, ``YYYY-MM``) -> benefit plan in cents, from the source data."""
    mapping: str | None = None
    """The mapping file's text, if the workbook needs one."""
    warnings: list[str] = field(default_factory=list)
    """Texts each of which some warning must contain (cells named)."""
    refused_without_mapping: str | None = None
    """A text the refusal must contain when imported without the mapping."""

    @property
    def total_cents(self) -> int:
        return sum(self.expected.values())


def _source(prefix: str, count: int, unit: str, seed: int, months: list[date] = MONTHS,
            ) -> list[Initiative]:
    """Initiatives with amounts from a fixed arithmetic rule (cents included, some
    negative, some months empty): deterministic without a random generator."""
    out = []
    levers = ["PROC", "LAB", "MAINT", "ENERGY"]
    for i in range(count):
        amounts: dict[date, Decimal] = {}
        for j, month in enumerate(months):
            k = (seed * 31 + i * 17 + j * 7) % 23
            if k in (0, 5, 11):
                continue  # an empty month
            value = Decimal(k * 1000 + (i + 1) * 37 + j) + Decimal(k * 7 % 100) / 100
            amounts[month] = -value if k == 19 else value
        out.append(Initiative(f"{prefix}-{i + 1:03d}", f"{prefix} initiative {i + 1}",
                              ["Ana Lima", "Bo Chen", "Cy Diaz"][i % 3], unit,
                              levers[i % 4], ["L1", "L2", "L3"][i % 3], amounts))
    return out


def _expected(inits: list[Initiative], scale: Decimal = Decimal(1),
              ) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for ini in inits:
        for month, value in ini.amounts.items():
            cents = int((value * scale / CENT).to_integral_value())
            if cents:
                out[(ini.ext, f"{month:%Y-%m}")] = cents
    return out


def _sum(inits: list[Initiative], months: list[date]) -> Decimal:
    return sum((ini.amounts.get(m, Decimal(0)) for ini in inits for m in months), Decimal(0))


def _first_sheet(title: str) -> tuple[openpyxl.Workbook, Any]:
    """A new openpyxl workbook and its first sheet, named ``title``."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    return wb, ws


# ------------------------------------------------------------------ 1. a "Read me" first


def lay_readme_first(folder: Path) -> Tracker:
    """A cover sheet first, a lists sheet, the pipeline third with title rows and month
    headers as text ``July 2026``; no mapping: the pipeline sheet is found by its header."""
    inits = _source("RM", 6, "PRO", 1)
    wb, cover = _first_sheet("Read me")
    cover.append(["How to fill this tracker"])
    cover.append(["One row per initiative; amounts in AUD, in-month."])
    lists = wb.create_sheet("Lists")
    for code in ("PRO", "MIN"):
        lists.append([code])
    ws = wb.create_sheet("Pipeline FY27-28")
    ws.append(["Cost 2028 pipeline"])
    ws.append(["Amounts in AUD"])
    ws.append([])
    ws.append(["Initiative ID", "Initiative name", "Owner", "BU", "Lever", "Stage",
               *[f"{m:%B %Y}" for m in MONTHS]])
    for ini in inits:
        ws.append([ini.ext, ini.name, ini.owner, ini.unit, ini.lever, ini.stage,
                   *[float(ini.amounts[m]) if m in ini.amounts else None for m in MONTHS]])
    path = folder / "lay_readme_first.xlsx"
    wb.save(path)
    return Tracker(path, _expected(inits))


def lay_no_table(folder: Path) -> Path:
    """Three sheets, none with an id column and months: refused, the sheets listed."""
    wb, first = _first_sheet("Read me")
    first.append(["Nothing to import here"])
    wb.create_sheet("Notes").append(["Owner", "Comment"])
    wb.create_sheet("Chart data").append(["Month", "Total"])
    path = folder / "lay_no_table.xlsx"
    wb.save(path)
    return path


# ------------------------------------------------------------------ 2. one sheet per unit


def lay_units(folder: Path) -> Tracker:
    """One sheet per business unit (PRO, PRO-East, MIN) in one layout, a cover sheet and a
    summary sheet (unit totals by month, no id column). Imported with ``sheet = ["PRO*",
    "MIN"]`` or, without a mapping, as all sheets holding an id column and months."""
    sheets = {"PRO": _source("PRO", 5, "PRO", 2), "PRO-East": _source("PRE", 3, "PRO", 3),
              "MIN": _source("MIN", 4, "MIN", 4)}
    wb, cover = _first_sheet("Cover")
    cover.append(["Cost 2028: business unit trackers"])
    for name, inits in sheets.items():
        ws = wb.create_sheet(name)
        ws.append([f"{name} tracker"])
        ws.append([])
        ws.append(["ID", "Name", "Owner", "Business unit", "Lever", "Stage",
                   *[datetime(m.year, m.month, 1) for m in MONTHS]])
        for c in range(7, 7 + len(MONTHS)):
            ws.cell(3, c).number_format = "mmm-yy"
        for ini in inits:
            ws.append([ini.ext, ini.name, ini.owner, ini.unit, ini.lever, ini.stage,
                       *[float(ini.amounts[m]) if m in ini.amounts else None
                         for m in MONTHS]])
    summary = wb.create_sheet("Summary")
    summary.append(["Unit", *[f"{m:%b-%y}" for m in MONTHS]])
    for name, inits in sheets.items():
        summary.append([name, *[float(_sum(inits, [m])) for m in MONTHS]])
    path = folder / "lay_units.xlsx"
    wb.save(path)
    everything = [ini for inits in sheets.values() for ini in inits]
    return Tracker(path, _expected(everything), mapping='sheet = ["PRO*", "MIN"]\n')


# ------------------------------------------------------------------ 3. a two-row header


def _two_row_header(ws: Any, fixed: list[str], merged: Any,
                    ) -> tuple[list[tuple[str, Any]], dict[date, int]]:
    """Rows 4-5 of :func:`lay_two_row`: the plan of its columns and each month's column."""
    for c, head in enumerate(fixed):
        ws.merge_range(3, c, 4, c, head, merged)
    # Column plan: per year, 4 x (3 months + quarter), then the year's total.
    plan: list[tuple[str, Any]] = []
    for fy, months in (("FY27", FY27), ("FY28", FY28)):
        for q in range(4):
            plan += [("month", m) for m in months[3 * q:3 * q + 3]]
            plan.append(("quarter", (f"Q{q + 1}", months[3 * q:3 * q + 3])))
        plan.append(("year", (f"{fy} Total", months)))
    col = len(fixed)
    starts: dict[str, int] = {}
    for kind, what in plan:
        if kind == "month":
            ws.write(4, col, f"{what:%b}")
        elif kind == "quarter":
            ws.write(4, col, what[0])
        else:
            ws.merge_range(3, col, 4, col, what[0], merged)
        fy = "FY27" if (what in FY27 if kind == "month" else what[1][0] in FY27) else "FY28"
        starts.setdefault(fy, col)
        col += 1
    ws.merge_range(3, starts["FY27"], 3, starts["FY28"] - 2, "FY27", merged)
    ws.merge_range(3, starts["FY28"], 3, col - 2, "FY28", merged)
    month_col = {what: c for c, (kind, what) in enumerate(plan, start=len(fixed))
                 if kind == "month"}
    return plan, month_col


def lay_two_row(folder: Path) -> Tracker:
    """The office's FY tracker (XlsxWriter, formulas with saved values): a two-row header,
    the fixed headers merged over both rows, ``FY27``/``FY28`` merged above month names
    (``Jul`` .. ``Jun``), a ``Q1``..``Q4`` column after each quarter and an ``FY27 Total``
    after each year (SUM formulas), a subtotal row per unit and a grand total. One ``Q2``
    cell was typed over (a warning names it); amounts in AUD 000 (scale in the mapping)."""
    units = {"PRO": _source("TR", 4, "PRO", 5), "MIN": _source("TM", 3, "MIN", 6)}
    path = folder / "lay_two_row.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("FY tracker")
    merged = book.add_format({"align": "center", "bold": True})
    ws.write(0, 0, "Cost 2028: initiative tracker")
    ws.write(1, 0, "AUD 000")
    fixed = ["ID", "Name", "Owner", "BU", "Lever", "Stage"]
    plan, month_col = _two_row_header(ws, fixed, merged)
    row = 5
    typo_cell = ""
    first_row = row
    for u, inits in units.items():
        unit_first = row
        for n, ini in enumerate(inits):
            for c, value in enumerate([ini.ext, ini.name, ini.owner, ini.unit, ini.lever,
                                       ini.stage]):
                ws.write(row, c, value)
            for month, c in month_col.items():
                if month in ini.amounts:
                    ws.write_number(row, c, float(ini.amounts[month]))
            for c, (kind, what) in enumerate(plan, start=len(fixed)):
                if kind == "month":
                    continue
                cells = ",".join(f"{get_column_letter(month_col[m] + 1)}{row + 1}"
                                 for m in what[1])
                value = _sum([ini], what[1])
                if u == "PRO" and n == 1 and what[0] == "Q2" and what[1][0] in FY27:
                    value += 5  # typed over the formula: the import warns
                    typo_cell = f"{get_column_letter(c + 1)}{row + 1}"
                    ws.write_number(row, c, float(value))
                else:
                    ws.write_formula(row, c, f"=SUM({cells})", None, float(value))
            row += 1
        ws.write(row, 0, f"{u} subtotal")
        for month, c in month_col.items():
            letter = get_column_letter(c + 1)
            ws.write_formula(row, c, f"=SUM({letter}{unit_first + 1}:{letter}{row})", None,
                             float(_sum(inits, [month])))
        row += 1
    ws.write(row, 0, "Total")
    everything = [ini for inits in units.values() for ini in inits]
    for month, c in month_col.items():
        letter = get_column_letter(c + 1)
        ws.write_formula(row, c, f"=SUMIF($A{first_row + 1}:$A{row},\"<>*subtotal\","
                         f"{letter}{first_row + 1}:{letter}{row})", None,
                         float(_sum(everything, [month])))
    book.close()
    return Tracker(path, _expected(everything, Decimal(1000)),
                   mapping="scale = 1000\n", warnings=[typo_cell])


# ------------------------------------------------------------------ 4. hidden and filtered


def lay_hidden(folder: Path) -> Tracker:
    """An applied filter hiding two rows, a hidden row, a hidden month column and a hidden
    comment column: all imported (hidden rows and columns are data), each warned about."""
    inits = _source("HD", 8, "MIN", 7)
    wb, ws = _first_sheet("Initiatives")
    ws.append(["MIN initiatives"])
    ws.append([])
    ws.append(["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Comments",
               *[f"{m:%b-%y}" for m in MONTHS]])
    for ini in inits:
        ws.append([ini.ext, ini.name, ini.owner, ini.unit, ini.lever, ini.stage, "",
                   *[float(ini.amounts[m]) if m in ini.amounts else None for m in MONTHS]])
    last = 3 + len(inits)
    ws.auto_filter.ref = f"A3:{get_column_letter(7 + len(MONTHS))}{last}"
    ws.auto_filter.add_filter_column(5, ["L1", "L2"])  # Stage: L3 rows filtered out
    for r in range(4, last + 1):
        if ws.cell(r, 6).value == "L3":
            ws.row_dimensions[r].hidden = True
    ws.row_dimensions[5].hidden = True
    ws.column_dimensions["G"].hidden = True
    ws.column_dimensions["J"].hidden = True  # Sep-26
    ws["A1"].font = Font(bold=True)
    path = folder / "lay_hidden.xlsx"
    wb.save(path)
    return Tracker(path, _expected(inits), warnings=["hidden or filtered-out rows",
                                                     "hidden columns G3, J3"])


# ------------------------------------------------------------------ 5. quarterly phasing


def spread_cents(cents: int) -> list[int]:
    """The documented rule, written independently: thirds toward zero, the one or two
    cents left over to the first months."""
    sign = -1 if cents < 0 else 1
    third, left = divmod(abs(cents), 3)
    return [sign * (third + (1 if k < left else 0)) for k in range(3)]


def lay_quarters(folder: Path) -> Tracker:
    """Quarterly-only phasing (``Q1 FY27`` .. ``Q4 FY28``): refused without a mapping,
    spread over the quarter's months with ``quarters = "spread"``."""
    rows = [("QT-001", [Decimal("1000.00"), Decimal("100.01"), Decimal("-50.00"),
                        Decimal("0.02"), None, Decimal("12345.67"), Decimal("3"),
                        Decimal("-0.01")]),
            ("QT-002", [Decimal("300"), None, Decimal("0.01"), Decimal("99999.99"),
                        Decimal("1.1"), None, None, Decimal("7.77")])]
    wb, ws = _first_sheet("Quarterly")
    labels = [f"Q{q} FY{fy}" for fy in (27, 28) for q in range(1, 5)]
    ws.append(["ID", "Name", "Owner", "BU", "Stage", *labels, "Total"])
    expected: dict[tuple[str, str], int] = {}
    for ext, values in rows:
        ws.append([ext, f"Quarterly {ext}", "Ana Lima", "PRO", "L2",
                   *[float(v) if v is not None else None for v in values],
                   float(sum((v for v in values if v is not None), Decimal(0)))])
        for q, value in enumerate(values):
            if value is None:
                continue
            for k, cents in enumerate(spread_cents(int(value / CENT))):
                if cents:
                    expected[(ext, f"{MONTHS[3 * q + k]:%Y-%m}")] = cents
    path = folder / "lay_quarters.xlsx"
    wb.save(path)
    return Tracker(path, expected, mapping='[months]\nquarters = "spread"\n',
                   refused_without_mapping="quarters = \"spread\"")


# ------------------------------------------------------------------ 6. serial dates


def lay_serial_dates(folder: Path) -> Tracker:
    """Month headers as Excel serial numbers (a sheet exported by a system that wrote the
    dates unformatted), ``Initiative ref``/``Accountable``/``Gate`` headers, amounts as text
    the way finance types them (``1,234.50``, ``(350.00)``)."""
    inits = _source("SD", 5, "PRO", 8, FY27)
    path = folder / "lay_serial_dates.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Export")
    head = ["Initiative ref", "Initiative", "Accountable", "Division", "Value lever", "Gate"]
    for c, text in enumerate(head):
        ws.write_string(0, c, text)
    for j, month in enumerate(FY27):
        ws.write_number(0, len(head) + j, (month - date(1899, 12, 30)).days)
    for r, ini in enumerate(inits, start=1):
        for c, text in enumerate([ini.ext, ini.name, ini.owner, ini.unit, ini.lever,
                                  ini.stage]):
            ws.write_string(r, c, text)
        for j, month in enumerate(FY27):
            if month not in ini.amounts:
                continue
            value = ini.amounts[month]
            shown = f"({abs(value):,.2f})" if value < 0 else f"{value:,.2f}"
            ws.write_string(r, len(head) + j, shown)
    book.close()
    return Tracker(path, _expected(inits))


# ------------------------------------------------------------------ 7. month forms


def lay_fiscal_m(folder: Path) -> Tracker:
    """Months headed ``M1`` .. ``M12`` with the fiscal year stated in the mapping, and a
    ``YTD``-style ``FY27`` total column at the end."""
    inits = _source("FM", 4, "MIN", 9, FY27)
    wb, ws = _first_sheet("Phasing")
    ws.append(["Ref", "Name", "Owner", "Unit", "Stage", *[f"M{n}" for n in range(1, 13)],
               "FY27"])
    for ini in inits:
        ws.append([ini.ext, ini.name, ini.owner, ini.unit, ini.stage,
                   *[float(ini.amounts[m]) if m in ini.amounts else None for m in FY27],
                   float(_sum([ini], FY27))])
    path = folder / "lay_fiscal_m.xlsx"
    wb.save(path)
    return Tracker(path, _expected(inits), mapping='[months]\nfiscal_year = "FY27"\n')


def lay_jul26(folder: Path) -> Tracker:
    """Headers ``Jul26`` (no separator), a year above them as a number (``2026``, ``2027``:
    ignored, the headers carry their year), a per-unit subtotal row and a ``Grand total``."""
    pro, mine = _source("JP", 3, "PRO", 10), _source("JM", 2, "MIN", 11)
    wb, ws = _first_sheet("Tracker")
    ws.append(["", "", "", "", "", "", *[m.year if m.month in (1, 7) else None
                                         for m in MONTHS]])
    ws.append(["ID", "Name", "Owner", "BU", "Lever", "Stage", *[f"{m:%b%y}" for m in MONTHS]])
    for group, label in ((pro, "Processing total"), (mine, "Mining total")):
        for ini in group:
            ws.append([ini.ext, ini.name, ini.owner, ini.unit, ini.lever, ini.stage,
                       *[float(ini.amounts[m]) if m in ini.amounts else None
                         for m in MONTHS]])
        ws.append(["", label, "", "", "", "", *[float(_sum(group, [m])) for m in MONTHS]])
    ws.append(["Grand total", "", "", "", "", "",
               *[float(_sum(pro + mine, [m])) for m in MONTHS]])
    path = folder / "lay_jul26.xlsx"
    wb.save(path)
    return Tracker(path, _expected(pro + mine))


# ------------------------------------------------------------------ 8. CSV, wide and long


def lay_wide_csv(folder: Path) -> Tracker:
    """A semicolon-separated export with a decimal comma (European finance system):
    months ``2026/07``, amounts ``1.234,56`` (``decimal = ","`` in the mapping)."""
    inits = _source("CW", 5, "PRO", 12)
    path = folder / "lay_wide.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle, delimiter=";")
        out.writerow(["ID", "Name", "Owner", "BU", "Lever", "Stage",
                      *[f"{m:%Y/%m}" for m in MONTHS]])
        for ini in inits:
            cells = []
            for m in MONTHS:
                value = ini.amounts.get(m)
                cells.append("" if value is None else
                             f"{value:,.2f}".replace(",", " ").replace(".", ",")
                             .replace(" ", "."))
            out.writerow([ini.ext, ini.name, ini.owner, ini.unit, ini.lever, ini.stage,
                          *cells])
    return Tracker(path, _expected(inits), mapping='decimal = ","\n')


def lay_long_csv(folder: Path) -> Tracker:
    """A long export: one row per initiative and month (``Period`` as ``Jul-26``,
    ``Value`` with thousands separators), the initiative's attributes on every row."""
    inits = _source("CL", 4, "MIN", 13)
    path = folder / "lay_long.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Period",
                      "Value"])
        for ini in inits:
            for month, value in sorted(ini.amounts.items()):
                out.writerow([ini.ext, ini.name, ini.owner, ini.unit, ini.lever, ini.stage,
                              f"{month:%b-%y}", f"{value:,.2f}"])
    return Tracker(path, _expected(inits))


# ------------------------------------------------------------------ 9. Excel binary


def lay_binary(folder: Path) -> Tracker:
    """An .xlsb (written by :mod:`tests.trackers.xlsb`: LibreOffice cannot save one): a
    cover sheet, then the pipeline with a title row, ``Jul-26`` text headers, a
    ``Q1 FY27`` total column after September and a ``Total`` row."""
    from trackers.xlsb import write_xlsb

    inits = _source("XB", 5, "PRO", 14)
    head: list[Any] = ["ID", "Name", "Owner", "BU", "Lever", "Stage"]
    layout: list[Any] = [*MONTHS[:3], "Q1 FY27", *MONTHS[3:]]
    rows: list[list[Any]] = [["Cost 2028 pipeline (binary workbook)"], [],
                             [*head, *[c if isinstance(c, str) else f"{c:%b-%y}"
                                       for c in layout]]]
    for ini in inits:
        cells = [float(_sum([ini], MONTHS[:3])) if isinstance(c, str)
                 else (float(ini.amounts[c]) if c in ini.amounts else None) for c in layout]
        rows.append([ini.ext, ini.name, ini.owner, ini.unit, ini.lever, ini.stage, *cells])
    rows.append(["Total", None, None, None, None, None,
                 *[float(_sum(inits, MONTHS[:3] if isinstance(c, str) else [c]))
                   for c in layout]])
    path = write_xlsb(folder / "lay_binary.xlsb",
                      {"Cover": [["Read me first"], ["Amounts in AUD"]], "Pipeline": rows})
    return Tracker(path, _expected(inits))


BUILDERS: list[Callable[[Path], Tracker]] = [
    lay_readme_first, lay_units, lay_two_row, lay_hidden, lay_quarters, lay_serial_dates,
    lay_fiscal_m, lay_jul26, lay_wide_csv, lay_long_csv, lay_binary,
]


def libreoffice_copy(src: Path, folder: Path, suffix: str) -> Path:
    """``src`` saved by LibreOffice as ``.ods`` or ``.xls`` into ``folder`` (a private
    profile, so parallel runs do not share one)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise RuntimeError("LibreOffice (soffice) is needed to make the .ods/.xls copies")
    profile = folder / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", suffix.lstrip("."), "--outdir", str(folder), str(src)],
                   check=True, capture_output=True, timeout=180)
    out = folder / (src.stem + suffix)
    if not out.exists():
        raise RuntimeError(f"LibreOffice did not write {out.name}")
    return out
