"""An ordinary initiatives workbook saved before newer ledger edits does not silently revert
them: the import is refused with the value the file was based on, the ledger's value now
and the file's, unless --force (recorded). Real workbooks, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fixtures_workbooks import canonical_workbook, initiative_row
from helpers.cells import months
from helpers.ledger_reads import counts, phasing
from openpyxl.packaging.custom import CustomPropertyList, StringProperty
from sqlalchemy import text

from importers import import_initiatives
from importers.stale import StaleWorkbook, read_stamp
from ledger.api import Ledger
from ledger.phasing import set_phasing, set_stage


def pipeline(path: Path, gr1: dict[int, Any], gr2: dict[int, Any], *,
             stage1: str = "L2", gr3: dict[int, Any] | None = None) -> Path:
    """The office's pipeline: GR-0001 and GR-0002 (and GR-0003 if given), business unit
    PRO, benefit plan."""
    rows = [initiative_row("GR-0001", months(24, gr1), stage=stage1),
            initiative_row("GR-0002", months(24, gr2))]
    if gr3 is not None:
        rows.append(initiative_row("GR-0003", months(24, gr3)))
    return canonical_workbook(path, rows)


def last_submission(ledger: Ledger) -> dict[str, Any]:
    with ledger.reading() as conn:
        row = conn.execute(text("SELECT id, kind, source_name, details FROM submission "
                                "ORDER BY id DESC LIMIT 1")).one()
    return {"id": int(row[0]), "kind": row[1], "source_name": row[2],
            "details": json.loads(row[3]) if row[3] else {}}


@pytest.fixture
def office(programme: Ledger, cli: Any, tmp_path: Path) -> Path:
    """The office imported pipeline.xlsx (GR-0001 100.00 in Jul-26, GR-0002 50.00), then an
    owner (ana) set GR-0001's Jul-26 to 150.00 with `tledger phasing set`."""
    office_dir = tmp_path / "office"
    office_dir.mkdir()
    path = pipeline(office_dir / "pipeline.xlsx", {0: 100}, {0: 50})
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 0, r.output
    r = cli("phasing", "set", "GR-0001", "--month", "2026-07", "--amount", "150",
            "--user", "ana")
    assert r.exit_code == 0, r.output
    return office_dir


def test_an_older_file_reimported_after_an_owner_edit_is_refused_with_the_three_values(
        programme: Ledger, cli: Any, office: Path) -> None:
    edit = last_submission(programme)["id"]
    # The office's copy predates the edit; another cell changed since.
    path = pipeline(office / "pipeline.xlsx", {0: 100}, {0: 60})
    before = counts(programme)
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 1
    assert (f"GR-0001 benefit plan 2026-07: based on 100.00, ledger now 150.00 "
            f"(submission {edit} by ana), file 100.00") in r.stderr
    assert "nothing was written" in r.stderr
    assert "--force" in r.stderr
    assert "Traceback" not in r.output
    assert counts(programme) == before
    assert phasing(programme) == {("GR-0001", "2026-07"): 15000, ("GR-0002", "2026-07"): 5000}


def test_an_owner_workbook_edit_is_not_reverted_by_the_office_file(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    owner_file = tmp_path / "ana.xlsx"
    assert cli("phasing", "export", "--owner", "Ana Lima", "--out",
               str(owner_file)).exit_code == 0
    edit_cell(owner_file, "J5", 150)  # GR-0001's Jul-26 in Ana's workbook
    r = cli("import", "initiatives", str(owner_file))
    assert r.exit_code == 0, r.output
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 60})
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 1
    assert "GR-0001 benefit plan 2026-07: based on 100.00, ledger now 150.00" in r.stderr
    assert phasing(programme)[("GR-0001", "2026-07")] == 15000


def test_dry_run_shows_the_conflicts(programme: Ledger, cli: Any, office: Path) -> None:
    path = pipeline(office / "pipeline.xlsx", {0: 100}, {0: 60})
    r = cli("import", "initiatives", str(path), "--dry-run")
    assert r.exit_code == 1
    assert "GR-0001 benefit plan 2026-07: based on 100.00, ledger now 150.00" in r.stderr


