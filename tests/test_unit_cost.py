"""Ratio metrics (issue 18): unit cost = (cost base - savings) / (volume + uplift), fiscal
years as ratios of sums, targets as levels, the money equivalent of the gap, by unit.

The worked example of docs/baselines.md, computed by hand there and here."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pandas as pd
import pytest
from helpers.baseline_seed import flexed_cost_base

from ledger.baselines import set_baseline
from ledger.errors import LedgerError
from ledger.initiatives import write_initiatives
from ledger.ratio import add_ratio_metric, allocate_exact, level_path, ratio_gap
from ledger.store import new_submission, write_phasing
from ledger.targets import set_target, target_by_month

D = Decimal
FY27 = [date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1),
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1),
        date(2027, 3, 1), date(2027, 4, 1), date(2027, 5, 1), date(2027, 6, 1)]


def _initiative(led, *, unit: str, benefit: dict[str, int], volume: dict[str, int],
                external_id: str = "GR-0001", lever: str | None = "PROC") -> None:
    """One initiative in ``unit`` and ``lever`` with plan phasing in minor units."""
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="office", note="seed",
                             source_name="seed.xlsx", source_sha256="0" * 64)
        units = led.business_units(conn).set_index("code")["id"]
        levers = led.levers(conn).set_index("code")["id"]
        gates = led.stage_gates(conn).set_index("code")["id"]
        ids = write_initiatives(conn, pd.DataFrame([{
            "external_id": external_id, "name": "Debottleneck", "owner": "Ana Lima",
            "business_unit_id": int(units[unit]),
            "lever_id": None if lever is None else int(levers[lever]),
            "stage_gate_id": int(gates["L3"]), "description": ""}]), sub.id).ids
        rows = [(ids[external_id], led.metric(code, conn).id, "plan", month, amount)
                for code, facts in (("benefit", benefit), ("volume", volume))
                for month, amount in facts.items()]
        write_phasing(conn, pd.DataFrame(rows, columns=["initiative_id", "metric_id",
                                                        "scenario", "month", "amount_minor"]),
                      sub.id)


@pytest.fixture
def example(programme):
    """docs/baselines.md's worked example."""
    flexed_cost_base(programme)
    add_ratio_metric(programme, code="unit_cost", ratio="benefit/volume", unit="AUD/t",
                     decimals=2)
    _initiative(programme, unit="PRO", benefit={"2027-06-01": 3_000_000},
                volume={"2027-06-01": 10_000_000})
    return programme


def _row(frame: pd.DataFrame, part: str, key: str, value: object) -> pd.Series:
    return frame[(frame["part"] == part) & (frame[key] == value)].iloc[0]


def test_monthly_unit_cost_is_adjusted_numerator_over_adjusted_denominator(example):
    rep = ratio_gap(example, metric="unit_cost", fiscal_year="FY27")
    m = rep.monthly
    july = _row(m, "Programme", "month", date(2026, 7, 1))
    # 100,000.00 + 20 AUD/t x 8,000 t (July's actual) = 260,000.00 over 10,000 t
    assert (july["numerator_baseline"], july["numerator"], july["denominator"],
            july["implied"]) == (D("260000.00"), D("260000.00"), D("10000.000"), D("26.00"))
    assert _row(m, "Programme", "month", date(2026, 8, 1))["implied"] == D("30.00")
    june = _row(m, "Programme", "month", date(2027, 6, 1))
    # (300,000.00 - 30,000.00 savings) / (10,000 t + 10,000 t uplift) = 13.50
    assert (june["savings"], june["numerator"], june["uplift"], june["denominator"],
            june["implied"], june["baseline_level"]) == (
        D("30000.00"), D("270000.00"), D("10000.000"), D("20000.000"), D("13.50"), D("30.00"))


