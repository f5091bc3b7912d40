"""The reconciliation rules, as pure functions over plain frames of integer minor units.

No database and no I/O here: :mod:`ledger.engine` and :mod:`ledger.bridge` read a snapshot
of the ledger into frames and hand them to these functions; the Excel report weighs its
detail with the same :func:`weigh`. Unit tests call them with hand-built frames.

What flows through:

* :func:`gap_tables`: bottom-up facts per month (and part key) and targets per scope and
  month, as integers, in; the documented monthly and fiscal-year frames (Decimals in the
  metric's decimals, coverage, cumulative columns, exit run-rates) out, with the
  ``"(unallocated)"`` part that makes parts add up to the programme exactly.
* :func:`weigh`: a risk-weighted amount, half away from zero, exactly, in integers.
* :func:`split_movement`: the bridge's split of each initiative's movement into steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from ledger.money import from_minor
from ledger.months import fiscal_year as fiscal_year_of
from ledger.months import fiscal_year_label

#: ``part`` of the unbroken series.
PROGRAMME_PART = "Programme"
#: ``part`` of what no part of a breakdown owns.
UNALLOCATED = "(unallocated)"
#: ``period`` of the whole-horizon row in a gap report's fiscal frame.
HORIZON = "Horizon"
#: Coverage ratios are rounded half away from zero to this many decimals.
COVERAGE_DECIMALS = 4
#: A stage gate weight of 100 %, in basis points.
FULL_WEIGHT = 10000

#: The bridge's steps, in bridge order.
NEW = "new initiatives"
WITHDRAWN = "withdrawn initiatives"
VALUE_UP = "value increases"
VALUE_DOWN = "value decreases"
REPHASE_IN = "re-phasing in"
REPHASE_OUT = "re-phasing out"
STAGE = "stage gate moves"
STEPS = [NEW, WITHDRAWN, VALUE_UP, VALUE_DOWN, REPHASE_IN, REPHASE_OUT]
WEIGHTED_STEPS = [*STEPS, STAGE]


def to_decimals(series: pd.Series, decimals: int) -> list[Decimal]:
    """Minor units as Decimals with exactly ``decimals`` places."""
    return [from_minor(v, decimals) for v in series.tolist()]


def coverage(bottom_up: pd.Series, target: pd.Series) -> list[Decimal | None]:
    """``bottom_up / target`` per row, half away from zero to :data:`COVERAGE_DECIMALS`;
    None where the target is zero."""
    quantum = Decimal(1).scaleb(-COVERAGE_DECIMALS)
    # b == 0 is written as a plain 0 so a negative target never yields "-0.0000".
    return [
        None if t == 0 else Decimal(0).quantize(quantum) if b == 0
        else (Decimal(b) / Decimal(t)).quantize(quantum, rounding=ROUND_HALF_UP)
        for b, t in zip(bottom_up.tolist(), target.tolist(), strict=True)
    ]


def coverage_bands(kind: str, red: Decimal, amber: Decimal) -> list[tuple[str, Decimal, str]]:
    """The one coverage RAG rule, for every face (the Excel report, the web dashboard):
    (comparison, threshold, colour) tested in order, Green when none holds. A benefit:
    below ``red`` Red, below ``amber`` Amber; a cost (``kind == "cost"``) mirrors them
    around 100 % (above 2 - red Red, above 2 - amber Amber). The thresholds are the
    programme's (:meth:`ledger.api.Ledger.coverage_thresholds`)."""
    if kind == "cost":
        return [(">", 2 - red, "Red"), (">", 2 - amber, "Amber")]
    return [("<", red, "Red"), ("<", amber, "Amber")]


def coverage_rag(value: Decimal | None, kind: str, red: Decimal, amber: Decimal) -> str:
    """Red, Amber or Green for a coverage ratio by :func:`coverage_bands`; blank for none."""
    if value is None:
        return ""
    for test, limit, colour in coverage_bands(kind, red, amber):
        if (value < limit) if test == "<" else (value > limit):
            return colour
    return "Green"


