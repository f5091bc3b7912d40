"""The bridge: why the bottom-up total moved between two instants, in exact steps.

For one metric and scenario, the bottom-up total of a *period* (the horizon, or one fiscal
year) is read as the ledger stood at ``start`` and at ``end``. Each initiative's movement is
split into steps so that, per initiative and hence in total, the steps add up exactly to
``end_total - start_total`` (integers in minor units; no rounding after the split).

Per initiative, with ``a0``/``a1`` its phasing at start/end, ``w0``/``w1`` its stage
gate's risk weight at start/end (10000 bp when not weighted) and ``f(a, w)`` the weighted
fact ``a * w / 10000`` rounded half away from zero per month (as the reconciliation does):

* **new initiatives**: not active at start (absent or withdrawn), active at end:
  ``P1 = sum over the period of f(a1, w1)``.
* **withdrawn initiatives**: active at start, not at end: ``-P0``.
* Active at both instants:

  - **stage gate moves** (weighted only): ``G = sum_period f(a0, w1) - sum_period f(a0, w0)``:
    the start phasing re-weighted at the end's gate (a stage move or a revised weight).
  - the rest, ``D = sum_period f(a1, w1) - sum_period f(a0, w1)``, is the phasing change;
    its whole-horizon counterpart ``V = sum_horizon f(a1, w1) - sum_horizon f(a0, w1)`` is
    the change in the initiative's value.
  - **value increases / decreases**: the part of ``D`` the value change explains: when
    ``D`` and ``V`` have the same sign, ``sign(V) * min(|V|, |D|)``; otherwise 0.
  - **re-phasing into / out of the period**: ``D`` minus that value part (positive: in;
    negative: out).

Over the whole horizon ``D = V``, so there is no re-phasing step; for a fiscal year, value
added in other years is not counted as value in this one, and money moved across the
year's edge is re-phasing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from ledger.api import Ledger, MetricInfo
from ledger.errors import LedgerError
from ledger.initiatives import current_initiatives
from ledger.money import from_minor
from ledger.months import fiscal_year_label, fiscal_year_months
from ledger.reconcile import (  # noqa: F401  (the step names are part of this module's API)
    FULL_WEIGHT,
    NEW,
    REPHASE_IN,
    REPHASE_OUT,
    STAGE,
    STEPS,
    VALUE_DOWN,
    VALUE_UP,
    WEIGHTED_STEPS,
    WITHDRAWN,
    split_movement,
    weigh,
)
from ledger.store import int_rows, submission_as_of, version_filter
from ledger.vocabulary import check_scenario


@dataclass(frozen=True)
class BridgeResult:
    """The bridge from ``start_total`` to ``end_total``; ``steps`` add up to the movement."""

    metric: MetricInfo
    scenario: str
    fiscal_year: int | None
    weighted: bool
    start: datetime
    end: datetime
    start_submission: int
    """The last submission at ``start`` (0: before the first)."""
    end_submission: int
    start_total: Decimal
    end_total: Decimal
    steps: pd.DataFrame
    """``step, amount (Decimal), initiatives (int)``: every step, in bridge order, even
    when zero; amounts sum exactly to ``end_total - start_total``."""
    detail: pd.DataFrame
    """``step, external_id, name, amount (Decimal)``: the initiatives behind each step
    (non-zero contributions only)."""

    @property
    def title(self) -> str:
        period = fiscal_year_label(self.fiscal_year) if self.fiscal_year else "horizon"
        kind = "risk-weighted " if self.weighted else ""
        return (f"Bridge of {kind}{self.metric.code} {self.scenario} ({period}): "
                f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC")


@dataclass(frozen=True)
class _Facts:
    ids: np.ndarray
    in_period: np.ndarray
    amounts: np.ndarray


def _read_facts(conn: Connection, metric_id: int, scenario: str, as_of: int, first: date,
                last: date, period: tuple[date, date]) -> _Facts:
    """Phasing facts in the horizon valid at submission ``as_of``, as numpy arrays, with a
    flag for the months of ``period`` (a contiguous range of months).

    Read with the driver's cursor as integers only: building SQLAlchemy rows and a
    DataFrame from them costs more than the query on large ledgers.
    """
    where, params = version_filter(as_of)
    sql = ("SELECT initiative_id, CASE WHEN month >= :pa AND month <= :pb THEN 1 ELSE 0 END, "  # noqa: S608  (where: version_filter's fixed SQL; values bound)
           f"amount_minor FROM phasing WHERE metric_id = :m AND scenario = :s AND {where} "
           "AND month >= :a AND month <= :b")
    values: dict[str, object] = {**params, "m": int(metric_id), "s": scenario, "a": first,
                                 "b": last, "pa": period[0], "pb": period[1]}
    rows = int_rows(conn, sql, values, 3)
    return _Facts(rows[:, 0].copy(), rows[:, 1].astype(bool), rows[:, 2].copy())


def _check_steps(parts: dict[str, np.ndarray], order: Sequence[str], weighted: bool,
                 movement: int) -> None:
    """The split's invariants, checked explicitly (an ``assert`` would vanish under -O)."""
    if not weighted and parts[STAGE].any():  # unweighted: g is identically zero
        raise AssertionError("unweighted bridge with a stage step")
    if sum(int(parts[s].sum()) for s in order) != movement:
        raise AssertionError("bridge steps do not add up to the movement")


