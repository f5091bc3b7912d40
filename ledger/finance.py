"""The finance view's rules, as pure functions over plain frames of integer minor units.

No database and no I/O here: :func:`ledger.engine.finance` reads one snapshot of the ledger
into frames and hands them to :func:`finance_tables`. Unit tests call it with hand-built
frames. Every amount stays an integer of minor units until the very end, so every total is
the exact sum of its parts.

The definitions (``docs/engine.md`` has a worked example):

* **Outturn** (finance's latest estimate), per initiative, metric and month: the *actual*
  for a closed month (up to the programme's last closed month); for an open month the
  *forecast* when the initiative has any forecast for that metric, else its *plan*.
* **Committed**: the outturn of initiatives at stage gates L3 to L5; **pipeline**: the rest
  (L0 to L2). Committed + pipeline = outturn, exactly. Each is also given risk-weighted
  (per fact, half away from zero, as the reconciliation weighs).
* **Gap**: target - committed - weighted pipeline: what no initiative identifies yet, the
  last step of the waterfall target -> committed -> weighted pipeline -> gap.
  **Coverage**: (committed + weighted pipeline) / target.
* **Variance**: outturn - target; **favourable** when it helps: a benefit at or above its
  target, a cost at or below it (the metric's kind decides).
* **YTD**: the closed months of the period: actual against plan.
* **Net value**: benefits minus one-off costs over the money metrics (those in the
  programme's currency), both on the outturn; **payback month**: the first month from which
  the cumulative net value stays at or above zero to the end of the horizon, once some cost
  was spent (None: never, or no cost at all).
* **Exit run-rate**: the period's last month's outturn x 12.
* **Committed plan**: the plan of the active initiatives committed at the instant (entered
  L3 or beyond, :mod:`ledger.approvals`) as it stood when each was committed (the figures
  of ``tledger stage committed``, summed); beside it the **outturn of committed**: the
  outturn (above) of the same initiatives, and the variance outturn of committed -
  committed plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ledger.models import SCENARIOS
from ledger.money import from_minor
from ledger.months import fiscal_year as fiscal_year_of
from ledger.months import fiscal_year_label
from ledger.reconcile import HORIZON, coverage, weigh

#: Stage gates whose initiatives count as committed (approved for execution or beyond).
COMMITTED_STAGES = ("L3", "L4", "L5")

FINANCE_MONTHLY_COLUMNS = [
    "month", "fiscal_year", "closed", "target", "plan", "forecast", "actual", "outturn",
    "committed", "committed_weighted", "pipeline", "pipeline_weighted",
    "cumulative_target", "cumulative_plan", "cumulative_outturn",
    "committed_plan", "committed_outturn", "committed_plan_variance",
]
FINANCE_FISCAL_COLUMNS = [
    "period", "months", "closed_months", "target", "plan", "outturn", "variance",
    "favourable", "plan_ytd", "actual_ytd", "ytd_variance", "committed",
    "committed_weighted", "pipeline", "pipeline_weighted", "gap", "coverage",
    "exit_run_rate", "committed_plan", "committed_outturn", "committed_plan_variance",
]
NET_MONTHLY_COLUMNS = ["month", "benefit", "cost", "net", "cumulative_net"]
NET_COLUMNS = ["period", "benefit", "cost", "net", "cumulative_net", "payback_month"]
NET_INITIATIVE_COLUMNS = ["external_id", "name", "stage", "benefit", "cost", "net",
                          "payback_month"]

#: A fact's ``scenario`` is its index in SCENARIOS (plan, forecast, actual).
_FORECAST = SCENARIOS.index("forecast")


@dataclass(frozen=True)
class MoneyMetric:
    """A metric in the programme's currency: its id, kind and decimals."""

    id: int
    kind: str
    decimals: int