def series_frame(
    parts: Sequence[str],
    months: Sequence[str],
    target: pd.DataFrame,
    bottom_up: pd.DataFrame,
    weighted: bool,
) -> pd.DataFrame:
    """Integer series per part and month: every part x month, zeros where nothing is set.

    ``target`` and ``bottom_up`` have ``part, month, amount`` (+ ``weighted``).
    """
    index = pd.MultiIndex.from_product([list(parts), list(months)], names=["part", "month"])
    t = target.groupby(["part", "month"])["amount"].sum()
    out = pd.DataFrame(index=index)
    out["target"] = t.reindex(index, fill_value=0).astype("int64")
    b_cols = ["amount", *(["weighted"] if weighted else [])]
    b = bottom_up.groupby(["part", "month"])[b_cols].sum().reindex(index, fill_value=0)
    b = b.astype("int64")
    if weighted:
        out["bottom_up"] = b["weighted"]
        out["bottom_up_unweighted"] = b["amount"]
    else:
        out["bottom_up"] = b["amount"]
    return out.reset_index()


def monthly_rows(series: pd.DataFrame, decimals: int, fy_start: int, weighted: bool,
             keep_months: set[str]) -> pd.DataFrame:
    """The documented monthly frame from integer series (cumulative from the horizon start)."""
    s = series.copy()
    s["gap"] = s["target"] - s["bottom_up"]
    grouped = s.groupby("part", sort=False)
    s["cumulative_target"] = grouped["target"].cumsum()
    s["cumulative_bottom_up"] = grouped["bottom_up"].cumsum()
    s["cumulative_gap"] = s["cumulative_target"] - s["cumulative_bottom_up"]
    s = s[s["month"].isin(keep_months)].reset_index(drop=True)
    months = [date.fromisoformat(m) for m in s["month"]]
    out = pd.DataFrame({
        "part": s["part"].astype(object),
        "month": pd.Series(months, index=s.index, dtype=object),
        "fiscal_year": [fiscal_year_label(fiscal_year_of(m, fy_start)) for m in months],
    })
    amount_cols = ["target", "bottom_up", *(["bottom_up_unweighted"] if weighted else []),
                   "gap", "cumulative_target", "cumulative_bottom_up", "cumulative_gap"]
    for col in amount_cols:
        out[col] = pd.Series(to_decimals(s[col], decimals), index=s.index, dtype=object)
    out["coverage"] = pd.Series(coverage(s["bottom_up"], s["target"]), index=s.index,
                                dtype=object)
    return out


def fiscal_rows(series: pd.DataFrame, decimals: int, fy_start: int, weighted: bool,
            keep_fy: int | None) -> pd.DataFrame:
    """Per part: one row per fiscal year (or just ``keep_fy``) and a whole-horizon row."""
    s = series.copy()
    s["period"] = [fiscal_year_label(fiscal_year_of(date.fromisoformat(m), fy_start))
                   for m in s["month"]]
    amounts = ["target", "bottom_up", *(["bottom_up_unweighted"] if weighted else [])]
    frames = []
    for period_col in ("period", None):
        keys = ["part", "period"] if period_col else ["part"]
        g = s.groupby(keys, sort=False)
        sums = g[amounts].sum()
        last = g[["target", "bottom_up"]].last()  # rows are in month order within a part
        sums["exit_run_rate"] = last["bottom_up"] * 12
        sums["target_exit_run_rate"] = last["target"] * 12
        sums = sums.reset_index()
        if period_col is None:
            sums["period"] = HORIZON
        elif keep_fy is not None:
            sums = sums[sums["period"] == fiscal_year_label(keep_fy)]
        frames.append(sums)
    # One block per part: its fiscal years in order, then its Horizon row.
    both = pd.concat(frames, ignore_index=True)
    order = {p: i for i, p in enumerate(dict.fromkeys(s["part"]))}
    both["_p"] = both["part"].map(order)
    both["_h"] = (both["period"] == HORIZON).astype(int)
    both = both.sort_values(["_p", "_h"], kind="stable").reset_index(drop=True)
    both["gap"] = both["target"] - both["bottom_up"]
    out = pd.DataFrame({"part": both["part"].astype(object),
                        "period": both["period"].astype(object)})
    for col in ["target", "bottom_up", *(["bottom_up_unweighted"] if weighted else []), "gap"]:
        out[col] = pd.Series(to_decimals(both[col], decimals), index=both.index, dtype=object)
    out["coverage"] = pd.Series(coverage(both["bottom_up"], both["target"]), index=both.index,
                                dtype=object)
    for col in ("exit_run_rate", "target_exit_run_rate"):
        out[col] = pd.Series(to_decimals(both[col], decimals), index=both.index, dtype=object)
    return out


