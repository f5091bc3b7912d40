"""Finance's board pack: the gap report printed (LibreOffice, PDF) with the page count
each sheet's design gives and no audit rows or helper columns on paper; colours by the
metric's kind; the funnel, top initiatives and by-owner sheets; files readable by
colleagues; formula-like text quote-prefixed."""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from helpers.libreoffice import pdf_pages, recalculate
from helpers.report_checks import assert_ties_to_engine, seed

from ledger.api import Ledger
from ledger.initiatives import current_initiatives, write_initiatives
from ledger.months import fiscal_year
from ledger.store import new_submission, write_phasing
from reports.excel import write_gap_report
from reports.excel.checks import group_findings
from reports.gap_report import load_report
from reports.pdf import write_gap_pdf

SHEET_NAMES = ["Dashboard", "Summary", "By unit", "By lever", "Funnel", "By owner",
               "Top initiatives", "Initiatives", "Checks", "Bridge", "Finance", "About"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _add_forecast(ledger: Ledger) -> None:
    """GR-0004 gets a forecast of 100.00 in each of three months: a variance to its plan."""
    with ledger.reading() as conn:
        current = current_initiatives(conn)
    ids = dict(zip(current["external_id"], current["initiative_id"], strict=True))
    benefit = ledger.metric("benefit")
    months = ledger.programme().months
    with ledger.writing() as conn:
        sub = new_submission(conn, kind="edit", user="tester", note="=forecast update")
        rows = [(ids["GR-0004"], benefit.id, "forecast", m.isoformat(), 10_000) for m in months[:3]]
        write_phasing(conn, pd.DataFrame(rows, columns=["initiative_id", "metric_id",
                                                        "scenario", "month", "amount_minor"]),
                      sub.id, replace_scope=None)


def _sheet_of(page: str) -> str:
    """The sheet a printed page belongs to: the page header's centre (the sheet name)."""
    head = [line.strip() for line in page.splitlines()[:6]]
    found = [name for name in SHEET_NAMES if name in head]
    assert found, head
    return found[0]


def test_pack_prints_each_sheet_on_its_designed_pages(programme: Ledger, tmp_path: Path,
                                                      backend: str) -> None:
    """The PDF pack: one page across per fiscal year for the month sheets (the data is
    small, so one page tall), the Initiatives attributes plus one per fiscal year, the
    Bridge's waterfall and chart on one page and the initiatives behind its steps from the
    next, one page for each other sheet; no Difference rows, chart data or Bridge helper
    columns print."""
    if backend != "sqlite":
        pytest.skip("the printed layout does not depend on the database: printed once, on "
                    "SQLite (the ties to the engine run on both)")
    if shutil.which("soffice") is None:
        pytest.skip("soffice not installed")
    marks = seed(programme)
    data = load_report(programme, bridge_from=marks["first_instant"])
    pdf = write_gap_pdf(data, tmp_path / "pack" / "gap.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert (pdf.stat().st_mode & 0o777) == 0o666 & ~_umask()
    months = programme.programme().months
    n_fy = len({fiscal_year(m, programme.programme().fy_start_month) for m in months})
    assert n_fy >= 2
    pages = pdf_pages(pdf)
    counts: dict[str, int] = {}
    for page in pages:
        counts[_sheet_of(page)] = counts.get(_sheet_of(page), 0) + 1
    assert counts == {"Dashboard": 1, "Summary": n_fy, "By unit": n_fy, "By lever": n_fy,
                      "Funnel": 1, "By owner": n_fy, "Top initiatives": 1,
                      "Initiatives": 1 + n_fy, "Checks": 1, "Bridge": 2, "Finance": 1,
                      "About": 1}, counts
    everything = "\n".join(p for p in pages if _sheet_of(p) != "About")  # About explains them
    assert "Difference" not in everything, "tie rows are the audit's, not the board's"
    assert "Chart data" not in everything
    # The Bridge's chart has its cached values, like the Summary's.
    book = write_gap_report(data, tmp_path / "bridge.xlsx")
    with zipfile.ZipFile(book) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/")]
    # (The Dashboard has a stacked waterfall too: target to committed, pipeline and gap.)
    waterfall = next(c for c in charts
                     if 'c:grouping val="stacked"' in c and "Bottom-up at start" in c)
    assert waterfall.count("<c:strCache>") >= 4
    assert "Bottom-up at start" in waterfall
    assert re.search(r'<c:numCache><c:formatCode>[^<]*</c:formatCode><c:ptCount val="\d+"/>'
                     r'<c:pt idx="0"><c:v>-?\d', waterfall)
    bridge = "\n".join(p for p in pages if _sheet_of(p) == "Bridge")
    assert not re.search(r"^(Base|Up|Down)$", bridge, re.MULTILINE), "helper columns"
    for page in pages:
        assert re.search(r"Page \d+ of \d+", page)
        assert "Cost 2028" in page


def test_a3_paper_for_the_whole_pack(programme: Ledger, tmp_path: Path) -> None:
    seed(programme)
    path = write_gap_report(load_report(programme, paper="A3"), tmp_path / "a3.xlsx")
    wb = openpyxl.load_workbook(path)
    assert {ws.page_setup.paperSize for ws in wb.worksheets} == {8}
    assert {ws.page_setup.orientation for ws in wb.worksheets} == {"landscape"}


def test_colours_by_kind_and_coverage_thresholds(programme: Ledger, tmp_path: Path) -> None:
    """A benefit ahead of target is green, short of it red; thresholds come from the input."""
    seed(programme)
    data = load_report(programme)
    data.coverage_red, data.coverage_amber = Decimal("0.8"), Decimal("0.95")
    path = write_gap_report(data, tmp_path / "c.xlsx")
    wb = openpyxl.load_workbook(path)
    for name in ("Summary", "By unit"):
        rules = [r for rng in wb[name].conditional_formatting for r in rng.rules]
        formulas = " ".join(f for r in rules for f in (r.formula or []))
        assert "<0.8" in formulas, name
        assert "<0.95" in formulas, name
    unit = wb["By unit"]
    gap_rules = [r for rng in unit.conditional_formatting for r in rng.rules
                 if r.formula and '="Gap"' in r.formula[0]]
    assert {r.formula[0].rsplit(")", 1)[0][-2:] for r in gap_rules} == {">0", "<0"}


def test_funnel_top_and_owner_sheets(programme: Ledger, tmp_path: Path) -> None:
    seed(programme)
    _add_forecast(programme)
    data = load_report(programme)
    path = write_gap_report(data, tmp_path / "p.xlsx")
    wb = openpyxl.load_workbook(path)
    funnel = wb["Funnel"]
    codes = [funnel.cell(r, 1).value for r in range(5, 11)]
    assert codes == ["L0", "L1", "L2", "L3", "L4", "L5"], "every gate, in order"
    assert funnel["C5"].value.startswith("=COUNTIFS(Initiatives!")
    assert funnel["D5"].value.startswith("=SUMIFS(Initiatives!")
    assert isinstance(funnel["F5"].value, (int, float)), "the other weighting is the engine's"
    cached = openpyxl.load_workbook(path, data_only=True)["Funnel"]
    counts = {cached.cell(r, 1).value: cached.cell(r, 3).value for r in range(5, 11)}
    top = wb["Top initiatives"]
    texts = [[c.value for c in row] for row in top.iter_rows(min_row=5)]
    headings = [r[0] for r in texts if isinstance(r[0], str)]
    assert headings[0] == "Largest by value"
    assert any(h.startswith("Largest forecast vs plan") for h in headings)
    assert any(h.startswith("Largest movements this month") for h in headings)
    # The value ranking links the Initiatives row totals, largest first.
    first = next(i for i, r in enumerate(texts) if r[0] == "Rank") + 1
    assert str(texts[first][5]).startswith("=Initiatives!$")
    values = load_report(programme).top
    assert values is not None
    amounts = values.by_value["amount"].tolist()
    assert amounts == sorted(amounts, reverse=True)
    # GR-0004's forecast against its plan; the note of the forecast's submission shows,
    # quote-prefixed since it starts with "=".
    variance = values.variance.set_index("external_id")
    assert "GR-0004" in variance.index
    row = variance.loc["GR-0004"]
    assert row["variance"] == row["forecast"] - row["plan"]
    assert row["forecast"] == Decimal("300.00")
    assert row["note"] == "=forecast update"
    noted = [c for r in top.iter_rows() for c in r if c.value == "=forecast update"]
    assert noted
    assert all(c.data_type == "s" and c.quotePrefix for c in noted)
    owner = wb["By owner"]
    lines = {owner.cell(r, 3).value for r in range(5, owner.max_row + 1)} - {None}
    assert lines == {"Bottom-up"}, "owners have no targets: bottom-up only"
    assert sum(counts.values()) == len(data.detail.attributes.query("metric == 'benefit'"))


def test_checks_are_grouped_by_kind(programme: Ledger) -> None:
    frame = pd.DataFrame([{"check": "cascade_gap", "severity": "warning", "metric": "benefit",
                           "scope": "business_unit", "month": m, "subject": "programme",
                           "detail": "1,000.00 unallocated", "amount": Decimal("1000.00")}
                          for m in programme.programme().months])
    groups = group_findings(frame)
    assert len(groups) == 1
    g = groups[0]
    assert g["count"] == len(programme.programme().months)
    assert g["months"].startswith("Jul-26, Aug-26, Sep-26 … (+")
    assert g["amount"] == Decimal("1000.00") * g["count"]


def test_report_file_mode_and_quote_prefix(programme: Ledger, tmp_path: Path) -> None:
    seed(programme)
    path = write_gap_report(load_report(programme), tmp_path / "m.xlsx")
    assert (path.stat().st_mode & 0o777) == 0o666 & ~_umask()
    ini = openpyxl.load_workbook(path)["Initiatives"]
    cells = {c.value: c for row in ini.iter_rows(min_row=5) for c in row
             if isinstance(c.value, str)}
    for text in ('=HYPERLINK("http://evil.example","click")', "+Ann", "-Fuel switch", "@Bob"):
        assert cells[text].data_type == "s", text
        assert cells[text].quotePrefix, text
    assert not cells["Cy"].quotePrefix


def test_cli_pdf_without_libreoffice_is_one_line(programme: Ledger, cli: Any,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seed(programme)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = cli("report", "gap", "--format", "pdf", "--out", str(tmp_path / "x.pdf"))
    assert r.exit_code == 1
    assert r.stderr.strip().count("\n") == 0
    assert "LibreOffice" in r.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_coverage_thresholds_are_a_programme_setting(programme: Ledger, cli: Any,
                                                     tmp_path: Path) -> None:
    """Set by the CLI as a submission; a report uses the thresholds in force at its as-of."""
    seed(programme)
    assert programme.coverage_thresholds() == (Decimal("0.9"), Decimal("1.0"))
    before = programme.submissions(limit=1).iloc[0]["id"]
    r = cli("programme", "set", "--coverage-red", "0.8", "--coverage-amber", "95%")
    assert r.exit_code == 0, r.output
    assert "red below 80.0%" in r.stdout
    assert programme.coverage_thresholds() == (Decimal("0.8"), Decimal("0.95"))
    assert programme.coverage_thresholds(as_of=int(before)) == (Decimal("0.9"), Decimal("1.0"))
    assert programme.submissions(limit=1).iloc[0]["kind"] == "reference"
    data = load_report(programme)
    assert (data.coverage_red, data.coverage_amber) == (Decimal("0.8"), Decimal("0.95"))
    r = cli("programme", "set", "--coverage-red", "1.2")
    assert r.exit_code == 1
    assert "above the amber" in r.stderr
    r = cli("programme", "set", "--coverage-red", "lots")
    assert r.exit_code == 1
    assert "expected a ratio" in r.stderr


def test_ties_with_codes_and_owners_excel_would_confuse(programme: Ledger, tmp_path: Path
                                                        ) -> None:
    """Owners ``Ann`` and ``ann``, ``01`` and ``1``, and initiative ids ``01``, ``1`` and
    ``1E3``: SUMIFS would add such owners together (case, numbers), so they are matched by
    exact text; the report is written and LibreOffice recalculates it to the engine."""
    seed(programme)
    sg = dict(zip(programme.stage_gates()["code"], programme.stage_gates()["id"], strict=True))
    benefit = programme.metric("benefit")
    months = programme.programme().months
    specs = [("01", "Ann"), ("1", "ann"), ("1E3", "01"), ("0042", "1")]
    with programme.writing() as conn:
        sub = new_submission(conn, kind="import", user="t", note="confusable")
        ids = write_initiatives(conn, pd.DataFrame([{
            "external_id": e, "name": f"n{e}", "owner": o, "business_unit_id": None,
            "lever_id": None, "stage_gate_id": sg["L2"], "description": ""}
            for e, o in specs]), sub.id).ids
        rows = [(ids[e], benefit.id, "plan", m.isoformat(), 100 * (k + 1) + i)
                for k, (e, _o) in enumerate(specs) for i, m in enumerate(months[:4])]
        write_phasing(conn, pd.DataFrame(rows, columns=["initiative_id", "metric_id",
                                                        "scenario", "month", "amount_minor"]),
                      sub.id, replace_scope=None)
    path = write_gap_report(load_report(programme), tmp_path / "confusable.xlsx")
    owner = openpyxl.load_workbook(path)["By owner"]
    formulas = {owner.cell(r, 1).value: owner.cell(r, 4).value
                for r in range(5, owner.max_row + 1) if owner.cell(r, 3).value == "Bottom-up"}
    assert formulas["Ann"].startswith("=SUMPRODUCT(EXACT(")
    assert formulas["01"].startswith("=SUMPRODUCT(EXACT(")
    assert formulas["Cy"].startswith("=SUMIFS(")
    recalculated = recalculate([path], tmp_path)[0]
    assert assert_ties_to_engine(recalculated, programme) > 400