@dataclass(frozen=True)
class FinanceInputs:
    """What one finance view needs, read from one snapshot of the ledger.

    Amounts are int64 minor units; months are ISO strings (``YYYY-MM-01``).
    """

    months: list[str]
    """The horizon, in order."""
    fy_start_month: int
    closed_through: str | None
    """The last closed month (ISO), or None when no month is closed."""
    facts: pd.DataFrame
    """``initiative_id, metric_id, scenario, month, amount`` (all int64): the phasing of
    active initiatives inside the horizon, one row per fact; ``scenario`` is the index in
    :data:`ledger.models.SCENARIOS` (plan 0, forecast 1, actual 2), ``month`` the month's
    position in ``months``."""
    initiatives: pd.DataFrame
    """``initiative_id, external_id, name, stage, weight_bp`` of the active initiatives."""
    targets: pd.DataFrame
    """``month, amount``: the programme's top-down target of the metric (ISO months)."""
    metric_id: int
    metric_kind: str
    decimals: int
    money: list[MoneyMetric]
    """The metrics the net value adds (benefits) and subtracts (costs)."""
    fiscal_year: int | None = None
    """Restricts the monthly and fiscal rows to this fiscal year (Horizon stays)."""
    committed: pd.DataFrame | None = None
    """``initiative_id, month, committed_plan`` (int64, ISO month, int64 minor units), one
    row per committed initiative and month with a committed plan: its plan as approved at
    L3 (see :func:`ledger.approvals.committed_cells`). None: no committed plan."""
    committed_ids: frozenset[int] = frozenset()
    """The active initiatives committed at the instant (:func:`ledger.approvals.commitments`),
    whose outturn is the ``committed_outturn``, with or without a committed plan."""


@dataclass(frozen=True)
class FinanceTables:
    """The documented frames of the finance view (see ``docs/engine.md``)."""

    monthly: pd.DataFrame
    fiscal: pd.DataFrame
    net: pd.DataFrame
    net_by_initiative: pd.DataFrame
    net_monthly: pd.DataFrame
    net_decimals: int


@dataclass(frozen=True)
class OutturnGrid:
    """Per (initiative, metric) pair and month of the horizon, int64 (pairs x months)."""

    initiative_id: np.ndarray
    metric_id: np.ndarray
    plan: np.ndarray
    forecast: np.ndarray
    actual: np.ndarray
    outturn: np.ndarray


def favourable(variance: int, kind: str) -> bool:
    """Whether ``variance`` (outturn - target) helps: more benefit, or less cost."""
    return variance >= 0 if kind != "cost" else variance <= 0


def payback_months(cumulative_cost: np.ndarray, cumulative_net: np.ndarray) -> np.ndarray:
    """Per row (rows x months): the position of the first month from which the cumulative
    net stays >= 0 to the end, once some cost was spent; -1 when it never does or nothing
    was spent."""
    cost, net = np.atleast_2d(cumulative_cost), np.atleast_2d(cumulative_net)
    if net.shape[1] == 0:
        return np.full(net.shape[0], -1, dtype="int64")
    # stays[i, m]: the cumulative net is >= 0 in month m and every later month.
    stays = np.minimum.accumulate((net >= 0)[:, ::-1], axis=1)[:, ::-1]
    hits = stays & (cost > 0)
    first = hits.argmax(axis=1)
    found: np.ndarray = np.where(hits.any(axis=1) & (cost[:, -1] > 0), first, -1)
    return found


