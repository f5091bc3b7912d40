"""``tledger gap`` and ``tledger checks``: golden outputs, formats, exit codes, errors.

The golden files in ``tests/golden/`` hold the exact CSV/JSON for a fixed ledger; both
backends must produce them byte for byte. After an intended change of output, regenerate
them with ``TLEDGER_UPDATE_GOLDEN=1 pytest tests/test_gap_cli.py`` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from helpers.book import Book, mon
from helpers.clock import between

from tledger.cli.gap import _gap_style

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TLEDGER_UPDATE_GOLDEN") == "1"


def fixed_ledger(led) -> Book:  # type: ignore[no-untyped-def]
    """A small ledger touching every feature the report shows."""
    book = Book(led)
    book.initiatives([
        {"ext": "GR-0001", "bu": "PRO", "lever": "PROC", "stage": "L3", "owner": "Ann"},
        {"ext": "GR-0002", "bu": "PRO", "lever": "LAB", "stage": "L1", "owner": "Bob"},
        {"ext": "GR-0003", "bu": "MIN", "lever": "MAINT", "stage": "L5", "owner": "Ann"},
        {"ext": "GR-0004", "lever": "ENERGY", "stage": "L2", "owner": "Cy"},
        {"ext": "GR-0005", "bu": "MIN", "stage": "L4", "owner": "Cy"},
        {"ext": "GR-0006", "bu": "MIN", "stage": "L0", "owner": "Bob", "status": "withdrawn"},
    ])
    book.targets({
        ("programme", ""): {mon(i): "1000.00" for i in range(24)},
        ("business_unit", "PRO"): {mon(i): "570.00" for i in range(24)},
        ("business_unit", "MIN"): {mon(i): "380.00" for i in range(24)},
    })
    book.phasing({
        "GR-0001": {mon(i): "120.50" for i in range(2, 24)},
        "GR-0002": {mon(i): f"{40 + 10 * i}.00" for i in range(0, 24, 2)},
        "GR-0003": {mon(i): "333.33" for i in range(6, 24)},
        "GR-0004": {mon(0): "-25.00", mon(1): "0.05", mon(12): "777.77"},
        "GR-0005": {mon(i): "199.99" for i in range(12, 24)},
        "GR-0006": {mon(i): "500.00" for i in range(24)},
    })
    book.phasing({"GR-0001": {mon(i): "100.00" for i in range(2, 24)},
                  "GR-0003": {mon(i): "350.00" for i in range(6, 20)}}, scenario="forecast")
    book.phasing({"GR-0003": {mon(6): "301.10"}}, scenario="actual")
    return book


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with TLEDGER_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"output differs from {path}; if the change is intended, regenerate with "
        "TLEDGER_UPDATE_GOLDEN=1 and review the diff")


GOLDEN_RUNS = [
    ("gap_plan.csv", ["gap", "--format", "csv"]),
    ("gap_by_business_unit.json", ["gap", "--by", "business_unit", "--format", "json"]),
    ("gap_weighted_fy28.csv", ["gap", "--weighted", "--fiscal-year", "FY28", "--format", "csv"]),
    ("gap_fiscal_by_lever.csv", ["gap", "--by", "lever", "--view", "fiscal", "--format", "csv"]),
    ("gap_forecast_vs_plan_by_stage.csv",
     ["gap", "--scenario", "forecast", "--compare", "plan", "--by", "stage", "--view",
      "fiscal", "--format", "csv"]),
    ("checks.json", ["checks", "--format", "json"]),
]


def test_golden_outputs_are_identical_on_both_backends(programme, cli):
    fixed_ledger(programme)
    for name, args in GOLDEN_RUNS:
        r = cli(*args)
        assert r.exit_code == 0, r.output  # the fixed ledger has warnings, no errors
        _golden(name, r.stdout)


def test_csv_and_json_carry_exact_amounts_as_strings(programme, cli):
    fixed_ledger(programme)
    r = cli("gap", "--by", "business_unit", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert len(rows) == 3 * 24  # MIN, PRO, (unallocated) x 24 months
    for rec in rows:
        for col in ("target", "bottom_up", "gap", "cumulative_gap"):
            assert isinstance(rec[col], str)
            assert Decimal(rec[col]).as_tuple().exponent == -2
        assert rec["coverage"] is None or isinstance(rec["coverage"], str)
    # The parts add up to the unbroken programme (from another run), to the cent.
    whole = list(csv.DictReader(io.StringIO(cli("gap", "--format", "csv").stdout)))
    for i, prog in enumerate(whole):
        month_rows = [rec for rec in rows if rec["month"] == prog["month"]]
        assert len(month_rows) == 3, i
        for col in ("target", "bottom_up", "gap"):
            assert sum(Decimal(rec[col]) for rec in month_rows) == Decimal(prog[col])
    assert "gap" in r.stderr
    assert "bottom-up" in r.stderr


def test_table_shows_months_fiscal_subtotals_totals_and_a_summary(programme, cli):
    fixed_ledger(programme)
    r = cli("gap", "--by", "business_unit")
    assert r.exit_code == 0, r.output
    out = r.stdout
    for text in ("Jul-26", "Jun-28", "FY27", "FY28", "total", "PRO", "MIN", "(unallocated)",
                 "Programme", "exit run-rate", "coverage"):
        assert text in out, text
    # Amounts are shown in full, never cut short by the terminal's width.
    assert "…" not in out
    assert "1,000.00" in out
    assert out.strip().splitlines()[-1].startswith("benefit plan over 2026-07 to 2028-06")


def test_gaps_are_red_where_the_bottom_up_falls_short():
    assert _gap_style(Decimal("1.00"), "benefit") == "red"
    assert _gap_style(Decimal("-1.00"), "benefit") == "green"
    assert _gap_style(Decimal("-1.00"), "cost") == "red"  # spending more than budgeted
    assert _gap_style(Decimal("0.00"), "benefit") == ""


def test_as_of_on_the_command_line_reproduces_an_earlier_report(programme, cli):
    book = fixed_ledger(programme)
    then = cli("gap", "--by", "owner", "--format", "csv").stdout
    instant = between().isoformat()
    book.phasing({"GR-0002": {mon(5): "1.00"}})
    now = cli("gap", "--by", "owner", "--format", "csv").stdout
    assert now != then
    again = cli("gap", "--by", "owner", "--as-of", instant, "--format", "csv")
    assert again.exit_code == 0, again.output
    assert again.stdout == then
    assert "as of" in again.stderr


def test_as_of_a_submission_id_is_the_ledger_right_after_it(programme, cli):
    book = fixed_ledger(programme)
    then = cli("gap", "--by", "owner", "--format", "csv").stdout
    submission = programme.submissions()["id"].max()
    book.phasing({"GR-0002": {mon(5): "1.00"}})
    again = cli("gap", "--by", "owner", "--as-of", str(submission), "--format", "csv")
    assert again.exit_code == 0, again.output
    assert again.stdout == then
    assert f"submission {submission}" in again.stderr
    missing = cli("gap", "--as-of", "999999")
    assert missing.exit_code != 0
    assert "no such submission" in missing.output


def test_checks_exit_1_on_errors_and_0_on_warnings_only(programme, cli):
    book = Book(programme)
    book.initiatives([{"ext": "A", "stage": "L5"}])
    book.phasing({"A": {mon(0): "1.00"}})
    r = cli("checks")
    assert r.exit_code == 0, r.output  # L5 without actuals is a warning
    assert "late_stage_no_actuals" in r.stdout
    assert "0 errors, 1 warning" in r.stdout
    book.phasing({"A": {mon(0): "1.00", "2030-01-01": "2.00"}})
    r = cli("checks", "--format", "csv")
    assert r.exit_code == 1
    assert r.stdout.splitlines()[1].startswith("phasing_outside_horizon,error,benefit,plan")
    assert "1 error, 1 warning" in r.stderr
    assert cli("checks", "--metric", "volume", "--format", "json").exit_code == 0


def test_checks_table_shows_a_run_of_months_as_one_line(programme, cli):
    """The fixed ledger's business units leave 50.00 of the programme target unallocated in
    each of its 24 months: 24 findings for scripts, one line for people."""
    fixed_ledger(programme)
    r = cli("checks")
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stdout.splitlines() if "cascade_gap" in ln]
    assert len(lines) == 1
    assert "2026-07..2028-06 (24 months)" in lines[0]
    assert "24 consecutive months, 1,200.00 in all" in lines[0]
    assert lines[0].rstrip(" │").endswith("1,200.00")
    assert "negative_benefit" in r.stdout
    assert "late_stage_no_actuals" in r.stdout
    assert "0 errors, 27 warnings; runs of consecutive months shown as one line" in \
        " ".join(r.stdout.split())
    rows = list(csv.DictReader(io.StringIO(cli("checks", "--format", "csv").stdout)))
    assert sum(rec["check"] == "cascade_gap" for rec in rows) == 24


def test_group_monthly_findings_breaks_runs_at_gaps_and_changes() -> None:
    from datetime import date

    from tledger.cli.gap import group_monthly_findings

    def f(month: str | None, scope: str = "lever", amount: str | None = "1.00",
          severity: str = "warning") -> dict[str, object]:
        return {"check": "cascade_gap", "severity": severity, "metric": "benefit",
                "scope": scope, "month": date.fromisoformat(month) if month else None,
                "subject": "(programme)", "detail": "d",
                "amount": Decimal(amount) if amount else None}

    found = pd.DataFrame([f("2026-07-01"), f("2026-08-01"), f("2026-10-01"),  # a gap
                          f("2026-11-01", severity="error"), f("2026-12-01", scope="unit"),
                          f(None, amount=None), f("2027-01-01"), f("2027-02-01")])
    shown = group_monthly_findings(found)
    assert shown["month"].tolist()[:2] == ["2026-07..2026-08 (2 months)", date(2026, 10, 1)]
    assert shown["amount"].tolist()[0] == Decimal("2.00")
    assert len(shown) == 6
    assert shown["month"].tolist()[-1] == "2027-01..2027-02 (2 months)"
    assert group_monthly_findings(found.iloc[0:0]).empty


@pytest.mark.parametrize(("args", "message"), [
    (["gap", "--as-of", "last week"], "error: as-of 'last week'"),
    (["gap", "--metric", "nope"], "error: no metric 'nope'"),
    (["gap", "--fiscal-year", "FY40"], "error: fiscal year FY40 is outside the horizon"),
    (["gap", "--scenario", "budget"], "error: scenario 'budget'"),
    (["gap", "--compare", "plan"], "error: compare 'plan': choose a scenario other"),
    (["checks", "--as-of", "2026-13-01"], "error: as-of '2026-13-01'"),
])
def test_user_mistakes_are_one_line_errors(programme, cli, args, message):
    r = cli(*args)
    assert r.exit_code == 1
    assert message in r.stderr
    assert "Traceback" not in r.output


def test_every_command_documents_an_example(cli):
    for command in ("gap", "checks"):
        r = cli(command, "--help")
        assert r.exit_code == 0
        assert "Example: tledger " + command in r.stdout