def bridge(
    ledger: Ledger,
    *,
    start: datetime,
    end: datetime,
    metric: str | None = None,
    scenario: str = "plan",
    fiscal_year: int | None = None,
    weighted: bool = False,
    conn: Connection | None = None,
) -> BridgeResult:
    """Explain the movement of the bottom-up total from ``start`` to ``end``.

    The totals are the reconciliation's bottom-up: active (not withdrawn) initiatives'
    phasing in the horizon's months (or one fiscal year's), risk-weighted per fact with the
    weights valid at each instant when ``weighted``. ``conn`` reads inside a caller's
    open read transaction (one snapshot with the caller's other reads).

    Raises:
        LedgerError: bad scenario, ``end`` before ``start``, fiscal year outside the horizon,
            naive datetimes.
    """
    check_scenario(scenario)
    if start.tzinfo is None or end.tzinfo is None:
        raise LedgerError("bridge instants must carry a time zone (e.g. UTC)")
    if end < start:
        raise LedgerError(f"the bridge ends ({end:%Y-%m-%d %H:%M}) before it starts "
                          f"({start:%Y-%m-%d %H:%M})")
    with ledger.snapshot(conn) as conn:
        prog = ledger.programme(conn)
        met = ledger.metric(metric, conn)
        s0 = submission_as_of(conn, start)
        s1 = submission_as_of(conn, end)
        horizon = set(prog.months)
        if fiscal_year is not None:
            period = set(fiscal_year_months(fiscal_year, prog.fy_start_month)) & horizon
            if not period:
                raise LedgerError(
                    f"fiscal year {fiscal_year_label(fiscal_year)} is outside the horizon "
                    f"({prog.first_month:%Y-%m} to {prog.last_month:%Y-%m})")
        else:
            period = horizon
        span = (min(period), max(period))
        facts = [_read_facts(conn, met.id, scenario, s, prog.first_month, prog.last_month,
                             span) for s in (s0, s1)]
        inits = [current_initiatives(conn, as_of=s) for s in (s0, s1)]
        names = current_initiatives(conn)

    # One row per initiative seen at either instant.
    ids = sorted(set(inits[0]["initiative_id"]) | set(inits[1]["initiative_id"])
                 | set(facts[0].ids.tolist()) | set(facts[1].ids.tolist()))
    index = pd.Index(ids, name="initiative_id", dtype="int64")
    keys = index.to_numpy()
    positions = [np.searchsorted(keys, f.ids) for f in facts]
    in_period = [f.in_period for f in facts]

    def state(k: int) -> tuple[pd.Series, pd.Series]:
        frame = inits[k].set_index("initiative_id")
        # Like the reconciliation: phasing of an initiative without a version counts.
        active = (frame["status"] != "withdrawn").reindex(index, fill_value=True)
        if weighted:
            weight = frame["weight_bp"].astype("Int64").fillna(0).astype("int64")
            weight = weight.reindex(index, fill_value=0)
        else:
            weight = pd.Series(FULL_WEIGHT, index=index, dtype="int64")
        present = active & index.isin(facts[k].ids) | active & index.isin(frame.index)
        return present.astype(bool), weight

    present0, w0 = state(0)
    present1, w1 = state(1)

    def total(k: int, weight: pd.Series, only_period: bool) -> pd.Series:
        """Per initiative, the sum of its facts at instant ``k`` weighted by ``weight``."""
        pos = positions[k]
        amounts = weigh(facts[k].amounts, weight.to_numpy()[pos])
        if only_period:
            pos, amounts = pos[in_period[k]], amounts[in_period[k]]
        sums = np.zeros(len(keys), dtype="int64")
        np.add.at(sums, pos, amounts)  # integer accumulation: exact
        return pd.Series(sums, index=index)

    p0 = total(0, w0, True)
    p1 = total(1, w1, True)
    p0_at_w1 = total(0, w1, True)
    d = p1 - p0_at_w1
    v = total(1, w1, False) - total(0, w1, False)
    g = p0_at_w1 - p0
    parts = split_movement(p0.to_numpy(), g.to_numpy(), d.to_numpy(), v.to_numpy(),
                           p1.to_numpy(), present0.to_numpy(), present1.to_numpy())
    start_minor = int(p0[present0].sum())
    end_minor = int(p1[present1].sum())
    order = WEIGHTED_STEPS if weighted else STEPS
    _check_steps(parts, order, weighted, end_minor - start_minor)
    dec = met.decimals
    step_rows = [(s, from_minor(int(parts[s].sum()), dec), int((parts[s] != 0).sum()))
                 for s in order]
    steps = pd.DataFrame(step_rows, columns=["step", "amount", "initiatives"])
    steps["initiatives"] = steps["initiatives"].astype("int64")

    known = names.set_index("initiative_id")
    for k in (1, 0):
        extra = inits[k].set_index("initiative_id")
        known = pd.concat([known, extra[~extra.index.isin(known.index)]])
    detail_rows = []
    for s in order:
        arr = parts[s]
        for pos in np.flatnonzero(arr):
            iid = ids[pos]
            ext = str(known.loc[iid, "external_id"]) if iid in known.index else str(iid)
            nm = str(known.loc[iid, "name"]) if iid in known.index else ""
            detail_rows.append((s, ext, nm, int(arr[pos])))
    detail = pd.DataFrame(detail_rows, columns=["step", "external_id", "name", "amount"])
    if len(detail):
        detail["rank"] = detail["step"].map({s: i for i, s in enumerate(order)})
        detail["abs"] = detail["amount"].abs()
        detail = detail.sort_values(["rank", "abs", "external_id"],
                                    ascending=[True, False, True]).drop(columns=["rank", "abs"])
        detail["amount"] = pd.Series([from_minor(a, dec) for a in detail["amount"]],
                                     index=detail.index, dtype=object)
        detail = detail.reset_index(drop=True)
    return BridgeResult(
        metric=met, scenario=scenario, fiscal_year=fiscal_year, weighted=weighted,
        start=start, end=end, start_submission=s0, end_submission=s1,
        start_total=from_minor(start_minor, dec), end_total=from_minor(end_minor, dec),
        steps=steps, detail=detail,
    )
