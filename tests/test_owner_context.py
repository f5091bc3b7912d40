"""The owner workbook's context beside the cells to fill: column totals, fiscal-year
subtotals, the initiative's plan and last forecast, the owner's total against each unit's
target; its page set-up; whole amounts without ".00". None of it is read back: the signed
round trip is unchanged, also after LibreOffice recalculates and saves the file."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from helpers.owner_seed import seed
from openpyxl import load_workbook

from importers.owner import import_owner_workbook, read_owner_workbook
from ledger.initiatives import write_initiatives
from ledger.store import new_submission, write_targets
from reports.owner_workbook import collect_owner_export, write_owner_workbook


def _export(led, tmp_path: Path, **kwargs) -> Path:  # type: ignore[no-untyped-def]
    return write_owner_workbook(collect_owner_export(led, "Ana Lima", **kwargs),
                                tmp_path / "ana.xlsx")


def _headers(ws) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {str(c.value): c.column for c in ws[4] if c.value is not None}


def test_context_beside_the_cells_to_fill(programme, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed(programme)
    pro = programme.metric("benefit")
    with programme.writing() as conn:
        sub = new_submission(conn, kind="target", user="t", note="unit target")
        write_targets(conn, pd.DataFrame(
            [(pro.id, "business_unit", "PRO", m.isoformat(), 100_000)
             for m in programme.programme().months],
            columns=["metric_id", "scope_kind", "scope_code", "month", "amount_minor"]), sub.id)
    path = _export(programme, tmp_path)
    wb = load_workbook(path)
    ws = wb["Initiatives"]
    cached = load_workbook(path, data_only=True)["Initiatives"]
    cols = _headers(ws)
    total = cols["Total"]
    # Fiscal-year subtotals and the plan / last forecast after the Total column.
    assert cols["FY27"] > total
    assert cols["FY28"] == cols["FY27"] + 1
    assert ws.cell(5, cols["FY27"]).value == "=SUM(J5:U5)"
    assert cached.cell(5, cols["FY27"]).value == 6000.5
    assert cached.cell(5, cols["Plan (horizon)"]).value == 6000.5
    assert cols["Last forecast (horizon)"] == cols["Plan (horizon)"] + 1
    # Column totals in row 3, above the month headers (the import reads from row 4 down).
    assert ws["J3"].value == "=SUM(J5:J6)"
    assert cached["J3"].value == 1000
    assert cached.cell(3, total).value == 6500.75
    # The owner's total in each of its units against the unit's target.
    unit_col = next(c.column for c in ws[4] if c.value == "Business unit" and c.column > total)
    units = {cached.cell(r, unit_col).value: r for r in (5, 6)}
    assert set(units) == {"MIN", "PRO"}
    r = units["PRO"]
    assert cached.cell(r, unit_col + 1).value == 24 * 1000  # 1,000.00 a month, 24 months
    assert cached.cell(r, unit_col + 3).value == 6000.5
    assert ws.cell(r, unit_col + 3).value.startswith("=SUMIF($D$5:$D$6,\"=PRO\",$AH$5:$AH$6")
    assert abs(cached.cell(r, unit_col + 4).value - 6000.5 / 24000) < 1e-12
    # Wider name and description, wrapped; a page set-up; whole amounts without ".00".
    assert ws.column_dimensions["B"].width >= 40
    assert ws.column_dimensions["G"].width >= 40
    assert ws["B5"].alignment.wrap_text
    assert ws.page_setup.orientation == "landscape"
    assert ws.print_title_rows == "$1:$4"
    assert "Ana Lima" in ws.oddHeader.center.text
    whole = [r for rng in ws.conditional_formatting for r in rng.rules
             if r.formula and "MOD(J5,1)=0" in r.formula[0]]
    assert len(whole) == 1
    assert whole[0].dxf.numFmt.formatCode == "#,##0"
    # None of it is read back: the workbook reads as exported and imports as a no-op.
    book = read_owner_workbook(path)
    assert not book.problems
    assert sorted(book.amounts["amount"]) == [Decimal("500.25"), Decimal("1000"),
                                              Decimal("2000.5"), Decimal("3000")]
    result = import_owner_workbook(programme, path)
    assert result.submission_id is None


def test_round_trip_after_libreoffice_recalculates_the_context(programme, tmp_path: Path  # type: ignore[no-untyped-def]
                                                               ) -> None:
    exe = shutil.which("soffice")
    if exe is None:
        pytest.skip("soffice not installed")
    seed(programme)
    src = _export(programme, tmp_path)
    out = tmp_path / "lo"
    profile = (tmp_path / "profile").as_uri()
    subprocess.run([exe, "--headless", "--norestore", f"-env:UserInstallation={profile}",
                    "--convert-to", "xlsx", "--outdir", str(out), str(src)], check=True,
                   capture_output=True, timeout=300)
    saved = out / src.name
    book = read_owner_workbook(saved)
    assert not book.problems, book.problems
    result = import_owner_workbook(programme, saved)
    assert result.submission_id is None


def test_formula_like_text_is_quote_prefixed_and_round_trips(programme, tmp_path: Path  # type: ignore[no-untyped-def]
                                                             ) -> None:
    seed(programme)
    sg = dict(zip(programme.stage_gates()["code"], programme.stage_gates()["id"], strict=True))
    with programme.writing() as conn:
        sub = new_submission(conn, kind="import", user="t", note="")
        write_initiatives(conn, pd.DataFrame([{
            "external_id": "GR-0009", "name": "=1+1", "owner": "Ana Lima",
            "business_unit_id": None, "lever_id": None, "stage_gate_id": sg["L1"],
            "description": "-5% diesel"}]), sub.id)
    path = _export(programme, tmp_path)
    ws = load_workbook(path)["Initiatives"]
    row = next(r for r in range(5, 9) if ws.cell(r, 1).value == "GR-0009")
    for col in (2, 7):
        cell = ws.cell(row, col)
        assert cell.data_type == "s"
        assert cell.quotePrefix
    assert not ws.cell(row, 1).quotePrefix
    assert not read_owner_workbook(path).problems
    assert import_owner_workbook(programme, path).submission_id is None
