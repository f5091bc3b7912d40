"""``tledger import actuals``: finance's GL extract mapped to units and metrics, every
problem in one run with its cell, nothing written on an error, idempotent re-import."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
import xlsxwriter
from helpers.pnl_seed import GL_CSV, MAPPING, import_example

from importers.actuals import ActualsMapping, import_actuals, match_code
from importers.problems import ImportProblems
from ledger.errors import LedgerError
from ledger.pnl import gl_lines

D = Decimal


def test_patterns_match_exact_keys_first_then_patterns_in_order_then_codes() -> None:
    table = {"CC-4410": "MINE", "CC-44*": "PRO", "cc-4*": "MIN"}
    codes = {"min": "MIN"}
    assert match_code(" cc-4410 ", table, codes) == "MINE"  # exact, case ignored
    assert match_code("CC-4411", table, codes) == "PRO"  # the first pattern that matches
    assert match_code("CC-4511", table, codes) == "MIN"
    assert match_code("Min", table, codes) == "MIN"  # a code of the ledger
    assert match_code("CC-9", table, codes) is None


def test_bad_input_is_reported_in_one_run_with_cells_and_nothing_written(programme, tmp_path,
                                                                        cli) -> None:
    bad = ("Period,Cost centre,Account,Amount\n"
           "2026-07,CC-MIN-01,6100 Maintenance,\"1,2x\"\n"
           "2026-13,CC-MIN-01,6100 Maintenance,10\n"
           "2026-07,CC-XX-9,6100 Maintenance,10\n"
           "2026-07,CC-XX-9,6100 Maintenance,10\n"
           "2026-07,CC-PRO-01,9999 Suspense,10\n"
           "2030-01,CC-PRO-01,6100 Maintenance,10\n")
    (tmp_path / "gl.toml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    with pytest.raises(ImportProblems) as caught:
        import_actuals(programme, tmp_path / "bad.csv", mapping=tmp_path / "gl.toml")
    shown = [str(p) for p in caught.value.problems]
    assert shown == [
        "bad.csv A3: found '2026-13', expected a period such as 2026-07, Jul-26, 2026-07-31 "
        "or a date",
        "bad.csv A7: found '2030-01', expected a month inside the horizon (2026-07 to 2028-06)",
        "bad.csv B4: found cost centre 'CC-XX-9' (2 rows), expected a cost centre in "
        "[actuals.cost_centres] of the --mapping file, or a business unit code: MIN, PRO",
        "bad.csv C6: found account '9999 Suspense', expected an account in [actuals.accounts] "
        "of the --mapping file (\"6100*\" = \"cost\"), or a metric code: benefit, cost, volume",
        "bad.csv D2: found '1,2x', expected a comma only between groups of three digits, as "
        "in 1,234 or 1,234,567.89 (a decimal comma is read only where an import mapping sets "
        "decimal = \",\")",
    ], shown
    with programme.reading() as conn:
        assert len(gl_lines(conn)) == 0
        assert conn.exec_driver_sql(
            "SELECT COUNT(*) FROM submission WHERE kind = 'import'").scalar_one() == 0
    out = cli("import", "actuals", str(tmp_path / "bad.csv"), "--mapping",
              str(tmp_path / "gl.toml"), "--report", str(tmp_path / "problems.csv"))
    assert out.exit_code != 0
    assert "5 problems in bad.csv" in out.stderr
    assert "'CC-XX-9' (2 rows)" in (tmp_path / "problems.csv").read_text(encoding="utf-8")
    assert "Traceback" not in out.output


def test_csv_import_is_idempotent_and_a_workbook_reads_dates(programme, tmp_path, cli) -> None:
    sub = import_example(programme, tmp_path)
    assert sub is not None
    with programme.reading() as conn:
        lines = gl_lines(conn)
    assert len(lines) == 6
    assert set(lines["pnl_kind"]) == {"cost"}
    assert sorted(lines["amount_minor"])[0] == -500_000  # (5,000.00) is a credit
    again = import_actuals(programme, tmp_path / "gl.csv", mapping=tmp_path / "gl.toml")
    assert (again.submission_id, again.already_imported_as) == (None, sub)
    out = cli("import", "actuals", str(tmp_path / "gl.csv"), "--mapping",
              str(tmp_path / "gl.toml"))
    assert f"already imported as submission {sub}; nothing to do" in out.stdout
    # A workbook: real dates, Excel serial numbers and Jul-26 text, semicolons not needed.
    book = tmp_path / "gl.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    ws = wb.add_worksheet("Actuals")
    when = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["GL extract September"])
    ws.write_row(2, 0, ["Posting period", "Cost Center", "GL Account", "Amount (AUD)"])
    ws.write_datetime(3, 0, datetime(2026, 9, 30), when)
    ws.write_row(3, 1, ["CC-MIN-01", "6100 Maintenance", 1_234.5])
    ws.write_number(4, 0, 46295, when)  # 2026-09-30 as a serial number
    ws.write_row(4, 1, ["CC-PRO-01", "6100 Maintenance", "(34.50)"])
    ws.write_row(5, 0, ["Sep-26", "CC-PRO-01", "6100 Maintenance", "1,000"])
    wb.close()
    out = cli("import", "actuals", str(book), "--mapping", str(tmp_path / "gl.toml"),
              "--dry-run", "--format", "json")
    assert out.exit_code == 0, out.output
    assert "3 GL lines for 2026-09; dry run: nothing written" in out.stderr
    out = cli("import", "actuals", str(book), "--mapping", str(tmp_path / "gl.toml"))
    assert out.exit_code == 0, out.output
    with programme.reading() as conn:
        sept = gl_lines(conn)
    sept = sept[sept["month"] == date(2026, 9, 1).isoformat()]
    assert sorted(sept["amount_minor"]) == [-3_450, 100_000, 123_450]
    assert set(sept["cost_centre"]) == {"CC-MIN-01", "CC-PRO-01"}


def test_mapping_errors_are_one_line(tmp_path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[actuals.pnl_kind]\nbenefit = "saving"\n', encoding="utf-8")
    with pytest.raises(LedgerError, match="expected cost or income"):
        ActualsMapping.load(path)
    path.write_text('[actuals.centres]\n"A" = "B"\n', encoding="utf-8")
    with pytest.raises(LedgerError, match=r"actuals\.centres"):
        ActualsMapping.load(path)
    assert GL_CSV.startswith("Period,Cost centre,Account,Amount")


def test_gl_lines_are_sealed_in_the_chain_and_guarded(programme, tmp_path, cli,
                                                      backend) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from ledger import chain

    import_example(programme, tmp_path)
    with programme.reading() as conn:
        assert chain.verify(conn).ok
    if backend == "postgresql":
        # The history guard (installed by `db grant`) refuses it, for the owner too.
        assert cli("db", "grant", "postgres").exit_code == 0
        with pytest.raises(DBAPIError, match="append-only"), programme.engine.begin() as conn:
            conn.execute(text("UPDATE gl_actual SET amount_minor = 1"))
        return
    # SQLite has no guard: a line changed outside tledger breaks the chain.
    with programme.engine.begin() as conn:
        conn.execute(text("UPDATE gl_actual SET amount_minor = 1 WHERE id = 1"))
    with programme.reading() as conn:
        assert not chain.verify(conn).ok
