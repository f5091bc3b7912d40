"""Owner workbooks are not trusted: the hidden stamp is signed by the ledger that exported
it and rows are resolved by their visible id; a hostile file ends in one short line.

Every ledger test runs on SQLite and PostgreSQL. The hostile files are real workbooks
exported by tledger and then damaged at the XML level, as an attacker would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from helpers.owner_seed import INITIATIVES, plan_of, seed
from openpyxl import load_workbook
from sqlalchemy import text

from importers.owner import OwnerConflict, import_owner_workbook
from importers.problems import ImportProblems
from ledger.api import Ledger
from ledger.errors import LedgerError
from ledger.months import month_range
from ledger.phasing import set_phasing
from ledger.store import last_submission_id
from reports.owner_workbook import (
    STAMP_SHEET,
    OwnerExport,
    collect_owner_export,
    write_owner_workbook,
)

DATA_PART = "xl/worksheets/sheet1.xml"
STAMP_PART = "xl/worksheets/sheet2.xml"


def _export(led: Ledger, tmp_path: Path, name: str = "ana.xlsx") -> Path:
    return write_owner_workbook(collect_owner_export(led, "Ana Lima"), tmp_path / name)


def _edit(src: Path, dest: Path, data: dict[str, object] | None = None,
          stamp: Callable[[object], None] | None = None) -> Path:
    """Save ``src`` as ``dest`` with data cells set and the hidden stamp sheet edited, as a
    person with openpyxl (or a hex editor) would."""
    wb = load_workbook(src)
    for cell, value in (data or {}).items():
        wb["Initiatives"][cell] = value
    if stamp is not None:
        stamp(wb[STAMP_SHEET])
    wb.save(dest)
    return dest


def _set_meta(key: str, value: object) -> Callable[[object], None]:
    def edit(ws) -> None:  # type: ignore[no-untyped-def]
        for row in ws.iter_rows(max_col=2):
            if row[0].value == key:
                row[1].value = value
                return
        raise AssertionError(f"no stamp row {key}")
    return edit


def _set_table(external_id: str, column: str, value: object) -> Callable[[object], None]:
    def edit(ws) -> None:  # type: ignore[no-untyped-def]
        header = None
        for row in ws.iter_rows():
            values = [c.value for c in row]
            if values and values[0] == "external_id":
                header = values
            elif header and values and values[0] == external_id:
                row[header.index(column)].value = value
                return
        raise AssertionError(f"no stamp row for {external_id}")
    return edit


def _state(led: Ledger) -> tuple[int, int]:
    with led.reading() as conn:
        return (int(conn.execute(text("SELECT COUNT(*) FROM submission")).scalar_one()),
                int(conn.execute(text("SELECT COUNT(*) FROM phasing")).scalar_one()))


def _standard_programme(led: Ledger) -> None:
    """The conftest ``programme`` set-up, on a ledger of its own."""
    led.create_programme(name="Cost 2028", currency="AUD", fy_start_month=7,
                         first_month=date(2026, 7, 1), last_month=date(2028, 6, 1),
                         user="setup")
    for code in ("PRO", "MIN"):
        led.add_business_unit(code, code, user="setup")
    for code in ("PROC", "LAB", "MAINT", "ENERGY"):
        led.add_lever(code, code, user="setup")


# ------------------------------------------------------------------ the stamp is signed


def test_a_stamp_edited_to_aim_a_row_at_another_owners_initiative_is_refused_even_with_force(
        programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "aimed.xlsx",
                 {"A6": "GR-0003", "J6": 99999},
                 _set_table("GR-0002", "external_id", "GR-0003"))
    before = _state(programme)
    with pytest.raises(LedgerError, match="hidden _tledger sheet was edited"):
        import_owner_workbook(programme, path, force=True)
    assert _state(programme) == before
    assert plan_of(programme, "GR-0003") == {"2026-07": Decimal("700.00")}


@pytest.mark.parametrize("tamper", ["as_of", "phasing_version"])
def test_raising_the_stamped_version_to_skip_the_stale_check_is_refused_even_with_force(
        programme, tmp_path, tamper):
    seed(programme)
    src = _edit(_export(programme, tmp_path), tmp_path / "stale.xlsx", {"J5": 1200})
    set_phasing(programme, "GR-0001", date(2026, 7, 1), Decimal("1500"), user="office")
    with pytest.raises(OwnerConflict):  # untouched, the stale workbook is caught
        import_owner_workbook(programme, src)
    with programme.reading() as conn:
        newest = last_submission_id(conn)
    edit = (_set_meta("as_of", str(newest)) if tamper == "as_of"
            else _set_table("GR-0001", "phasing_version", str(newest)))
    path = _edit(src, tmp_path / "raised.xlsx", stamp=edit)
    before = _state(programme)
    for force in (False, True):
        with pytest.raises(LedgerError, match="signature does not match"):
            import_owner_workbook(programme, path, force=force)
    assert _state(programme) == before
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1500.00")


def test_a_workbook_from_another_ledger_is_refused_even_with_force(
        programme, empty_db_url, cli, tmp_path):
    """A staging ledger with the same programme and initiatives, whose internal ids are
    shifted by one: its workbook must not touch this ledger at all."""
    seed(programme)
    staging = Ledger.init(empty_db_url)
    try:
        _standard_programme(staging)
        seed(staging, initiatives={"ST-0000": ("Staging only", "Zoe", "PRO", "PROC", "L0")},
             plan={})
        seed(staging, initiatives=INITIATIVES)
        path = _edit(_export(staging, tmp_path), tmp_path / "staging.xlsx", {"J5": 4242})
        staging_id = staging.identity()[0]
    finally:
        staging.dispose()
    assert staging_id != programme.identity()[0]
    before = _state(programme)
    with pytest.raises(LedgerError) as info:
        import_owner_workbook(programme, path, force=True)
    assert str(info.value).startswith(
        f"staging.xlsx was exported from another ledger (id {staging_id[:8]}…), not this one")
    assert str(info.value).endswith("export a new workbook from this ledger")
    r = cli("phasing", "import", str(path), "--force")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert "another ledger" in r.stderr
    assert _state(programme) == before


def test_an_old_unsigned_workbook_with_an_unknown_internal_id_ends_in_one_line(
        programme, cli, tmp_path):
    """The attack on format 1: its stamp named internal ids, here one that does not exist
    (before: a raw IntegrityError traceback)."""
    seed(programme)

    def old_format(ws) -> None:  # type: ignore[no-untyped-def]
        """Format 1's table: an internal ``initiative_id`` after the external id."""
        _set_meta("format", "tledger-owner-workbook/1")(ws)
        in_table = False
        for row in ws.iter_rows(max_col=5):
            in_table = in_table or row[0].value == "external_id"
            if in_table and row[0].value is not None:
                values = [c.value for c in row]
                inserted = "initiative_id" if values[0] == "external_id" else "999999"
                for cell, value in zip(row[1:], [inserted, *values[1:4]], strict=True):
                    cell.value = value
                ws.cell(row[0].row, 6).value = values[4]

    path = _edit(_export(programme, tmp_path), tmp_path / "old.xlsx", {"J5": 1},
                 old_format)
    before = _state(programme)
    with pytest.raises(LedgerError, match=r"older tledger .* export a new workbook"):
        import_owner_workbook(programme, path, force=True)
    r = cli("phasing", "import", str(path))
    assert r.exit_code == 1
    assert len(r.stderr.strip().splitlines()) == 1
    assert "export a new workbook" in r.stderr
    assert "Traceback" not in r.output
    assert _state(programme) == before


