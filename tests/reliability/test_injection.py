"""Injection: text that looks like a formula or SQL stays plain text everywhere.

Ids, names, owners, descriptions and notes such as ``=cmd|' /C calc'!A0``, ``+1+1``,
``@SUM(1)`` and ``'; DROP TABLE ...`` go in through a workbook import and come out through
history (JSON and CSV), the gap by owner (JSON and CSV), the Excel gap report and an owner
workbook: stored and shown exactly, a *string* cell in every xlsx (openpyxl reads
``data_type == 's'``, never ``'f'``), and in CSV prefixed with ``'`` where a spreadsheet
would evaluate it (the documented OWASP rule of ``reports.safe.csv_text``).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
from fixtures_workbooks import canonical_sheet
from sqlalchemy import inspect

from ledger.api import Ledger
from reliability.support import HEADER, MONTHS, current_facts, record
from reports.safe import csv_text, set_text

PAYLOADS = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(1)",
    "'; DROP TABLE initiative; --",
    "-2+3+cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example","click")',
]


def _workbook(path: Path, names: list[str], owner: str) -> Path:
    wb, ws = canonical_sheet([*HEADER, *[datetime(m.year, m.month, 1) for m in MONTHS]],
                             title="Initiatives")
    for r, (ext, name) in enumerate(zip(PAYLOADS, names, strict=True), start=5):
        for c, text in enumerate([ext, name, owner, "PRO", "PROC", "L2", name, "benefit",
                                  "plan"], start=1):
            set_text(ws.cell(r, c), text)  # typed text, as a person would enter it
        for c in range(len(HEADER) + 1, len(HEADER) + 1 + len(MONTHS)):
            ws.cell(r, c, 1000 + r)
    wb.save(path)
    return path


def _string_cells(path: Path) -> dict[str, list[tuple[str, str]]]:
    """payload -> [(sheet!cell, data_type)] of every cell whose value contains it."""
    found: dict[str, list[tuple[str, str]]] = {p: [] for p in PAYLOADS}
    book = openpyxl.load_workbook(path)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if not isinstance(cell.value, str):
                    continue
                for p in PAYLOADS:
                    if p in cell.value:
                        found[p].append((f"{ws.title}!{cell.coordinate}", cell.data_type))
                        assert cell.data_type == "s", (p, ws.title, cell.coordinate)
                if cell.data_type == "f":
                    assert "cmd|" not in cell.value
                    assert "evil" not in cell.value
    return found


def test_formula_and_sql_text_stays_text_everywhere(programme: Ledger, cli: Any,
                                                    db_url: str, tmp_path: Path) -> None:
    owner = "=cmd|' /C calc'!A0 owner"
    note = "@SUM(1) '; DROP TABLE submission; --"
    tables = sorted(inspect(programme.engine).get_table_names())
    first = _workbook(tmp_path / "first.xlsx", PAYLOADS, owner)
    r = cli("import", "initiatives", str(first), "--note", note)
    assert r.exit_code == 0, r.output
    renamed = [p[::-1] if p[0] == "'" else p + " v2" for p in PAYLOADS]
    r = cli("import", "initiatives", str(_workbook(tmp_path / "second.xlsx", renamed, owner)),
            "--note", note)
    assert r.exit_code == 0, r.output
    assert sorted(inspect(programme.engine).get_table_names()) == tables
    assert {k[0] for k in current_facts(db_url)} == set(PAYLOADS)

    # Stored exactly.
    from ledger.initiatives import current_initiatives

    with programme.reading() as conn:
        cur = current_initiatives(conn)
    stored = {r["external_id"]: (r["name"], r["owner"], r["description"])
              for r in cur.to_dict("records")}
    assert stored == {p: (n, owner, n) for p, n in zip(PAYLOADS, renamed, strict=True)}

    # History: JSON exact; CSV exact or apostrophe-prefixed where a spreadsheet would
    # evaluate it.
    for ext, old, new in zip(PAYLOADS, PAYLOADS, renamed, strict=True):
        r = cli("history", "--format", "json", "--", ext)  # "--": ids may start with -
        assert r.exit_code == 0, r.output
        rows = json.loads(r.stdout)
        assert {row["note"] for row in rows} == {note}
        names = [row for row in rows if row["what"] == "name"]
        assert [(n["old"], n["new"]) for n in names if n["old"]] == [(old, new)], names
        r = cli("history", "--format", "csv", "--", ext)
        assert r.exit_code == 0, r.output
        table = list(csv.DictReader(io.StringIO(r.stdout)))
        assert {row["note"] for row in table} == {csv_text(note)}
        got = [(row["old"], row["new"]) for row in table if row["what"] == "name"
               and row["old"]]
        assert got == [(csv_text(old), csv_text(new))], got
        for row in table:
            for value in row.values():
                evaluated = f"CSV cell a spreadsheet would evaluate: {value!r}"
                assert not value.startswith(("=", "+", "@")), evaluated
                assert not value.startswith("-2+"), evaluated

    # The gap by owner, JSON and CSV.
    r = cli("gap", "--by", "owner", "--format", "json")
    assert r.exit_code == 0, r.output
    assert owner in r.stdout.replace('\\"', '"') or owner in json.dumps(json.loads(r.stdout))
    r = cli("gap", "--by", "owner", "--format", "csv")
    assert r.exit_code == 0, r.output
    cells = [c for row in csv.reader(io.StringIO(r.stdout)) for c in row]
    assert csv_text(owner) in cells
    assert owner not in cells

    # The Excel gap report and an owner workbook: every payload a string cell.
    report = tmp_path / "gap.xlsx"
    r = cli("report", "gap", "--out", str(report))
    assert r.exit_code == 0, r.output
    found = _string_cells(report)
    assert all(found[p] for p in PAYLOADS), {p: v for p, v in found.items() if not v}
    export = tmp_path / "owner.xlsx"
    r = cli("phasing", "export", "--owner", owner, "--out", str(export))
    assert r.exit_code == 0, r.output
    found_owner = _string_cells(export)
    assert all(found_owner[p] for p in PAYLOADS), found_owner
    # ... and the owner workbook imports back unchanged (ids are text, not formulas).
    r = cli("import", "initiatives", str(export))
    assert r.exit_code == 0, r.output
    assert {k[0] for k in current_facts(db_url)} == set(PAYLOADS)
    record("injection: payloads round-tripped", len(PAYLOADS) + 2)