def test_a_fiscal_year_is_the_ratio_of_its_sums_not_the_average_of_its_months(example):
    fy = _row(ratio_gap(example, metric="unit_cost").fiscal, "Programme", "period", "FY27")
    # 3,530,000.00 / 130,000 t = 27.1538... -> 27.15
    assert (fy["numerator"], fy["denominator"], fy["implied"]) == (
        D("3530000.00"), D("130000.000"), D("27.15"))
    # The average of the monthly ratios, (26.00 + 10 x 30.00 + 13.50) / 12 = 28.29, is not it.
    assert fy["average_of_monthly"] == D("28.29")
    # The baseline level without the initiative: 3,560,000.00 / 120,000 t = 29.67
    assert fy["baseline_level"] == D("29.67")


def test_gap_and_its_money_equivalent_tie_to_the_cent(example):
    set_target(example, metric="unit_cost", amount="25", fiscal_year="FY27", note="board")
    rep = ratio_gap(example, metric="unit_cost", fiscal_year="FY27")
    july = _row(rep.monthly, "Programme", "month", date(2026, 7, 1))
    # 25.00 - 26.00; 25.00 x 10,000 t - 260,000.00
    assert (july["target"], july["gap"], july["money_gap"]) == (D("25.00"), D("-1.00"),
                                                                 D("-10000.00"))
    june = _row(rep.monthly, "Programme", "month", date(2027, 6, 1))
    assert (june["gap"], june["money_gap"]) == (D("11.50"), D("230000.00"))
    fy = _row(rep.fiscal, "Programme", "period", "FY27")
    assert (fy["target"], fy["implied"], fy["gap"], fy["money_gap"]) == (
        D("25.00"), D("27.15"), D("-2.15"), D("-280000.00"))
    months = rep.monthly[rep.monthly["part"] == "Programme"]
    assert sum(months["money_gap"]) == fy["money_gap"]
    assert sum(months["numerator"]) == fy["numerator"]


def test_a_ramp_target_interpolates_levels_from_the_baseline_level(example):
    set_target(example, metric="unit_cost", amount="25.00", fiscal_year="FY27",
               profile="ramp", note="ramp to 25")
    levels = target_by_month(example, metric="unit_cost")["amount"].tolist()
    # from July's baseline level 26.00 to 25.00: 26 - i/12, half away from zero
    assert levels == [D(x) for x in ("25.92", "25.83", "25.75", "25.67", "25.58", "25.50",
                                     "25.42", "25.33", "25.25", "25.17", "25.08", "25.00")]


def test_level_paths_exactly():
    assert level_path(Fraction(2600), 2500, "even", 3) == [2500, 2500, 2500]
    assert level_path(Fraction(2600), 2500, "ramp", 4) == [2575, 2550, 2525, 2500]
    assert level_path(Fraction(2600), 2500, "weights:0,1,1", 3) == [2600, 2550, 2500]
    # half away from zero: 2600 - 100/8 = 2587.5 -> 2588
    assert level_path(Fraction(2600), 2500, "ramp", 8)[0] == 2588
    with pytest.raises(LedgerError, match="no baseline level"):
        level_path(None, 2500, "ramp", 3)


def test_ramp_without_a_baseline_is_refused_in_one_line(programme, cli):
    add_ratio_metric(programme, code="unit_cost", ratio="benefit/volume")
    r = cli("target", "set", "--metric", "unit_cost", "--amount", "24.50", "--fy", "FY27",
            "--profile", "ramp", "--note", "x")
    assert r.exit_code != 0
    assert "no baseline level" in r.stderr
    assert "Traceback" not in r.output


def test_by_unit_each_unit_against_its_own_baseline(example):
    set_baseline(example, metric="volume", per_month="4000", fiscal_year="FY27",
                 scope="unit:PRO", note="PRO volume")
    set_baseline(example, metric="benefit", per_month="50000", fiscal_year="FY27",
                 scope="unit:PRO", note="PRO cost base")
    rep = ratio_gap(example, metric="unit_cost", by="business_unit", fiscal_year="FY27")
    assert list(dict.fromkeys(rep.monthly["part"])) == ["Programme", "MIN", "PRO"]
    june = _row(rep.monthly, "PRO", "month", date(2027, 6, 1))
    # (50,000.00 - 30,000.00) / (4,000 t + 10,000 t) = 1.428... -> 1.43
    assert (june["numerator"], june["denominator"], june["implied"]) == (
        D("20000.00"), D("14000.000"), D("1.43"))
    fy = _row(rep.fiscal, "PRO", "period", "FY27")
    # 570,000.00 / 58,000 t = 9.827... -> 9.83
    assert (fy["numerator"], fy["denominator"], fy["implied"]) == (
        D("570000.00"), D("58000.000"), D("9.83"))
    assert _row(rep.fiscal, "MIN", "period", "FY27")["implied"] is None
    assert _row(rep.fiscal, "Programme", "period", "FY27")["implied"] == D("27.15")