def test_a_signed_workbook_still_imports_and_records_its_author(programme, tmp_path):
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "ok.xlsx", {"J5": 1234})
    result = import_owner_workbook(programme, path, user="ana")
    assert result.changed == 1
    assert plan_of(programme, "GR-0001")["2026-07"] == Decimal("1234.00")


def test_an_error_value_in_a_month_cell_is_refused_not_read_as_an_empty_month(
        programme, tmp_path):
    """calamine reads ``#REF!`` as an empty cell: taken as such it would empty the month."""
    seed(programme)
    path = _edit(_export(programme, tmp_path), tmp_path / "ref.xlsx", {"J5": "#REF!"})
    before = _state(programme)
    with pytest.raises(ImportProblems) as info:
        import_owner_workbook(programme, path)
    assert [(p.cell, p.found) for p in info.value.problems] == [("J5", "#REF!")]
    assert _state(programme) == before


# ------------------------------------------------------------------ hostile files


def _rewrite(src: Path, dest: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, change(data) if item.filename == part else data)
    return dest


def _append_cells(cells: bytes) -> Callable[[bytes], bytes]:
    return lambda xml: xml.replace(b"</sheetData>", cells + b"</sheetData>")


def _far_corner(xml: bytes) -> bytes:
    return _append_cells(b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')(xml)


def _many_cells(xml: bytes) -> bytes:
    return _append_cells(b'<row r="90">' + b"<c><v>1</v></c>" * 2_000_000 + b"</row>")(xml)


def _malformed(xml: bytes) -> bytes:
    return xml[: len(xml) // 2]


def _doctype(xml: bytes) -> bytes:
    head, body = xml.split(b"?>", 1)
    return head + b'?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]>' + body


def _nan(xml: bytes) -> bytes:
    # (whatever style index the month cell has)
    out = re.sub(rb'(<c r="J5" s="\d+"><v>)1000(</v></c>)', rb"\1NaN\2", xml)
    assert out != xml
    return out


def _megabyte_name(xml: bytes) -> bytes:
    out = xml.replace(b"Spares pooling", b"x" * 1_000_000)
    assert out != xml
    return out


#: name -> (part, damage, what the one line says)
HOSTILE: dict[str, tuple[str, Callable[[bytes], bytes], str]] = {
    "far-corner": (DATA_PART, _far_corner, "1,048,576 rows x 16,384 columns"),
    "stamp-far-corner": (STAMP_PART, _far_corner, "1,048,576 rows x 16,384 columns"),
    "many-cells": (DATA_PART, _many_cells, "at most 1,000,000 cells"),
    "malformed": (DATA_PART, _malformed, "cannot be read"),
    "doctype": (DATA_PART, _doctype, "DOCTYPE"),
    "nan": (DATA_PART, _nan, "Initiatives!J5: found nan, expected a finite number"),
    "megabyte-name": ("xl/sharedStrings.xml", _megabyte_name,
                      "B5: found " + "x" * 40 + "… (1,000,000 characters)"),
}


def _hostile(src: Path, tmp_path: Path, name: str) -> Path:
    part, damage, _ = HOSTILE[name]
    return _rewrite(src, tmp_path / f"{name}.xlsx", part, damage)


def test_hostile_owner_workbooks_end_in_one_short_line_and_write_nothing(
        programme, cli, tmp_path):
    seed(programme)
    src = _export(programme, tmp_path)
    before = _state(programme)
    huge = "x" * 1_000_000
    files = {name: _hostile(src, tmp_path, name) for name in HOSTILE}
    files["huge-name"] = _edit(src, tmp_path / "huge-name.xlsx", {"B5": huge})
    files["huge-id"] = _edit(src, tmp_path / "huge-id.xlsx", {"A5": huge})
    files["huge-stamp"] = _edit(src, tmp_path / "huge-stamp.xlsx",
                                stamp=_set_meta("owner", huge))
    says = {name: said for name, (_, _, said) in HOSTILE.items()} | {
        "huge-name": "found xxxxxxxxxx", "huge-id": "characters), expected an initiative",
        "huge-stamp": "signature does not match"}
    for name, path in files.items():
        with pytest.raises(LedgerError):
            import_owner_workbook(programme, path, force=True)
        r = cli("phasing", "import", str(path), "--force")
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 1, (name, r.output[:500])
        assert len(lines) == 1, (name, r.output[:500])
        assert len(lines[0]) < 300, (name, lines[0])
        assert says[name] in lines[0], (name, lines[0])
        assert "Traceback" not in r.output
    assert _state(programme) == before


def test_reading_a_hostile_owner_workbook_keeps_memory_bounded(tmp_path):
    """Each file measured in a process of its own (before: 1.37 GB, a MemoryError, or an
    abort from a terabyte allocation). The file is the subject here, not the backend."""
    months = month_range(date(2026, 7, 1), date(2028, 6, 1))
    export = OwnerExport(
        programme="Cost 2028", currency="AUD", owner="Ana Lima", metric="benefit",
        metric_unit="AUD", decimals=2, scenario="plan", months=months, as_of=1,
        exported_at=datetime.now(UTC), exported_by="office",
        rows=pd.DataFrame([{"initiative_id": 1, "external_id": "GR-0001", "name": "n",
                            "owner": "Ana Lima", "business_unit": "PRO", "lever": "PROC",
                            "stage": "L2", "description": "", "phasing_version": 1,
                            "attributes_version": 1}]),
        amounts={("GR-0001", "2026-07-01"): Decimal("1000")}, ledger_id="x", signature="y")
    src = write_owner_workbook(export, tmp_path / "src.xlsx")
    if not Path("/proc/self/status").exists():  # pragma: no cover
        pytest.skip("peak memory is read from /proc (Linux)")
    # VmHWM is the peak of this process image only (ru_maxrss would include the parent's
    # memory at fork time).
    script = (
        "import json, re, sys\n"
        "from importers.owner import read_owner_workbook\n"
        "from ledger.errors import LedgerError\n"
        "try:\n"
        "    read_owner_workbook(sys.argv[1]); said = ''\n"
        "except LedgerError as exc:\n"
        "    said = str(exc)\n"
        "status = open('/proc/self/status').read()\n"
        "peak = int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))\n"
        "print(json.dumps([said, peak]))\n"
    )
    for name in ("far-corner", "stamp-far-corner", "many-cells"):
        path = _hostile(src, tmp_path, name)
        assert path.stat().st_size < 200_000
        run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                             text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        said, peak_kb = json.loads(run.stdout)
        assert HOSTILE[name][2] in said
        assert peak_kb < 400_000, (name, peak_kb)