def outturn_grid(facts: pd.DataFrame, metric_ids: list[int], n_months: int,
                 closed: np.ndarray) -> OutturnGrid:
    """Plan, forecast, actual and outturn per (initiative, metric) pair with some fact of
    ``metric_ids``, and month; ``closed`` flags the closed months."""
    f = facts[facts["metric_id"].isin(metric_ids)]
    iid = f["initiative_id"].to_numpy(dtype="int64")
    mid = f["metric_id"].to_numpy(dtype="int64")
    width = int(mid.max()) + 1 if len(mid) else 1
    keys, row = np.unique(iid * width + mid, return_inverse=True)
    row = row.reshape(-1)
    grids = np.zeros((3, len(keys), n_months), dtype="int64")
    scen = f["scenario"].to_numpy(dtype="int64")
    np.add.at(grids, (scen, row, f["month"].to_numpy(dtype="int64")),
              f["amount"].to_numpy(dtype="int64"))
    has_forecast = np.zeros(len(keys), dtype=bool)
    has_forecast[row[scen == _FORECAST]] = True
    plan, forecast, actual = grids
    outturn = np.where(closed[None, :], actual,
                       np.where(has_forecast[:, None], forecast, plan))
    return OutturnGrid(keys // width, keys % width, plan, forecast, actual, outturn)


def _per_pair(initiatives: pd.DataFrame, ids: np.ndarray, column: str, missing: object
              ) -> np.ndarray:
    """``column`` of each pair's initiative (``missing`` where it has none)."""
    frame = initiatives.drop_duplicates("initiative_id").set_index("initiative_id")[column]
    found = frame.reindex(pd.Index(ids)).to_numpy(dtype=object)
    return np.array([missing if v is None or (isinstance(v, float) and np.isnan(v)) else v
                     for v in found], dtype=object)


def finance_tables(inputs: FinanceInputs) -> FinanceTables:
    """The finance view: outturn, committed and pipeline, gap, YTD and net value."""
    months, dec = inputs.months, inputs.decimals
    fy_label = {m: fiscal_year_label(fiscal_year_of(date.fromisoformat(m),
                                                    inputs.fy_start_month)) for m in months}
    closed = np.array([inputs.closed_through is not None and m <= inputs.closed_through
                       for m in months], dtype=bool)
    grid = outturn_grid(inputs.facts, [inputs.metric_id], len(months), closed)
    stage = _per_pair(inputs.initiatives, grid.initiative_id, "stage", "")
    weight = _per_pair(inputs.initiatives, grid.initiative_id, "weight_bp", 0).astype("int64")
    committed = np.isin(stage, COMMITTED_STAGES)[:, None]
    weighted = weigh(grid.outturn, weight[:, None]) if len(weight) else grid.outturn
    target = inputs.targets.groupby("month")["amount"].sum().reindex(months, fill_value=0)
    sums = pd.DataFrame({
        "target": target.to_numpy(dtype="int64"),
        "plan": grid.plan.sum(axis=0), "forecast": grid.forecast.sum(axis=0),
        "actual": grid.actual.sum(axis=0), "outturn": grid.outturn.sum(axis=0),
        "committed": np.where(committed, grid.outturn, 0).sum(axis=0),
        "committed_weighted": np.where(committed, weighted, 0).sum(axis=0),
        "pipeline": np.where(committed, 0, grid.outturn).sum(axis=0),
        "pipeline_weighted": np.where(committed, 0, weighted).sum(axis=0),
    }, index=months).astype("int64")
    of_committed = np.isin(grid.initiative_id, sorted(inputs.committed_ids))[:, None]
    sums = sums.join(_committed_sums(inputs.committed, months,
                                     np.where(of_committed, grid.outturn, 0).sum(axis=0)))
    sums["cumulative_target"] = sums["target"].cumsum()
    sums["cumulative_plan"] = sums["plan"].cumsum()
    sums["cumulative_outturn"] = sums["outturn"].cumsum()
    sums["fiscal_year"] = [fy_label[m] for m in months]
    sums["closed"] = closed

    fiscal = _fiscal(sums, months, fy_label, inputs)
    keep = [m for m in months if inputs.fiscal_year is None
            or fy_label[m] == fiscal_year_label(inputs.fiscal_year)]
    shown = sums.loc[keep]
    out = pd.DataFrame({
        "month": pd.Series([date.fromisoformat(m) for m in keep], dtype=object),
        "fiscal_year": pd.Series(shown["fiscal_year"].tolist(), dtype=object),
        "closed": pd.Series(shown["closed"].tolist(), dtype=bool),
    })
    for c in FINANCE_MONTHLY_COLUMNS[3:]:
        out[c] = pd.Series([from_minor(v, dec) for v in shown[c].tolist()], dtype=object)
    net, net_by_ini, net_monthly, net_dec = _net_value(inputs, fy_label, closed)
    keep_set = set(keep)
    net_monthly = net_monthly[[m.isoformat() in keep_set for m in net_monthly["month"]]]
    return FinanceTables(out[FINANCE_MONTHLY_COLUMNS], fiscal, net, net_by_ini,
                         net_monthly.reset_index(drop=True), net_dec)


def _committed_sums(committed: pd.DataFrame | None, months: list[str],
                    outturn: np.ndarray) -> pd.DataFrame:
    """Per month (ISO index): the committed plan, the committed initiatives' ``outturn``
    (summed per month, in ``months`` order) and their variance."""
    if committed is None or not len(committed):
        plan = pd.Series(0, index=months, dtype="int64")
    else:
        plan = (committed.groupby("month")["committed_plan"].sum()
                .reindex(months, fill_value=0).astype("int64"))
    out = pd.DataFrame({"committed_plan": plan.to_numpy(dtype="int64"),
                        "committed_outturn": np.asarray(outturn, dtype="int64")},
                       index=months)
    out["committed_plan_variance"] = out["committed_outturn"] - out["committed_plan"]
    return out


def _fiscal(sums: pd.DataFrame, months: list[str], fy_label: dict[str, str],
            inputs: FinanceInputs) -> pd.DataFrame:
    """One row per fiscal year (or only ``inputs.fiscal_year``), then the Horizon row."""
    dec = inputs.decimals
    periods = list(dict.fromkeys(fy_label[m] for m in months))
    if inputs.fiscal_year is not None:
        periods = [p for p in periods if p == fiscal_year_label(inputs.fiscal_year)]
    rows = []
    for period in [*periods, HORIZON]:
        part = sums if period == HORIZON else sums[sums["fiscal_year"] == period]
        ytd = part[part["closed"]]
        rec: dict[str, int] = {c: int(part[c].sum()) for c in (
            "target", "plan", "outturn", "committed", "committed_weighted", "pipeline",
            "pipeline_weighted", "committed_plan", "committed_outturn",
            "committed_plan_variance")}
        rec["plan_ytd"] = int(ytd["plan"].sum())
        rec["actual_ytd"] = int(ytd["actual"].sum())
        rec["variance"] = rec["outturn"] - rec["target"]
        rec["ytd_variance"] = rec["actual_ytd"] - rec["plan_ytd"]
        rec["gap"] = rec["target"] - rec["committed"] - rec["pipeline_weighted"]
        rec["exit_run_rate"] = int(part["outturn"].iloc[-1]) * 12
        identified = rec["committed"] + rec["pipeline_weighted"]
        cov = coverage(pd.Series([identified]), pd.Series([rec["target"]]))[0]
        row: dict[str, object] = {
            "period": period, "months": len(part), "closed_months": len(ytd),
            "favourable": favourable(rec["variance"], inputs.metric_kind), "coverage": cov,
        }
        row.update({k: from_minor(v, dec) for k, v in rec.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    return pd.DataFrame({c: frame[c].astype(object) if c not in ("months", "closed_months")
                         else frame[c].astype("int64") for c in FINANCE_FISCAL_COLUMNS})


def _net_value(inputs: FinanceInputs, fy_label: dict[str, str], closed: np.ndarray
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """Benefits less one-off costs on the outturn, per fiscal year, initiative and month."""
    months = inputs.months
    money = {m.id: m for m in inputs.money}
    dec = max((m.decimals for m in inputs.money), default=inputs.decimals)
    grid = outturn_grid(inputs.facts, list(money), len(months), closed)
    scale = np.array([10 ** (dec - money[int(i)].decimals) for i in grid.metric_id],
                     dtype="int64").reshape(-1, 1)
    is_cost = np.array([money[int(i)].kind == "cost" for i in grid.metric_id],
                       dtype=bool).reshape(-1, 1)
    amount = grid.outturn * scale
    # Per initiative: its benefit and cost pairs added up, month by month.
    ids, row = np.unique(grid.initiative_id, return_inverse=True)
    benefit = np.zeros((len(ids), len(months)), dtype="int64")
    cost = np.zeros((len(ids), len(months)), dtype="int64")
    np.add.at(benefit, row.reshape(-1), np.where(is_cost, 0, amount))
    np.add.at(cost, row.reshape(-1), np.where(is_cost, amount, 0))

    prog_benefit, prog_cost = benefit.sum(axis=0), cost.sum(axis=0)
    prog_net = prog_benefit - prog_cost
    cumulative_net = prog_net.cumsum()
    payback = int(payback_months(prog_cost.cumsum(), cumulative_net)[0])
    period = np.array([fy_label[m] for m in months], dtype=object)
    periods = list(dict.fromkeys(period.tolist()))
    if inputs.fiscal_year is not None:
        periods = [p for p in periods if p == fiscal_year_label(inputs.fiscal_year)]
    rows = []
    for name in [*periods, HORIZON]:
        mask = np.ones(len(months), dtype=bool) if name == HORIZON else period == name
        last = int(np.flatnonzero(mask)[-1])
        rows.append({
            "period": name,
            "benefit": from_minor(int(prog_benefit[mask].sum()), dec),
            "cost": from_minor(int(prog_cost[mask].sum()), dec),
            "net": from_minor(int(prog_net[mask].sum()), dec),
            "cumulative_net": from_minor(int(cumulative_net[last]), dec),
            "payback_month": (date.fromisoformat(months[payback])
                              if name == HORIZON and payback >= 0 else None),
        })
    net = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in NET_COLUMNS})
    monthly = pd.DataFrame({"month": pd.Series([date.fromisoformat(m) for m in months],
                                               dtype=object)})
    for col, values in (("benefit", prog_benefit), ("cost", prog_cost), ("net", prog_net),
                        ("cumulative_net", cumulative_net)):
        monthly[col] = pd.Series([from_minor(int(v), dec) for v in values], dtype=object)
    per_ini = _net_by_initiative(inputs.initiatives, ids, benefit, cost, months, dec)
    return net, per_ini, monthly, dec


def _net_by_initiative(initiatives: pd.DataFrame, ids: np.ndarray, benefit: np.ndarray,
                       cost: np.ndarray, months: list[str], dec: int) -> pd.DataFrame:
    """Per initiative with money phasing: benefit, cost, net and payback month."""
    payback = payback_months(cost.cumsum(axis=1), (benefit - cost).cumsum(axis=1))
    totals_b, totals_c = benefit.sum(axis=1), cost.sum(axis=1)
    position = {int(iid): i for i, iid in enumerate(ids.tolist())}
    rows = []
    for rec in initiatives.sort_values("external_id", kind="stable").to_dict("records"):
        i = position.get(int(rec["initiative_id"]))
        if i is None:
            continue
        rows.append({
            "external_id": str(rec["external_id"]), "name": str(rec["name"]),
            "stage": str(rec["stage"]),
            "benefit": from_minor(int(totals_b[i]), dec),
            "cost": from_minor(int(totals_c[i]), dec),
            "net": from_minor(int(totals_b[i] - totals_c[i]), dec),
            "payback_month": (date.fromisoformat(months[int(payback[i])])
                              if payback[i] >= 0 else None),
        })
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object)
                         for c in NET_INITIATIVE_COLUMNS})
