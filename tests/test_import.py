"""Importing initiative and target workbooks: real files written with openpyxl, read back,
on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from fixtures_workbooks import (
    STD_MONTHS,
    canonical_workbook,
    initiative_row,
    replace_part,
    resaved_copy,
    targets_workbook,
)
from helpers.cells import months
from helpers.ledger_reads import counts, phasing
from sqlalchemy import text

from importers import ImportProblems, import_initiatives
from ledger.api import Ledger


def initiatives(ledger: Ledger) -> dict[str, dict[str, Any]]:
    from ledger.initiatives import current_initiatives

    with ledger.reading() as conn:
        frame = current_initiatives(conn)
    return {r["external_id"]: r for r in frame.to_dict("records")}


# ------------------------------------------------------------------ the canonical layout


def test_canonical_workbook_imports_exactly(programme: Ledger, cli, tmp_path: Path) -> None:
    rows = [
        initiative_row("GR-0001", months(24, {0: 100, 1: 0.1, 2: "1,200", 3: "(350)",
                                              4: "-", 5: " 2 500.50 "})),
        initiative_row("GR-0001", months(24, {0: 5000}), metric="cost"),
        initiative_row("GR-0002", months(24, {23: 12345.67}), unit="MIN", lever="LAB",
                       stage="L3", owner="Bo Chen", description="Night shift"),
    ]
    path = canonical_workbook(tmp_path / "pipeline.xlsx", rows, total_row=True)
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 0, r.output
    assert "3 rows read" in r.stdout
    assert "2 added" in r.stdout
    assert "submission" in r.stdout
    got = phasing(programme)
    assert got == {("GR-0001", "2026-07"): 10000, ("GR-0001", "2026-08"): 10,
                   ("GR-0001", "2026-09"): 120000, ("GR-0001", "2026-10"): -35000,
                   ("GR-0001", "2026-12"): 250050, ("GR-0002", "2028-06"): 1234567}
    assert phasing(programme, "cost") == {("GR-0001", "2026-07"): 500000}
    inits = initiatives(programme)
    assert set(inits) == {"GR-0001", "GR-0002"}  # the Total row is not an initiative
    assert inits["GR-0002"]["business_unit"] == "MIN"
    assert inits["GR-0002"]["stage"] == "L3"
    assert inits["GR-0002"]["description"] == "Night shift"
    subs = programme.submissions()
    assert subs.iloc[0]["kind"] == "import"
    assert subs.iloc[0]["source_name"] == "pipeline.xlsx"
    assert len(subs.iloc[0]["source_sha256"]) == 64


def test_change_in_total_table_has_thousands_separators_csv_stays_plain(
        programme: Ledger, cli, tmp_path: Path) -> None:
    path = canonical_workbook(tmp_path / "a.xlsx",
                              [initiative_row("GR-1", months(24, {0: 1234567.5}))])
    r = cli("import", "initiatives", str(path), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "1,234,567.50" in r.stdout
    r = cli("import", "initiatives", str(path), "--dry-run", "--format", "csv")
    assert "1234567.50" in r.stdout
    assert "1,234,567.50" not in r.stdout


def test_same_file_twice_changes_nothing_and_says_so(programme: Ledger, cli,
                                                     tmp_path: Path) -> None:
    path = canonical_workbook(tmp_path / "a.xlsx",
                              [initiative_row("GR-1", months(24, {0: 10}))])
    first = cli("import", "initiatives", str(path))
    assert first.exit_code == 0, first.output
    sub_id = int(programme.submissions().iloc[0]["id"])
    before = counts(programme)
    again = cli("import", "initiatives", str(path))
    assert again.exit_code == 0
    assert f"already imported as submission {sub_id}; nothing to do" in again.stdout
    assert counts(programme) == before


def test_a_file_saved_again_while_it_is_read_is_refused(programme: Ledger,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    """The SHA-256s recorded to recognise a file later must be those of the cells read:
    a file that changes between the two is refused, nothing written."""
    from importers import reading

    path = canonical_workbook(tmp_path / "a.xlsx", [initiative_row("GR-1", months(24, {0: 1}))])
    newer = canonical_workbook(tmp_path / "b.xlsx",
                               [initiative_row("GR-1", months(24, {0: 2}))]).read_bytes()
    original = reading.read_grid

    def read_then_someone_saves(*args: Any, **kwargs: Any) -> Any:
        grid = original(*args, **kwargs)
        path.write_bytes(newer)  # Excel saves the file while tledger works on it
        return grid

    monkeypatch.setattr(reading, "read_grid", read_then_someone_saves)
    before = counts(programme)
    with pytest.raises(ImportProblems) as exc:
        import_initiatives(programme, [path])
    assert "changed while it was being read" in str(exc.value)
    assert counts(programme) == before
    monkeypatch.setattr(reading, "read_grid", original)
    assert import_initiatives(programme, [path]).facts_added == 1  # the file as it is now
    assert phasing(programme) == {("GR-1", "2026-07"): 200}


def test_same_file_with_other_parameters_is_imported_again(programme: Ledger, cli,
                                                            tmp_path: Path) -> None:
    """Already imported means: this file (or its content) with these parameters. The same
    workbook with --mode snapshot after an update, another --scale or another mapping is
    read again and compared with the ledger."""
    canonical_workbook(tmp_path / "old.xlsx", [initiative_row("GR-9", months(24, {0: 1}))])
    import_initiatives(programme, [tmp_path / "old.xlsx"])
    path = canonical_workbook(tmp_path / "pro.xlsx",
                              [initiative_row("GR-1", months(24, {0: 10}))])
    first = import_initiatives(programme, [path])
    assert import_initiatives(programme, [path]).already_imported
    # Snapshot after update: GR-9 (same unit PRO, not in the file) is withdrawn now.
    r = cli("import", "initiatives", str(path), "--mode", "snapshot")
    assert r.exit_code == 0, r.output
    assert "1 withdrawn" in r.stdout
    assert "already imported" not in r.stdout
    again = cli("import", "initiatives", str(path), "--mode", "snapshot")
    assert "already imported as submission" in again.stdout
    # Another scale: the amounts are read again, times 1000.
    scaled = import_initiatives(programme, [path], scale=Decimal(1000))
    assert not scaled.already_imported
    assert scaled.facts_changed == 1
    assert phasing(programme)[("GR-1", "2026-07")] == 10_000 * 100
    assert import_initiatives(programme, [path], scale=Decimal("1E+3")).already_imported
    # A mapping is another way to read the file: read again (here at scale 1: back to
    # 10.00); the same mapping settings written differently are the same mapping.
    mapping = tmp_path / "m.toml"
    mapping.write_text('sheet = "Initiatives"\n')
    with_mapping = import_initiatives(programme, [path], mapping=mapping)
    assert not with_mapping.already_imported
    assert with_mapping.facts_changed == 1
    assert phasing(programme)[("GR-1", "2026-07")] == 1000
    mapping.write_text('# the same settings\nsheet = "Initiatives"  \n')
    assert import_initiatives(programme, [path], mapping=mapping).already_imported
    assert first.submission_id is not None


def test_copy_with_the_same_content_is_recognised_without_reading_it(
        programme: Ledger, cli, tmp_path: Path) -> None:
    """A byte-different copy (saved again, downloaded from SharePoint: new document
    properties, recompressed) holds the same sheets and cells: it is the imported file."""
    path = canonical_workbook(tmp_path / "pipeline.xlsx",
                              [initiative_row("GR-1", months(24, {0: 10, 5: 20}))])
    first = import_initiatives(programme, [path])
    copy = resaved_copy(path, tmp_path / "pipeline (SharePoint).xlsx")
    assert copy.read_bytes() != path.read_bytes()
    before = counts(programme)
    again = cli("import", "initiatives", str(copy))
    assert again.exit_code == 0, again.output
    assert (f"already imported as submission {first.submission_id} (same content as "
            "pipeline.xlsx); nothing to do") in again.stdout
    assert counts(programme) == before
    with programme.reading() as conn:
        parts, content = conn.execute(text(
            "SELECT content_parts, content_sha256 FROM submission WHERE id = :i"),
            {"i": first.submission_id}).one()
    assert len(parts) == 64
    assert len(content) == 64

    # One cell under xl/ differs: a different workbook, read and imported.
    edited = replace_part(copy, tmp_path / "edited.xlsx", "xl/worksheets/sheet1.xml",
                          lambda b: b.replace(b"<v>20</v>", b"<v>21</v>", 1))
    result = import_initiatives(programme, [edited])
    assert not result.already_imported
    assert (result.facts_added, result.facts_changed, result.facts_removed) == (0, 1, 0)


def test_same_zip_directory_is_confirmed_by_the_content_sha256(
        programme: Ledger, tmp_path: Path) -> None:
    """Equal names, sizes and CRC-32s only find a candidate; the SHA-256 of the bytes
    decides. A stored SHA-256 that disagrees (as after a CRC-32 collision) means: read it."""
    path = canonical_workbook(tmp_path / "a.xlsx",
                              [initiative_row("GR-1", months(24, {0: 10}))])
    first = import_initiatives(programme, [path])
    with programme.writing() as conn:
        conn.execute(text("UPDATE submission SET content_sha256 = :x WHERE id = :i"),
                     {"x": "0" * 64, "i": first.submission_id})
    result = import_initiatives(programme, [resaved_copy(path, tmp_path / "b.xlsx")])
    assert not result.already_imported
    assert result.rows_read == 1
    assert not result.changed


def test_targets_copy_with_the_same_content_is_recognised(programme: Ledger, cli,
                                                          tmp_path: Path) -> None:
    path = targets_workbook(tmp_path / "t.xlsx", [["benefit", "programme", *([1000] * 24)]])
    assert cli("import", "targets", str(path)).exit_code == 0
    r = cli("import", "targets", str(resaved_copy(path, tmp_path / "t2.xlsx")))
    assert r.exit_code == 0, r.output
    assert "(same content as t.xlsx); nothing to do" in r.stdout
    r = cli("import", "targets", str(path), "--scale", "1000")  # other parameters: read
    assert r.exit_code == 0, r.output
    assert "24 changed" in r.stdout, r.output


def test_updated_workbook_writes_only_the_changed_facts(programme: Ledger,
                                                        tmp_path: Path) -> None:
    base = [initiative_row(f"GR-{i}", months(24, {m: 1000 + m for m in range(24)}))
            for i in range(5)]
    canonical_workbook(tmp_path / "v1.xlsx", base)
    import_initiatives(programme, [tmp_path / "v1.xlsx"])
    v2 = [list(r) for r in base]
    v2[0][9 + 3] = 7777            # GR-0 Oct-26 changed
    v2[1][9 + 5] = None            # GR-1 Dec-26 emptied
    v2[2][5] = "L4"                # GR-2 stage moved
    v2.append(initiative_row("GR-9", months(24, {0: 1})))
    canonical_workbook(tmp_path / "v2.xlsx", v2)
    result = import_initiatives(programme, [tmp_path / "v2.xlsx"], note="October update")
    assert result.initiatives_added == ["GR-9"]
    assert result.initiatives_changed == ["GR-2"]
    assert (result.facts_added, result.facts_changed, result.facts_removed) == (1, 1, 1)
    sub = result.submission_id
    with programme.reading() as conn:
        new_versions = conn.execute(text("SELECT COUNT(*) FROM phasing WHERE valid_from = :s"),
                                    {"s": sub}).scalar_one()
        ended = conn.execute(text("SELECT COUNT(*) FROM phasing WHERE valid_to = :s"),
                             {"s": sub}).scalar_one()
    assert (new_versions, ended) == (2, 2)
    got = phasing(programme)
    assert got[("GR-0", "2026-10")] == 777700
    assert ("GR-1", "2026-12") not in got
    assert initiatives(programme)["GR-2"]["stage"] == "L4"
    total = result.total_change.set_index(["metric", "scenario"])
    change = total.loc[("benefit", "plan"), "change"]
    assert change == Decimal("7777") - Decimal("1003") - Decimal("1005") + Decimal("1")
    assert total.loc[("benefit", "plan"), "after"] - total.loc[("benefit", "plan"),
                                                               "before"] == change


def test_a_row_emptied_of_all_amounts_ends_its_phasing(programme: Ledger,
                                                       tmp_path: Path) -> None:
    canonical_workbook(tmp_path / "v1.xlsx", [initiative_row("GR-1", months(24, {0: 5, 1: 6}))])
    import_initiatives(programme, [tmp_path / "v1.xlsx"])
    canonical_workbook(tmp_path / "v2.xlsx", [initiative_row("GR-1", months(24, {}))])
    result = import_initiatives(programme, [tmp_path / "v2.xlsx"])
    assert result.facts_removed == 2
    assert phasing(programme) == {}


def _three_initiatives(programme: Ledger, tmp_path: Path) -> None:
    rows = [initiative_row("GR-1", months(24, {0: 1})),
            initiative_row("GR-2", months(24, {0: 2})),
            initiative_row("GR-3", months(24, {0: 3}), unit="MIN")]
    canonical_workbook(tmp_path / "all.xlsx", rows)
    import_initiatives(programme, [tmp_path / "all.xlsx"])


def test_update_mode_leaves_missing_initiatives_alone(programme: Ledger,
                                                      tmp_path: Path) -> None:
    _three_initiatives(programme, tmp_path)
    canonical_workbook(tmp_path / "pro.xlsx", [initiative_row("GR-1", months(24, {0: 9}))])
    result = import_initiatives(programme, [tmp_path / "pro.xlsx"])
    assert result.initiatives_withdrawn == []
    assert {k: v["status"] for k, v in initiatives(programme).items()} == {
        "GR-1": "active", "GR-2": "active", "GR-3": "active"}
    assert phasing(programme)[("GR-2", "2026-07")] == 200


def test_snapshot_withdraws_missing_initiatives_of_the_files_units(programme: Ledger, cli,
                                                                   tmp_path: Path) -> None:
    _three_initiatives(programme, tmp_path)
    canonical_workbook(tmp_path / "pro.xlsx", [initiative_row("GR-1", months(24, {0: 9}))])
    r = cli("import", "initiatives", str(tmp_path / "pro.xlsx"), "--mode", "snapshot")
    assert r.exit_code == 0, r.output
    assert "1 withdrawn" in r.stdout
    status = {k: v["status"] for k, v in initiatives(programme).items()}
    # GR-2 is in PRO (the file's unit) and missing: withdrawn. GR-3 is in MIN: untouched.
    assert status == {"GR-1": "active", "GR-2": "withdrawn", "GR-3": "active"}
    got = phasing(programme)
    assert ("GR-2", "2026-07") not in got
    assert got[("GR-3", "2026-07")] == 300


def test_dry_run_shows_the_change_and_writes_nothing(programme: Ledger, cli,
                                                     tmp_path: Path) -> None:
    _three_initiatives(programme, tmp_path)
    before = counts(programme)
    canonical_workbook(tmp_path / "pro.xlsx", [initiative_row("GR-1", months(24, {0: 9})),
                                               initiative_row("GR-7", months(24, {1: 4}))])
    r = cli("import", "initiatives", str(tmp_path / "pro.xlsx"), "--mode", "snapshot",
            "--dry-run", "--format", "json")
    assert r.exit_code == 0, r.output
    assert counts(programme) == before
    table = json.loads(r.stdout)
    assert table == [{"metric": "benefit", "scenario": "plan", "before": "6.00",
                      "after": "16.00", "change": "10.00"}]
    assert "1 added" in r.stderr
    assert "1 withdrawn" in r.stderr
    assert "dry run" in r.stderr
    r = cli("import", "initiatives", str(tmp_path / "pro.xlsx"), "--dry-run")
    assert "initiatives added: GR-7" in r.stdout


# ------------------------------------------------------------------ problems


def test_every_problem_in_one_run_with_its_cell(programme: Ledger, cli,
                                                tmp_path: Path) -> None:
    canonical_workbook(tmp_path / "ok.xlsx", [initiative_row("GR-5", months(24, {0: 1}))])
    import_initiatives(programme, [tmp_path / "ok.xlsx"])
    rows = [
        initiative_row("GR-1", months(24, {3: "abc"})),              # M5 not a number
        initiative_row("GR-2", months(24, {}), unit="PROO"),          # D6 unknown unit
        initiative_row("GR-3", months(24, {}), lever="PRCO"),         # E7 unknown lever
        initiative_row("GR-1", months(24, {})),                        # A8 duplicate
        initiative_row("GR-5", months(24, {}), owner="Someone Else"),  # C9 other owner
        initiative_row("GR-6", months(24, {}), stage="L9"),            # F10 unknown stage
        initiative_row("GR-7", months(24, {}), metric="benefits"),     # H11 unknown metric
    ]
    path = canonical_workbook(tmp_path / "bad.xlsx", rows)
    before = counts(programme)
    report = tmp_path / "problems.csv"
    r = cli("import", "initiatives", str(path), "--report", str(report))
    assert r.exit_code == 1
    assert counts(programme) == before
    assert "error: 7 problems in bad.xlsx" in r.stderr
    with report.open() as handle:
        found = {(row["cell"], row["severity"]): row for row in csv.DictReader(handle)}
    assert set(found) == {(c, "error") for c in ("M5", "D6", "E7", "A8", "C9", "F10", "H11")}
    assert found[("M5", "error")]["found"] == "'abc'"
    assert "did you mean 'PRO'" in found[("D6", "error")]["expected"]
    assert "did you mean 'PROC'" in found[("E7", "error")]["expected"]
    assert "first in row 5" in found[("A8", "error")]["found"]
    assert "'Ana Lima'" in found[("C9", "error")]["expected"]
    assert "did you mean 'benefit'" in found[("H11", "error")]["expected"]
    assert "Initiatives!M5" in r.stderr


def test_problem_report_as_xlsx_keeps_formulas_as_text(programme: Ledger, cli,
                                                       tmp_path: Path) -> None:
    rows = [initiative_row("GR-1", months(24, {0: "=cmd|' /C calc'!A0"})),
            initiative_row("GR-2", months(24, {0: "@SUM(1)"}))]
    path = canonical_workbook(tmp_path / "evil.xlsx", rows)
    # openpyxl would store "=cmd..." as a formula; make it a text cell as a user would type.
    wb = openpyxl.load_workbook(path)
    wb["Initiatives"]["J5"].data_type = "s"
    wb.save(path)
    report = tmp_path / "problems.xlsx"
    r = cli("import", "initiatives", str(path), "--report", str(report))
    assert r.exit_code == 1
    sheet = openpyxl.load_workbook(report)["Problems"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    cells = {row[3]: row for row in values}
    assert set(cells) == {"J5", "J6"}
    for row in values:
        for v in row:
            assert v is None or isinstance(v, str)
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value)


def test_decimals_beyond_the_metric_are_rounded_with_a_warning(programme: Ledger,
                                                               tmp_path: Path) -> None:
    rows = [initiative_row("GR-1", months(24, {0: 2.345, 1: -2.345, 2: "1.005"})),
            initiative_row("GR-1", months(24, {0: 1.2345, 1: 1000 / 7}), metric="volume")]
    canonical_workbook(tmp_path / "d.xlsx", rows)
    result = import_initiatives(programme, [tmp_path / "d.xlsx"])
    assert phasing(programme)[("GR-1", "2026-07")] == 235
    assert phasing(programme)[("GR-1", "2026-08")] == -235
    assert phasing(programme)[("GR-1", "2026-09")] == 101
    vol = phasing(programme, "volume")
    assert vol == {("GR-1", "2026-07"): 1235, ("GR-1", "2026-08"): 142857}
    cells = {w.cell: w for w in result.warnings}
    assert set(cells) == {"J5", "K5", "L5", "J6", "K6"}
    assert cells["J5"].expected == "at most 2 decimals: rounded to 2.35"
    assert cells["J6"].expected == "at most 3 decimals: rounded to 1.235"


def test_unit_note_in_thousands_needs_a_scale(programme: Ledger, cli, tmp_path: Path) -> None:
    path = canonical_workbook(tmp_path / "k.xlsx", [initiative_row("GR-1", months(24, {0: 1.5}))],
                              note="Amounts in AUD 000")
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 1
    assert "Initiatives!A2" in r.stderr
    assert "--scale 1000" in r.stderr
    r = cli("import", "initiatives", str(path), "--scale", "1000")
    assert r.exit_code == 0, r.output
    assert phasing(programme) == {("GR-1", "2026-07"): 150000}


def test_formula_without_saved_value_and_error_cells_are_reported(programme: Ledger,
                                                                  tmp_path: Path) -> None:
    rows = [initiative_row("GR-1", months(24, {0: "=100*2", 1: 5}))]
    path = canonical_workbook(tmp_path / "f.xlsx", rows)
    with pytest.raises(ImportProblems) as info:
        import_initiatives(programme, [path])
    assert [(p.cell, "formula without a saved value" in p.found)
            for p in info.value.problems] == [("J5", True)]
    # A #REF! error value, as Excel saves it, is not taken as "no amount".
    errored = replace_part(path, tmp_path / "e.xlsx", "xl/worksheets/sheet1.xml",
                           lambda xml: xml.replace(b'<c r="K5" t="n"><v>5</v></c>',
                                                   b'<c r="K5" t="e"><v>#REF!</v></c>')
                           .replace(b'<c r="K5"><v>5</v></c>',
                                    b'<c r="K5" t="e"><v>#REF!</v></c>'))
    with pytest.raises(ImportProblems) as info:
        import_initiatives(programme, [errored])
    found = {p.cell: p.found for p in info.value.problems}
    assert found["K5"] == "#REF!"


def test_libreoffice_recalculated_formulas_are_read_by_value(programme: Ledger, backend: str,
                                                             tmp_path: Path) -> None:
    if backend != "sqlite":
        pytest.skip("one LibreOffice run is enough; the database plays no part here")
    import shutil
    import subprocess

    if shutil.which("soffice") is None:  # pragma: no cover
        pytest.skip("LibreOffice not installed")
    (tmp_path / "src").mkdir()
    src = canonical_workbook(tmp_path / "src" / "f.xlsx",
                             [initiative_row("GR-1", months(24, {0: "=100*2+0.125"}))])
    out = tmp_path / "out"
    subprocess.run(["soffice", "--headless", "--calc", "--convert-to", "xlsx", "--outdir",
                    str(out), str(src)], check=True, capture_output=True, timeout=120,
                   env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    result = import_initiatives(programme, [out / "f.xlsx"])
    assert phasing(programme) == {("GR-1", "2026-07"): 20013}  # 200.125 rounded half away
    assert [w.cell for w in result.warnings] == ["J5"]


# ------------------------------------------------------------------ other layouts


MESSY_MAPPING = """
sheet = "Pipeline FY27"
header_row = "auto"
scale = 1000

