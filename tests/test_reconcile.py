"""The reconciliation rules on hand-built frames: no ledger, no database."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.reconcile import (
    HORIZON,
    NEW,
    PROGRAMME_PART,
    REPHASE_IN,
    STAGE,
    UNALLOCATED,
    VALUE_UP,
    WEIGHTED_STEPS,
    WITHDRAWN,
    GapInputs,
    coverage,
    gap_tables,
    split_movement,
    weigh,
)

D = Decimal
JUL, AUG, SEP = "2026-07-01", "2026-08-01", "2026-09-01"


def _bottom_up(rows: list[tuple[str, object, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["month", "part_key", "amount"]).astype(
        {"amount": "int64"})


def _targets(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["scope_kind", "scope_code", "month", "amount"]).astype(
        {"amount": "int64"})


def _inputs(bottom_up: pd.DataFrame, targets: pd.DataFrame, **kw: object) -> GapInputs:
    months = kw.pop("months", [JUL, AUG, SEP])
    assert isinstance(months, list)
    base: dict[str, object] = {
        "months": months, "keep": set(months), "fiscal_year": None, "fy_start_month": 7,
        "decimals": 2, "weighted": False, "bottom_up": bottom_up, "targets": targets,
    }
    base.update(kw)
    return GapInputs(**base)  # type: ignore[arg-type]


def test_programme_gap_sums_repeated_months_and_runs_cumulative_columns() -> None:
    bottom_up = _bottom_up([(JUL, None, 1000), (JUL, None, 250), (AUG, None, 2000)])
    targets = _targets([("programme", "", JUL, 2000), ("programme", "", AUG, 2000),
                        ("programme", "", SEP, 2000), ("business_unit", "PRO", JUL, 999)])
    tables = gap_tables(_inputs(bottom_up, targets))
    monthly = tables.monthly.set_index("month")
    assert list(monthly["bottom_up"]) == [D("12.50"), D("20.00"), D("0.00")]
    assert list(monthly["gap"]) == [D("7.50"), D("0.00"), D("20.00")]
    assert list(monthly["cumulative_gap"]) == [D("7.50"), D("7.50"), D("27.50")]
    assert list(monthly["coverage"]) == [D("0.6250"), D("1.0000"), D("0.0000")]
    assert set(tables.monthly["part"]) == {PROGRAMME_PART}
    fiscal = tables.fiscal.set_index("period")
    # July starts FY27; the horizon row repeats it for a one-year horizon.
    assert fiscal.loc["FY27", "target"] == D("60.00")
    assert fiscal.loc[HORIZON, "bottom_up"] == D("32.50")
    # Exit run-rate: the last month of the period times twelve.
    assert fiscal.loc["FY27", "exit_run_rate"] == D("0.00")
    assert fiscal.loc["FY27", "target_exit_run_rate"] == D("240.00")


def test_fiscal_year_restriction_keeps_cumulative_columns_from_the_horizon_start() -> None:
    months = [f"2027-0{m}-01" for m in range(5, 9)]  # May-Aug 2027: FY27 and FY28
    bottom_up = _bottom_up([(m, None, 100) for m in months])
    targets = _targets([("programme", "", m, 100) for m in months])
    fy28 = {"2027-07-01", "2027-08-01"}
    tables = gap_tables(_inputs(bottom_up, targets, months=months, keep=fy28,
                                fiscal_year=2028))
    assert list(tables.monthly["cumulative_bottom_up"]) == [D("3.00"), D("4.00")]
    assert list(tables.fiscal["period"]) == ["FY28", HORIZON]


def test_breakdown_parts_and_unallocated_add_up_to_the_programme_exactly() -> None:
    catalogue = pd.DataFrame({"part_key": [1, 2], "part": ["MIN", "PRO"]})
    bottom_up = _bottom_up([(JUL, 1, 300), (JUL, 2, 500), (JUL, None, 7), (AUG, 2, 11)])
    targets = _targets([
        ("programme", "", JUL, 1000), ("programme", "", AUG, 1000),
        ("business_unit", "PRO", JUL, 600), ("business_unit", "OLD", JUL, 100),
        ("lever", "PROC", JUL, 50),
    ])
    tables = gap_tables(_inputs(bottom_up, targets, by="business_unit", catalogue=catalogue))
    monthly = tables.monthly
    # A target scope the catalogue lacks (OLD) is still a part, after the catalogue's.
    assert list(dict.fromkeys(monthly["part"])) == ["MIN", "PRO", "OLD", UNALLOCATED]
    jul = monthly[monthly["month"].astype(str) == JUL].set_index("part")
    assert jul.loc[UNALLOCATED, "target"] == D("3.00")  # 10.00 - 6.00 - 1.00
    assert jul.loc[UNALLOCATED, "bottom_up"] == D("0.07")  # no business unit
    for col in ("target", "bottom_up", "gap", "cumulative_gap"):
        parts = monthly.groupby(monthly["month"].astype(str))[col].sum()
        whole = tables.programme_monthly.set_index(
            tables.programme_monthly["month"].astype(str))[col]
        assert (parts == whole).all(), col


def test_comparing_scenarios_puts_the_other_bottom_up_in_the_target_columns() -> None:
    plan = _bottom_up([(JUL, None, 1000)]).assign(weighted=[500])
    forecast = _bottom_up([(JUL, None, 800)]).assign(weighted=[400])
    tables = gap_tables(_inputs(forecast, None, versus=plan, weighted=True))  # type: ignore[arg-type]
    first = tables.monthly.iloc[0]
    assert (first["target"], first["bottom_up"], first["bottom_up_unweighted"]) == (
        D("5.00"), D("4.00"), D("8.00"))


def test_coverage_is_none_without_target_and_never_negative_zero() -> None:
    got = coverage(pd.Series([1, 0, 2, -1]), pd.Series([3, -5, 0, 8]))
    assert got == [D("0.3333"), D("0.0000"), None, D("-0.1250")]
    assert str(got[1]) == "0.0000"


@given(st.integers(-10**15, 10**15), st.integers(0, 10000))
def test_weigh_rounds_half_away_from_zero_exactly(amount: int, weight_bp: int) -> None:
    expected = (D(amount) * weight_bp / 10000).quantize(D(1), rounding=ROUND_HALF_UP)
    got = weigh(np.array([amount], dtype=np.int64), np.array([weight_bp], dtype=np.int64))
    assert int(got[0]) == int(expected)


def test_weigh_halves() -> None:
    got = weigh(np.array([5, -5, 15, -15]), np.array([5000, 5000, 5000, 5000]))
    assert got.tolist() == [3, -3, 8, -8]


def test_split_movement_steps_add_up_to_each_initiatives_movement() -> None:
    # Four initiatives: new, withdrawn, grown and re-phased in, re-weighted.
    p0 = np.array([0, 400, 100, 200])
    p1 = np.array([300, 0, 180, 260])
    g = np.array([0, 0, 0, 60])
    d = np.array([0, 0, 80, 0])
    v = np.array([0, 0, 50, 0])
    present0 = np.array([False, True, True, True])
    present1 = np.array([True, False, True, True])
    steps = split_movement(p0, g, d, v, p1, present0, present1)
    assert steps[NEW].tolist() == [300, 0, 0, 0]
    assert steps[WITHDRAWN].tolist() == [0, -400, 0, 0]
    assert steps[VALUE_UP].tolist() == [0, 0, 50, 0]
    assert steps[REPHASE_IN].tolist() == [0, 0, 30, 0]
    assert steps[STAGE].tolist() == [0, 0, 0, 60]
    total = sum(steps[s] for s in WEIGHTED_STEPS)
    assert total.tolist() == (p1 * present1 - p0 * present0).tolist()


_facts = st.lists(st.tuples(st.sampled_from([JUL, AUG, SEP]),
                            st.sampled_from([None, 1, 2, 3]),
                            st.integers(-10**9, 10**9)), max_size=30)
_cascade = st.lists(st.tuples(st.sampled_from(["A", "B", "Z"]), st.sampled_from([JUL, AUG, SEP]),
                              st.integers(-10**9, 10**9)), max_size=10)


@settings(max_examples=60, deadline=None)
@given(_facts, _cascade, st.integers(-10**9, 10**9))
def test_any_breakdown_adds_up_to_the_programme(facts: list[tuple[str, object, int]],
                                                cascade: list[tuple[str, str, int]],
                                                programme_target: int) -> None:
    catalogue = pd.DataFrame({"part_key": [1, 2, 3], "part": ["A", "B", "C"]})
    targets = _targets([("programme", "", m, programme_target) for m in (JUL, AUG, SEP)]
                       + [("business_unit", code, m, a) for code, m, a in cascade])
    tables = gap_tables(_inputs(_bottom_up(facts), targets, by="business_unit",
                                catalogue=catalogue))
    for frame_parts, frame_whole, key in (
            (tables.monthly, tables.programme_monthly, "month"),
            (tables.fiscal, tables.programme_fiscal, "period")):
        for col in ("target", "bottom_up", "gap"):
            parts = frame_parts.groupby(frame_parts[key].astype(str))[col].sum()
            whole = frame_whole.set_index(frame_whole[key].astype(str))[col]
            assert (parts.reindex(whole.index) == whole).all()


def test_as_of_forms_are_one_rule() -> None:
    from datetime import UTC, datetime

    import pytest

    from ledger.asof import parse_as_of
    from ledger.errors import LedgerError

    assert parse_as_of(None) is None
    assert parse_as_of(" ") is None
    assert parse_as_of("42") == 42
    assert parse_as_of(7) == 7
    assert parse_as_of("2026-10-31") == datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_as_of("2026-10-31T17:00:00+10:00") == datetime(2026, 10, 31, 7, tzinfo=UTC)
    assert parse_as_of("2026-10-31T17:00") == datetime(2026, 10, 31, 17, tzinfo=UTC)
    with pytest.raises(LedgerError, match="submission id"):
        parse_as_of("yesterday")
