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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

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
]
FINANCE_FISCAL_COLUMNS = [
    "period", "months", "closed_months", "target", "plan", "outturn", "variance",
    "favourable", "plan_ytd", "actual_ytd", "ytd_variance", "committed",
    "committed_weighted", "pipeline", "pipeline_weighted", "gap", "coverage",
    "exit_run_rate",
]
NET_MONTHLY_COLUMNS = ["month", "benefit", "cost", "net", "cumulative_net"]
NET_COLUMNS = ["period", "benefit", "cost", "net", "cumulative_net", "payback_month"]
NET_INITIATIVE_COLUMNS = ["external_id", "name", "stage", "benefit", "cost", "net",
                          "payback_month"]

_SCENARIO_CODE = {"plan": 0, "forecast": 1, "actual": 2}


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
    """``initiative_id, metric_id, scenario, month, amount``: the phasing of active
    initiatives inside the horizon (one row per fact)."""
    initiatives: pd.DataFrame
    """``initiative_id, external_id, name, stage, weight_bp`` of the active initiatives."""
    targets: pd.DataFrame
    """``month, amount``: the programme's top-down target of the metric."""
    metric_id: int
    metric_kind: str
    decimals: int
    money: list[MoneyMetric]
    """The metrics the net value adds (benefits) and subtracts (costs)."""
    fiscal_year: int | None = None
    """Restricts the monthly and fiscal rows to this fiscal year (Horizon stays)."""


@dataclass(frozen=True)
class FinanceTables:
    """The documented frames of the finance view (see ``docs/engine.md``)."""

    monthly: pd.DataFrame
    fiscal: pd.DataFrame
    net: pd.DataFrame
    net_by_initiative: pd.DataFrame
    net_monthly: pd.DataFrame
    net_decimals: int


def favourable(variance: int, kind: str) -> bool:
    """Whether ``variance`` (outturn - target) helps: more benefit, or less cost."""
    return variance >= 0 if kind != "cost" else variance <= 0


def payback_month(months: list[str], cumulative_cost: np.ndarray,
                  cumulative_net: np.ndarray) -> str | None:
    """The first month from which the cumulative net stays >= 0 to the end, once some cost
    was spent; None when it never does or nothing was spent."""
    if not len(months) or cumulative_cost[-1] <= 0:
        return None
    # stays[i]: the cumulative net is >= 0 in month i and every later month.
    stays = np.minimum.accumulate((cumulative_net >= 0)[::-1])[::-1]
    hits = np.flatnonzero(stays & (cumulative_cost > 0))
    return months[int(hits[0])] if len(hits) else None


def outturn_grid(facts: pd.DataFrame, metric_ids: list[int], months: list[str],
                 closed_through: str | None) -> pd.DataFrame:
    """Per initiative, metric and month: ``plan, forecast, actual, outturn`` (int64).

    Only (initiative, metric) pairs with some fact appear; every month of the horizon.
    """
    f = facts[facts["metric_id"].isin(metric_ids)]
    if f.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c not in ("month",) else object)
                             for c in ("initiative_id", "metric_id", "month", "plan",
                                       "forecast", "actual", "outturn")})
    pairs = f[["initiative_id", "metric_id"]].drop_duplicates().sort_values(
        ["initiative_id", "metric_id"]).to_numpy(dtype="int64")
    n_pairs, n_months = len(pairs), len(months)
    pair_index = pd.MultiIndex.from_arrays([pairs[:, 0], pairs[:, 1]])
    row = pair_index.get_indexer(pd.MultiIndex.from_frame(f[["initiative_id", "metric_id"]]))
    month_pos = {m: i for i, m in enumerate(months)}
    col = np.array([month_pos[str(m)[:10]] for m in f["month"]], dtype="int64")
    grids = np.zeros((3, n_pairs, n_months), dtype="int64")
    scen = np.array([_SCENARIO_CODE[s] for s in f["scenario"]], dtype="int64")
    np.add.at(grids, (scen, row, col), f["amount"].to_numpy(dtype="int64"))
    has_forecast = np.zeros(n_pairs, dtype=bool)
    has_forecast[row[scen == _SCENARIO_CODE["forecast"]]] = True
    closed = np.array([closed_through is not None and m <= closed_through for m in months])
    plan, forecast, actual = grids
    open_part = np.where(has_forecast[:, None], forecast, plan)
    outturn = np.where(closed[None, :], actual, open_part)
    return pd.DataFrame({
        "initiative_id": np.repeat(pairs[:, 0], n_months),
        "metric_id": np.repeat(pairs[:, 1], n_months),
        "month": np.tile(np.array(months, dtype=object), n_pairs),
        "plan": plan.reshape(-1), "forecast": forecast.reshape(-1),
        "actual": actual.reshape(-1), "outturn": outturn.reshape(-1),
    })