def test_force_overwrites_the_newer_value_and_records_it(programme: Ledger, cli: Any,
                                                         office: Path) -> None:
    edit = last_submission(programme)["id"]
    path = pipeline(office / "pipeline.xlsx", {0: 100}, {0: 60})
    r = cli("import", "initiatives", str(path), "--force")
    assert r.exit_code == 0, r.output
    assert "FORCED over 1 newer ledger value;" in r.stdout
    assert phasing(programme) == {("GR-0001", "2026-07"): 10000, ("GR-0002", "2026-07"): 6000}
    sub = last_submission(programme)
    assert sub["source_name"] == "pipeline.xlsx"
    assert sub["details"]["forced"] is True
    assert sub["details"]["overrode"] == [
        {"initiative": "GR-0001", "what": "benefit plan", "month": "2026-07",
         "based_on": "100.00", "ledger": "150.00", "file": "100.00", "changed_by": edit}]


def test_a_forced_import_without_conflicts_records_nothing_forced(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    assert cli("import", "initiatives", str(path), "--force").exit_code == 0
    details = last_submission(programme)["details"]
    assert "forced" not in details
    assert "overrode" not in details


def test_a_file_agreeing_with_the_newer_value_is_no_conflict(programme: Ledger, cli: Any,
                                                             office: Path) -> None:
    path = pipeline(office / "pipeline.xlsx", {0: 150}, {0: 60})
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 0, r.output
    assert phasing(programme) == {("GR-0001", "2026-07"): 15000, ("GR-0002", "2026-07"): 6000}


def test_cells_the_ledger_did_not_change_since_the_file_are_imported(
        programme: Ledger, cli: Any, office: Path) -> None:
    # GR-0001 Jul-26 was edited; its Aug-26 was not: the file may set it.
    path = pipeline(office / "pipeline.xlsx", {0: 150, 1: 7}, {0: 50})
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 0, r.output
    assert phasing(programme)[("GR-0001", "2026-08")] == 700


def test_a_file_reimported_after_the_edit_moves_its_base(programme: Ledger, cli: Any,
                                                        office: Path) -> None:
    # The office took the owner's 150.00 into its file and imported it ...
    path = pipeline(office / "pipeline.xlsx", {0: 150}, {0: 60})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    # ... so its next version may change that month again: no conflict.
    path = pipeline(office / "pipeline.xlsx", {0: 175}, {0: 60})
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 0, r.output
    assert phasing(programme)[("GR-0001", "2026-07")] == 17500


def test_a_file_of_another_name_is_a_first_import_and_not_checked(
        programme: Ledger, cli: Any, office: Path) -> None:
    path = pipeline(office / "pipeline-november.xlsx", {0: 100}, {0: 60})
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 0, r.output
    assert phasing(programme)[("GR-0001", "2026-07")] == 10000


def test_a_month_emptied_since_the_file_is_a_conflict(programme: Ledger, cli: Any,
                                                      tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100, 1: 20}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    set_phasing(programme, "GR-0001", date(2026, 8, 1), None, user="ana")
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100, 1: 20}, {0: 60})
    with pytest.raises(StaleWorkbook) as caught:
        import_initiatives(programme, [path])
    assert "GR-0001 benefit plan 2026-08: based on 20.00, ledger now (empty)" in str(
        caught.value)
    assert ("GR-0001", "2026-08") not in phasing(programme)


def test_a_month_the_file_empties_after_a_newer_edit_is_a_conflict(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100, 1: 20}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    set_phasing(programme, "GR-0001", date(2026, 8, 1), Decimal("25"), user="ana")
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    with pytest.raises(StaleWorkbook) as caught:
        import_initiatives(programme, [path])
    assert ("GR-0001 benefit plan 2026-08: based on 20.00, ledger now 25.00 "
            in str(caught.value))
    assert "file (empty)" in str(caught.value)


