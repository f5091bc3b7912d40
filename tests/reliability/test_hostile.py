"""Hostile and broken input: every file ends in a clear message or a correct import, never
a traceback, never a partial write.

* A fixed corpus of damaged and malicious workbooks (:mod:`reliability.hostile`) through
  the real CLI, on both backends: each must exit 1 with ``error: ...`` naming the file,
  with the ledger's every table unchanged, except a workbook that is merely odd (ZIP entries
  with path-traversal names, which tledger never unpacks) which must import correctly.
* A hypothesis-fuzzed corpus: workbooks whose cells hold every type (numbers huge and tiny,
  NaN and infinity written into the XML, booleans, dates before 1900, times, error values
  such as ``#REF!``, formulas without a saved value, unicode and very long text). The
  oracle is the documented cell rule (``ledger.money.parse_amount``, docs/workbook-format.md
  "Amounts in month cells", rounded half away from zero): a bad cell must stop the import
  (nothing written, the cell named), good cells must land exactly.
* The size limits are real and overridable from the environment.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fixtures_workbooks import canonical_sheet
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from importers import import_initiatives
from importers.amounts import MAX_MINOR
from ledger.api import Ledger
from ledger.errors import LedgerError
from ledger.money import AmountError, parse_amount, to_minor
from reliability import hostile
from reliability.support import (
    HEADER,
    MONTHS,
    TLEDGER,
    Child,
    child_env,
    current_facts,
    record,
    setup_programme,
    snapshot,
)

# ------------------------------------------------------------------ the fixed corpus


@pytest.mark.parametrize("case", sorted(hostile.CORPUS))
def test_hostile_workbook_ends_in_a_clear_message(case: str, programme: Ledger, cli: Any,
                                                  db_url: str, tmp_path: Path) -> None:
    path = hostile.CORPUS[case](tmp_path)
    before = snapshot(db_url)
    r = cli("import", "initiatives", str(path))  # an exception here fails the test
    assert "Traceback" not in r.output
    if case == "path_traversal":  # odd but harmless: nothing is ever unpacked
        assert r.exit_code == 0, r.output
        facts = current_facts(db_url)
        assert facts == {(row["id"], "benefit", "plan", m.isoformat()): a * 100
                         for row in hostile.GOOD_ROWS for m, a in zip(MONTHS, row["amounts"],
                                                                       strict=True)}
        assert not list(tmp_path.parent.parent.glob("**/evil-*.xml"))
        assert not list(Path.cwd().glob("evil-*.xml"))
    else:
        assert r.exit_code == 1, r.output
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("error: "), r.stderr
        assert path.name in last, r.stderr
        assert snapshot(db_url) == before, "a refused workbook changed the ledger"
    record("hostile: corpus files", 1, case=case)


@pytest.mark.parametrize("case", sorted(hostile.GRID_CORPUS))
def test_a_sheet_calamine_would_allocate_too_large_is_refused_before_it_is_built(
        case: str, programme: Ledger, db_url: str, tmp_path: Path) -> None:
    """Run in a child process: a guard that let calamine build the grid would abort it
    (SIGABRT from a Rust out-of-memory), and this test must see that as a failure."""
    build, limit = hostile.GRID_CORPUS[case]
    path = build(tmp_path)
    before = snapshot(db_url)
    child = Child([TLEDGER, "import", "initiatives", str(path)],
                  child_env(db_url), tmp_path / "child.err")
    code = child.finish()
    err = child.stderr()
    assert code == 1, f"exit {code} (negative: killed by a signal): {err[-2000:]}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("error: "), err
    assert path.name in lines[-1], err
    problem = [line for line in lines if "Initiatives" in line and limit in line]
    assert problem, f"no line naming the sheet and {limit!r}: {err}"
    assert snapshot(db_url) == before, "a refused workbook changed the ledger"
    record("hostile: corpus files", 1, case=case)


def test_a_targets_sheet_with_a_cell_at_xfd1048576_is_refused_before_it_is_built(
        programme: Ledger, db_url: str, tmp_path: Path) -> None:
    from fixtures_workbooks import targets_workbook

    src = targets_workbook(tmp_path / "t.xlsx", [["benefit", "programme", *[5000] * 24]])
    path = hostile.rewrite(src, tmp_path / "targets-xfd.xlsx", {hostile.SHEET: lambda d: d.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')})
    before = snapshot(db_url)
    child = Child([TLEDGER, "import", "targets", str(path)], child_env(db_url),
                  tmp_path / "child.err")
    code = child.finish()
    assert code == 1, f"exit {code}: {child.stderr()[-2000:]}"
    assert "Targets" in child.stderr(), child.stderr()
    assert "at most 30,000,000 cells" in child.stderr(), child.stderr()
    assert snapshot(db_url) == before


def test_the_size_guard_measures_what_calamine_builds() -> None:
    """The cheap scan settles ordinary sheets; every unusual form goes to the exact scan,
    which agrees with calamine on where cells land (empty ``<c/>`` do not count)."""
    from importers.workbook import _extent_of, _fits_cheaply

    def sheet(rows: bytes) -> bytes:
        return b'<worksheet><sheetData>' + rows + b"</sheetData></worksheet>"

    ordinary = sheet(b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c><c r="BR%d"><v>2</v></c>'
                              b"</row>" % (i, i, i) for i in range(1, 20_005)))
    assert _fits_cheaply(ordinary, 30_000_000)
    assert _extent_of(ordinary, 30_000_000) == (20_004, 70)
    for odd in (b'<row r="3"><c r="XFD3"><v>1</v></c></row>',      # three letters
                b'<row r="3"><c r="A300000"/><c r="B3"/></row>',   # row beyond the last
                b'<row r="3"><c s="1" r="A3"><v>1</v></c></row>',  # reference not first
                b'<row r="3"><c><v>1</v></c></row>',               # no reference
                b'<row r="3"><c r=\'A3\'><v>1</v></c></row>'):    # single quotes
        assert not _fits_cheaply(sheet(odd), 30_000_000), odd
    assert _extent_of(sheet(b'<row r="2"><c r="B2"><v>1</v></c><c r="XFD1048576" s="1"/>'
                            b"</row>"), 10**12) == (2, 2)
    assert _extent_of(sheet(b'<row r="2"><c r="B2"><v>1</v></c><c><v>1</v></c></row>'
                            b"<row><c><v>1</v></c></row>"), 10**12) == (3, 3)
    assert _extent_of(sheet(b'<row r="2"><c r=\'D7\'><v>1</v></c></row>'), 10**12) == (7, 4)
    assert _extent_of(sheet(b'<row r="2"><c r="&#65;1"><v>1</v></c></row>'), 10**12)[0] > 10**7


_REFS = st.tuples(st.one_of(st.integers(1, 30), st.integers(1, 800), st.integers(1, 20_000)),
                  st.one_of(st.integers(1, 60), st.integers(1, 40_000),
                            st.integers(1, 2_000_000)))


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


@settings(max_examples=300, deadline=None, derandomize=True)
@given(cells=st.lists(st.tuples(_REFS, st.sampled_from(['r="%s"'] * 6 + ["r='%s'", 's="1" r="%s"',
                                                         't="n"', 'r="%s"/'])),
                      min_size=1, max_size=8),
       limit=st.sampled_from([100, 10_000, 30_000_000]))
def test_the_cheap_size_check_never_passes_a_sheet_the_exact_scan_refuses(
        cells: list[tuple[tuple[int, int], str]], limit: int) -> None:
    from importers.workbook import _extent_of, _fits_cheaply

    def cell(col: int, row: int, form: str) -> bytes:
        attrs = (form % f"{_letters(col)}{row}" if "%s" in form else form).encode()
        return b"<c %s>" % attrs if attrs.endswith(b"/") else b"<c %s><v>1</v></c>" % attrs

    body = b"".join(cell(c, r, form) for (c, r), form in cells)
    xml = b'<worksheet><sheetData><row r="1">' + body + b"</row></sheetData></worksheet>"
    if _fits_cheaply(xml, limit):
        rows, cols = _extent_of(xml, limit)
        assert rows * cols <= limit, (xml, rows, cols)


def test_header_repeated_is_reported_at_its_row(programme: Ledger, cli: Any,
                                                tmp_path: Path) -> None:
    r = cli("import", "initiatives", str(hostile.header_repeated(tmp_path)))
    assert r.exit_code == 1
    assert "Initiatives!H8" in r.stderr or "row 8" in r.stderr, r.stderr


def test_size_limit_is_enforced_and_overridable(programme: Ledger, cli: Any, db_url: str,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import importers.workbook as wb

    big = hostile.oversized_shared_strings(tmp_path)
    monkeypatch.setattr(wb, "MAX_UNCOMPRESSED_BYTES", 5_000_000)
    r = cli("import", "initiatives", str(big))
    assert r.exit_code == 1
    assert "once unpacked" in r.stderr, r.stderr
    assert "TLEDGER_IMPORT_MAX_BYTES" in r.stderr, r.stderr
    monkeypatch.setattr(wb, "MAX_CELLS", 100)
    r = cli("import", "initiatives", str(hostile.good(tmp_path / "small.xlsx")))
    assert r.exit_code == 1, r.stderr
    assert "TLEDGER_IMPORT_MAX_CELLS" in r.stderr, r.stderr


def test_size_limits_come_from_the_environment(databases: Any, tmp_path: Path) -> None:
    url = databases.sqlite(tmp_path / "ledger.db")
    setup_programme(url)
    good = hostile.good(tmp_path / "good.xlsx")
    child = Child([TLEDGER, "import", "initiatives", str(good)],
                  child_env(url, TLEDGER_IMPORT_MAX_CELLS="50"), tmp_path / "cells.err")
    assert child.finish() == 1
    assert re.search(r"at most 50 cells \(TLEDGER_IMPORT_MAX_CELLS\)", child.stderr()), \
        child.stderr()
    assert "Traceback" not in child.stderr()


# ------------------------------------------------------------------ the fuzzed corpus

ERROR_VALUES = ["#REF!", "#DIV/0!", "#N/A", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"]
#: Placeholder integers for non-finite numbers: openpyxl cannot write NaN, so the XML is
#: patched afterwards (as a broken exporter would have written it).
_NONFINITE = {7_777_777_777_777_001: "NaN", 7_777_777_777_777_002: "INF",
              7_777_777_777_777_003: "-INF", 7_777_777_777_777_004: "1e999"}


def _legal(text: str) -> bool:
    return not ILLEGAL_CHARACTERS_RE.search(text)


texts = st.one_of(
    st.text(max_size=40).filter(_legal),
    st.sampled_from(["=cmd|' /C calc'!A0", "+1+1", "@SUM(1)", "'; DROP TABLE phasing; --",
                     "-", "", "  ", "1,200", "(350)", "$1,000.50", "12%", "1e5", "1.2.3",
                     "٣٤", "１２", "½", "−5", "\u202e12", "💶 100", "1,20", "12,34,567",
                     "1.234,56", "(-350)", "--5", "-(5)", "0,123"]),
    st.integers(300, 40_000).map(lambda n: "é" * n),
)
amount_cells = st.one_of(
    st.none(), st.none(), st.none(),
    st.integers(-10**16, 10**16), st.integers(-10**6, 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-1e9, 1e9).map(lambda x: round(x, 3)),
    st.sampled_from(list(_NONFINITE)),
    st.booleans(),
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=date(1000, 1, 1), max_value=date(1900, 3, 1)),
    st.times(),
    st.sampled_from(ERROR_VALUES),
    st.sampled_from(["=1/0", "=SUM(J5:K5)", "=NOW()", "=J5*2"]),
    texts,
)


#: Cells that are all amounts (or blank): half of the workbooks use only these, so the
#: "lands exactly" half of the property is exercised as often as the "refused" half.
good_cells = st.one_of(
    st.none(), st.integers(-10**9, 10**12), st.floats(-1e12, 1e12).map(lambda x: round(x, 4)),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.sampled_from(["1,200", "(350)", "-", "", " 2 500.50 ", "$1,000.50", "0.005", "-0",
                     "1,234,567.89", "-$5", "123,456,789,012.345"]),
    st.floats(5e10, 1e13).map(lambda x: round(x, 3)),
)


def _expect(cell: Any) -> int | str | None:
    """The documented rule for one month cell: minor units, None (no amount) or "bad"."""
    if cell is None:
        return None
    if isinstance(cell, (bool, datetime, date, time, timedelta)):
        return "bad"
    if isinstance(cell, int) and cell in _NONFINITE:
        return "bad"
    if isinstance(cell, str) and ((cell.startswith("=") and len(cell) > 1)
                                  or cell in ERROR_VALUES):
        return "bad"
    try:
        value = parse_amount(cell)
    except AmountError:
        return "bad"
    if value is None:
        return None
    minor = to_minor(Decimal(value), 2)
    return "bad" if abs(minor) > MAX_MINOR else minor


@st.composite
def fuzzed_rows(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 3))
    cells = good_cells if draw(st.booleans()) else amount_cells
    rows = []
    for i in range(n):
        fuzz_attrs = draw(st.integers(0, 3)) == 0
        amounts = [draw(cells) if draw(st.integers(0, 3)) == 0 else None for _ in MONTHS]
        rows.append({
            "id": draw(texts) if fuzz_attrs and draw(st.booleans()) else f"FZ-{i}",
            "name": draw(texts) if fuzz_attrs else f"Fuzzed {i}",
            "description": draw(texts),
            "fuzz_attrs": fuzz_attrs,
            "amounts": amounts,
        })
    return rows


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    wb, ws = canonical_sheet([*HEADER, *[datetime(m.year, m.month, 1) for m in MONTHS]],
                             title="Initiatives: fuzz")
    for row in rows:
        ws.append([row["id"], row["name"], "Ana Lima", "PRO", "PROC", "L2", row["description"],
                   "benefit", "plan", *row["amounts"]])
    wb.save(path)
    if any(c in _NONFINITE for r in rows for c in r["amounts"] if type(c) is int):
        hostile.rewrite(path, path.with_suffix(".nan.xlsx"), {hostile.SHEET: _nonfinite})
        shutil.move(path.with_suffix(".nan.xlsx"), path)
    return path


def _nonfinite(xml: bytes) -> bytes:
    for placeholder, token in _NONFINITE.items():
        xml = xml.replace(f"<v>{placeholder}</v>".encode(), f"<v>{token}</v>".encode())
    return xml


FUZZ_EXAMPLES = 60
#: No shrinking: a failure is reported as drawn (shrinking a workbook takes minutes).
PHASES = [Phase.explicit, Phase.reuse, Phase.generate]


def test_fuzzed_workbooks_import_exactly_or_are_refused_whole(tmp_path: Path,
                                                              databases: Any) -> None:
    template = databases.sqlite(tmp_path / "template.db")
    setup_programme(template)
    template_file = Path(template.removeprefix("sqlite:///"))
    seen = {"tried": 0, "imported": 0, "refused": 0, "bad_cells": 0}

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, phases=PHASES,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(rows=fuzzed_rows())
    def check(rows: list[dict[str, Any]]) -> None:
        n = seen["tried"] = seen["tried"] + 1
        db = tmp_path / f"fuzz-{n}.db"
        shutil.copyfile(template_file, db)
        url = f"sqlite:///{db}"
        path = _write(tmp_path / f"fuzz-{n}.xlsx", rows)
        expected = [[_expect(c) for c in row["amounts"]] for row in rows]
        bad = sum(e == "bad" for row in expected for e in row)
        seen["bad_cells"] += bad
        # openpyxl writes a description such as "=cmd|..." as a formula without a saved
        # value, which the import rightly refuses: such a row is not plain either.
        plain = not any(r["fuzz_attrs"] or str(r["description"]).startswith("=")
                        for r in rows)
        before = snapshot(url)
        led = Ledger.open(url)
        try:
            import_initiatives(led, [path], user="fuzz")
        except LedgerError as exc:
            seen["refused"] += 1
            # A fuzzed workbook may be imported or refused (no pytest.raises): a refusal is
            # checked here.
            assert bad or not plain, f"good workbook refused: {exc}"  # noqa: PT017
            assert str(exc).strip()  # noqa: PT017
            assert "\n" not in str(exc).strip()  # noqa: PT017
            problems = getattr(exc, "problems", [])
            assert all("\n" not in str(p) for p in problems)
            assert snapshot(url) == before, "a refused workbook changed the ledger"
            return
        finally:
            led.dispose()
        assert not bad, "a bad cell was imported silently"
        got = current_facts(url)
        db.unlink()
        want = {}
        for row, exp in zip(rows, expected, strict=True):
            for m, e in zip(MONTHS, exp, strict=True):
                if isinstance(e, int):
                    want[(str(row["id"]).strip(), "benefit", "plan", m.isoformat())] = e
        assert got == want
        seen["imported"] += 1

    check()
    record("hostile: fuzzed workbooks", seen["tried"], imported=seen["imported"],
           refused=seen["refused"], bad_cells=seen["bad_cells"])
    assert seen["imported"], seen
    assert seen["refused"], seen


@pytest.mark.parametrize("amount", ["1e40", "99999999999999999999", "1e14"])
def test_a_huge_single_edit_is_refused_in_one_line(programme: Ledger, cli: Any, db_url: str,
                                                   amount: str, tmp_path: Path) -> None:
    r = cli("import", "initiatives", str(hostile.good(tmp_path / "good.xlsx")))
    assert r.exit_code == 0, r.output
    before = snapshot(db_url)
    r = cli("phasing", "set", "HX-1", "--month", "2027-01", "--amount", amount)
    assert r.exit_code == 1
    assert r.stderr.startswith("error: amount"), r.stderr
    assert "too large" in r.stderr, r.stderr
    assert snapshot(db_url) == before