def finance_tables(inputs: FinanceInputs) -> FinanceTables:
    """The finance view: outturn, committed and pipeline, gap, YTD and net value."""
    months, dec = inputs.months, inputs.decimals
    fy_label = {m: fiscal_year_label(fiscal_year_of(date.fromisoformat(m),
                                                    inputs.fy_start_month)) for m in months}
    closed = [inputs.closed_through is not None and m <= inputs.closed_through for m in months]
    ini = inputs.initiatives.set_index("initiative_id")
    grid = outturn_grid(inputs.facts, [inputs.metric_id], months, inputs.closed_through)
    stage = grid["initiative_id"].map(ini["stage"]).fillna("")
    weight = grid["initiative_id"].map(ini["weight_bp"]).fillna(0).to_numpy(dtype="int64")
    is_committed = stage.isin(COMMITTED_STAGES).to_numpy()
    outturn = grid["outturn"].to_numpy(dtype="int64")
    weighted = weigh(outturn, weight)
    per = pd.DataFrame({
        "month": grid["month"], "plan": grid["plan"], "forecast": grid["forecast"],
        "actual": grid["actual"], "outturn": outturn,
        "committed": np.where(is_committed, outturn, 0),
        "committed_weighted": np.where(is_committed, weighted, 0),
        "pipeline": np.where(is_committed, 0, outturn),
        "pipeline_weighted": np.where(is_committed, 0, weighted),
    })
    sums = per.groupby("month").sum().reindex(months, fill_value=0).astype("int64")
    target = inputs.targets.groupby("month")["amount"].sum().reindex(months, fill_value=0)
    sums.insert(0, "target", target.astype("int64"))
    sums["cumulative_target"] = sums["target"].cumsum()
    sums["cumulative_plan"] = sums["plan"].cumsum()
    sums["cumulative_outturn"] = sums["outturn"].cumsum()
    sums["fiscal_year"] = [fy_label[m] for m in months]
    sums["closed"] = closed

    fiscal = _fiscal(sums, months, fy_label, inputs)
    keep = [m for m in months if inputs.fiscal_year is None
            or fy_label[m] == fiscal_year_label(inputs.fiscal_year)]
    monthly = sums.loc[keep].reset_index().rename(columns={"index": "month"})
    out = pd.DataFrame({
        "month": pd.Series([date.fromisoformat(m) for m in monthly["month"]], dtype=object),
        "fiscal_year": monthly["fiscal_year"].astype(object),
        "closed": monthly["closed"].astype(bool),
    })
    for c in FINANCE_MONTHLY_COLUMNS[3:]:
        out[c] = pd.Series([from_minor(v, dec) for v in monthly[c].tolist()], dtype=object)
    net, net_by_ini, net_monthly, net_dec = _net_value(inputs, fy_label)
    keep_set = set(keep)
    net_monthly = net_monthly[[m.isoformat() in keep_set for m in net_monthly["month"]]]
    return FinanceTables(out[FINANCE_MONTHLY_COLUMNS], fiscal, net, net_by_ini,
                         net_monthly.reset_index(drop=True), net_dec)


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
            "pipeline_weighted")}
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


