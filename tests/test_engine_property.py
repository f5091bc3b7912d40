"""Property-based test of the engine: random small ledgers, on SQLite and PostgreSQL.

For every random ledger (initiatives with random parts, stage gates, owners and withdrawals;
phasing in and outside the horizon; programme and cascaded targets; a second round of
re-phasing, stage moves and a new risk weight), at the instant after the first round and
now:

* the gap per month equals the target minus the bottom-up summed independently in plain
  Python from what the test wrote (and so do the cumulative columns);
* the risk-weighted bottom-up equals the plain-Python sum of per-fact weighted amounts;
* every breakdown's parts (plus unallocated) add up to the unbroken totals exactly, and
  its programme series equals the unbroken report.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from helpers.clock import between
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.api import Ledger
from ledger.engine import BREAKDOWNS, PROGRAMME_PART, UNALLOCATED, gap
from ledger.initiatives import current_initiatives, write_initiatives
from ledger.money import from_minor
from ledger.months import add_months, month_range
from ledger.store import new_submission, write_phasing, write_targets

FIRST, LAST = date(2026, 7, 1), date(2027, 12, 1)  # 18 months: FY27 and half of FY28
MONTHS = month_range(FIRST, LAST)
STAGES = ["L0", "L1", "L2", "L3", "L4", "L5"]
DEFAULT_BP = {"L0": 1000, "L1": 2500, "L2": 5000, "L3": 7500, "L4": 9000, "L5": 10000}
SCENARIOS = ["plan", "forecast", "actual"]
SCOPES = [("programme", ""), ("business_unit", "PRO"), ("business_unit", "MIN"),
          ("lever", "PROC"), ("lever", "LAB")]

# Small amounts hit the half-way cases of risk weighting (5 x 0.5 = 2.5); large ones carry.
amounts = st.one_of(st.integers(min_value=-30, max_value=30),
                    st.integers(min_value=-10**9, max_value=10**9))
# Month offsets -2..19: a few fall outside the 18-month horizon on either side.
# Scenarios, withdrawals and weighting are drawn with a bias so that most examples have
# facts in the scenario under test, some withdrawn initiatives and weighted reports.
phasing_st = st.dictionaries(
    st.tuples(st.sampled_from(["plan", "plan", "forecast", "actual"]), st.integers(-2, 19)),
    amounts, max_size=10)
initiative_st = st.fixed_dictionaries({
    "bu": st.sampled_from([None, "PRO", "MIN"]),
    "lever": st.sampled_from([None, "PROC", "LAB"]),
    "stage": st.sampled_from(STAGES),
    "owner": st.sampled_from(["", "Ann", "Bob"]),
    "withdrawn": st.sampled_from([False, False, False, True]),
})
ledger_st = st.fixed_dictionaries({
    "initiatives": st.lists(st.tuples(initiative_st, phasing_st), min_size=1, max_size=6),
    "targets": st.dictionaries(st.tuples(st.sampled_from(SCOPES), st.integers(0, 17)),
                               amounts, max_size=10),
    # Second round: (initiative index, new stage or None, phasing replacing those scenarios)
    "revisions": st.lists(st.tuples(st.integers(0, 5), st.sampled_from([None, *STAGES]),
                                    phasing_st), max_size=3),
    "weight": st.tuples(st.sampled_from(STAGES), st.integers(0, 10000)),
    "metric": st.sampled_from(["benefit", "volume"]),
    "scenario": st.sampled_from(["plan", "plan", "plan", "forecast", "actual"]),
    "by": st.sampled_from(BREAKDOWNS),
    "weighted": st.sampled_from([True, True, False]),
})


def _weigh(amount: int, bp: int) -> int:
    """Plain Python: amount * bp / 10000 rounded half away from zero."""
    magnitude = (abs(amount) * bp * 2 + 10000) // 20000
    return magnitude if amount >= 0 else -magnitude


class Model:
    """What the test wrote, kept in plain Python dicts."""

    def __init__(self) -> None:
        self.attrs: dict[str, dict[str, Any]] = {}
        self.facts: dict[tuple[str, str], dict[date, int]] = {}  # (ext, scenario) -> months
        self.targets: dict[tuple[str, str], dict[date, int]] = {}
        self.weights = dict(DEFAULT_BP)

    def copy(self) -> Model:
        m = Model()
        m.attrs = {k: dict(v) for k, v in self.attrs.items()}
        m.facts = {k: dict(v) for k, v in self.facts.items()}
        m.targets = {k: dict(v) for k, v in self.targets.items()}
        m.weights = dict(self.weights)
        return m

    def expected(self, scenario: str, weighted: bool, part: tuple[str, str] | None = None
                 ) -> dict[date, int]:
        """Bottom-up per horizon month (of one part when ``part`` = (attribute, value))."""
        out = dict.fromkeys(MONTHS, 0)
        for (ext, sc), months in self.facts.items():
            a = self.attrs[ext]
            if sc != scenario or a["withdrawn"]:
                continue
            if part is not None and (a[part[0]] or None) != part[1]:
                continue
            for month, amount in months.items():
                if month in out:
                    out[month] += _weigh(amount, self.weights[a["stage"]]) if weighted \
                        else amount
        return out

    def target(self) -> dict[date, int]:
        out = dict.fromkeys(MONTHS, 0)
        for month, amount in self.targets.get(("programme", ""), {}).items():
            if month in out:
                out[month] += amount
        return out


def _write_initiatives(led: Ledger, rows: dict[str, dict[str, Any]]) -> None:
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="prop")
        units = led.business_units(conn).set_index("code")["id"]
        levers = led.levers(conn).set_index("code")["id"]
        gates = led.stage_gates(conn).set_index("code")["id"]
        write_initiatives(conn, pd.DataFrame([{
            "external_id": ext, "name": ext, "owner": a["owner"],
            "business_unit_id": int(units[a["bu"]]) if a["bu"] else None,
            "lever_id": int(levers[a["lever"]]) if a["lever"] else None,
            "stage_gate_id": int(gates[a["stage"]]), "description": "",
            "status": "withdrawn" if a["withdrawn"] else "active",
        } for ext, a in rows.items()]), sub.id)


def _write_phasing(led: Ledger, metric_id: int, facts: dict[tuple[str, str], dict[date, int]],
                   ids: dict[str, int]) -> None:
    rows = [(ids[ext], metric_id, sc, m.isoformat(), amount)
            for (ext, sc), months in facts.items() for m, amount in months.items()]
    if not rows:
        return
    with led.writing() as conn:
        sub = new_submission(conn, kind="import", user="prop")
        write_phasing(conn, pd.DataFrame(rows, columns=[
            "initiative_id", "metric_id", "scenario", "month", "amount_minor"]), sub.id)


def _instant() -> datetime:
    return between()


def _check(led: Ledger, model: Model, data: dict[str, Any], as_of: datetime | None) -> None:
    metric, scenario = data["metric"], data["scenario"]
    decimals = led.metric(metric).decimals

    def dec(v: int) -> Decimal:
        return from_minor(v, decimals)

    plain = gap(led, metric=metric, scenario=scenario, as_of=as_of)
    m = plain.monthly
    bottom_up, target = model.expected(scenario, False), model.target()
    assert m["month"].tolist() == MONTHS
    assert m["bottom_up"].tolist() == [dec(bottom_up[x]) for x in MONTHS]
    assert m["target"].tolist() == [dec(target[x]) for x in MONTHS]
    assert m["gap"].tolist() == [dec(target[x] - bottom_up[x]) for x in MONTHS]
    running, cumulative = 0, []
    for x in MONTHS:
        running += target[x] - bottom_up[x]
        cumulative.append(dec(running))
    assert m["cumulative_gap"].tolist() == cumulative
    horizon = plain.fiscal[plain.fiscal["period"] == "Horizon"].iloc[0]
    assert horizon["bottom_up"] == dec(sum(bottom_up.values()))

    by, weighted = data["by"], data["weighted"]
    broken = gap(led, metric=metric, scenario=scenario, as_of=as_of, by=by, weighted=weighted)
    if not weighted:
        assert broken.programme_monthly.equals(plain.monthly)
    else:
        w = broken.programme_monthly
        assert w["bottom_up_unweighted"].tolist() == m["bottom_up"].tolist()
        expected_w = model.expected(scenario, True)
        assert w["bottom_up"].tolist() == [dec(expected_w[x]) for x in MONTHS]
    amount_cols = ["target", "bottom_up", "gap", "cumulative_target", "cumulative_bottom_up",
                   "cumulative_gap"] + (["bottom_up_unweighted"] if weighted else [])
    sums = broken.monthly.groupby("month")[amount_cols].sum()
    for col in amount_cols:
        assert sums[col].tolist() == broken.programme_monthly[col].tolist(), col
    fiscal_cols = ["target", "bottom_up", "gap", "exit_run_rate", "target_exit_run_rate"]
    fsums = broken.fiscal.groupby("period", sort=False)[fiscal_cols].sum()
    for col in fiscal_cols:
        assert fsums[col].tolist() == broken.programme_fiscal[col].tolist(), col
    # Each part's bottom-up is its own initiatives' sum, computed independently.
    attribute = {"business_unit": "bu", "lever": "lever", "stage": "stage",
                 "owner": "owner"}[by]
    for part in broken.parts:
        if part == UNALLOCATED:
            continue
        mine = model.expected(scenario, weighted, (attribute, part))
        got = broken.monthly[broken.monthly["part"] == part]["bottom_up"].tolist()
        assert got == [dec(mine[x]) for x in MONTHS], part
    assert PROGRAMME_PART not in broken.parts


@pytest.mark.slow
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=ledger_st)
def test_breakdowns_add_up_and_gap_is_target_minus_plain_sum(
        backend, databases, tmp_path_factory, data):
    if backend == "sqlite":
        url = databases.sqlite(tmp_path_factory.mktemp("prop") / "ledger.db")
    else:
        url = databases.postgres()
    led = Ledger.open(url)
    try:
        _run(led, data)
    finally:
        led.dispose()
        databases.drop(url)


def _run(led: Ledger, data: dict[str, Any]) -> None:
    led.create_programme(name="Prop", currency="AUD", fy_start_month=7, first_month=FIRST,
                         last_month=LAST, user="prop")
    for code in ("PRO", "MIN"):
        led.add_business_unit(code, code, user="prop")
    for code in ("PROC", "LAB"):
        led.add_lever(code, code, user="prop")
    led.add_metric(code="volume", name="Volume", unit="t", kind="benefit", decimals=3,
                   user="prop")
    metric_id = led.metric(data["metric"]).id
    model = Model()
    for i, (attrs, _) in enumerate(data["initiatives"]):
        model.attrs[f"I{i}"] = dict(attrs)
    for i, (_, phasing) in enumerate(data["initiatives"]):
        for (sc, k), amount in phasing.items():
            model.facts.setdefault((f"I{i}", sc), {})[add_months(FIRST, k)] = amount
    for ((kind, code), k), amount in data["targets"].items():
        model.targets.setdefault((kind, code), {})[add_months(FIRST, k)] = amount
    if model.attrs:
        _write_initiatives(led, model.attrs)
    with led.reading() as conn:
        ids = {str(k): int(v) for k, v in
               current_initiatives(conn).set_index("external_id")["initiative_id"].items()}
    _write_phasing(led, metric_id, model.facts, ids)
    if model.targets:
        rows = [(metric_id, kind, code, m.isoformat(), amount)
                for (kind, code), months in model.targets.items()
                for m, amount in months.items()]
        with led.writing() as conn:
            sub = new_submission(conn, kind="target", user="prop")
            write_targets(conn, pd.DataFrame(rows, columns=[
                "metric_id", "scope_kind", "scope_code", "month", "amount_minor"]), sub.id)
    first_round = model.copy()
    after_first = _instant()

    # Second round: a new risk weight, stage moves and re-phasing (whole scenario replaced).
    stage, bp = data["weight"]
    led.set_stage_weight(stage, Decimal(bp).scaleb(-4), user="prop")
    model.weights[stage] = bp
    moved: dict[str, dict[str, Any]] = {}
    revised: dict[tuple[str, str], dict[date, int]] = {}
    for index, new_stage, phasing in data["revisions"]:
        ext = f"I{index}"
        if ext not in model.attrs:
            continue
        if new_stage is not None:
            model.attrs[ext]["stage"] = new_stage
            moved[ext] = model.attrs[ext]
        for sc in {sc for sc, _ in phasing}:
            revised[(ext, sc)] = {add_months(FIRST, k): a for (s, k), a in phasing.items()
                                  if s == sc}
    if moved:
        _write_initiatives(led, moved)
    _write_phasing(led, metric_id, revised, ids)
    model.facts.update(revised)

    _check(led, first_round, data, after_first)
    _check(led, model, data, None)
