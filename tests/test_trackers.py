"""The tracker corpus (tests/trackers/build_layouts.py): real layouts offices keep, each
imported with at most a mapping file and checked to the cent against the phasing computed
from the builder's source data, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from helpers.ledger_reads import counts, phasing
from sqlalchemy import text
from trackers.build_layouts import BUILDERS, Tracker, lay_no_table, libreoffice_copy

from importers import ImportProblems, import_initiatives
from ledger.api import Ledger


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Tracker]:
    folder = tmp_path_factory.mktemp("trackers")
    return {build.__name__: build(folder) for build in BUILDERS}


@pytest.fixture(scope="session")
def office_copies(corpus: dict[str, Tracker], tmp_path_factory: pytest.TempPathFactory,
                  ) -> Iterator[dict[str, Tracker]]:
    """LibreOffice-saved .ods and .xls copies of two workbooks: merged cells, formulas
    with saved values, dates, several sheets."""
    folder = tmp_path_factory.mktemp("office")
    out: dict[str, Tracker] = {}
    for name, suffixes in (("lay_two_row", (".ods", ".xls")), ("lay_units", (".ods", ".xls")),
                           ("lay_hidden", (".ods", ".xls"))):
        for suffix in suffixes:
            src = corpus[name]
            copy = libreoffice_copy(src.path, folder, suffix)
            out[name + suffix] = Tracker(copy, src.expected, src.mapping, src.warnings)
    return out


def _mapping(tracker: Tracker, folder: Path) -> Path | None:
    if tracker.mapping is None:
        return None
    path = folder / f"{tracker.path.stem}.toml"
    path.write_text(tracker.mapping, encoding="utf-8")
    return path


def _imports_exactly(led: Ledger, tracker: Tracker, folder: Path) -> None:
    result = import_initiatives(led, [tracker.path], mapping=_mapping(tracker, folder),
                                user="office")
    got = phasing(led)
    assert got == tracker.expected
    assert sum(got.values()) == tracker.total_cents
    shown = [str(w) for w in result.warnings]
    # Totals the builder computed right agree with their months and rows: only the cells
    # typed over on purpose are reported.
    assert {w.cell for w in result.warnings if "add up to" in w.found} <= set(tracker.warnings)
    for needle in tracker.warnings:
        assert any(needle in w for w in shown), (needle, shown)
    again = import_initiatives(led, [tracker.path], mapping=_mapping(tracker, folder))
    assert again.already_imported


@pytest.mark.parametrize("name", [b.__name__ for b in BUILDERS])
def test_tracker_imports_to_the_cent(programme: Ledger, corpus: dict[str, Tracker],
                                     name: str, tmp_path: Path) -> None:
    _imports_exactly(programme, corpus[name], tmp_path)


@pytest.mark.parametrize("name", ["lay_two_row.ods", "lay_two_row.xls", "lay_units.ods",
                                  "lay_units.xls", "lay_hidden.ods", "lay_hidden.xls"])
def test_libreoffice_copies_import_the_same(programme: Ledger,
                                            office_copies: dict[str, Tracker], name: str,
                                            tmp_path: Path) -> None:
    _imports_exactly(programme, office_copies[name], tmp_path)


def test_two_row_header_warns_of_the_typed_over_quarter_only(
        programme: Ledger, corpus: dict[str, Tracker], tmp_path: Path) -> None:
    tracker = corpus["lay_two_row"]
    result = import_initiatives(programme, [tracker.path], mapping=_mapping(tracker, tmp_path),
                                dry_run=True)
    checks = [w for w in result.warnings if "add up to" in w.found]
    assert [w.cell for w in checks] == tracker.warnings  # the subtotals and FY totals agree
    assert "'Q2'" in checks[0].found
    assert "Oct-26 to Dec-26" in checks[0].found


def test_quarters_are_refused_without_spread(programme: Ledger, corpus: dict[str, Tracker],
                                             cli) -> None:
    tracker = corpus["lay_quarters"]
    before = counts(programme)
    r = cli("import", "initiatives", str(tracker.path))
    assert r.exit_code == 1
    assert "Quarterly!F1" in r.stderr
    assert "quarterly phasing (Q1 FY27" in r.stderr
    assert tracker.refused_without_mapping
    assert tracker.refused_without_mapping in r.stderr
    assert counts(programme) == before


def test_units_without_mapping_reads_every_sheet_with_a_table(
        programme: Ledger, corpus: dict[str, Tracker]) -> None:
    tracker = corpus["lay_units"]
    result = import_initiatives(programme, [tracker.path], user="office")
    assert phasing(programme) == tracker.expected
    assert result.rows_read == 12
    with programme.reading() as conn:
        details = conn.execute(text("SELECT details FROM submission "
                                    "WHERE kind = 'import'")).scalar_one()
    assert json.loads(details)["sheet"] == "PRO, PRO-East, MIN"


def test_no_sheet_with_a_table_lists_the_sheets(programme: Ledger, cli,
                                                tmp_path: Path) -> None:
    path = lay_no_table(tmp_path)
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 1
    assert "no sheet with an ID column and month columns (sheets: 'Read me', 'Notes', " \
        "'Chart data')" in r.stderr
    assert "Traceback" not in r.output


def test_a_sheet_pattern_that_matches_nothing_is_named(programme: Ledger, cli,
                                                       corpus: dict[str, Tracker],
                                                       tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('sheet = ["PRO*", "Mining"]\n')
    r = cli("import", "initiatives", str(corpus["lay_units"].path), "--mapping", str(mapping))
    assert r.exit_code == 1
    assert "no sheet matching 'Mining' (sheets: 'Cover', 'PRO', 'PRO-East', 'MIN', " \
        "'Summary')" in r.stderr


def _two_sheets(path: Path, first: list[list[object]], second: list[list[object]]) -> Path:
    """A workbook with sheets A and B holding these rows."""
    wb = openpyxl.Workbook()
    sheet_a = wb.active
    assert sheet_a is not None
    sheet_a.title = "A"
    sheet_b = wb.create_sheet("B")
    for ws, rows in ((sheet_a, first), (sheet_b, second)):
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_one_initiative_on_two_sheets_is_an_error_naming_both(programme: Ledger,
                                                              tmp_path: Path) -> None:
    rows: list[list[object]] = [["ID", "Name", "Owner", "Stage", "Jul-26"],
                                ["GR-1", "x", "Ana", "L1", 5]]
    path = _two_sheets(tmp_path / "two.xlsx", rows, rows)
    with pytest.raises(ImportProblems) as caught:
        import_initiatives(programme, [path])
    assert "'GR-1' on sheet 'B' and on sheet 'A'" in str(caught.value)
    assert counts(programme)["phasing"] == 0


def test_sheets_of_different_layouts_are_refused(programme: Ledger, tmp_path: Path) -> None:
    path = _two_sheets(tmp_path / "mixed.xlsx",
                       [["ID", "Name", "Owner", "Stage", "Jul-26", "Aug-26"],
                        ["GR-1", "x", "Ana", "L1", 5, 6]],
                       [["ID", "Name", "Owner", "Stage", "Jul-26"], ["GR-2", "y", "Ana", "L1", 5]])
    with pytest.raises(ImportProblems) as caught:
        import_initiatives(programme, [path])
    assert "the layout of sheet 'A'" in str(caught.value)


@pytest.mark.parametrize("suffix", [".ods", ".xls"])
def test_an_error_value_in_an_ods_or_xls_sheet_is_named(programme: Ledger, tmp_path: Path,
                                                        suffix: str) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Initiatives"
    ws.append(["ID", "Name", "Owner", "Stage", "Jul-26", "Aug-26"])
    ws.append(["GR-1", "x", "Ana", "L1", 5, "=1/0"])  # LibreOffice computes #DIV/0!
    wb.save(tmp_path / "err.xlsx")
    copy = libreoffice_copy(tmp_path / "err.xlsx", tmp_path, suffix)
    with pytest.raises(ImportProblems) as caught:
        import_initiatives(programme, [copy])
    assert f"err{suffix} Initiatives!F2: found #DIV/0!" in str(caught.value)
    assert counts(programme)["phasing"] == 0


def test_a_wrong_subtotal_row_is_a_warning_naming_its_cell(
        programme: Ledger, corpus: dict[str, Tracker], tmp_path: Path) -> None:
    tracker = corpus["lay_jul26"]
    clean = import_initiatives(programme, [tracker.path], dry_run=True)
    assert not [w for w in clean.warnings if "add up to" in w.found]
    wb = openpyxl.load_workbook(tracker.path)
    ws = wb["Tracker"]
    subtotal = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value ==
                    "Processing total")
    ws.cell(subtotal, 8).value = float(ws.cell(subtotal, 8).value) + 0.01  # H: Aug-26
    edited = tmp_path / "lay_jul26_edited.xlsx"
    wb.save(edited)
    result = import_initiatives(programme, [edited], user="office")
    checks = [w for w in result.warnings if "add up to" in w.found]
    assert [w.cell for w in checks] == [f"H{subtotal}"]
    assert "'Processing total'" in checks[0].found
    assert phasing(programme) == tracker.expected  # the rows are imported, not the total


def test_a_quarter_without_a_year_is_named_when_spread(programme: Ledger,
                                                      tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["ID", "Name", "Owner", "Stage", "Q1", "Q2"])
    ws.append(["GR-1", "x", "Ana", "L1", 300, 600])
    wb.save(tmp_path / "q.xlsx")
    mapping = tmp_path / "q.toml"
    mapping.write_text('[months]\nquarters = "spread"\n')
    with pytest.raises(ImportProblems) as caught:
        import_initiatives(programme, [tmp_path / "q.xlsx"], mapping=mapping)
    assert "Sheet!E1: found 'Q1', expected a quarter whose year is known" in str(caught.value)


def test_what_was_detected_is_described(corpus: dict[str, Tracker]) -> None:
    from datetime import date

    from importers.layout import describe_table
    from importers.mapping import Mapping
    from importers.reading import read_file
    from ledger.api import ProgrammeInfo

    programme = ProgrammeInfo(1, "Cost 2028", "AUD", 7, date(2026, 7, 1), date(2028, 6, 1))
    parsed = read_file(corpus["lay_two_row"].path, Mapping(), programme,
                       default_sheet="Initiatives", key_role="id", scale=None)
    assert parsed.sheet_choice == "the only sheet"
    seen = describe_table(parsed.tables[0])
    assert seen["header_rows"] == [4, 5]
    assert seen["columns"] == {"id": "A", "name": "B", "owner": "C", "business_unit": "D",
                               "lever": "E", "stage": "F"}
    assert len(seen["months"]) == 24
    assert seen["months"]["G"] == "2026-07"
    assert seen["total_columns"][0] == {"column": "J", "label": "Q1", "kind": "quarter",
                                        "months": ["2026-07", "2026-09"]}
    assert seen["total_columns"][4] == {"column": "W", "label": "FY27 Total", "kind": "year",
                                        "months": ["2026-07", "2027-06"]}
    assert seen["total_rows"] == [{"row": 10, "label": "PRO subtotal"},
                                  {"row": 14, "label": "MIN subtotal"},
                                  {"row": 15, "label": "Total"}]
    assert seen["data_rows"] == 7
    assert seen["scale_note"] == "A2"
    parsed = read_file(corpus["lay_readme_first"].path, Mapping(), programme,
                       default_sheet="Initiatives", key_role="id", scale=None)
    assert parsed.sheet_choice == ("the sheet with an id column and months (passed over: "
                                   "Read me, Lists)")
    assert describe_table(parsed.tables[0])["sheet"] == "Pipeline FY27-28"


def test_month_names_take_the_stated_fiscal_year(tmp_path: Path) -> None:
    from datetime import date

    from importers.layout import describe_table
    from importers.mapping import Mapping, Months
    from importers.reading import read_file
    from ledger.api import ProgrammeInfo

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["ID", "Name", "Jul", "Dec", "Jan", "Jun"])
    ws.append(["GR-1", "x", 1, 2, 3, 4])
    wb.save(tmp_path / "names.xlsx")
    programme = ProgrammeInfo(1, "Cost 2028", "AUD", 7, date(2026, 7, 1), date(2028, 6, 1))
    without = read_file(tmp_path / "names.xlsx", Mapping(), programme,
                        default_sheet="Initiatives", key_role="id", scale=None)
    assert "no month columns" in str(without.log.problems[0])
    stated = read_file(tmp_path / "names.xlsx", Mapping(months=Months(fiscal_year="FY28")),
                       programme, default_sheet="Initiatives", key_role="id", scale=None)
    assert describe_table(stated.tables[0])["months"] == {
        "C": "2027-07", "D": "2027-12", "E": "2028-01", "F": "2028-06"}


def test_a_damaged_xlsb_says_what_it_is(programme: Ledger, cli, tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "binary.xlsb"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 1
    assert "binary.xlsb: found a damaged workbook" in r.stderr
    assert "Traceback" not in r.output


def test_an_error_value_in_an_xlsb_sheet_is_named(programme: Ledger, tmp_path: Path) -> None:
    from trackers.xlsb import write_xlsb

    path = write_xlsb(tmp_path / "err.xlsb", {"Cover": [["x"]], "Initiatives": [
        ["ID", "Name", "Owner", "Stage", "Jul-26", "Aug-26"],
        ["GR-1", "x", "Ana", "L1", 5, "#REF!"],
        ["GR-2", "y", "Ana", "L1", "#DIV/0!", 6]]})
    with pytest.raises(ImportProblems) as caught:
        import_initiatives(programme, [path])
    text = str(caught.value)
    assert text.startswith("2 problems in err.xlsb")
    assert "err.xlsb Initiatives!F2: found #REF!" in text
    assert counts(programme)["phasing"] == 0
    errors = [p for p in caught.value.problems if p.severity == "error"]
    assert [(p.cell, p.found) for p in errors] == [("F2", "#REF!"), ("E3", "#DIV/0!")]