[columns]
id = "Initiative ref"
name = "Initiative"
owner = "Accountable"
business_unit = "BU"
lever = "Value lever"
stage = "Gate"

[months]
columns = "auto"

[skip]
id_matches = ["^Check"]

[defaults]
metric = "benefit"
scenario = "forecast"
"""


def _messy_workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = "Cover"
    cover["A1"] = "Read me first"
    ws = wb.create_sheet("Pipeline FY27")
    ws.append(["Processing cost programme: pipeline"])
    ws.append(["All figures AUD 000, in-month"])
    ws.append(["Prepared by the transformation office"])
    ws.append([])
    ws.append(["Initiative ref", "Initiative", "Accountable", "BU", "Value lever", "Gate",
               "Jul-26", "Aug 2026", "2026-09", "10/2026", "FY27 M05", datetime(2026, 12, 1),
               "FY27 total"])
    ws.append(["P-001", "Crusher liners", "Ana Lima", "pro", "MAINT", "L2",
               "1,200", "(350)", "-", None, 2.5, 0.125, "=SUM(G6:L6)"])
    ws.append(["P-002", "Power contract", "Bo Chen", "MIN", "ENERGY", "L3",
               10, 20, 30, 40, 50, 60, "=SUM(G7:L7)"])
    ws.append([None, None, None, None, None, None, None, None, None, None, None, None, None])
    ws.append(["Check: totals agree", None, None, None, None, None, 1, 1, 1, 1, 1, 1])
    ws.append(["Total", None, None, None, None, None, "=SUM(G6:G7)"])
    wb.save(path)
    return path


def test_messy_layout_with_a_mapping(programme: Ledger, cli, tmp_path: Path) -> None:
    path = _messy_workbook(tmp_path / "messy.xlsx")
    mapping = tmp_path / "messy.toml"
    mapping.write_text(MESSY_MAPPING)
    r = cli("import", "initiatives", str(path), "--mapping", str(mapping))
    assert r.exit_code == 0, r.output
    got = phasing(programme, "benefit", "forecast")
    assert got == {
        ("P-001", "2026-07"): 120000000, ("P-001", "2026-08"): -35000000,
        ("P-001", "2026-11"): 250000, ("P-001", "2026-12"): 12500,
        ("P-002", "2026-07"): 1000000, ("P-002", "2026-08"): 2000000,
        ("P-002", "2026-09"): 3000000, ("P-002", "2026-10"): 4000000,
        ("P-002", "2026-11"): 5000000, ("P-002", "2026-12"): 6000000,
    }
    inits = initiatives(programme)
    assert set(inits) == {"P-001", "P-002"}
    assert inits["P-001"]["business_unit"] == "PRO"  # "pro" matched case-insensitively
    assert inits["P-002"]["lever"] == "ENERGY"


def test_mapping_naming_a_missing_column_says_which(programme: Ledger, cli,
                                                    tmp_path: Path) -> None:
    path = _messy_workbook(tmp_path / "messy.xlsx")
    mapping = tmp_path / "m.toml"
    mapping.write_text(MESSY_MAPPING.replace('"Gate"', '"Stage gate"'))
    r = cli("import", "initiatives", str(path), "--mapping", str(mapping))
    assert r.exit_code == 1
    assert "no column headed 'Stage gate'" in r.stderr
    mapping.write_text("[columns]\nidd = 'x'\n")
    r = cli("import", "initiatives", str(path), "--mapping", str(mapping))
    assert r.exit_code == 1
    assert "unknown column role 'idd'" in r.stderr


def test_long_layout(programme: Ledger, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Data"
    ws.append(["Initiative ID", "Name", "Owner", "Stage", "Metric", "Month", "Amount"])
    ws.append(["L-1", "Alpha", "Ana Lima", "L1", "benefit", date(2026, 7, 1), 100])
    ws.append(["L-1", "Alpha", "Ana Lima", "L1", "benefit", "Aug-26", "2,000.5"])
    ws.append(["L-1", "Alpha", "Ana Lima", "L1", "cost", "FY27 M03", 7])
    ws.append(["L-2", "Beta", "Bo Chen", "L0", "benefit", "2026-07", None])
    ws.append(["L-2", "Beta", "Bo Chen", "L0", "benefit", "2026-08", 1])
    wb.save(tmp_path / "long.xlsx")
    result = import_initiatives(programme, [tmp_path / "long.xlsx"])
    assert result.initiatives_added == ["L-1", "L-2"]
    assert phasing(programme) == {("L-1", "2026-07"): 10000, ("L-1", "2026-08"): 200050,
                                  ("L-2", "2026-08"): 100}
    assert phasing(programme, "cost") == {("L-1", "2026-09"): 700}
    # The same month twice for one initiative and metric is refused.
    ws.append(["L-2", "Beta", "Bo Chen", "L0", "benefit", "Aug-26", 2])
    wb.save(tmp_path / "long2.xlsx")
    with pytest.raises(ImportProblems) as info:
        import_initiatives(programme, [tmp_path / "long2.xlsx"])
    assert [p.cell for p in info.value.problems] == ["G7"]


def test_phasing_only_workbook_updates_known_initiatives(programme: Ledger,
                                                         tmp_path: Path) -> None:
    canonical_workbook(tmp_path / "v1.xlsx", [initiative_row("GR-1", months(24, {0: 1}))])
    import_initiatives(programme, [tmp_path / "v1.xlsx"])
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["ID", "Jul-26", "Aug-26"])
    ws.append(["GR-1", 5, 6])
    ws.append(["GR-NEW", 5, 6])
    wb.save(tmp_path / "p.xlsx")
    with pytest.raises(ImportProblems) as info:
        import_initiatives(programme, [tmp_path / "p.xlsx"])
    assert {p.found for p in info.value.problems} == {
        "no Name column for new initiative 'GR-NEW'", "no Owner column for new initiative "
        "'GR-NEW'", "no Stage column for new initiative 'GR-NEW'"}
    ws.delete_rows(3)
    wb.save(tmp_path / "p.xlsx")
    result = import_initiatives(programme, [tmp_path / "p.xlsx"])
    assert result.initiatives_changed == []
    assert phasing(programme) == {("GR-1", "2026-07"): 500, ("GR-1", "2026-08"): 600}


# ------------------------------------------------------------------ several files


def test_prefetched_current_phasing_gives_the_same_import(programme: Ledger, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    """A big workbook's current phasing is read on a second thread during the check
    (importers.initiatives._CurrentPrefetch); forced on for small files here. Two files in one
    command: the second is diffed against what the first wrote in the same transaction."""
    from importers import initiatives

    used: list[bool] = []
    original = initiatives._CurrentPrefetch.current

    def recording(self: Any, *args: Any) -> Any:
        got = original(self, *args)
        used.append(got is not None)
        return got

    monkeypatch.setattr(initiatives._CurrentPrefetch, "current", recording)
    monkeypatch.setenv("TLEDGER_PREFETCH_MIN_FACTS", "1")
    base = [initiative_row(f"GR-{i}", months(24, {m: 100 * i + m for m in range(24)}))
            for i in range(1, 4)]
    base.append(initiative_row("GR-1", months(24, {0: 5}), metric="cost"))
    canonical_workbook(tmp_path / "v1.xlsx", base)
    import_initiatives(programme, [tmp_path / "v1.xlsx"])
    a = [list(r) for r in base]
    a[0][9 + 0] = 7          # GR-1 Jul-26: 100 -> 7
    a[1][9 + 3] = None       # GR-2 Oct-26 emptied
    b = [list(r) for r in a]
    b[0][9 + 0] = 8          # GR-1 Jul-26 again: 7 -> 8 (against a's value)
    b[0][9 + 1] = 9          # GR-1 Aug-26: 101 -> 9
    b[3][9 + 1] = "12.50"    # GR-1 cost Aug-26 added
    canonical_workbook(tmp_path / "a.xlsx", a)
    canonical_workbook(tmp_path / "b.xlsx", b)
    result = import_initiatives(programme, [tmp_path / "a.xlsx", tmp_path / "b.xlsx"])
    assert used == [True, True, True]  # v1, a and b all diffed against the prefetch
    assert (result.facts_added, result.facts_changed, result.facts_removed) == (1, 3, 1)
    plan = phasing(programme)
    assert plan[("GR-1", "2026-07")] == 800
    assert plan[("GR-1", "2026-08")] == 900
    assert ("GR-2", "2026-10") not in plan
    assert plan[("GR-3", "2026-10")] == 30300
    assert phasing(programme, "cost") == {("GR-1", "2026-07"): 500, ("GR-1", "2026-08"): 1250}
    # The same two files again: nothing to do, whichever way the ledger is read.
    again = import_initiatives(programme, [tmp_path / "b.xlsx"])
    assert again.already_imported


def test_several_files_one_transaction_one_submission_each(programme: Ledger,
                                                           tmp_path: Path) -> None:
    a = canonical_workbook(tmp_path / "a.xlsx", [initiative_row("A-1", months(24, {0: 1}))])
    b = canonical_workbook(tmp_path / "b.xlsx", [initiative_row("B-1", months(24, {0: 2}))])
    bad = canonical_workbook(tmp_path / "bad.xlsx",
                             [initiative_row("C-1", months(24, {0: "x"}))])
    before = counts(programme)
    with pytest.raises(ImportProblems) as info:
        import_initiatives(programme, [a, b, bad])
    assert {p.file for p in info.value.problems} == {"bad.xlsx"}
    assert counts(programme) == before
    result = import_initiatives(programme, [a, b])
    assert len(result.submission_ids) == 2
    subs = programme.submissions()
    assert list(subs["source_name"][:2]) == ["b.xlsx", "a.xlsx"]
    again = import_initiatives(programme, [a, b])
    assert again.already_imported
    assert again.submission_ids == []


# ------------------------------------------------------------------ targets


def test_import_targets(programme: Ledger, cli, tmp_path: Path) -> None:
    rows = [["benefit", "programme", *([1000] * 24)],
            ["benefit", "unit:PRO", *([600] * 12), *([None] * 12)],
            ["cost", "lever:PROC", "1,000.50", *([None] * 23)]]
    path = targets_workbook(tmp_path / "t.xlsx", rows)
    r = cli("import", "targets", str(path), "--note", "board figure")
    assert r.exit_code == 0, r.output
    assert "3 rows read; target months: 37 added, 0 changed, 0 removed; submission" in r.stdout
    with programme.reading() as conn:
        from ledger.store import current_targets

        cur = current_targets(conn)
    assert len(cur) == 24 + 12 + 1
    by = cur.groupby(["scope_kind", "scope_code"])["amount_minor"].sum().to_dict()
    assert by == {("programme", ""): 2400000, ("business_unit", "PRO"): 720000,
                  ("lever", "PROC"): 100050}
    assert cli("import", "targets", str(path)).stdout.startswith("already imported")
    bad = targets_workbook(tmp_path / "bad.xlsx", [["benefit", "unit:PRR", 1]])
    r = cli("import", "targets", str(bad))
    assert r.exit_code == 1
    assert "did you mean 'PRO'" in r.stderr
    assert "Targets!B5" in r.stderr


def test_fiscal_month_headers_follow_the_programme_fy_start(programme: Ledger,
                                                            tmp_path: Path) -> None:
    labels = [f"FY{27 + (i // 12)} M{i % 12 + 1:02d}" for i in range(24)]
    path = canonical_workbook(tmp_path / "fy.xlsx",
                              [initiative_row("GR-1", months(24, {0: 1, 23: 2}))],
                              months=labels)
    import_initiatives(programme, [path])
    assert phasing(programme) == {("GR-1", "2026-07"): 100, ("GR-1", "2028-06"): 200}


def test_total_change_frame_has_decimal_amounts(programme: Ledger, tmp_path: Path) -> None:
    path = canonical_workbook(tmp_path / "x.xlsx",
                              [initiative_row("GR-1", months(24, {0: 0.1, 1: 0.2}))])
    result = import_initiatives(programme, [path])
    row = result.total_change.iloc[0]
    assert isinstance(row["after"], Decimal)
    assert row["after"] == Decimal("0.30")
    assert list(result.total_change.columns) == ["metric", "scenario", "before", "after",
                                                 "change"]
    assert isinstance(result.total_change, pd.DataFrame)
    assert len(STD_MONTHS) == 24


def test_the_documented_mapping_example_is_valid(programme: Ledger, tmp_path: Path) -> None:
    from importers.mapping import load_mapping

    doc = (Path(__file__).parent.parent / "docs" / "importing.md").read_text()
    block = next(b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]
                 if b.startswith("# q3.toml"))
    (tmp_path / "q3.toml").write_text(block)
    mapping = load_mapping(tmp_path / "q3.toml")
    assert mapping.sheet == "Pipeline FY27"
    assert mapping.scale == Decimal(1000)
    assert mapping.defaults == {"metric": "benefit", "scenario": "forecast"}
    # It reads the messy workbook of the test above, except for its Notes column.
    (tmp_path / "q3.toml").write_text(block.replace('description = "Notes"\n', ""))
    import_initiatives(programme, [_messy_workbook(tmp_path / "q3.xlsx")],
                       mapping=tmp_path / "q3.toml")
    assert phasing(programme, "benefit", "forecast")[("P-002", "2026-07")] == 1000000


def test_owner_workbooks_go_through_the_owner_rules(programme: Ledger, cli,
                                                    tmp_path: Path) -> None:
    canonical_workbook(tmp_path / "all.xlsx",
                       [initiative_row("GR-1", months(24, {0: 1, 1: 2})),
                        initiative_row("GR-2", months(24, {0: 3}), owner="Bo Chen")])
    assert cli("import", "initiatives", str(tmp_path / "all.xlsx")).exit_code == 0
    out = tmp_path / "ana.xlsx"
    r = cli("phasing", "export", "--owner", "Ana Lima", "--out", str(out))
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    assert ws.cell(5, 1).value == "GR-1"
    ws.cell(5, 11).value = 99
    wb.save(out)
    r = cli("import", "initiatives", str(out), "--mode", "snapshot")
    assert r.exit_code == 1
    assert "owner workbook" in r.stderr
    r = cli("import", "initiatives", str(out))
    assert r.exit_code == 0, r.output
    assert "Ana Lima's 1 initiative," in r.stdout
    assert phasing(programme)[("GR-1", "2026-08")] == 9900
    assert phasing(programme)[("GR-2", "2026-07")] == 300


def _bulk_load_first_import(programme: Ledger, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> Path:
    """Lower the bulk-load threshold, import 3 initiatives x 24 months (72 facts, through
    the bulk path) and return a second workbook of 4 new initiatives, not yet imported."""
    import ledger.bulkload

    monkeypatch.setattr(ledger.bulkload, "BULK_INDEX_THRESHOLD", 10)
    rows = [initiative_row(f"GR-{i}", months(24, {m: i + m for m in range(24)}))
            for i in range(3)]
    canonical_workbook(tmp_path / "v1.xlsx", rows)
    import_initiatives(programme, [tmp_path / "v1.xlsx"])
    return canonical_workbook(tmp_path / "v2.xlsx", [initiative_row(f"GR-{i}", [1] * 24)
                                                     for i in range(5, 9)])


def test_large_sqlite_import_rebuilds_the_phasing_indexes_exactly(
        programme: Ledger, backend: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "sqlite":
        pytest.skip("the index rebuild is a SQLite bulk-load path")

    def indexes() -> list[tuple[str, str]]:
        with programme.reading() as conn:
            return sorted(conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'phasing' AND sql IS NOT NULL")).all())

    before = indexes()
    assert len(before) == 4
    v2 = _bulk_load_first_import(programme, tmp_path, monkeypatch)
    assert indexes() == before
    assert len(phasing(programme)) == 72
    # A duplicate current version is still refused once the unique index is rebuilt, and
    # the failed transaction leaves the indexes as they were.
    with programme.writing() as conn:
        conn.execute(text("CREATE TRIGGER dup AFTER INSERT ON phasing WHEN NEW.month = "
                          "'2026-07-01' AND NEW.amount_minor = 100 BEGIN INSERT INTO phasing "
                          "(initiative_id, metric_id, scenario, month, amount_minor, "
                          "valid_from, valid_to) VALUES (NEW.initiative_id, NEW.metric_id, "
                          "NEW.scenario, NEW.month, 5, NEW.valid_from, NEW.valid_to); END"))
    from ledger.errors import LedgerError

    with pytest.raises(LedgerError, match="rebuilding index uq_phasing_one_current failed"):
        import_initiatives(programme, [v2])
    assert indexes() == before
    assert len(phasing(programme)) == 72


def _pg_phasing_definitions(programme: Ledger) -> list[tuple[str, str]]:
    """Every constraint and index of ``phasing``, its id sequence and its grants."""
    with programme.reading() as conn:
        return sorted(conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'phasing'::regclass "
            "UNION ALL SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'phasing' "
            "UNION ALL SELECT 'sequence', pg_get_serial_sequence('phasing', 'id') "
            "UNION ALL SELECT 'grants', COALESCE(CAST(relacl AS TEXT), '') FROM pg_class "
            "WHERE oid = 'phasing'::regclass")).all())


def _pg_phasing_oid(programme: Ledger) -> int:
    with programme.reading() as conn:
        return int(conn.execute(text("SELECT CAST('phasing'::regclass AS OID)")).scalar_one())


def test_large_postgresql_first_import_loads_a_copy_that_keeps_every_definition(
        programme: Ledger, backend: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "postgresql":
        pytest.skip("the load beside the table is a PostgreSQL bulk-load path")
    before = _pg_phasing_definitions(programme)
    assert len([d for d in before if d[0].startswith("fk_")]) == 3
    empty_oid = _pg_phasing_oid(programme)
    v2 = _bulk_load_first_import(programme, tmp_path, monkeypatch)
    assert _pg_phasing_oid(programme) != empty_oid  # loaded beside, then swapped in
    assert _pg_phasing_definitions(programme) == before
    assert len(phasing(programme)) == 72
    # A table with rows is never swapped (a reader's older snapshot would lose them): the
    # next big batch goes through the keys and indexes, and its ids follow on.
    loaded_oid = _pg_phasing_oid(programme)
    import_initiatives(programme, [v2])
    assert _pg_phasing_oid(programme) == loaded_oid
    assert _pg_phasing_definitions(programme) == before
    assert len(phasing(programme)) == 72 + 96
    with programme.reading() as conn:
        assert conn.execute(text("SELECT COUNT(DISTINCT id), MIN(id) FROM phasing")).one() \
            == (168, 1)


def test_large_postgresql_first_import_keeps_a_table_with_grants_and_its_grants(
        programme: Ledger, backend: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "postgresql":
        pytest.skip("the load beside the table is a PostgreSQL bulk-load path")
    with programme.writing() as conn:
        conn.execute(text("GRANT SELECT ON phasing TO PUBLIC"))
    before = _pg_phasing_definitions(programme)
    oid = _pg_phasing_oid(programme)
    _bulk_load_first_import(programme, tmp_path, monkeypatch)
    assert _pg_phasing_oid(programme) == oid
    assert _pg_phasing_definitions(programme) == before
    assert len(phasing(programme)) == 72


def test_large_postgresql_first_import_with_a_row_breaking_a_key_writes_nothing(
        programme: Ledger, backend: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "postgresql":
        pytest.skip("the load beside the table is a PostgreSQL bulk-load path")
    from ledger.errors import LedgerError

    # The fault: every table the import creates to load into gets a trigger that adds a
    # row with an unknown metric, so re-adding the foreign key to the copy must fail.
    with programme.writing() as conn:
        conn.execute(text(
            "CREATE FUNCTION bad_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.amount_minor = 100 AND NEW.month = '2026-07-01' THEN EXECUTE format("
            "'INSERT INTO %I (initiative_id, metric_id, scenario, month, amount_minor, "
            "valid_from, valid_to) VALUES ($1, 999999, $2, $3, 5, $4, $5)', TG_TABLE_NAME) "
            "USING NEW.initiative_id, NEW.scenario, NEW.month, NEW.valid_from, NEW.valid_to; "
            "END IF; RETURN NEW; END $$"))
        conn.execute(text(
            "CREATE FUNCTION bad_load() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
            "DECLARE r record; BEGIN FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() "
            "WHERE command_tag = 'CREATE TABLE' LOOP EXECUTE 'CREATE TRIGGER bad AFTER INSERT "
            "ON ' || r.object_identity || ' FOR EACH ROW EXECUTE FUNCTION bad_row()'; "
            "END LOOP; END $$"))
        conn.execute(text("CREATE EVENT TRIGGER bad_load ON ddl_command_end "
                          "WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION bad_load()"))
    before = _pg_phasing_definitions(programme)
    oid = _pg_phasing_oid(programme)
    try:
        with pytest.raises(LedgerError, match="breaks fk_phasing_metric_id_metric"):
            _bulk_load_first_import(programme, tmp_path, monkeypatch)
    finally:
        with programme.writing() as conn:
            conn.execute(text("DROP EVENT TRIGGER bad_load"))
    assert _pg_phasing_oid(programme) == oid
    assert _pg_phasing_definitions(programme) == before
    assert phasing(programme) == {}
    with programme.reading() as conn:
        assert conn.execute(text("SELECT to_regclass('phasing__load')")).scalar() is None
