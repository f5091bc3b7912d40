"""Property test of the unit-cost breakdown (pure functions, no database): for random
baselines and random parts' savings and uplifts over a few months, each part's
contribution to the programme's change in unit cost adds up, to the ratio's minor unit, to
the programme's change ``implied - baseline_level`` in every month, fiscal year and the
horizon, and that change is the one computed here from the sums with exact fractions."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.api import MetricInfo
from ledger.baselines import div_half_away
from ledger.months import add_months
from ledger.ratio import HORIZON, PROGRAMME_PART, Ratio, _part_rows, _period_row, contribution_rows

RATIO = Ratio(MetricInfo(3, "unit_cost", "Unit cost", "AUD/t", "cost", 2),
              MetricInfo(1, "benefit", "Benefit", "AUD", "benefit", 2),
              MetricInfo(2, "volume", "Volume", "t", "benefit", 3))
FIRST = date(2026, 5, 1)  # FY from July: the months straddle FY26 and FY27

baselines = st.tuples(st.integers(1, 10**12), st.integers(1, 10**10))
#: a part's (savings, uplift) in a month: small values hit the rounding's half-way cases
moves = st.tuples(st.one_of(st.integers(-50, 50), st.integers(-10**9, 10**10)),
                  st.one_of(st.integers(-50, 50), st.integers(-10**9, 10**9)))


def _level(num: int, den: int) -> int:
    """round(num / den) in the ratio's minor units, from first principles."""
    exact = Fraction(num * 10 ** (RATIO.denominator.decimals + RATIO.metric.decimals),
                     den * 10 ** RATIO.numerator.decimals)
    return div_half_away(exact.numerator, exact.denominator)


@settings(max_examples=60, deadline=None)
@given(months=st.lists(st.tuples(baselines, st.lists(moves, min_size=1, max_size=4)),
                       min_size=1, max_size=4))
def test_the_parts_contributions_add_up_exactly_to_the_programmes_change(months):
    parts = [f"P{i}" for i in range(max(len(m[1]) for m in months))]
    isos = [add_months(FIRST, i).isoformat() for i in range(len(months))]
    savings: dict[tuple[str, str], int] = {}
    uplift: dict[tuple[str, str], int] = {}
    values = {}
    for iso, ((nb, db), part_moves) in zip(isos, months, strict=True):
        for part, (s, u) in zip(parts, part_moves, strict=False):
            savings[(part, iso)], uplift[(part, iso)] = s, u
        values[iso] = {"nb": nb, "db": db, "t": None,
                       "s": sum(savings.get((p, iso), 0) for p in parts),
                       "u": sum(uplift.get((p, iso), 0) for p in parts)}
    monthly = _part_rows(RATIO, PROGRAMME_PART, isos, 7, values)
    fiscal = [_period_row(RATIO, PROGRAMME_PART, label,
                          [r for r in monthly if r["fiscal_year"] == label])
              for label in dict.fromkeys(r["fiscal_year"] for r in monthly)]
    fiscal.append(_period_row(RATIO, PROGRAMME_PART, HORIZON, monthly))
    rows = contribution_rows(RATIO, monthly, fiscal, parts, savings, uplift)
    fiscal_of = {r["month"].isoformat(): r["fiscal_year"] for r in monthly}

    periods = {r["period"] for r in rows}
    assert periods == {iso[:7] for iso in isos} | {r["period"] for r in fiscal}
    for period in periods:
        group = [r for r in rows if r["period"] == period]
        programme = group[0]
        assert programme["part"] == PROGRAMME_PART
        assert [r["part"] for r in group[1:]] == parts
        # The programme's change from its sums, computed here from first principles.
        covered = [iso for iso in isos if period in (iso[:7], fiscal_of[iso], HORIZON)]
        nb = sum(values[i]["nb"] for i in covered)
        db = sum(values[i]["db"] for i in covered)
        n = nb - sum(values[i]["s"] for i in covered)
        d = db + sum(values[i]["u"] for i in covered)
        assert programme["savings"] == sum(values[i]["s"] for i in covered)
        assert programme["uplift"] == sum(values[i]["u"] for i in covered)
        if d <= 0:  # no unit cost (no volume left): nothing to share
            assert programme["contribution"] is None
            assert all(r["contribution"] is None for r in group[1:])
            continue
        change = _level(n, d) - _level(nb, db)
        assert programme["contribution"] == change, period
        assert sum(r["contribution"] for r in group[1:]) == change, period
        # No part's share strays a minor unit or more from its exact share,
        # -(S_p + R0 x U_p) / D1.
        r0 = Fraction(nb, db)
        scale = Fraction(10 ** (RATIO.denominator.decimals + RATIO.metric.decimals),
                         10 ** RATIO.numerator.decimals)
        for r in group[1:]:
            exact = -(r["savings"] + r0 * r["uplift"]) / d * scale
            assert abs(r["contribution"] - exact) < 1, (period, r, exact)
