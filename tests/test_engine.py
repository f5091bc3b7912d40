"""The reconciliation engine against hand-computed expectations, on SQLite and PostgreSQL.

Ledgers are written directly through ``ledger.store`` and ``ledger.initiatives`` (not
through the importers), one submission per write, as the office's imports would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from helpers.book import Book, mon
from helpers.clock import between

from ledger.engine import HORIZON, PROGRAMME_PART, UNALLOCATED, checks, gap
from ledger.errors import LedgerError

D = Decimal


def row(frame: pd.DataFrame, part: str, month: str | None = None,
        period: str | None = None) -> pd.Series:
    sel = frame["part"] == part
    if month is not None:
        sel &= frame["month"] == date.fromisoformat(month)
    if period is not None:
        sel &= frame["period"] == period
    found = frame[sel]
    assert len(found) == 1, (part, month, period, len(found))
    return found.iloc[0]


def column(frame: pd.DataFrame, part: str, col: str) -> list[Any]:
    return frame[frame["part"] == part][col].tolist()


# --------------------------------------------------------------------------- shapes


def test_an_empty_programme_reports_zero_for_every_month(programme):
    rep = gap(programme)
    assert list(rep.monthly.columns) == [
        "part", "month", "fiscal_year", "target", "bottom_up", "gap", "cumulative_target",
        "cumulative_bottom_up", "cumulative_gap", "coverage"]
    assert len(rep.monthly) == 24
    assert rep.monthly["month"].tolist() == [date.fromisoformat(mon(i)) for i in range(24)]
    assert set(rep.monthly["part"]) == {PROGRAMME_PART}
    assert all(str(v) == "0.00" for v in rep.monthly["gap"])
    assert rep.monthly["coverage"].isna().all()
    assert list(rep.fiscal["period"]) == ["FY27", "FY28", HORIZON]
    assert rep.metric.code == "benefit"
    assert rep.scenario == "plan"
    assert rep.as_of is None
    assert rep.as_of_submission == rep.last_submission_id > 0


def test_even_target_against_uneven_phasing(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A"}, {"ext": "B"}])
    book.targets({("programme", ""): {mon(i): "100.00" for i in range(12)}})
    book.phasing({"A": {mon(1): "50.00", mon(2): "150.00", mon(3): "100.00"},
                  "B": {mon(2): "25.50", mon(4): "200.00"}})
    rep = gap(programme)
    m = rep.monthly
    assert [str(v) for v in m["bottom_up"][:6]] == [
        "0.00", "50.00", "175.50", "100.00", "200.00", "0.00"]
    assert [str(v) for v in m["gap"][:6]] == [
        "100.00", "50.00", "-75.50", "0.00", "-100.00", "100.00"]
    assert [str(v) for v in m["coverage"][:6]] == [
        "0.0000", "0.5000", "1.7550", "1.0000", "2.0000", "0.0000"]
    assert [str(v) for v in m["cumulative_gap"][:6]] == [
        "100.00", "150.00", "74.50", "74.50", "-25.50", "74.50"]
    assert str(m["cumulative_gap"].iloc[11]) == "674.50"
    assert m["coverage"].iloc[12] is None  # FY28: no target
    fy27 = row(rep.fiscal, PROGRAMME_PART, period="FY27")
    assert (fy27["target"], fy27["bottom_up"], fy27["gap"]) == (D("1200.00"), D("525.50"),
                                                                D("674.50"))
    assert str(fy27["coverage"]) == "0.4379"  # 525.50 / 1200 = 0.43791..
    assert fy27["exit_run_rate"] == D("0.00")  # June 2027 has nothing
    assert row(rep.fiscal, PROGRAMME_PART, period="FY28")["coverage"] is None
    total = row(rep.fiscal, PROGRAMME_PART, period=HORIZON)
    assert (total["target"], total["bottom_up"]) == (D("1200.00"), D("525.50"))


def test_fiscal_years_start_in_july(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A"}])
    # June 2027 closes FY27; July 2027 opens FY28; June 2028 closes FY28.
    book.phasing({"A": {"2027-06-01": "10.00", "2027-07-01": "20.00", "2028-06-01": "30.00"}})
    book.targets({("programme", ""): {"2027-06-01": "8.00", "2028-06-01": "40.00"}})
    rep = gap(programme)
    assert row(rep.monthly, PROGRAMME_PART, "2027-06-01")["fiscal_year"] == "FY27"
    assert row(rep.monthly, PROGRAMME_PART, "2027-07-01")["fiscal_year"] == "FY28"
    fy27 = row(rep.fiscal, PROGRAMME_PART, period="FY27")
    fy28 = row(rep.fiscal, PROGRAMME_PART, period="FY28")
    total = row(rep.fiscal, PROGRAMME_PART, period=HORIZON)
    assert (fy27["bottom_up"], fy27["exit_run_rate"]) == (D("10.00"), D("120.00"))
    assert fy27["target_exit_run_rate"] == D("96.00")
    assert (fy28["bottom_up"], fy28["exit_run_rate"]) == (D("50.00"), D("360.00"))
    assert (total["bottom_up"], total["exit_run_rate"]) == (D("60.00"), D("360.00"))
    assert (total["target"], total["gap"]) == (D("48.00"), D("-12.00"))

    only = gap(programme, fiscal_year="FY28")
    assert only.fiscal_year == 2028
    assert only.monthly["month"].tolist() == [date.fromisoformat(mon(i)) for i in range(12, 24)]
    assert set(only.monthly["fiscal_year"]) == {"FY28"}
    # Cumulative columns still run from the horizon's start: FY27's 10.00 is included.
    assert row(only.monthly, PROGRAMME_PART, "2027-07-01")["cumulative_bottom_up"] == D("30.00")
    assert list(only.fiscal["period"]) == ["FY28", HORIZON]
    assert gap(programme, fiscal_year=2028).monthly.equals(only.monthly)
    with pytest.raises(LedgerError, match="FY30 is outside the horizon"):
        gap(programme, fiscal_year="FY30")


def test_cumulative_gap_turns_from_shortfall_to_surplus(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A"}])
    book.targets({("programme", ""): {mon(i): "100.00" for i in range(4)}})
    book.phasing({"A": {mon(1): "50.00", mon(2): "200.00", mon(3): "300.00"}})
    m = gap(programme).monthly
    assert [str(v) for v in m["cumulative_target"][:5]] == [
        "100.00", "200.00", "300.00", "400.00", "400.00"]
    assert [str(v) for v in m["cumulative_bottom_up"][:5]] == [
        "0.00", "50.00", "250.00", "550.00", "550.00"]
    assert [str(v) for v in m["cumulative_gap"][:5]] == [
        "100.00", "150.00", "50.00", "-150.00", "-150.00"]
    first_surplus = m[m["cumulative_gap"] < 0]["month"].iloc[0]
    assert first_surplus == date(2026, 10, 1)
    assert str(m["cumulative_gap"].iloc[-1]) == "-150.00"


def test_business_unit_cascade_leaving_five_percent_unallocated(programme):
    book = Book(programme)
    book.initiatives([{"ext": "P1", "bu": "PRO"}, {"ext": "M1", "bu": "MIN"},
                      {"ext": "X1"}])  # X1 has no business unit
    book.targets({("programme", ""): {mon(0): "1000.00"},
                  ("business_unit", "PRO"): {mon(0): "570.00"},
                  ("business_unit", "MIN"): {mon(0): "380.00"}})
    book.phasing({"P1": {mon(0): "500.00"}, "M1": {mon(0): "400.00"}, "X1": {mon(0): "30.00"}})
    rep = gap(programme, by="business_unit")
    assert rep.parts == ["MIN", "PRO", UNALLOCATED]
    expect = {  # part: target, bottom-up, gap, coverage
        "MIN": ("380.00", "400.00", "-20.00", "1.0526"),
        "PRO": ("570.00", "500.00", "70.00", "0.8772"),
        UNALLOCATED: ("50.00", "30.00", "20.00", "0.6000"),
    }
    for part, values in expect.items():
        r = row(rep.monthly, part, mon(0))
        assert (str(r["target"]), str(r["bottom_up"]), str(r["gap"]), str(r["coverage"])) \
            == values, part
    prog = row(rep.programme_monthly, PROGRAMME_PART, mon(0))
    assert (prog["target"], prog["bottom_up"], prog["gap"]) == (D("1000"), D("930"), D("70"))
    assert str(prog["coverage"]) == "0.9300"
    # The parts add up to the programme, month by month and per fiscal year, exactly.
    for frame, total, key in [(rep.monthly, rep.programme_monthly, "month"),
                              (rep.fiscal, rep.programme_fiscal, "period")]:
        for col in ("target", "bottom_up", "gap"):
            summed = frame.groupby(key, sort=False)[col].sum()
            assert summed.tolist() == total[col].tolist()
    found = checks(programme)
    cascade = found[found["check"] == "cascade_gap"]
    assert len(cascade) == 1
    c = cascade.iloc[0]
    assert (c["severity"], c["scope"], c["month"], c["amount"]) == (
        "warning", "business_unit", date(2026, 7, 1), D("50.00"))
    assert "50.00 unallocated" in c["detail"]


def test_risk_weights_round_each_fact_half_away_from_zero(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A", "stage": "L2"}, {"ext": "F", "stage": "L2"},
                      {"ext": "B", "stage": "L2"}, {"ext": "C", "stage": "L3"},
                      {"ext": "D", "stage": "L0"}, {"ext": "E", "stage": "L0"},
                      {"ext": "G", "stage": "L3"}])
    book.phasing({"A": {mon(0): "0.05"},   # x 0.50 =  2.5 ->  3 cents
                  "F": {mon(0): "0.05"},   # x 0.50 =  2.5 ->  3
                  "B": {mon(0): "-0.05"},  # x 0.50 = -2.5 -> -3
                  "C": {mon(0): "0.03"},   # x 0.75 =  2.25 -> 2
                  "D": {mon(0): "0.05"},   # x 0.10 =  0.5 ->  1
                  "E": {mon(0): "-0.15"},  # x 0.10 = -1.5 -> -2
                  "G": {mon(1): "1234567.89"}})  # x 0.75 = 92592591.75 -> 92592592 cents
    rep = gap(programme, weighted=True)
    assert "bottom_up_unweighted" in rep.monthly.columns
    jul = row(rep.monthly, PROGRAMME_PART, mon(0))
    # Per fact, then summed: 3 + 3 - 3 + 2 + 1 - 2 = 4 cents (weighing the sum would give 5).
    assert (str(jul["bottom_up"]), str(jul["bottom_up_unweighted"])) == ("0.04", "-0.02")
    aug = row(rep.monthly, PROGRAMME_PART, mon(1))
    assert (str(aug["bottom_up"]), str(aug["bottom_up_unweighted"])) == (
        "925925.92", "1234567.89")
    total = row(rep.fiscal, PROGRAMME_PART, period=HORIZON)
    assert str(total["bottom_up"]) == "925925.96"
    assert str(total["bottom_up_unweighted"]) == "1234567.87"
    by_stage = gap(programme, weighted=True, by="stage")
    stage_jul = {p: str(row(by_stage.monthly, p, mon(0))["bottom_up"])
                 for p in ("L0", "L2", "L3", "L5", UNALLOCATED)}
    assert stage_jul == {"L0": "-0.01", "L2": "0.03", "L3": "0.02", "L5": "0.00",
                         UNALLOCATED: "0.00"}
    # A new weight applies from its submission on; the report as of before keeps the old.
    before = between()
    programme.set_stage_weight("L2", D("0.3333"))
    now = row(gap(programme, weighted=True).monthly, PROGRAMME_PART, mon(0))
    # A and F: 5 x 0.3333 = 1.6665 -> 2; B -> -2; total 2 + 2 - 2 + 2 + 1 - 2 = 3.
    assert str(now["bottom_up"]) == "0.03"
    then = gap(programme, weighted=True, as_of=before)
    assert then.monthly.equals(rep.monthly)


def test_stage_moves_change_the_weighted_figure_as_of_their_submission(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A", "stage": "L1"}])  # 0.25
    book.phasing({"A": {mon(0): "100.00"}})
    before = between()
    book.initiatives([{"ext": "A", "stage": "L4"}])  # 0.90
    assert row(gap(programme, weighted=True).monthly, PROGRAMME_PART,
               mon(0))["bottom_up"] == D("90.00")
    assert row(gap(programme, weighted=True, as_of=before).monthly, PROGRAMME_PART,
               mon(0))["bottom_up"] == D("25.00")


def test_as_of_before_and_after_a_rephasing(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A", "bu": "PRO"}, {"ext": "B", "bu": "MIN"}])
    book.targets({("programme", ""): {mon(i): "100.00" for i in range(6)}})
    first = book.phasing({"A": {mon(0): "60.00", mon(1): "60.00"},
                          "B": {mon(1): "10.00"}})
    then_reports = {by: gap(programme, by=by) for by in (None, "business_unit")}
    closed = between()  # "last month's close"
    # Re-phase A: August moves to September and grows; the target is revised too.
    book.phasing({"A": {mon(0): "60.00", mon(2): "90.00"}})
    book.targets({("programme", ""): {mon(i): "120.00" for i in range(6)}})
    now = gap(programme)
    assert [str(v) for v in now.monthly["bottom_up"][:3]] == ["60.00", "10.00", "90.00"]
    assert str(now.monthly["target"].iloc[0]) == "120.00"
    for by, then in then_reports.items():
        again = gap(programme, by=by, as_of=closed)
        assert again.as_of_submission == first.id
        assert again.last_submission_id > first.id
        # The report run today as of the close equals the report that was run then.
        assert again.monthly.equals(then.monthly)
        assert again.fiscal.equals(then.fiscal)
        assert again.programme_monthly.equals(then.programme_monthly)
    # Before anything was written: nothing at all.
    empty = gap(programme, as_of=datetime(2020, 1, 1, tzinfo=UTC))
    assert empty.as_of_submission == 0
    assert all(v == 0 for v in empty.monthly["bottom_up"])
    # An ISO date means the end of that day (UTC): today includes every write so far.
    today = gap(programme, as_of=datetime.now(UTC).date().isoformat())
    assert today.monthly.equals(now.monthly)


def test_a_metric_with_three_decimal_places(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A", "stage": "L2"}, {"ext": "B", "stage": "L2"},
                      {"ext": "C", "stage": "L2"}])
    book.targets({("programme", ""): {mon(0): "1000"}}, metric="volume")
    book.phasing({"A": {mon(0): "333.333"}, "B": {mon(0): "333.333"},
                  "C": {mon(0): "333.334"}}, metric="volume")
    book.phasing({"A": {mon(0): "999.99"}})  # a benefit in the same month: not counted
    rep = gap(programme, metric="volume")
    r = row(rep.monthly, PROGRAMME_PART, mon(0))
    assert rep.metric.decimals == 3
    assert rep.metric.unit == "t"
    assert (str(r["target"]), str(r["bottom_up"]), str(r["gap"])) == (
        "1000.000", "1000.000", "0.000")
    assert str(r["coverage"]) == "1.0000"
    w = row(gap(programme, metric="volume", weighted=True).monthly, PROGRAMME_PART, mon(0))
    # 333.333 t x 0.5 = 166.6665 -> 166.667 (twice); 333.334 x 0.5 = 166.667.
    assert str(w["bottom_up"]) == "500.001"


# --------------------------------------------------------------------------- semantics


def test_withdrawn_initiatives_and_months_outside_the_horizon_do_not_count(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A", "bu": "PRO"}, {"ext": "W", "bu": "PRO"}])
    book.phasing({"A": {mon(0): "10.00", "2026-06-01": "99.00", "2028-07-01": "98.00"},
                  "W": {mon(0): "5.00"}})
    assert row(gap(programme).monthly, PROGRAMME_PART, mon(0))["bottom_up"] == D("15.00")
    book.initiatives([{"ext": "W", "bu": "PRO", "status": "withdrawn"}])
    for by in (None, "business_unit", "owner"):
        rep = gap(programme, by=by)
        assert row(rep.programme_monthly, PROGRAMME_PART, mon(0))["bottom_up"] == D("10.00")
        assert row(rep.programme_fiscal, PROGRAMME_PART,
                   period=HORIZON)["bottom_up"] == D("10.00")
    assert row(gap(programme, weighted=True).monthly, PROGRAMME_PART,
               mon(0))["bottom_up_unweighted"] == D("10.00")
    found = checks(programme)
    outside = found[found["check"] == "phasing_outside_horizon"]
    assert outside["severity"].tolist() == ["error"]
    assert outside["subject"].tolist() == ["A"]
    assert outside["amount"].tolist() == [D("197.00")]
    assert "2 months from 2026-06 to 2028-07" in outside["detail"].iloc[0]


def test_breakdowns_by_lever_stage_and_owner_add_up(programme):
    book = Book(programme)
    book.initiatives([
        {"ext": "A", "lever": "PROC", "stage": "L1", "owner": "Ann"},
        {"ext": "B", "lever": "LAB", "stage": "L3", "owner": "Bob"},
        {"ext": "C", "stage": "L3", "owner": ""},
    ])
    book.targets({("programme", ""): {mon(0): "100.00"}, ("lever", "PROC"): {mon(0): "40.00"}})
    book.phasing({"A": {mon(0): "30.00"}, "B": {mon(0): "20.00"}, "C": {mon(0): "7.00"}})
    lever = gap(programme, by="lever")
    assert lever.parts == ["ENERGY", "LAB", "MAINT", "PROC", UNALLOCATED]
    assert row(lever.monthly, "PROC", mon(0))["gap"] == D("10.00")
    assert row(lever.monthly, "LAB", mon(0))["coverage"] is None  # no lever target
    un = row(lever.monthly, UNALLOCATED, mon(0))
    assert (un["target"], un["bottom_up"]) == (D("60.00"), D("7.00"))
    stage = gap(programme, by="stage")
    assert stage.parts == ["L0", "L1", "L2", "L3", "L4", "L5", UNALLOCATED]
    assert row(stage.monthly, "L3", mon(0))["bottom_up"] == D("27.00")
    # Stage gates have no targets of their own: all of the target is unallocated.
    assert row(stage.monthly, UNALLOCATED, mon(0))["target"] == D("100.00")
    owner = gap(programme, by="owner")
    assert owner.parts == ["Ann", "Bob", UNALLOCATED]
    assert row(owner.monthly, UNALLOCATED, mon(0))["bottom_up"] == D("7.00")
    for rep in (lever, stage, owner):
        for col in ("target", "bottom_up", "gap", "cumulative_gap"):
            assert rep.monthly.groupby("month")[col].sum().tolist() == \
                rep.programme_monthly[col].tolist()


def test_forecast_versus_plan_puts_the_plan_in_the_target_columns(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A", "bu": "PRO"}, {"ext": "B"}])
    book.targets({("programme", ""): {mon(0): "999.00"}})  # plays no part in a comparison
    book.phasing({"A": {mon(0): "100.00"}, "B": {mon(0): "50.00"}}, scenario="plan")
    book.phasing({"A": {mon(0): "80.00"}, "B": {mon(0): "60.00"}}, scenario="forecast")
    rep = gap(programme, scenario="forecast", compare="plan", by="business_unit")
    assert rep.compare == "plan"
    pro = row(rep.monthly, "PRO", mon(0))
    assert (pro["target"], pro["bottom_up"], pro["gap"]) == (D("100"), D("80"), D("20"))
    assert str(pro["coverage"]) == "0.8000"
    un = row(rep.monthly, UNALLOCATED, mon(0))
    assert (un["target"], un["bottom_up"], un["gap"]) == (D("50"), D("60"), D("-10"))
    prog = row(rep.programme_monthly, PROGRAMME_PART, mon(0))
    assert (prog["target"], prog["bottom_up"], prog["gap"]) == (D("150"), D("140"), D("10"))
    with pytest.raises(LedgerError, match="other than"):
        gap(programme, scenario="plan", compare="plan")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"metric": "nope"}, "no metric 'nope'"),
    ({"scenario": "budget"}, "scenario 'budget'"),
    ({"by": "region"}, "breakdown 'region'"),
    ({"compare": "budget"}, "compare 'budget'"),
    ({"fiscal_year": "next year"}, "expected a fiscal year"),
    ({"as_of": "yesterday"}, "expected a submission id \\(42\\), an ISO date"),
])
def test_bad_arguments_are_clear_errors(programme, kwargs, message):
    with pytest.raises(LedgerError, match=message):
        gap(programme, **kwargs)


def test_a_ledger_without_a_programme_is_a_clear_error(ledger):
    with pytest.raises(LedgerError, match="no programme yet"):
        gap(ledger)


# --------------------------------------------------------------------------- checks


def test_checks_report_what_the_office_must_act_on(programme):
    book = Book(programme)
    book.initiatives([
        {"ext": "OK", "bu": "PRO", "stage": "L4"},
        {"ext": "EMPTY", "stage": "L1"},
        {"ext": "LATE", "stage": "L5"},
        {"ext": "NEG", "stage": "L2"},
        {"ext": "GONE", "stage": "L5", "status": "withdrawn"},
    ])
    book.phasing({"OK": {mon(0): "10.00"}, "LATE": {mon(0): "5.00"},
                  "NEG": {mon(0): "-3.00", mon(1): "-4.00", mon(2): "1.00"}})
    book.phasing({"OK": {mon(0): "9.00"}}, scenario="actual")
    book.phasing({"NEG": {mon(0): "-1.000"}}, metric="cost")  # a cost may be anything
    book.targets({("programme", ""): {mon(0): "100.00", mon(1): "100.00"},
                  ("lever", "PROC"): {mon(0): "60.00", mon(1): "40.00"},
                  ("lever", "LAB"): {mon(0): "50.00", mon(1): "40.00"},
                  ("business_unit", "PRO"): {"2028-07-01": "1.00"}})
    found = checks(programme)
    assert list(found.columns) == ["check", "severity", "metric", "scope", "month",
                                   "subject", "detail", "amount"]
    got = {(r["check"], r["severity"], r["subject"], r["month"], r["amount"])
           for r in found.to_dict("records")}
    assert got == {
        ("cascade_gap", "error", "(programme)", date(2026, 7, 1), D("-10.00")),
        ("cascade_gap", "warning", "(programme)", date(2026, 8, 1), D("20.00")),
        ("target_outside_horizon", "error", "PRO", date(2028, 7, 1), D("1.00")),
        # The business unit target outside the horizon leaves the programme's July 2028
        # (also outside) over-allocated: reported as a cascade gap as well.
        ("cascade_gap", "error", "(programme)", date(2028, 7, 1), D("-1.00")),
        ("no_phasing", "warning", "EMPTY", None, None),
        ("negative_benefit", "warning", "NEG", date(2026, 7, 1), D("-7.00")),
        ("late_stage_no_actuals", "warning", "LATE", None, None),
        # No month is closed: OK's July actual is not in the outturn yet.
        ("actual_not_closed", "warning", "OK", date(2026, 7, 1), D("9.00")),
    }
    # Errors come first, so a scheduled job can read the top line.
    sev = found["severity"].tolist()
    assert sev == sorted(sev, key=lambda s: s != "error")
    assert found["amount"].map(lambda v: v is None or isinstance(v, Decimal)).all()
    over = found[(found["check"] == "cascade_gap") & (found["severity"] == "error")
                 & (found["month"] == date(2026, 7, 1))].iloc[0]
    assert over["scope"] == "lever"
    assert "over-allocated by 10.00" in over["detail"]
    only_volume = checks(programme, metric="volume")
    assert set(only_volume["check"]) == {"no_phasing", "late_stage_no_actuals"}
    assert set(only_volume[only_volume["check"] == "no_phasing"]["subject"]) == {
        "OK", "EMPTY", "LATE", "NEG"}


def test_checks_as_of_see_the_ledger_as_it_was(programme):
    book = Book(programme)
    book.initiatives([{"ext": "A", "stage": "L4"}])
    book.phasing({"A": {mon(0): "10.00"}})
    before = between()
    book.phasing({"A": {mon(0): "10.00"}}, scenario="actual")
    assert checks(programme)["check"].tolist() == ["actual_not_closed"]  # no month closed
    old = checks(programme, as_of=before)
    assert old["check"].tolist() == ["late_stage_no_actuals"]


def test_sqlite_grouping_without_pivot_gives_the_same_report(programme, monkeypatch):
    """Many parts (e.g. hundreds of owners) take the group-and-sort path on SQLite; it must
    agree with the pivoted one (on PostgreSQL both runs take the same path)."""
    import ledger.engine as engine

    book = Book(programme)
    book.initiatives([
        {"ext": "A", "bu": "PRO", "lever": "PROC", "stage": "L1", "owner": "Ann"},
        {"ext": "B", "bu": "MIN", "stage": "L3", "owner": "Bob"},
        {"ext": "C", "lever": "LAB", "stage": "L2", "owner": ""},
        {"ext": "W", "bu": "MIN", "stage": "L2", "owner": "Ann", "status": "withdrawn"},
    ])
    book.phasing({"A": {mon(0): "10.05", mon(3): "-7.01"}, "B": {mon(0): "0.03"},
                  "C": {mon(1): "5.55"}, "W": {mon(0): "100.00"}})
    first = between()
    book.phasing({"A": {mon(0): "11.00"}})
    kwargs = [{"by": by, "weighted": w, "as_of": a} for by in ("business_unit", "lever",
                                                                "stage", "owner")
              for w in (False, True) for a in (None, first)]
    pivoted = [gap(programme, **k) for k in kwargs]
    monkeypatch.setattr(engine, "_PIVOT_MAX_PARTS", 0)
    for k, rep in zip(kwargs, pivoted, strict=True):
        again = gap(programme, **k)
        assert again.monthly.equals(rep.monthly), k
        assert again.fiscal.equals(rep.fiscal), k
    assert row(pivoted[0].monthly, "MIN", mon(0))["bottom_up"] == D("0.03")