def test_an_attribute_changed_since_the_file_is_a_conflict(programme: Ledger, cli: Any,
                                                           office: Path) -> None:
    set_stage(programme, "GR-0002", "L3", user="bo")
    # The old file still says L2 for GR-0002 and moves GR-0001 to L4.
    path = pipeline(office / "pipeline.xlsx", {0: 150}, {0: 50}, stage1="L4")
    with pytest.raises(StaleWorkbook) as caught:
        import_initiatives(programme, [path])
    message = str(caught.value)
    assert "GR-0002 stage: based on L2, ledger now L3" in message
    assert "file L2" in message
    assert "GR-0001" not in message


def test_a_snapshot_withdrawing_an_initiative_added_since_is_a_conflict(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    assert cli("import", "initiatives", str(path), "--mode", "snapshot").exit_code == 0
    # Another file adds GR-0003 to the same business unit afterwards.
    other = canonical_workbook(tmp_path / "new-ideas.xlsx",
                               [initiative_row("GR-0003", months(24, {0: 9}))])
    assert cli("import", "initiatives", str(other)).exit_code == 0
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 60})
    r = cli("import", "initiatives", str(path), "--mode", "snapshot")
    assert r.exit_code == 1
    assert ("GR-0003 status: based on not in the ledger, ledger now active, changed since"
            in r.stderr)
    assert "file withdrawn (missing from the file)" in r.stderr
    assert "GR-0003 benefit plan 2026-07: based on (empty), ledger now 9.00" in r.stderr
    r = cli("import", "initiatives", str(path), "--mode", "snapshot", "--force")
    assert r.exit_code == 0, r.output
    assert "1 withdrawn" in r.stdout


def test_a_snapshot_withdrawing_an_initiative_rephased_since_is_a_conflict(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50}, gr3={0: 9})
    assert cli("import", "initiatives", str(path), "--mode", "snapshot").exit_code == 0
    # GR-0003's forecast (a scenario the file does not hold) moves after the import.
    set_phasing(programme, "GR-0003", date(2026, 7, 1), Decimal("8"), scenario="forecast",
                user="ana")
    edit = last_submission(programme)["id"]
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    with pytest.raises(StaleWorkbook) as caught:
        import_initiatives(programme, [path], mode="snapshot")
    assert (f"GR-0003 status: based on active, ledger now active, phasing changed since "
            f"(submission {edit} by ana), file withdrawn") in str(caught.value)


def test_bringing_back_an_initiative_withdrawn_since_is_a_conflict(
        programme: Ledger, cli: Any, office: Path, tmp_path: Path) -> None:
    # Another team's snapshot of business unit PRO no longer lists GR-0002.
    snapshot = canonical_workbook(tmp_path / "pro.xlsx",
                                  [initiative_row("GR-0001", months(24, {0: 150}))])
    assert cli("import", "initiatives", str(snapshot), "--mode", "snapshot").exit_code == 0
    path = pipeline(office / "pipeline.xlsx", {0: 150}, {0: 60})
    with pytest.raises(StaleWorkbook) as caught:
        import_initiatives(programme, [path])
    message = str(caught.value)
    assert "GR-0002 status: based on active, ledger now withdrawn" in message
    assert "GR-0002 benefit plan 2026-07: based on 50.00, ledger now (empty)" in message


