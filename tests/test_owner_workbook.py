"""Owner workbooks: export layout, round trip, scope refusals and conflicts (both backends)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from helpers.owner_seed import INITIATIVES, plan_of, seed
from openpyxl import load_workbook
from sqlalchemy import text

from importers.owner import (
    OwnerConflict,
    has_stamp,
    import_owner_workbook,
    read_owner_workbook,
)
from importers.problems import ImportProblems
from ledger.errors import LedgerError
from ledger.phasing import set_phasing
from reports.owner_workbook import STAMP_SHEET, collect_owner_export, write_owner_workbook
from tledger.cli.imports import describe_owner_import


def _export(led, tmp_path: Path, owner: str = "Ana Lima", name: str = "ana.xlsx",
            **kwargs) -> Path:
    return write_owner_workbook(collect_owner_export(led, owner, **kwargs), tmp_path / name)


def _edit(src: Path, dest: Path, edits: dict[str, object], sheet: str = "Initiatives") -> Path:
    """Open ``src`` as a person would (openpyxl keeps protection, validation, hidden sheets),
    set cells, save as ``dest``."""
    wb = load_workbook(src)
    ws = wb[sheet]
    for cell, value in edits.items():
        ws[cell] = value
    wb.save(dest)
    return dest


def _submissions(led) -> int:
    with led.reading() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM submission")).scalar_one())


def _phasing_rows(led) -> int:
    with led.reading() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM phasing")).scalar_one())


#: The seed with GR-0002 at L2: its plan is not committed, so these round trips may change
#: it (a committed plan's cells are locked: test_a_committed_plan_is_locked_in_the_workbook).
UNCOMMITTED = {**INITIATIVES, "GR-0002": (*INITIATIVES["GR-0002"][:4], "L2")}


# Column letters of the standard programme (2026-07 .. 2028-06): J = Jul-26, K = Aug-26,
# L = Sep-26, R = Mar-27, AG = Jun-28, AH = Total.


def test_export_prefills_the_owners_initiatives_locks_all_but_months_and_stamps(
        programme, tmp_path):
    seed(programme)
    path = _export(programme, tmp_path)
    assert has_stamp(path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Initiatives", STAMP_SHEET]
    assert wb[STAMP_SHEET].sheet_state == "veryHidden"
    ws = wb["Initiatives"]
    assert ws.protection.sheet
    assert not ws.protection.password
    header = [c.value for c in ws[4]]
    assert header[:9] == ["ID", "Name", "Owner", "Business unit", "Lever", "Stage",
                          "Description", "Metric", "Scenario"]
    assert header[9] == datetime(2026, 7, 1)
    assert header[32] == datetime(2028, 6, 1)
    assert header[33] == "Total"
    assert [ws.cell(r, 1).value for r in (5, 6, 7)] == ["GR-0001", "GR-0002", None]
    assert ws["J5"].value == 1000
    assert ws["K5"].value == 2000.5
    assert ws["R5"].value == 3000
    assert ws["L6"].value == 500.25
    assert ws["J6"].value is None
    assert ws["AH5"].value == "=SUM(J5:AG5)"
    # Locked: ids and descriptions; unlocked: month cells (even empty ones).
    assert ws["A5"].protection.locked
    assert ws["F5"].protection.locked
    assert not ws["J5"].protection.locked
    assert not ws["L5"].protection.locked
    assert ws["AH5"].protection.locked
    rules = ws.data_validations.dataValidation
    assert len(rules) == 1
    assert rules[0].type == "decimal"
    assert str(rules[0].sqref) == "J5:AG6"
    book = read_owner_workbook(path)
    assert book.stamp.owner == "Ana Lima"
    assert book.stamp.metric == "benefit"
    assert book.stamp.scenario == "plan"
    assert book.stamp.programme == "Cost 2028"
    assert list(book.stamp.initiatives["external_id"]) == ["GR-0001", "GR-0002"]
    assert (book.stamp.initiatives["phasing_version"] > 0).all()
    assert sorted(book.amounts["amount"]) == [Decimal("500.25"), Decimal("1000"),
                                              Decimal("2000.5"), Decimal("3000")]


def test_export_refuses_an_owner_without_initiatives(programme, tmp_path):
    seed(programme)
    with pytest.raises(LedgerError, match=r"no active initiatives owned by 'Zoe'.*Ana Lima"):
        collect_owner_export(programme, "Zoe")


def test_unchanged_workbook_writes_nothing(programme, tmp_path):
    seed(programme)
    path = _export(programme, tmp_path)
    before = _submissions(programme)
    result = import_owner_workbook(programme, path)
    assert result.count == 0
    assert result.unchanged == 4
    assert result.submission_id is None
    assert _submissions(programme) == before


def test_round_trip_changes_only_the_owners_initiatives(programme, tmp_path):
    seed(programme, initiatives=UNCOMMITTED)
    ben_before = plan_of(programme, "GR-0003")
    src = _export(programme, tmp_path)
    # Re-phase: change Jul, empty Aug, add Sep; GR-0002 loses all its phasing.
    path = _edit(src, tmp_path / "ana-back.xlsx",
                 {"J5": 1100.10, "K5": None, "L5": "2,500", "L6": None})
    result = import_owner_workbook(programme, path, user="ana", note="March re-phasing")
    assert (result.added, result.changed, result.removed) == (1, 1, 2)
    assert plan_of(programme, "GR-0001") == {"2026-07": Decimal("1100.10"),
                                             "2026-09": Decimal("2500.00"),
                                             "2027-03": Decimal("3000.00")}
    assert plan_of(programme, "GR-0002") == {}
    assert plan_of(programme, "GR-0003") == ben_before
    with programme.reading() as conn:
        sub = conn.execute(text(
            'SELECT kind, "user", note, source_name, source_sha256, details FROM submission '
            "WHERE id = :i"), {"i": result.submission_id}).one()
    assert sub[:4] == ("import", "ana", "March re-phasing", "ana-back.xlsx")
    assert len(sub[4]) == 64
    assert sub[4] == read_owner_workbook(path).sha256
    assert json.loads(sub[5])["owner_workbook"]["owner"] == "Ana Lima"
    assert "forced" not in json.loads(sub[5])


def test_amounts_are_rounded_half_away_from_zero_to_the_metric(programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "r.xlsx", {"J5": 2.345, "K5": -2.345})
    import_owner_workbook(programme, path)
    got = plan_of(programme, "GR-0001")
    assert got["2026-07"] == Decimal("2.35")
    assert got["2026-08"] == Decimal("-2.35")


#: (case, edits, cell named, text the problem's "expected" contains)
REFUSALS = [
    ("someone-elses", {"A7": "GR-0003", "J7": 5}, "A7",
     "only Ana Lima's initiatives (GR-0003 is owned by Ben Okafor)"),
    ("unknown-id", {"A7": "GR-9999", "J7": 5}, "A7", "cannot add initiatives"),
    ("name", {"B5": "Spares pooling v2"}, "B5", "locked Name 'Spares pooling'"),
    ("stage", {"F6": "L5"}, "F6", "locked Stage 'L3'"),
    ("owner", {"C5": "Ben Okafor"}, "C5", "locked Owner 'Ana Lima'"),
    ("scenario", {"I5": "forecast"}, "I5", "locked Scenario 'plan'"),
    ("header", {"J4": "Jan-30"}, "J4", "locked month header Jul-26"),
    ("not-a-number", {"J5": "lots"}, "J5", "an amount"),
    ("row-removed", {f"{c}6": None for c in "ABCDEFGHIL"}, "A6",
     "the row for GR-0002 as exported"),
]


def test_refusals_name_the_cell_and_write_nothing(programme, tmp_path):
    """Each refusal on its own workbook (one ledger for all cases keeps the suite fast)."""
    seed(programme)
    src = _export(programme, tmp_path)
    before = (_submissions(programme), _phasing_rows(programme))
    for case, edits, cell, expected in REFUSALS:
        path = _edit(src, tmp_path / f"{case}.xlsx", {**edits, "R5": 1})
        with pytest.raises(ImportProblems) as info:
            import_owner_workbook(programme, path)
        problems = info.value.problems
        assert any(p.cell == cell and p.sheet == "Initiatives" and expected in p.expected
                   and p.file == f"{case}.xlsx" for p in problems), (case, problems)
        assert (_submissions(programme), _phasing_rows(programme)) == before, case
    assert plan_of(programme, "GR-0001")["2027-03"] == Decimal("3000.00")


def test_every_problem_is_reported_in_one_run(programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "bad.xlsx",
                 {"B5": "x", "J6": "abc", "A7": "GR-0003", "E6": "PROC"})
    with pytest.raises(ImportProblems) as info:
        import_owner_workbook(programme, path)
    assert sorted(p.cell for p in info.value.problems) == ["A7", "B5", "E6", "J6"]
    assert "nothing was written" in str(info.value)


def test_reassigned_after_export_is_refused(programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "a.xlsx", {"J6": 1})
    seed(programme, initiatives={"GR-0002": ("Shift roster", "Ben Okafor", "MIN", "LAB",
                                             "L3")}, plan={})
    with pytest.raises(ImportProblems) as info:
        import_owner_workbook(programme, path)
    assert [(p.cell, "reassigned to Ben Okafor" in p.expected)
            for p in info.value.problems] == [("A6", True)]


def test_a_stamp_edited_to_name_another_programme_is_refused(programme, tmp_path):
    seed(programme)
    path = _export(programme, tmp_path)
    wb = load_workbook(path)
    assert wb[STAMP_SHEET]["A3"].value == "programme"
    wb[STAMP_SHEET]["B3"] = "Growth 2030"
    wb.save(path)
    with pytest.raises(LedgerError, match="_tledger sheet was edited"):
        import_owner_workbook(programme, path)


def test_conflict_stops_the_import_and_lists_each_month(programme, tmp_path):
    seed(programme, initiatives=UNCOMMITTED)
    path = _edit(_export(programme, tmp_path), tmp_path / "stale.xlsx",
                 {"J5": 1200, "R5": 3300, "L6": 600})
    # After the export, the office re-phases GR-0001 in July and March.
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("1500"), user="office")
    set_phasing(programme, "GR-0001", date(2027, 3, 1), None, user="office")
    before = (_submissions(programme), _phasing_rows(programme))
    with pytest.raises(OwnerConflict) as info:
        import_owner_workbook(programme, path)
    rows = info.value.conflicts.to_dict("records")
    assert rows == [
        {"external_id": "GR-0001", "month": "2026-07-01", "exported": Decimal("1000.00"),
         "ledger_now": Decimal("1500.00"), "workbook": Decimal("1200.00")},
        {"external_id": "GR-0001", "month": "2027-03-01", "exported": Decimal("3000.00"),
         "ledger_now": None, "workbook": Decimal("3300.00")},
    ]
    message = str(info.value)
    assert "GR-0001 2026-07: exported 1,000.00, ledger now 1,500.00, workbook 1,200.00" in message
    assert "GR-0001 2027-03: exported 3,000.00, ledger now (empty), workbook 3,300.00" in message
    assert "nothing was written" in message
    assert "--force" in message
    assert (_submissions(programme), _phasing_rows(programme)) == before
    # GR-0002 (unchanged in the ledger) was not applied either: all or nothing.
    assert plan_of(programme, "GR-0002") == {"2026-09": Decimal("500.25")}


def test_a_stale_workbook_does_not_revert_a_newer_change_it_did_not_touch(programme, tmp_path):
    seed(programme, initiatives=UNCOMMITTED)
    path = _edit(_export(programme, tmp_path), tmp_path / "s.xlsx", {"L6": 600})
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("1500"), user="office")
    with pytest.raises(OwnerConflict) as info:
        import_owner_workbook(programme, path)
    assert info.value.conflicts["workbook"].tolist() == [Decimal("1000.00")]


def test_changes_to_other_owners_or_matching_values_are_not_conflicts(programme, tmp_path):
    seed(programme, initiatives=UNCOMMITTED)
    path = _edit(_export(programme, tmp_path), tmp_path / "ok.xlsx", {"J5": 1500, "L6": 600})
    set_phasing(programme, "GR-0003", date(2026, 7, 1), Decimal("1"), user="ben")
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("1500"), user="office")
    result = import_owner_workbook(programme, path)  # the workbook agrees with the ledger
    assert result.changed == 1
    assert not result.forced
    assert plan_of(programme, "GR-0002")["2026-09"] == Decimal("600.00")


def test_force_overrides_and_records_what_it_overrode(programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "f.xlsx", {"J5": 1200})
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("1500"), user="office")
    result = import_owner_workbook(programme, path, force=True, user="pmo", note="owner wins")
    assert result.forced
    assert len(result.overrode) == 1
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1200.00")
    with programme.reading() as conn:
        details = json.loads(conn.execute(text(
            "SELECT details FROM submission WHERE id = :i"),
            {"i": result.submission_id}).scalar_one())
    assert details["forced"] is True
    assert details["overrode"] == [{"initiative": "GR-0001", "month": "2026-07",
                                    "exported": "1000.00", "ledger": "1500.00",
                                    "workbook": "1200.00"}]


def test_forecast_export_round_trips_its_own_scenario(programme, tmp_path):
    seed(programme)
    path = _export(programme, tmp_path, scenario="forecast", name="fc.xlsx")
    wb = load_workbook(path)
    assert wb["Initiatives"]["J5"].value is None
    assert wb["Initiatives"]["I5"].value == "forecast"
    path = _edit(path, tmp_path / "fc2.xlsx", {"M5": 42})
    import_owner_workbook(programme, path)
    assert plan_of(programme, "GR-0001", "forecast") == {"2026-10": Decimal("42.00")}
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1000.00")  # plan untouched


def test_a_formula_without_a_saved_result_is_refused(programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "fx.xlsx", {"J5": "=100+200"})
    with pytest.raises(ImportProblems) as info:
        import_owner_workbook(programme, path)
    assert [(p.cell, p.found) for p in info.value.problems] == [
        ("J5", "a formula without a saved result")]


def test_cli_export_and_import_with_conflict_and_force(programme, cli, tmp_path):
    seed(programme)
    out = tmp_path / "ana.xlsx"
    r = cli("phasing", "export", "--owner", "ana lima", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "2 initiatives of Ana Lima" in r.stdout
    _edit(out, out, {"J5": 1200})
    r = cli("phasing", "set", "GR-0001", "--month", "Jul-26", "--amount", "1,500", "--note",
            "office")
    assert r.exit_code == 0
    assert "1,000.00 -> 1,500.00" in r.stdout
    r = cli("phasing", "import", str(out))
    assert r.exit_code == 1
    assert "error:" in r.stderr
    assert "GR-0001 2026-07: exported 1,000.00" in r.stderr
    assert "Traceback" not in r.output
    r = cli("phasing", "import", str(out), "--force", "--note", "owner wins")
    assert r.exit_code == 0
    assert "FORCED over 1" in r.stdout
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1200.00")
    r = cli("phasing", "export", "--owner", "Ana Lima", "--out", str(tmp_path / "x.csv"))
    assert r.exit_code == 1
    assert ".xlsx" in r.stderr


def test_a_workbook_saved_by_libreoffice_still_round_trips(programme, backend, tmp_path):
    """An owner opens and saves the file in a spreadsheet program: stamp, protection and
    values survive, and the edit lands. (The file is the subject, not the backend: SQLite
    only, LibreOffice is slow to start.)"""
    import shutil
    import subprocess

    if backend == "postgresql":
        pytest.skip("a file-format test: the SQLite run covers it")
    if shutil.which("soffice") is None:  # pragma: no cover
        pytest.skip("LibreOffice not installed")
    seed(programme, initiatives=UNCOMMITTED)
    src = _edit(_export(programme, tmp_path), tmp_path / "edited.xlsx", {"K6": 77.7})
    outdir = tmp_path / "lo"
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless",
         "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(src)],
        check=True, capture_output=True, timeout=120,
    )
    saved = outdir / "edited.xlsx"
    assert has_stamp(saved)
    result = import_owner_workbook(programme, saved)
    assert (result.added, result.changed, result.removed) == (1, 0, 0)
    assert plan_of(programme, "GR-0002")["2026-08"] == Decimal("77.70")


def test_generic_import_command_recognises_the_stamp(programme, cli, tmp_path):
    """`tledger import initiatives FILE` hands an owner workbook to the owner rules."""
    seed(programme)
    out = tmp_path / "ana.xlsx"
    assert cli("phasing", "export", "--owner", "Ana Lima", "--out", str(out)).exit_code == 0
    # A row for someone else's initiative is refused through the generic command too.
    bad = _edit(out, tmp_path / "bad.xlsx", {"A7": "GR-0003", "J7": 1})
    r = cli("import", "initiatives", str(bad))
    assert r.exit_code == 1
    assert "A7" in r.output
    assert "Traceback" not in r.output
    _edit(out, out, {"J5": 1200})
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("1500"), user="office")
    r = cli("import", "initiatives", str(out))
    assert r.exit_code == 1
    assert "ledger now 1,500.00, workbook 1,200.00" in r.stderr
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1500.00")
    r = cli("import", "initiatives", str(out), "--force", "--note", "owner wins")
    assert r.exit_code == 0, r.output
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1200.00")
    subs = programme.submissions()
    assert subs.iloc[0]["source_name"] == "ana.xlsx"
    assert subs.iloc[0]["note"] == "owner wins"


def test_dry_run_reports_and_writes_nothing(programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "d.xlsx", {"J5": 1, "K5": None})
    before = (_submissions(programme), _phasing_rows(programme))
    result = import_owner_workbook(programme, path, dry_run=True)
    assert (result.changed, result.removed, result.submission_id) == (1, 1, None)
    assert "would change 2 months" in describe_owner_import(result)
    assert (_submissions(programme), _phasing_rows(programme)) == before


def test_a_committed_plan_is_locked_in_the_workbook_and_refused_by_cell(programme, tmp_path):
    """GR-0002 is at L3: its plan is committed. The export writes its month cells locked
    (grey) while GR-0001's stay editable; a changed committed cell is refused by name, an
    untouched one passes and the plan stays as the ledger has it."""
    seed(programme)
    src = _export(programme, tmp_path)
    ws = load_workbook(src)["Initiatives"]
    assert ws["J5"].protection.locked is False
    assert ws["L6"].protection.locked is True
    assert ws["J6"].protection.locked is True
    assert "Grey month cells are a committed plan" in ws["A2"].value
    bad = _edit(src, tmp_path / "bad.xlsx", {"J5": 1500, "L6": 600, "J6": 1})
    before = _submissions(programme)
    with pytest.raises(ImportProblems) as info:
        import_owner_workbook(programme, bad, user="ana")
    problems = {p.cell: p for p in info.value.problems}
    assert sorted(problems) == ["J6", "L6"]
    assert "the committed plan 500.25 as exported" in problems["L6"].expected
    assert problems["J6"].found == "1.00"
    assert _submissions(programme) == before
    good = _edit(src, tmp_path / "good.xlsx", {"J5": 1500})
    import_owner_workbook(programme, good, user="ana")
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1500.00")
    assert plan_of(programme, "GR-0002") == {"2026-09": Decimal("500.25")}
    # A forecast workbook of the same initiative stays editable.
    forecast = load_workbook(_export(programme, tmp_path, name="f.xlsx",
                                     scenario="forecast"))["Initiatives"]
    assert forecast["J6"].protection.locked is False
