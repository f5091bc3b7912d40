"""The P&L reconciliation (issue 18): movement against the (flexed) baseline, claimed
savings, the unexplained difference, the claim tolerance check, as-of.

The worked example of docs/reconciliation.md (tests/helpers/pnl_seed.py), computed by hand
there and here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pandas as pd
import pytest
from helpers.pnl_seed import GL_CSV, import_example, seed

from ledger.engine import checks
from ledger.pnl import over_claims, reconcile, total_rows, unit_rows

D = Decimal


def test_formulas_by_hand_without_a_database() -> None:
    months = ["2026-07-01", "2026-08-01", "2026-09-01"]
    cost = unit_rows("cost", months, {"2026-07-01": 1000, "2026-08-01": 1000},
                     {"2026-07-01": 900}, {"2026-07-01", "2026-08-01"},
                     {"2026-07-01": 150, "2026-09-01": 7})
    # July: 1000 - 900 = 100 saved, 150 claimed: 50 claimed beyond the accounts.
    assert [(r["movement"], r["unexplained"]) for r in cost] == [(100, -50), (1000, 1000),
                                                                  (None, None)]
    # August has an extract without lines for the unit: its actual is 0, not "missing".
    assert cost[1]["actual"] == 0
    assert cost[2]["actual"] is None
    assert not cost[2]["reported"]
    income = unit_rows("income", months[:1], {"2026-07-01": 1000}, {"2026-07-01": 1200},
                       {"2026-07-01"}, {"2026-07-01": 150})
    assert (income[0]["movement"], income[0]["unexplained"]) == (200, 50)
    total = total_rows([cost, income])
    # September does not reconcile (no extract): its claim of 7 is in no total.
    assert total == {"baseline": 3000, "actual": 2100, "movement": 1300, "claimed": 300,
                     "unexplained": 1000, "reported": True}
    # Over by 50 against a movement of 100: fires at 49 %, not at 50 %.
    assert [r["period"] for r in over_claims(cost, D("0.49"))] == ["2026-07"]
    assert over_claims(cost, D("0.5")) == []


def _rows(frame: pd.DataFrame, part: str) -> dict[str, tuple[object, ...]]:
    cols = ["baseline", "actual", "movement", "claimed", "unexplained"]
    return {r["period"]: tuple(r[c] for c in cols)
            for r in frame[frame["part"] == part].to_dict("records")}


@pytest.fixture
def example(programme, tmp_path):
    seed(programme)
    import_example(programme, tmp_path)
    return programme


def test_reconcile_worked_example(example, cli, db_url, backend) -> None:
    rep = reconcile(example)
    assert rep.kinds == {"benefit": "cost"}
    # MIN July: flexed baseline 1,000,000.00 + 10 AUD/t x 40,000 t (July's actual) =
    # 1,400,000.00; GL 812,345.67 + 500,000.00; movement 87,654.33; claimed 80,000.00.
    assert _rows(rep.frame, "MIN") == {
        "2026-07": (D("1400000.00"), D("1312345.67"), D("87654.33"), D("80000.00"),
                    D("7654.33")),
        "2026-08": (D("1500000.00"), D("1300000.00"), D("200000.00"), D("120000.00"),
                    D("80000.00")),
        "2026-09": (D("1500000.00"), None, None, D("0.00"), None)}
    # PRO August: 305,000.00 less a (5,000.00) credit = 300,000.00, the baseline.
    assert _rows(rep.frame, "PRO") == {
        "2026-07": (D("300000.00"), D("290000.00"), D("10000.00"), D("20000.00"),
                    D("-10000.00")),
        "2026-08": (D("300000.00"), D("300000.00"), D("0.00"), D("0.00"), D("0.00")),
        "2026-09": (D("300000.00"), None, None, D("5000.00"), None)}
    programme_rows = _rows(rep.frame, "Programme")
    assert programme_rows["2026-07"] == (D("1700000.00"), D("1602345.67"), D("97654.33"),
                                         D("100000.00"), D("-2345.67"))
    # The programme row is the sum of the units, to the cent.
    for period in ("2026-07", "2026-08"):
        for i in range(5):
            assert programme_rows[period][i] == sum(
                _rows(rep.frame, u)[period][i] for u in ("MIN", "PRO"))
    assert programme_rows["2026-09"] == (None,) * 5
    sep = rep.frame[(rep.frame["part"] == "MIN") & (rep.frame["period"] == "2026-09")]
    assert not sep["reported"].iloc[0]
    # Fiscal years: sums of the months that reconcile (September's claim is in none).
    fy = reconcile(example, fiscal_year=True).frame
    assert _rows(fy, "MIN")["FY27"] == (D("2900000.00"), D("2612345.67"), D("287654.33"),
                                        D("200000.00"), D("87654.33"))
    assert _rows(fy, "PRO")["FY27"] == (D("600000.00"), D("590000.00"), D("10000.00"),
                                        D("20000.00"), D("-10000.00"))
    assert _rows(fy, "Programme")["FY27"] == (D("3500000.00"), D("3202345.67"),
                                              D("297654.33"), D("220000.00"), D("77654.33"))
    only = reconcile(example, by="programme", fiscal_year=True).frame
    assert list(only["part"]) == ["Programme"]
    if backend == "sqlite":  # the table's layout does not depend on the database
        _cli_table(cli, db_url)


def _cli_table(cli, db_url: str) -> None:
    # As a terminal of 120 columns runs it (the console's width is read at start-up).
    env = {**os.environ, "COLUMNS": "120", "TLEDGER_DATABASE_URL": db_url}
    proc = subprocess.run([sys.executable, "-c", "from tledger.cli import main; main()",
                           "reconcile"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "not reported" in proc.stdout
    assert "87,654.33" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 120
    assert "…" not in proc.stdout
    csv_out = cli("reconcile", "--fiscal-year", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == ("metric,part,period,fiscal_year,reported,baseline,actual,movement,"
                          "claimed,unexplained")
    assert "benefit,Programme,FY27,FY27,True,3500000.00,3202345.67,297654.33,220000.00," \
           "77654.33" in csv_out


def test_tolerance_check_and_as_of(example, tmp_path, cli) -> None:
    found = checks(example)
    over = found[found["check"] == "claim_over_pnl"]
    assert list(over["detail"]) == [
        "PRO 2026-07 benefit: claimed 20,000.00, the accounts show 10,000.00 (over by "
        "10,000.00, tolerance 5 %)"]
    assert list(over["severity"]) == ["warning"]
    assert over["amount"].iloc[0] == D("10000.00")
    # Over by 10,000.00 on a movement of 10,000.00 is 100 %: a 100 % tolerance keeps quiet.
    result = cli("programme", "set", "--claim-tolerance", "100%")
    assert result.exit_code == 0, result.output
    assert "claim tolerance: 100 % of the P&L movement" in result.stdout
    assert "claim_over_pnl" not in set(checks(example)["check"])
    result = cli("programme", "set", "--claim-tolerance", "0.999")
    assert "claim_over_pnl" in set(checks(example)["check"])
    assert cli("programme", "set", "--claim-tolerance", "-1").exit_code != 0
    cli("programme", "set", "--claim-tolerance", "5%")
    # A new extract for July replaces July's lines; as of before it, the first extract.
    first = reconcile(example)
    revised = GL_CSV.replace("CC-PRO-01,6100 Maintenance,290000",
                             "CC-PRO-01,6100 Maintenance,280000")
    july_only = "\n".join(line for line in revised.splitlines()
                          if line.startswith(("Period", "2026-07"))) + "\n"
    sub = import_example(example, tmp_path, july_only, name="gl_july_v2.csv")
    assert sub is not None
    now = _rows(reconcile(example).frame, "PRO")
    # July replaced (movement 20,000.00 = the claim); August kept from the first extract.
    assert now["2026-07"][1:3] == (D("280000.00"), D("20000.00"))
    assert now["2026-08"][1] == D("300000.00")
    assert "claim_over_pnl" not in set(checks(example)["check"])
    before = reconcile(example, as_of=sub - 1)
    pd.testing.assert_frame_equal(before.frame, first.frame)
    assert "claim_over_pnl" in set(checks(example, as_of=sub - 1)["check"])
    out = cli("reconcile", "--as-of", str(sub - 1), "--format", "json", "--by", "programme")
    rows = json.loads(out.stdout)
    assert rows[0]["part"] == "Programme"
    assert rows[0]["movement"] == "97654.33"



def test_the_report_sheet_recalculates_to_the_ledgers_figures(example, cli, tmp_path) -> None:
    """The gap report's "P&L reconciliation" sheet: LibreOffice recalculates it (cached
    values stripped) and every figure equals the ledger's, to the cent."""
    import openpyxl
    from helpers.libreoffice import recalculate

    path = tmp_path / "gap.xlsx"
    out = cli("report", "gap", "--out", str(path))
    assert out.exit_code == 0, out.output
    ws = openpyxl.load_workbook(path)["P&L reconciliation"]
    # Rows 5-7 are MIN's months, 8 its FY27; PRO 9-12; the programme 13-16.
    assert (ws["G5"].value, ws["I5"].value) == ("=E5-F5", "=G5-H5")
    assert ws["G7"].value is None  # September: not reported, no formula
    assert ws["E8"].value == "=SUMPRODUCT(D5:D7,E5:E7)"
    assert ws["G13"].value == "=D5*G5+D9*G9"
    assert ws["I16"].value == "=SUMPRODUCT(D13:D15,I13:I15)"
    (recalculated,) = recalculate([path], tmp_path)
    values = openpyxl.load_workbook(recalculated, data_only=True)["P&L reconciliation"]
    months = reconcile(example).frame
    expected = {(r["part"], r["period"]): r for r in pd.concat(
        [months, reconcile(example, fiscal_year=True).frame]).to_dict("records")}
    checked = 0
    for row in range(5, 17):
        rec = expected[(values[f"B{row}"].value, values[f"C{row}"].value)]
        for col, key in zip("EFGHI", ["baseline", "actual", "movement", "claimed",
                                      "unexplained"], strict=True):
            got, want = values[f"{col}{row}"].value, rec[key]
            if want is None:
                assert got is None, (row, col)
                continue
            assert D(str(round(got, 2))).quantize(want) == want, (row, col, got, want)
            checked += 1
    assert checked == 49  # 12 rows x 5 figures, 11 of them empty (September)