def _net_value(inputs: FinanceInputs, fy_label: dict[str, str]
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """Benefits less one-off costs on the outturn, per fiscal year and per initiative."""
    months = inputs.months
    money = {m.id: m for m in inputs.money}
    dec = max((m.decimals for m in inputs.money), default=inputs.decimals)
    grid = outturn_grid(inputs.facts, list(money), months, inputs.closed_through)
    scale = grid["metric_id"].map(lambda i: 10 ** (dec - money[int(i)].decimals))
    amount = grid["outturn"].to_numpy(dtype="int64") * scale.to_numpy(dtype="int64")
    is_cost = grid["metric_id"].map(lambda i: money[int(i)].kind == "cost").to_numpy(dtype=bool)
    flows = pd.DataFrame({
        "initiative_id": grid["initiative_id"], "month": grid["month"],
        "benefit": np.where(is_cost, 0, amount), "cost": np.where(is_cost, amount, 0),
    })

    def series(frame: pd.DataFrame) -> pd.DataFrame:
        s = frame.groupby("month")[["benefit", "cost"]].sum().reindex(months, fill_value=0)
        s = s.astype("int64")
        s["net"] = s["benefit"] - s["cost"]
        s["cumulative_cost"] = s["cost"].cumsum()
        s["cumulative_net"] = s["net"].cumsum()
        return s

    def payback(s: pd.DataFrame) -> date | None:
        found = payback_month(months, s["cumulative_cost"].to_numpy(),
                              s["cumulative_net"].to_numpy())
        return None if found is None else date.fromisoformat(found)

    prog = series(flows)
    prog["period"] = [fy_label[m] for m in months]
    periods = list(dict.fromkeys(prog["period"]))
    if inputs.fiscal_year is not None:
        periods = [p for p in periods if p == fiscal_year_label(inputs.fiscal_year)]
    rows = []
    for period in [*periods, HORIZON]:
        part = prog if period == HORIZON else prog[prog["period"] == period]
        rows.append({
            "period": period,
            "benefit": from_minor(int(part["benefit"].sum()), dec),
            "cost": from_minor(int(part["cost"].sum()), dec),
            "net": from_minor(int(part["net"].sum()), dec),
            "cumulative_net": from_minor(int(part["cumulative_net"].iloc[-1]), dec),
            "payback_month": payback(prog) if period == HORIZON else None,
        })
    net = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in NET_COLUMNS})

    per_ini = _net_by_initiative(inputs.initiatives, flows, months, dec)
    monthly = pd.DataFrame({"month": pd.Series([date.fromisoformat(m) for m in months],
                                               dtype=object)})
    for col in NET_MONTHLY_COLUMNS[1:]:
        monthly[col] = pd.Series([from_minor(v, dec) for v in prog[col].tolist()],
                                 dtype=object)
    return net, per_ini, monthly, dec


def _net_by_initiative(initiatives: pd.DataFrame, flows: pd.DataFrame, months: list[str],
                       dec: int) -> pd.DataFrame:
    """Per initiative with money phasing: benefit, cost, net and payback month."""
    grid = flows.groupby(["initiative_id", "month"])[["benefit", "cost"]].sum()
    ids = sorted(set(grid.index.get_level_values(0).tolist()))
    index = pd.MultiIndex.from_product([ids, months])
    grid = grid.reindex(index, fill_value=0).astype("int64")
    benefit = grid["benefit"].to_numpy().reshape(len(ids), len(months))
    cost = grid["cost"].to_numpy().reshape(len(ids), len(months))
    cum_cost, cum_net = cost.cumsum(axis=1), (benefit - cost).cumsum(axis=1)
    position = {iid: i for i, iid in enumerate(ids)}
    rows = []
    for rec in initiatives.sort_values("external_id", kind="stable").to_dict("records"):
        i = position.get(int(rec["initiative_id"]))
        if i is None:
            continue
        found = payback_month(months, cum_cost[i], cum_net[i])
        rows.append({
            "external_id": str(rec["external_id"]), "name": str(rec["name"]),
            "stage": str(rec["stage"]),
            "benefit": from_minor(int(benefit[i].sum()), dec),
            "cost": from_minor(int(cost[i].sum()), dec),
            "net": from_minor(int(benefit[i].sum() - cost[i].sum()), dec),
            "payback_month": None if found is None else date.fromisoformat(found),
        })
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object)
                         for c in NET_INITIATIVE_COLUMNS})