def test_as_of_reads_the_ledger_before_the_initiative(example):
    subs = example.submissions()
    seeded = int(subs.loc[subs["note"] == "seed", "id"].iloc[0])
    before = ratio_gap(example, metric="unit_cost", as_of=seeded - 1)
    assert _row(before.fiscal, "Programme", "period", "FY27")["implied"] == D("29.67")


def test_cli_ratio_metric_target_and_gap(programme, cli):
    for args in (("baseline", "set", "-m", "volume", "--per-month", "10000", "--fy", "FY27",
                  "--note", "v"),
                 ("baseline", "set", "-m", "benefit", "--per-month", "300000", "--fy",
                  "FY27", "--note", "c")):
        assert cli(*args).exit_code == 0
    r = cli("metric", "add", "unit_cost", "--ratio", "benefit/volume", "--unit", "AUD/t",
            "--decimals", "2")
    assert r.exit_code == 0, r.output
    assert "ratio metric unit_cost = benefit/volume added (AUD/t, 2 decimals)" in r.stdout
    listed = json.loads(cli("metric", "list", "--format", "json").stdout)
    assert [(m["code"], m["kind"], m["ratio"]) for m in listed][-2:] == [
        ("volume", "benefit", ""), ("unit_cost", "cost", "benefit/volume")]
    r = cli("target", "set", "--metric", "unit_cost", "--amount", "24.50", "--fy", "FY27",
            "--note", "board")
    assert r.exit_code == 0
    assert "levels 24.50 .. 24.50 over 2026-07..2027-06" in r.stdout
    r = cli("gap", "--metric", "unit_cost", "--view", "fiscal", "--format", "json")
    assert r.exit_code == 0, r.output
    fy = json.loads(r.stdout)[0]
    assert (fy["period"], fy["implied"], fy["target"], fy["gap"], fy["money_gap"]) == (
        "FY27", "30.00", "24.50", "-5.50", "-660000.00")
    r = cli("gap", "--metric", "unit_cost", "--fiscal-year", "FY27")
    assert r.exit_code == 0
    assert "ratios of sums" in r.stdout
    r = cli("gap", "--metric", "unit_cost", "--by", "lever", "--view", "fiscal", "-f", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[:3] == [
        "part,period,fiscal_year,savings,uplift,contribution",
        "Programme,FY27,FY27,0.00,0.000,0.00", "ENERGY,FY27,FY27,0.00,0.000,0.00"]
    r = cli("metric", "add", "bad", "--ratio", "benefit")
    assert r.exit_code != 0
    assert "NUMERATOR/DENOMINATOR" in r.stderr
    r = cli("baseline", "set", "-m", "unit_cost", "--per-month", "1", "--fy", "FY27",
            "--note", "x")
    assert r.exit_code != 0
    assert "is a ratio metric" in r.stderr


def test_allocate_exact_rounds_down_then_gives_the_largest_remainders():
    assert allocate_exact(-1700, [Fraction(-1650), Fraction(-50005, 1000)]) == [-1650, -50]
    assert allocate_exact(10, [Fraction(10, 3)] * 3) == [4, 3, 3]
    assert allocate_exact(0, [Fraction(0), Fraction(1, 3), Fraction(-1, 3)]) == [0, 0, 0]
    with pytest.raises(ValueError, match="within one unit"):
        allocate_exact(5, [Fraction(1), Fraction(1)])


def test_by_lever_the_parts_contributions_add_up_to_the_programmes_change(example):
    # The example's GR-0001 (PROC) plus GR-0002 (LAB: June saves 10,001.00) and GR-0003
    # (no lever: July saves 2,000.00).
    _initiative(example, unit="MIN", benefit={"2027-06-01": 1_000_100}, volume={},
                external_id="GR-0002", lever="LAB")
    _initiative(example, unit="MIN", benefit={"2026-07-01": 200_000}, volume={},
                external_id="GR-0003", lever=None)
    rep = ratio_gap(example, metric="unit_cost", by="lever", fiscal_year="FY27")
    c = rep.contributions
    assert c is not None

    def contributions(period: str) -> dict[str, Decimal]:
        rows = c[(c["period"] == period) & (c["contribution"].notna())]
        return {p: v for p, v in zip(rows["part"], rows["contribution"], strict=True)
                if v != 0 or p == "Programme"}

    # June: (300,000.00 - 40,001.00) / 20,000 t = 12.99995 -> 13.00; change 13.00 - 30.00.
    # PROC -(30,000 + 30 x 10,000) / 20,000 = -16.50 exactly; LAB -10,001 / 20,000 =
    # -0.50005, which takes the one cent left over (largest remainder): -0.50.
    assert contributions("2027-06") == {"Programme": D("-17.00"), "PROC": D("-16.50"),
                                        "LAB": D("-0.50")}
    # July: 2,000.00 / 10,000 t off 26.00
    assert contributions("2026-07") == {"Programme": D("-0.20"), "(unallocated)": D("-0.20")}
    # FY27, from its sums: R0 = 3,560,000 / 120,000 = 29.666..., D1 = 130,000 t;
    # implied 3,517,999 / 130,000 = 27.0615... -> 27.06; change 27.06 - 29.67 = -2.61.
    # PROC -(30,000 + 29.666... x 10,000) / 130,000 = -2.5128... ; LAB -0.0769...;
    # (unallocated) -0.0153...: rounded down -2.52, -0.08, -0.02 (-2.62), and the cent left
    # goes to PROC, the largest remainder.
    assert contributions("FY27") == {"Programme": D("-2.61"), "PROC": D("-2.51"),
                                     "LAB": D("-0.08"), "(unallocated)": D("-0.02")}
    fy = _row(rep.fiscal, "Programme", "period", "FY27")
    assert fy["implied"] - fy["baseline_level"] == D("-2.61")
    for period in set(c["period"]):
        rows = c[(c["period"] == period) & c["contribution"].notna()]
        if len(rows):
            parts = rows[rows["part"] != "Programme"]
            assert sum(parts["contribution"]) == rows.iloc[0]["contribution"], period
            assert sum(parts["savings"]) == rows.iloc[0]["savings"], period


def test_checks_find_no_cascade_gap_in_a_ratio_metrics_levels(example):
    """Unit targets of a unit cost are levels: 20.00 for PRO and 25.00 for the programme
    is no cascade gap (levels do not add up), while a benefit cascade still is one."""
    from ledger.engine import checks

    set_target(example, metric="unit_cost", amount="25", fiscal_year="FY27", note="board")
    set_target(example, metric="unit_cost", amount="20", fiscal_year="FY27",
               scope="unit:PRO", note="PRO")
    set_target(example, metric="benefit", amount="100", fiscal_year="FY27",
               scope="unit:PRO", note="PRO benefit")
    found = checks(example, check_storage=False)
    cascades = found[found["check"] == "cascade_gap"]
    assert set(cascades["metric"]) == {"benefit"}


def test_adopt_refuses_a_ratio_metric_in_one_line(example, cli):
    r = cli("target", "adopt", "--metric", "unit_cost", "--note", "x")
    assert r.exit_code != 0
    assert "is a ratio metric" in r.stderr
    assert "Traceback" not in r.output


def _ties(values, rep) -> int:
    """Every figure of a recalculated ``Unit cost`` sheet against ``rep``, to the minor
    unit; how many were compared."""
    expected = {(part, f"{m:%Y-%m}"): rec for part, m, rec in zip(
        rep.monthly["part"], rep.monthly["month"], rep.monthly.to_dict("records"),
        strict=True)}
    expected.update({(rec["part"], rec["period"]): rec for rec in rep.fiscal.to_dict("records")})
    columns = {"C": "numerator_baseline", "E": "numerator", "H": "denominator",
               "I": "target", "J": "implied", "K": "gap", "M": "money_gap"}
    checked = 0
    for row in range(5, values.max_row + 1):
        if values[f"A{row}"].value is None:
            continue  # the blank row after a part's block
        rec = expected.pop((values[f"A{row}"].value, values[f"B{row}"].value))
        for col, key in columns.items():
            want = rec[key]
            got = values[f"{col}{row}"].value
            if want is None:
                assert got is None, (row, col)
                continue
            assert D(str(round(got, 3))).quantize(want) == want, (row, col, got, want)
            checked += 1
    assert expected == {}, f"rows missing from the sheet: {sorted(expected)}"
    return checked


def test_the_unit_cost_workbook_and_the_gap_reports_sheet_recalculate_to_the_ledgers_figures(
        example, cli, tmp_path):
    """Live formulas that tie: LibreOffice recalculates the unit-cost workbook and the gap
    report (cached values stripped, both in one run) and every figure of their Unit cost
    sheets equals the ledger's, to the cent. The gap report's sheet has the programme and
    the units with baselines of their own (PRO), not MIN."""
    import openpyxl
    from helpers.libreoffice import recalculate

    set_target(example, metric="unit_cost", amount="25", fiscal_year="FY27", note="board")
    set_baseline(example, metric="volume", per_month="4000", fiscal_year="FY27",
                 scope="unit:PRO", note="PRO volume")
    set_baseline(example, metric="benefit", per_month="50000", fiscal_year="FY27",
                 scope="unit:PRO", note="PRO cost base")
    path = tmp_path / "unit_cost.xlsx"
    r = cli("report", "unit-cost", "--metric", "unit_cost", "--out", str(path))
    assert r.exit_code == 0, r.output
    report = tmp_path / "gap.xlsx"
    r = cli("report", "gap", "--out", str(report))
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(path)["Unit cost"]
    # Row 5 is July 2026; FY27's row follows the 24 months.
    assert ws["E5"].value == "=C5-D5"
    assert ws["J5"].value == "=ROUND(E5/H5,2)"
    assert ws["M5"].value == "=L5-E5"
    assert ws["B29"].value == "FY27"
    assert ws["J29"].value == "=ROUND(E29/H29,2)"
    assert ws["E29"].value == "=C29-D29"
    assert ws["C29"].value == "=SUM(C5:C16)"
    assert ws["I29"].value == "=ROUND(L29/H29,2)"
    book = openpyxl.load_workbook(report)
    assert book.sheetnames[-2:] == ["Unit cost", "About"]
    assert book["Unit cost"]["J29"].value == "=ROUND(E29/H29,2)"
    assert book["Unit cost"].print_title_rows == "$1:$4"
    recalculated = recalculate([path, report], tmp_path)
    values = openpyxl.load_workbook(recalculated[0], data_only=True)["Unit cost"]
    assert _ties(values, ratio_gap(example, metric="unit_cost")) == 13 * 7  # FY27: 12
    # months and the year; FY28 has no baselines
    assert values["J29"].value == pytest.approx(27.15)
    assert values["M29"].value == pytest.approx(-280000.00)
    in_report = openpyxl.load_workbook(recalculated[1], data_only=True)["Unit cost"]
    by_unit = ratio_gap(example, metric="unit_cost", by="business_unit")
    kept = by_unit.monthly["part"].isin(["Programme", "PRO"])
    assert _ties(in_report, replace(
        by_unit, monthly=by_unit.monthly[kept],
        fiscal=by_unit.fiscal[by_unit.fiscal["part"].isin(["Programme", "PRO"])])) == (
        13 * 7 + 13 * 4)  # PRO has no target of its own: no target, gap or money gap
    assert {in_report[f"A{r}"].value for r in range(5, in_report.max_row + 1)} == {
        "Programme", "PRO", None}