@dataclass(frozen=True)
class GapInputs:
    """What one gap reconciliation needs, read from one snapshot of the ledger.

    Amount columns are int64 minor units; months are ISO strings (``YYYY-MM-01``).
    """

    months: list[str]
    """The horizon, in order: cumulative columns run from its first month."""
    keep: set[str]
    """The months whose rows are reported (the horizon, or one fiscal year's months)."""
    fiscal_year: int | None
    """Restricts the fiscal rows to this fiscal year (the Horizon row stays)."""
    fy_start_month: int
    decimals: int
    weighted: bool
    bottom_up: pd.DataFrame
    """``month, part_key, amount`` (+ ``weighted``): facts summed per month and part key,
    a month may repeat; ``part_key`` None where the initiative has no such part."""
    targets: pd.DataFrame | None
    """``scope_kind, scope_code, month, amount``; None when comparing scenarios."""
    versus: pd.DataFrame | None = None
    """Another scenario's bottom-up in the shape of ``bottom_up``, in the target's place."""
    by: str | None = None
    """The breakdown (``business_unit``, ``lever``, ``stage``, ``owner``) or None."""
    catalogue: pd.DataFrame | None = None
    """The breakdown's parts in report order: ``part_key, part``."""


@dataclass(frozen=True)
class GapTables:
    """The documented frames of a gap report (see ``docs/engine.md``)."""

    monthly: pd.DataFrame
    fiscal: pd.DataFrame
    programme_monthly: pd.DataFrame
    programme_fiscal: pd.DataFrame


