"""The canonical workbooks: written, then read back with openpyxl and recalculated by
LibreOffice; ledger text that looks like a formula stays text."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.api import Ledger
from ledger.initiatives import write_initiatives
from ledger.money import from_minor
from ledger.store import new_submission, write_phasing
from ledger.targets import set_target
from reports.safe import csv_text, looks_like_formula, safe_text, set_text
from reports.templates import (
    INITIATIVE_HEADERS,
    initiative_lines,
    load_context,
    write_initiatives_template,
)

EVIL_NAME = '=HYPERLINK("http://evil.example","click")'
EVIL_OWNER = "+SUM(1,2)"
EVIL_DESC = "@cmd|' /C calc'!A0"


def _seed(ledger: Ledger) -> None:
    """Two initiatives, one with a formula-like name; plan phasing for benefit and cost."""
    ids = {}
    with ledger.reading() as conn:
        units = dict(zip(ledger.business_units(conn)["code"],
                         ledger.business_units(conn)["id"], strict=True))
        levers = dict(zip(ledger.levers(conn)["code"], ledger.levers(conn)["id"], strict=True))
        stages = dict(zip(ledger.stage_gates(conn)["code"], ledger.stage_gates(conn)["id"],
                          strict=True))
        metrics = {m.code: m.id for m in ledger.metrics(conn)}
    with ledger.writing() as conn:
        sub = new_submission(conn, kind="edit", user="seed", note="seed")
        frame = pd.DataFrame([
            {"external_id": "GR-0001", "name": EVIL_NAME, "owner": EVIL_OWNER,
             "business_unit_id": units["PRO"], "lever_id": levers["PROC"],
             "stage_gate_id": stages["L2"], "description": EVIL_DESC, "status": "active"},
            {"external_id": "GR-0002", "name": "Crusher uptime", "owner": "Ana Silva",
             "business_unit_id": units["MIN"], "lever_id": levers["MAINT"],
             "stage_gate_id": stages["L3"], "description": "", "status": "active"},
        ])
        changes = write_initiatives(conn, frame, sub.id)
        ids = changes.ids
        phasing = pd.DataFrame([
            {"initiative_id": ids["GR-0001"], "metric_id": metrics["benefit"],
             "scenario": "plan", "month": "2026-07-01", "amount_minor": 12345678},
            {"initiative_id": ids["GR-0001"], "metric_id": metrics["benefit"],
             "scenario": "plan", "month": "2026-08-01", "amount_minor": 1},
            {"initiative_id": ids["GR-0001"], "metric_id": metrics["cost"],
             "scenario": "plan", "month": "2026-07-01", "amount_minor": -5000},
            {"initiative_id": ids["GR-0001"], "metric_id": metrics["benefit"],
             "scenario": "forecast", "month": "2026-07-01", "amount_minor": 999},
        ])
        write_phasing(conn, phasing, sub.id)


def _lists(wb: openpyxl.Workbook) -> dict[str, list[str]]:
    ws = wb["Lists"]
    out: dict[str, list[str]] = {}
    for col in ws.iter_cols(values_only=True):
        values = [v for v in col if v is not None]
        if values:
            out[str(values[0])] = [str(v) for v in values[1:]]
    return out


def _validations(ws) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """{first column letter: (list source, sqref)}"""
    out = {}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list"
        ref = str(dv.sqref)
        out[ref.split(":")[0].rstrip("0123456789")] = (dv.formula1, ref)
    return out


def _resolve(wb: openpyxl.Workbook, source: str) -> list[str]:
    sheet, _, rng = source.partition("!")
    return [str(c.value) for row in wb[sheet][rng.replace("$", "")] for c in row]


def test_blank_initiatives_template_has_the_canonical_layout(programme, tmp_path):
    with programme.reading() as conn:
        ctx = load_context(programme, conn)
    out = write_initiatives_template(tmp_path / "init.xlsx", ctx)
    wb = openpyxl.load_workbook(out.path)
    assert wb.sheetnames == ["Initiatives", "Guide", "Lists"]
    assert wb["Lists"].sheet_state == "hidden"
    assert wb["Guide"].sheet_state == "visible"
    ws = wb["Initiatives"]
    assert ws["A1"].value == "Cost 2028: initiative phasing"
    assert ws["A2"].value == "Amounts in each metric's unit: benefit AUD, cost AUD, volume t"
    assert all(c.value is None for c in ws[3])
    header = [c.value for c in ws[4]]
    assert header[:9] == INITIATIVE_HEADERS
    months = header[9:-1]
    assert len(months) == 24
    assert all(isinstance(m, datetime) for m in months)  # real dates, not text
    assert months[0] == datetime(2026, 7, 1)
    assert months[-1] == datetime(2028, 6, 1)
    assert ws["J4"].number_format == "mmm-yy"
    assert ws["AG4"].number_format == "mmm-yy"
    assert header[-1] == "Total"
    assert ws["AH4"].column_letter == "AH"
    assert ws.freeze_panes == "C5"
    assert ws["J5"].value is None
    assert ws["AH5"].value == "=SUM(J5:AG5)"
    assert ws.column_dimensions["B"].width > ws.column_dimensions["F"].width

    lists = _lists(wb)
    assert lists == {
        "Business unit": ["MIN", "PRO"],
        "Lever": ["ENERGY", "LAB", "MAINT", "PROC"],
        "Stage": ["L0", "L1", "L2", "L3", "L4", "L5"],
        "Metric": ["benefit", "cost", "volume"],
        "Scenario": ["plan", "forecast", "actual"],
        "Scope": ["programme", "unit:MIN", "unit:PRO", "lever:ENERGY", "lever:LAB",
                  "lever:MAINT", "lever:PROC"],
    }
    dvs = _validations(ws)
    assert set(dvs) == {"D", "E", "F", "H", "I"}
    expected = {"D": "Business unit", "E": "Lever", "F": "Stage", "H": "Metric",
                "I": "Scenario"}
    for col, name in expected.items():
        source, sqref = dvs[col]
        assert source.startswith("Lists!$")
        assert _resolve(wb, source) == lists[name], col
        assert sqref == f"{col}5:{col}1004"

    # Total formulas on every row the dropdowns cover; the cells to fill shaded there;
    # required columns marked; Stage (required) refuses a cleared cell.
    assert ws["AH1004"].value == "=SUM(J1004:AG1004)"
    assert ws["AH1005"].value is None
    shading = [(str(rng.sqref), r) for rng in ws.conditional_formatting for r in rng.rules]
    assert [sq for sq, r in shading if r.formula == ["TRUE"]] == ["A5:AG1004"]
    required = {c.value for c in ws[4] if c.fill.fgColor.rgb.endswith("F8CBAD")}
    assert required == {"ID", "Name", "Owner", "Stage"}
    assert ws["F4"].comment is not None
    blanks = {str(dv.sqref)[0]: dv.allow_blank for dv in ws.data_validations.dataValidation}
    assert blanks["F"] is False or blanks["F"] is None, "Stage: no blank"
    assert blanks["D"] is True, "Business unit may stay empty"

    guide = [c.value for row in wb["Guide"].iter_rows() for c in row if c.value]
    for head in [*INITIATIVE_HEADERS, "Total", "Business units", "Stage gates"]:
        assert head in guide
    assert "Processing" in guide
    assert "Realised in the P&L" in guide


def test_prefilled_template_round_trips_amounts_and_keeps_formula_like_text(programme,
                                                                           tmp_path):
    _seed(programme)
    with programme.reading() as conn:
        ctx = load_context(programme, conn, ["benefit", "cost"])
        lines = initiative_lines(conn, ctx, "plan")
    out = write_initiatives_template(tmp_path / "pre.xlsx", ctx, lines)
    assert out.rows == 3
    wb = openpyxl.load_workbook(out.path)
    ws = wb["Initiatives"]
    assert ws["A2"].value == "Amounts in AUD"
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=5, max_row=7)]
    assert [r[0] for r in rows] == ["GR-0001", "GR-0001", "GR-0002"]
    assert [r[7] for r in rows] == ["benefit", "cost", "benefit"]
    assert all(r[8] == "plan" for r in rows)
    # formula-like ledger text is a string cell with the exact text
    for ref, text in [("B5", EVIL_NAME), ("C5", EVIL_OWNER), ("G5", EVIL_DESC)]:
        assert ws[ref].value == text
        assert ws[ref].data_type == "s", ref
        assert ws[ref].quotePrefix == text.startswith(("=", "+", "-", "@")), ref
    assert not ws["A5"].quotePrefix
    # amounts read back exactly at the metric's decimals (a float by its shortest repr)
    assert Decimal(repr(ws["J5"].value)) == Decimal("123456.78")
    assert Decimal(repr(ws["K5"].value)) == Decimal("0.01")
    assert Decimal(repr(ws["J6"].value)) == Decimal("-50")
    assert ws["J5"].number_format == "#,##0.00"
    assert ws["J7"].value is None  # GR-0002 has no phasing: a blank line to fill
    assert ws["AH5"].value == "=SUM(J5:AG5)"
    # dropdowns reach below the data
    assert _validations(ws)["D"][1] == "D5:D1007"
    # the Metric list holds only the chosen metrics
    assert _lists(wb)["Metric"] == ["benefit", "cost"]


def test_libreoffice_recalculates_totals_and_keeps_text(programme, tmp_path, backend):
    if backend != "sqlite" or shutil.which("soffice") is None:
        pytest.skip("LibreOffice round trip runs once, on SQLite")
    _seed(programme)
    with programme.reading() as conn:
        ctx = load_context(programme, conn, ["benefit", "cost"])
        lines = initiative_lines(conn, ctx, "plan")
    src = write_initiatives_template(tmp_path / "pre.xlsx", ctx, lines).path
    # The cached Total (written by tledger) is the exact sum already...
    cached = openpyxl.load_workbook(src, data_only=True)["Initiatives"]
    assert Decimal(repr(cached["AH5"].value)) == Decimal("123456.79")
    outdir = tmp_path / "lo"
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
         "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(src)],
        check=True, capture_output=True, timeout=120,
    )
    # ...and LibreOffice, recalculating, agrees; the formula-like name is still text.
    wb = openpyxl.load_workbook(outdir / "pre.xlsx", data_only=True)
    ws = wb["Initiatives"]
    assert Decimal(repr(ws["AH5"].value)) == Decimal("123456.79")
    assert Decimal(repr(ws["AH6"].value)) == Decimal("-50")
    assert ws["B5"].value == EVIL_NAME
    assert ws["C5"].value == EVIL_OWNER
    formulas = openpyxl.load_workbook(outdir / "pre.xlsx")["Initiatives"]
    assert formulas["B5"].data_type == "s"


def test_forecast_prefill_takes_that_scenario(programme, tmp_path):
    _seed(programme)
    with programme.reading() as conn:
        ctx = load_context(programme, conn, ["benefit"])
        lines = initiative_lines(conn, ctx, "forecast")
    assert lines["scenario"].tolist() == ["forecast", "forecast"]
    assert lines["amounts"].tolist()[0] == {"2026-07-01": 999}


def test_targets_template_prefilled_with_current_targets(cli, programme, tmp_path):
    set_target(programme, metric="benefit", amount="100", fiscal_year="FY27", note="a")
    set_target(programme, metric="benefit", amount="40", fiscal_year="FY28", scope="lever:PROC",
               note="b")
    path = tmp_path / "targets.xlsx"
    r = cli("template", "targets", "--out", str(path), "--prefill")
    assert r.exit_code == 0, r.output
    assert "2 rows pre-filled" in r.stdout
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Targets", "Guide", "Lists"]
    ws = wb["Targets"]
    assert ws["A1"].value == "Cost 2028: top-down targets"
    header = [c.value for c in ws[4]]
    assert header[:2] == ["Metric", "Scope"]
    assert header[-1] == "Total"
    assert all(isinstance(h, datetime) for h in header[2:-1])
    assert len(header) == 27
    assert ws.freeze_panes == "C5"
    assert [ws["A5"].value, ws["B5"].value, ws["A6"].value, ws["B6"].value] == [
        "benefit", "programme", "benefit", "lever:PROC"]
    fy27 = [Decimal(repr(c.value)) for c in ws[5][2:14]]
    assert sum(fy27) == Decimal("100.00")
    assert fy27[-1] == Decimal("8.34")
    assert ws["C6"].value is None
    assert ws["AA6"].value == "=SUM(C6:Z6)"
    dvs = _validations(ws)
    assert _resolve(wb, dvs["A"][0]) == ["benefit", "cost", "volume"]
    assert _resolve(wb, dvs["B"][0])[:3] == ["programme", "unit:MIN", "unit:PRO"]


def test_cli_template_initiatives_and_its_refusals(cli, programme, tmp_path):
    _seed(programme)
    path = tmp_path / "i.xlsx"
    r = cli("template", "initiatives", "--out", str(path), "--prefill", "--metric", "benefit")
    assert r.exit_code == 0, r.output
    assert "2 rows pre-filled (plan)" in r.stdout
    assert openpyxl.load_workbook(path)["Initiatives"]["B5"].value == EVIL_NAME
    for args, message in [
        (["--out", str(path)], "exists: pass --force"),
        (["--out", str(tmp_path / "i.csv")], "expected a .xlsx file name"),
        (["--out", str(tmp_path / "x.xlsx"), "--metric", "benfit"], "did you mean benefit"),
        (["--out", str(tmp_path / "x.xlsx"), "--scenario", "budget"], "scenario 'budget'"),
        (["--out", str(tmp_path / "no" / "x.xlsx")], "does not exist"),
    ]:
        r = cli("template", "initiatives", *args)
        assert r.exit_code == 1, args
        assert r.stderr.startswith("error: "), r.stderr
        assert message in r.stderr, r.stderr
    r = cli("template", "initiatives", "--out", str(path), "--force")
    assert r.exit_code == 0
    assert "empty, ready to fill" in r.stdout


def test_safe_text_helpers(tmp_path: Path):
    assert looks_like_formula("=1+1")
    assert looks_like_formula("-2")
    assert looks_like_formula("@x")
    assert not looks_like_formula("GR-0042")
    assert not looks_like_formula("")
    assert safe_text(None) == ""
    assert safe_text("a\x00b\x1fc") == "abc"
    assert len(safe_text("x" * 40000)) == 32767
    assert csv_text("=cmd") == "'=cmd"
    assert csv_text("plain") == "plain"
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_text(EVIL_NAME)])
    assert buf.getvalue().startswith("\"'=HYPERLINK")
    wb = openpyxl.Workbook()
    set_text(wb.active["A1"], EVIL_NAME)
    wb.save(tmp_path / "o.xlsx")
    back = openpyxl.load_workbook(tmp_path / "o.xlsx")
    assert back.active["A1"].value == EVIL_NAME
    assert back.active["A1"].data_type == "s"


@settings(max_examples=300, deadline=None)
@given(minor=st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
       decimals=st.integers(min_value=0, max_value=4))
def test_cell_doubles_read_back_as_the_exact_amount(minor, decimals):
    # the writer puts minor / 10**decimals in a cell (int division is correctly rounded):
    # the same double as the exact Decimal's, read back by its shortest repr exactly
    value = minor / 10**decimals
    assert value == float(from_minor(minor, decimals))
    assert Decimal(repr(value)) == from_minor(minor, decimals)


def test_writer_reports_progress_and_streams_many_lines(tmp_path):
    from datetime import date

    from ledger.api import MetricInfo, ProgrammeInfo
    from reports.templates import TemplateContext

    ctx = TemplateContext(
        programme=ProgrammeInfo(1, "P", "AUD", 7, date(2026, 7, 1), date(2026, 12, 1)),
        metrics=[MetricInfo(1, "benefit", "Benefit", "AUD", "benefit", 2)],
        business_units=[], levers=[], stages=[("L0", "Idea", Decimal("0.1"))],
    )
    lines = pd.DataFrame({
        "external_id": [f"X-{i:04d}" for i in range(1000)], "name": "n", "owner": "o",
        "business_unit": None, "lever": None, "stage": "L0", "description": "",
        "metric": "benefit", "scenario": "plan",
        "amounts": [{"2026-07-01": i, "2026-12-01": -i} for i in range(1000)],
    })
    seen: list[int] = []
    write_initiatives_template(tmp_path / "many.xlsx", ctx, lines, progress=seen.append)
    assert seen == [500, 1000]
    ws = openpyxl.load_workbook(tmp_path / "many.xlsx")["Initiatives"]
    assert ws.max_row == 1004
    assert ws["A1004"].value == "X-0999"
    assert Decimal(repr(ws["J1004"].value)) == Decimal("9.99")
    assert Decimal(repr(ws["O1004"].value)) == Decimal("-9.99")
    # no business units or levers in the ledger: no dropdown for them, the rest stay
    validated = {str(dv.sqref)[0] for dv in ws.data_validations.dataValidation}
    assert validated == {"F", "H", "I"}


def test_templates_round_trip_through_the_importer(programme, tmp_path):
    """What the template writes, the importer reads: a pre-filled workbook changes nothing;
    an edited targets workbook is a new revision in the target history."""
    from importers.api import import_initiatives, import_targets
    from ledger.targets import target_revisions
    from reports.templates import target_lines, write_targets_template

    _seed(programme)
    with programme.reading() as conn:
        ctx = load_context(programme, conn)
        lines = initiative_lines(conn, ctx, "plan")
    path = write_initiatives_template(tmp_path / "pre.xlsx", ctx, lines).path
    result = import_initiatives(programme, [path], dry_run=True)
    assert result.rows_read == 3
    assert (result.facts_added, result.facts_changed, result.facts_removed) == (0, 0, 0)
    assert not result.initiatives_changed
    assert not result.initiatives_added

    set_target(programme, metric="benefit", amount="120", fiscal_year="FY27", note="board")
    with programme.reading() as conn:
        tlines = target_lines(conn, ctx)
    tpath = write_targets_template(tmp_path / "t.xlsx", ctx, tlines).path
    wb = openpyxl.load_workbook(tpath)
    wb["Targets"]["C5"].value = 25  # July 2026: 10.00 -> 25.00
    wb.save(tpath)
    imported = import_targets(programme, tpath, note="July revised", user="fin")
    assert imported.submission_id is not None
    hist = target_revisions(programme, metric="benefit")
    assert hist["kind"].tolist() == ["target", "import"]
    assert [str(x) for x in hist["total_after"]] == ["120.00", "135.00"]
    assert hist["months"].tolist()[-1] == "2026-07..2026-07"
