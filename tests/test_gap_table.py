"""The terminal gap table: fits the terminal by splitting a fiscal year into tables of
consecutive months, never cuts an amount short, and shows cumulative rows on request."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from helpers.book import Book, mon
from rich.console import Console

from ledger.engine import gap
from tledger.cli.gap import _gap_tables


def _big_ledger(led) -> None:  # type: ignore[no-untyped-def]
    book = Book(led)
    book.initiatives([{"ext": "GR-1", "bu": "PRO", "stage": "L3", "owner": "Ann"},
                      {"ext": "GR-2", "bu": "MIN", "stage": "L1", "owner": "Bob"}])
    book.targets({("programme", ""): {mon(i): "12345678.91" for i in range(24)},
                  ("business_unit", "PRO"): {mon(i): "6000000.00" for i in range(24)}})
    book.phasing({"GR-1": {mon(i): "-1234567.89" for i in range(24)},
                  "GR-2": {mon(i): "987654.32" for i in range(3, 24)}})


def _render(tables, width: int) -> list[str]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    console = Console(file=out, width=width, markup=False, emoji=False, color_system=None)
    for table in tables:
        console.print(table)
    return out.getvalue().splitlines()


def test_a_fiscal_year_too_wide_for_120_columns_is_split_and_every_month_shown(programme):
    _big_ledger(programme)
    rep = gap(programme, by="business_unit", weighted=True)
    tables = _gap_tables(rep, cumulative=True, width=120)
    lines = _render(tables, 120)
    assert max(len(line) for line in lines) <= 120
    text = "\n".join(lines)
    assert "…" not in text
    assert len(tables) > 3  # two fiscal years in several parts each, then the totals
    header_months = [m for m in (f"{d:%b-%y}" for d in rep.months) if m in text]
    assert len(header_months) == 24
    # Each fiscal year's subtotal column is in its last part, and shown in full.
    assert "FY27 (" in text
    assert "-14,814,814.68" in text  # GR-1's FY27 bottom-up in full: 12 x -1,234,567.89
    titles = [str(t.title) for t in tables]
    assert titles[-1].endswith("totals")
    assert all("FY27" in t or "FY28" in t for t in titles[:-1])


def test_a_wide_terminal_keeps_one_table_per_fiscal_year(programme):
    _big_ledger(programme)
    rep = gap(programme)
    tables = _gap_tables(rep, width=400)
    assert [str(t.title) for t in tables] == ["Gap: benefit (AUD) plan: FY27",
                                              "Gap: benefit (AUD) plan: FY28",
                                              "Gap: benefit (AUD) plan: totals"]
    assert max(len(line) for line in _render(tables, 400)) <= 400


def test_cumulative_rows_in_the_terminal_agree_with_the_csv(programme, cli):
    _big_ledger(programme)
    plain = cli("gap")
    assert plain.exit_code == 0, plain.output
    assert "cumulative" not in plain.stdout
    r = cli("gap", "--cumulative")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(cli("gap", "--format", "csv").stdout)))
    last_fy27 = next(row for row in rows if row["month"] == "2027-06-01")
    for label, col in (("cumulative target", "cumulative_target"),
                       ("cumulative bottom-up", "cumulative_bottom_up"),
                       ("cumulative gap", "cumulative_gap")):
        line = next(line for line in r.stdout.splitlines() if label in line)
        assert f"{Decimal(rows[0][col]):,}" in line, label
        assert f"{Decimal(last_fy27[col]):,}" in r.stdout, label
    # The horizon's cumulative gap is the horizon's gap.
    assert Decimal(rows[-1]["cumulative_gap"]) == sum(Decimal(row["gap"]) for row in rows)


def test_gap_and_initiative_tables_fit_a_120_column_terminal(programme, db_url):
    """End to end, as a terminal of 120 columns runs it (COLUMNS=120)."""
    import os
    import subprocess
    import sys

    _big_ledger(programme)
    env = {**os.environ, "COLUMNS": "120", "TLEDGER_DATABASE_URL": db_url}
    for args in (["gap", "--by", "business_unit", "--weighted", "--cumulative"],
                 ["initiative", "list"], ["initiative", "show", "GR-1"]):
        proc = subprocess.run([sys.executable, "-c", "from tledger.cli import main; main()",
                               *args], env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        if args[0] == "gap":
            lines = lines[:-1]  # the summary is a sentence: the terminal wraps it
        assert max(len(line) for line in lines) <= 120, args
        assert "…" not in proc.stdout
    assert "Jun-28" in subprocess.run(
        [sys.executable, "-c", "from tledger.cli import main; main()", "gap"], env=env,
        capture_output=True, text=True, timeout=120, check=False).stdout