def gap_tables(inputs: GapInputs) -> GapTables:
    """Reconcile bottom-up to target per month, part and fiscal year.

    The programme series is the sum of every fact, so the parts plus ``"(unallocated)"``
    equal the programme exactly: unallocated carries the bottom-up of initiatives without
    a part and the programme target not cascaded to any part.
    """
    months, weighted = inputs.months, inputs.weighted
    month_set = set(months)
    prog_bu = inputs.bottom_up.assign(part=PROGRAMME_PART)
    if inputs.versus is not None:
        prog_target = _versus_as_target(inputs.versus.assign(part=PROGRAMME_PART), weighted)
    else:
        targets = _require(inputs.targets, "targets")
        in_horizon = targets[(targets["scope_kind"] == "programme")
                             & targets["month"].isin(month_set)]
        prog_target = in_horizon.assign(part=PROGRAMME_PART)
    prog_series = series_frame([PROGRAMME_PART], months, prog_target, prog_bu, weighted)

    if inputs.by is None:
        series = prog_series
    else:
        parts, part_target, part_bu = _breakdown(inputs, prog_target)
        series = series_frame([*parts, UNALLOCATED], months, part_target, part_bu, weighted)

    def tables(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (monthly_rows(frame, inputs.decimals, inputs.fy_start_month, weighted,
                             inputs.keep),
                fiscal_rows(frame, inputs.decimals, inputs.fy_start_month, weighted,
                            inputs.fiscal_year))

    monthly, fiscal = tables(series)
    if inputs.by is None:
        return GapTables(monthly, fiscal, monthly, fiscal)
    programme_monthly, programme_fiscal = tables(prog_series)
    return GapTables(monthly, fiscal, programme_monthly, programme_fiscal)


def _require(frame: pd.DataFrame | None, what: str) -> pd.DataFrame:
    if frame is None:
        raise ValueError(f"GapInputs.{what} is needed when no scenario is compared")
    return frame


def _versus_as_target(versus: pd.DataFrame, weighted: bool) -> pd.DataFrame:
    """A compared scenario's bottom-up in the target's place (weighted when asked)."""
    return versus.assign(amount=versus["weighted"]) if weighted else versus


def _breakdown(inputs: GapInputs, prog_target: pd.DataFrame
               ) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """The parts (catalogue order, then target scopes the catalogue lacks), their targets
    (with the unallocated rest) and their bottom-up, labelled by part."""
    catalogue = _require(inputs.catalogue, "catalogue")
    by = inputs.by
    key_to_part = dict(zip(catalogue["part_key"].tolist(), catalogue["part"].astype(str),
                           strict=True))
    parts = list(catalogue["part"].astype(str))

    def label(frame: pd.DataFrame) -> pd.DataFrame:
        keys = frame["part_key"].tolist()
        return frame.assign(part=[
            UNALLOCATED if key is None or (isinstance(key, float) and pd.isna(key))
            else key_to_part.get(key if by == "owner" else int(key), UNALLOCATED)
            for key in keys
        ])

    part_bu = label(inputs.bottom_up)
    if inputs.versus is not None:
        return parts, _versus_as_target(label(inputs.versus), inputs.weighted), part_bu
    targets = _require(inputs.targets, "targets")
    scope_kind = by if by in ("business_unit", "lever") else None
    in_horizon = targets[targets["month"].isin(set(inputs.months))]
    cascaded = (in_horizon[in_horizon["scope_kind"] == scope_kind] if scope_kind
                else in_horizon.iloc[0:0])
    # Target scopes the catalogue lacks still count as parts, so nothing is lost.
    parts += [c for c in dict.fromkeys(cascaded["scope_code"]) if c not in parts]
    cascaded = cascaded.assign(part=cascaded["scope_code"])
    programme_target = prog_target[["part", "month", "amount"]]
    # Unallocated target: the programme target less what the parts were given.
    rest = pd.concat([
        programme_target.assign(part=UNALLOCATED),
        cascaded.assign(part=UNALLOCATED, amount=-cascaded["amount"]),
    ])
    part_target = pd.concat([cascaded[["part", "month", "amount"]],
                             rest[["part", "month", "amount"]]])
    return parts, part_target, part_bu


def weigh(amount: np.ndarray, weight_bp: np.ndarray) -> np.ndarray:
    """``amount * weight_bp / 10000`` rounded half away from zero, exactly, in int64.

    The amount is split as ``q * 10000 + r`` with ``r`` carrying the amount's sign, so only
    ``r * weight`` (below 10^8) is rounded and nothing overflows.
    """
    a = np.asarray(amount).astype("int64")
    w = np.asarray(weight_bp).astype("int64")
    q = np.sign(a) * (np.abs(a) // FULL_WEIGHT)
    r = a - q * FULL_WEIGHT
    rw = r * w
    weighed: np.ndarray = q * w + np.sign(rw) * ((np.abs(rw) + FULL_WEIGHT // 2) // FULL_WEIGHT)
    return weighed


def split_movement(
    p0: np.ndarray, g: np.ndarray, d: np.ndarray, v: np.ndarray, p1: np.ndarray,
    present0: np.ndarray, present1: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per initiative, the amount of each step (int64 arrays), as defined in the module
    docstring. ``p0``/``p1`` are the period totals at start/end (weighted at their own
    instants), ``g`` the re-weighting, ``d`` the period change and ``v`` the value change
    (both at end weights). For initiatives active at both instants
    ``p1 - p0 = g + d``; the returned steps sum to ``p1 * present1 - p0 * present0``."""
    both = present0 & present1
    same_sign = np.sign(v) == np.sign(d)
    value = np.where(both & same_sign, np.sign(v) * np.minimum(np.abs(v), np.abs(d)), 0)
    rephase = np.where(both, d - value, 0)
    zero = np.zeros_like(p0)
    return {
        NEW: np.where(present1 & ~present0, p1, zero),
        WITHDRAWN: np.where(present0 & ~present1, -p0, zero),
        VALUE_UP: np.where(value > 0, value, zero),
        VALUE_DOWN: np.where(value < 0, value, zero),
        REPHASE_IN: np.where(rephase > 0, rephase, zero),
        REPHASE_OUT: np.where(rephase < 0, rephase, zero),
        STAGE: np.where(both, g, zero),
    }