def test_many_conflicts_are_listed_up_to_a_cap_with_a_count(programme: Ledger, cli: Any,
                                                            tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {i: 10 for i in range(24)}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    for i in range(24):
        set_phasing(programme, "GR-0001", date(2026 + (6 + i) // 12, (6 + i) % 12 + 1, 1),
                    Decimal("11"), user="ana")
    path = pipeline(tmp_path / "pipeline.xlsx", {i: 10 for i in range(24)}, {0: 60})
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 1
    assert "24 values of 1 initiative changed" in r.stderr
    assert r.stderr.count("based on 10.00, ledger now 11.00") == 20
    assert "... and 4 more" in r.stderr


# ------------------------------------------------------------------ pre-filled templates


def edit_cell(path: Path, cell: str, value: Any) -> None:
    """Change one cell of a workbook as a user would, keeping its document properties."""
    wb = openpyxl.load_workbook(path)
    wb["Initiatives"][cell] = value
    wb.save(path)


def test_a_prefilled_template_records_the_submission_it_shows(programme: Ledger, cli: Any,
                                                               office: Path) -> None:
    latest = last_submission(programme)["id"]
    out = office / "export.xlsx"
    assert cli("template", "initiatives", "--out", str(out), "--prefill").exit_code == 0
    stamp = read_stamp(out)
    assert stamp is not None
    assert stamp.based_on == latest
    assert stamp.ledger_id == programme.identity()[0]
    blank = office / "blank.xlsx"
    assert cli("template", "initiatives", "--out", str(blank)).exit_code == 0
    assert read_stamp(blank) is None


def test_a_prefilled_template_exported_before_an_edit_is_refused(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    out = tmp_path / "export.xlsx"  # a name never imported: the base is the export
    assert cli("template", "initiatives", "--out", str(out), "--prefill").exit_code == 0
    exported = last_submission(programme)["id"]
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("150"), user="ana")
    edit_cell(out, "J6", 60)  # GR-0002's Jul-26; GR-0001 still shows 100.00
    r = cli("import", "initiatives", str(out))
    assert r.exit_code == 1
    assert f"exported at submission {exported}" in r.stderr
    assert "GR-0001 benefit plan 2026-07: based on 100.00, ledger now 150.00" in r.stderr
    assert phasing(programme)[("GR-0002", "2026-07")] == 5000


def test_a_prefilled_template_saved_by_libreoffice_keeps_its_base(
        programme: Ledger, cli: Any, tmp_path: Path, backend: str) -> None:
    if backend != "sqlite" or shutil.which("soffice") is None:
        pytest.skip("LibreOffice round trip runs once, on SQLite")
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    out = tmp_path / "export.xlsx"
    assert cli("template", "initiatives", "--out", str(out), "--prefill").exit_code == 0
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("150"), user="ana")
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
         "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "lo"),
         str(out)], check=True, capture_output=True, timeout=120)
    r = cli("import", "initiatives", str(tmp_path / "lo" / "export.xlsx"))
    assert r.exit_code == 1
    assert "GR-0001 benefit plan 2026-07: based on 100.00, ledger now 150.00" in r.stderr


def test_a_copy_of_an_imported_template_is_based_on_that_import(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    october = tmp_path / "october.xlsx"
    assert cli("template", "initiatives", "--out", str(october), "--prefill").exit_code == 0
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("150"), user="ana")
    # October's file, with the owner's value taken in, imported ...
    edit_cell(october, "J5", 150)
    edit_cell(october, "J6", 60)
    assert cli("import", "initiatives", str(october)).exit_code == 0
    # ... then saved as November's and changed again: the October import is its base.
    november = tmp_path / "november.xlsx"
    november.write_bytes(october.read_bytes())
    edit_cell(november, "J5", 175)
    r = cli("import", "initiatives", str(november))
    assert r.exit_code == 0, r.output
    assert phasing(programme)[("GR-0001", "2026-07")] == 17500


def test_a_template_from_another_ledger_is_not_taken_as_a_base(
        programme: Ledger, cli: Any, tmp_path: Path) -> None:
    path = pipeline(tmp_path / "pipeline.xlsx", {0: 100}, {0: 50})
    assert cli("import", "initiatives", str(path)).exit_code == 0
    out = tmp_path / "export.xlsx"
    assert cli("template", "initiatives", "--out", str(out), "--prefill").exit_code == 0
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("150"), user="ana")
    # The same file, but stamped by another ledger (a staging copy): its submission
    # numbers say nothing about this one, and its name was never imported here.
    wb = openpyxl.load_workbook(out)
    props = CustomPropertyList()
    for prop in wb.custom_doc_props:
        props.append(StringProperty(name=prop.name, value="another-ledger" if prop.name ==
                                    "tledger_ledger_id" else prop.value))
    wb.custom_doc_props = props
    wb["Initiatives"]["J6"] = 60
    wb.save(out)
    stamp = read_stamp(out)
    assert stamp is not None
    assert stamp.ledger_id == "another-ledger"
    r = cli("import", "initiatives", str(out))
    assert r.exit_code == 0, r.output
    assert "based_on" not in last_submission(programme)["details"]
