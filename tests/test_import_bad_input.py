"""Bad input: each a clear one-line message, exit code 1, nothing written."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from fixtures_workbooks import (
    canonical_workbook,
    initiative_row,
    million_blank_rows,
    replace_part,
)
from helpers.cells import months
from helpers.ledger_reads import counts, phasing

from ledger.api import Ledger


def _fails(cli, programme: Ledger, path: Path, *needles: str) -> str:
    """Run the import; assert exit 1, one error line naming ``needles``, nothing written."""
    before = counts(programme)
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert counts(programme) == before
    return lines[0]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return canonical_workbook(tmp_path / "good.xlsx",
                              [initiative_row("GR-1", months(24, {0: 10, 1: 20}))])


def test_not_a_workbook(programme: Ledger, cli, tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    path.write_text("this is not a spreadsheet\n")
    _fails(cli, programme, path, "notes.xlsx", "not a workbook", "expected an .xlsx")


def test_truncated_xlsx(programme: Ledger, cli, good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(data[: len(data) // 2])
    _fails(cli, programme, path, "cut.xlsx", "truncated")


def test_empty_sheet(programme: Ledger, cli, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    assert wb.active is not None
    wb.active.title = "Initiatives"
    wb.save(tmp_path / "empty.xlsx")
    _fails(cli, programme, tmp_path / "empty.xlsx", "empty.xlsx", "an empty sheet")


def test_missing_id_column(programme: Ledger, cli, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Name", "Owner", "Jul-26"])
    ws.append(["Crusher", "Ana Lima", 5])
    wb.save(tmp_path / "noid.xlsx")
    _fails(cli, programme, tmp_path / "noid.xlsx", "noid.xlsx", "no header row with an id "
           "column", "a column headed 'ID'", "--mapping")


def test_two_columns_for_the_same_month(programme: Ledger, cli, tmp_path: Path) -> None:
    labels: list[object] = [datetime(2026, 7, 1), "Aug-26", "2026-07"]
    path = canonical_workbook(tmp_path / "dup.xlsx",
                              [initiative_row("GR-1", [1, 2, 3])], months=labels)
    _fails(cli, programme, path, "Initiatives!L4", "a second column for Jul-26",
           "the first is J4", "one column per month")


def test_date_header_outside_the_horizon(programme: Ledger, cli, tmp_path: Path) -> None:
    labels: list[object] = [datetime(2026, 6, 1), datetime(2026, 7, 1)]
    path = canonical_workbook(tmp_path / "early.xlsx",
                              [initiative_row("GR-1", [5, 6])], months=labels)
    _fails(cli, programme, path, "Initiatives!J4", "Jun-26", "outside the programme's horizon",
           "Jul-26 to Jun-28")


def test_blank_month_outside_the_horizon_is_only_a_warning(programme: Ledger, cli,
                                                           tmp_path: Path) -> None:
    labels: list[object] = [datetime(2026, 6, 1), datetime(2026, 7, 1)]
    path = canonical_workbook(tmp_path / "early.xlsx",
                              [initiative_row("GR-1", [None, 6])], months=labels)
    r = cli("import", "initiatives", str(path))
    assert r.exit_code == 0, r.output
    assert "warning" in r.stderr
    assert "Initiatives!J4" in r.stderr
    assert phasing(programme) == {("GR-1", "2026-07"): 600}


BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        b'uniqueCount="1"><si><t>&lol3;</t></si></sst>')


def test_xml_bomb(programme: Ledger, cli, good: Path, tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr("xl/sharedStrings.xml", BOMB)
    _fails(cli, programme, path, "bomb.xlsx", "xl/sharedStrings.xml", "XML bomb")


def test_xml_bomb_in_the_sheet_itself(programme: Ledger, cli, good: Path,
                                      tmp_path: Path) -> None:
    path = replace_part(good, tmp_path / "bomb2.xlsx", "xl/worksheets/sheet1.xml",
                        lambda xml: BOMB[:BOMB.index(b"<sst")] + xml[xml.index(b"<worksheet"):])
    _fails(cli, programme, path, "xl/worksheets/sheet1.xml", "DOCTYPE")


@pytest.fixture(scope="module")
def padded_workbooks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(only blank formatted rows, data then a million blank formatted rows): built once."""
    folder = tmp_path_factory.mktemp("million")
    good = canonical_workbook(folder / "good.xlsx",
                              [initiative_row("GR-1", months(24, {0: 10, 1: 20}))])
    return (million_blank_rows(good, folder / "blank.xlsx", keep_data=False),
            million_blank_rows(good, folder / "padded.xlsx", keep_data=True))


def test_million_blank_formatted_rows(programme: Ledger, cli,
                                      padded_workbooks: tuple[Path, Path]) -> None:
    empty, padded = padded_workbooks
    # Only blank formatted rows: an empty sheet, said quickly.
    _fails(cli, programme, empty, "blank.xlsx", "an empty sheet")
    # The same padding below real data is ignored: the data import.
    r = cli("import", "initiatives", str(padded))
    assert r.exit_code == 0, r.output
    assert "1 row read" in r.stdout
    assert phasing(programme) == {("GR-1", "2026-07"): 1000, ("GR-1", "2026-08"): 2000}


def test_xls_csv_and_ods_get_a_clear_message(programme: Ledger, cli, tmp_path: Path) -> None:
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    _fails(cli, programme, xls, "old.xls", "Excel 97-2003 (.xls)", "save it as .xlsx")
    csv_file = tmp_path / "pipeline.csv"
    csv_file.write_text("ID,Name,Jul-26\nGR-1,x,5\n")
    _fails(cli, programme, csv_file, "pipeline.csv", "a CSV/text file", "save it as .xlsx")
    ods = tmp_path / "calc.ods"
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    _fails(cli, programme, ods, "calc.ods", "OpenDocument spreadsheet (.ods)")


def test_missing_file_and_bad_options(programme: Ledger, cli, tmp_path: Path) -> None:
    _fails(cli, programme, tmp_path / "nowhere.xlsx", "no such file")
    r = cli("import", "initiatives", str(tmp_path / "x.xlsx"), "--mode", "replace")
    assert r.exit_code == 1
    assert "expected update" in r.stderr
    r = cli("import", "initiatives", str(tmp_path / "x.xlsx"), "--scale", "abc")
    assert r.exit_code == 1
    assert "--scale 'abc'" in r.stderr
    r = cli("import", "initiatives", str(tmp_path / "x.xlsx"), "--report", "out.txt")
    assert r.exit_code == 1
    assert "expected a .xlsx or .csv" in r.stderr


def test_amounts_without_an_id_are_refused(programme: Ledger, cli, tmp_path: Path) -> None:
    rows = [initiative_row("GR-1", months(24, {0: 1})),
            [None, "orphan", "Ana Lima", "PRO", "PROC", "L1", "", "benefit", "plan", 5]]
    path = canonical_workbook(tmp_path / "orphan.xlsx", rows)
    _fails(cli, programme, path, "Initiatives!A6", "an empty cell in a row with amounts")
