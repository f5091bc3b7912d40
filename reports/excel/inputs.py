"""What the gap report is written from: the loaded inputs, the Initiatives sheet's table,
and the constants every sheet shares (breakdowns, scales, the detail columns)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.api import MetricInfo, ProgrammeInfo
    from ledger.bridge import BridgeResult
    from ledger.engine import FinanceReport, GapReport
    from ledger.pnl import Reconciliation
    from ledger.ratio import RatioReport
from ledger.reconcile import weigh

UNALLOCATED = "(unallocated)"

#: The breakdown sheets: engine ``by`` value, sheet name, detail column, heading, and
#: whether the parts have targets (owners do not: their sheet shows bottom-up only).
#: Stage gates have their own sheet, the Funnel.
BREAKDOWN_SHEETS: list[tuple[str, str, str, str, bool]] = [
    ("business_unit", "By unit", "business_unit", "Business unit", True),
    ("lever", "By lever", "lever", "Lever", True),
    ("owner", "By owner", "owner", "Owner", False),
]

SCALES: dict[str, tuple[int, str]] = {
    # name: (power of ten shown, header suffix)
    "units": (0, ""),
    "thousands": (3, " 000"),
    "millions": (6, " m"),
}

#: Paper sizes the pack prints on: name -> (XlsxWriter paper index, long side in inches).
PAPERS: dict[str, tuple[int, float]] = {"A4": (9, 11.69), "A3": (8, 16.54)}

#: Coverage below which the report shows red, and below which amber (programme defaults).
COVERAGE_RED = Decimal("0.9")
COVERAGE_AMBER = Decimal("1.0")

DETAIL_ATTRS: list[tuple[str, str, int]] = [
    # (frame column, header, width)
    ("external_id", "ID", 11),
    ("name", "Name", 34),
    ("owner", "Owner", 18),
    ("business_unit", "Business unit", 13),
    ("lever", "Lever", 10),
    ("stage", "Stage", 7),
    ("metric", "Metric", 10),
    ("unit", "Unit", 6),
]


class ReportMismatch(LedgerError):
    """The report's formulas would not recalculate to the engine's numbers: nothing is
    written (a bug to report, never a figure finance should see)."""


@dataclass
class DetailTable:
    """The Initiatives sheet's content: one row per initiative and metric.

    ``attributes`` has the columns of ``DETAIL_ATTRS`` (plus ``weight`` when the report is
    risk-weighted); ``amounts`` holds minor units (rows x months), ``present`` says which
    cells have a value (a blank cell means "no amount"); ``decimals`` is each row's
    metric precision.
    """

    attributes: pd.DataFrame
    months: list[date]
    amounts: np.ndarray
    present: np.ndarray
    decimals: np.ndarray

    def __len__(self) -> int:
        return len(self.attributes)


@dataclass
class BreakdownSheet:
    """One breakdown sheet: the engine's report ``by`` a dimension, and the part names."""

    by: str
    sheet: str
    column: str
    heading: str
    report: GapReport
    names: dict[str, str] = field(default_factory=dict)
    targets: bool = True


@dataclass
class FunnelStage:
    """One stage gate's row of the funnel: the initiatives at that gate (counted on the
    reported metric's rows) and their horizon value, unweighted and risk-weighted (each
    fact weighted and rounded as the engine does)."""

    code: str
    name: str
    count: int
    unweighted: Decimal
    weight: Decimal | None
    weighted: Decimal


@dataclass
class TopLists:
    """The Top initiatives sheet's three tables (each at most :data:`TOP_N` rows, largest
    first), each row with ``external_id, name, owner, stage, note`` and its amounts:
    ``by_value`` (``amount``), ``variance`` (``plan, forecast, variance``) and
    ``movement`` (``before, now, movement``, since ``movement_since``)."""

    by_value: pd.DataFrame
    variance: pd.DataFrame
    movement: pd.DataFrame
    movement_since: datetime | None = None


#: Rows in each Top initiatives table.
TOP_N = 10


@dataclass
class ReportInput:
    """Everything the writer needs, already loaded: the writer itself never reads the
    ledger, so it can be timed and tested on its own."""

    programme: ProgrammeInfo
    metric: MetricInfo  # the reported metric
    metrics: list[MetricInfo]  # every metric appearing in the detail
    scenario: str
    weighted: bool
    summary: GapReport  # by=None
    breakdowns: list[BreakdownSheet]
    detail: DetailTable
    checks: pd.DataFrame
    as_of: datetime | None
    as_of_submission: int | None
    last_submission_id: int | None
    version: str
    written_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    bridge: BridgeResult | None = None
    bridge_from: datetime | None = None
    scale: str = "auto"
    finance: FinanceReport | None = None
    """The engine's finance view (outturn, committed, pipeline, net value): the Dashboard
    and the Finance sheet; None leaves both out."""
    paper: str = "A4"
    coverage_red: Decimal = COVERAGE_RED
    coverage_amber: Decimal = COVERAGE_AMBER
    funnel: list[FunnelStage] | None = None
    top: TopLists | None = None
    pnl: Reconciliation | None = None
    """The P&L reconciliation (:func:`ledger.pnl.reconcile`): its sheet, written only when
    the ledger has GL actuals."""
    unit_costs: list[RatioReport] = field(default_factory=list)
    """Each ratio metric's unit-cost gap (``ledger.ratio.ratio_gap``): a ``Unit cost``
    sheet each (the programme, then the units with baselines of their own)."""


def build_detail(
    initiatives: pd.DataFrame,
    phasing: pd.DataFrame,
    metrics: Sequence[Any],
    months: Sequence[date],
    *,
    weighted: bool = False,
    report_metric_id: int | None = None,
) -> DetailTable:
    """Build the Initiatives sheet's table from ledger frames, vectorised.

    Args:
        initiatives: ``ledger.initiatives.current_initiatives`` (withdrawn ones are left out:
            they do not count towards the bottom-up).
        phasing: ``ledger.store.current_phasing`` for one scenario (any metrics).
        metrics: the MetricInfo of every metric in ``phasing``.
        months: the programme's months; phasing outside them is left out.
        weighted: risk-weight each fact by its stage gate's weight, rounded half away from
            zero to the minor unit (as the engine does), so the sheet sums to the weighted
            bottom-up exactly.
        report_metric_id: an initiative without any phasing still gets a row for this metric.

    Returns:
        One row per (initiative, metric) that has phasing, sorted by external id then metric.
    """
    active = initiatives
    if "status" in active.columns:
        active = active[active["status"].fillna("active") == "active"]
    active = active.sort_values("external_id", kind="stable").reset_index(drop=True)
    by_id = {m.id: m for m in metrics}
    facts = _facts_inside_horizon(phasing, active, months)

    pairs = facts[["initiative_id", "metric_id"]].drop_duplicates()
    if report_metric_id is not None:
        missing = active.loc[~active["initiative_id"].isin(pairs["initiative_id"]),
                             ["initiative_id"]].assign(metric_id=report_metric_id)
        pairs = pd.concat([pairs, missing], ignore_index=True)
    order = {m.id: i for i, m in enumerate(metrics)}
    rows = pairs.merge(active, on="initiative_id", how="inner")
    rows = rows.assign(_metric_order=rows["metric_id"].map(order))
    rows = rows.sort_values(["external_id", "_metric_order"], kind="stable").reset_index(drop=True)

    amounts, present = _amount_grid(facts, rows, len(months), weighted)
    attrs = pd.DataFrame({
        "external_id": rows["external_id"].astype(object),
        "name": rows["name"].astype(object),
        "owner": rows["owner"].astype(object),
        "business_unit": rows["business_unit"].astype(object),
        "lever": rows["lever"].astype(object),
        "stage": rows["stage"].astype(object),
        "metric": rows["metric_id"].map(lambda i: by_id[i].code).astype(object),
        "unit": rows["metric_id"].map(lambda i: by_id[i].unit).astype(object),
    })
    if weighted:
        weights: list[Decimal | None] = [None if pd.isna(w) else Decimal(int(w)).scaleb(-4)
                                         for w in rows["weight_bp"]]
        attrs["weight"] = pd.Series(weights, index=attrs.index, dtype=object)
    decimals = rows["metric_id"].map(lambda i: by_id[i].decimals).to_numpy(dtype=np.int64) \
        if len(rows) else np.zeros(0, dtype=np.int64)
    return DetailTable(attrs, list(months), amounts, present, decimals)


def _facts_inside_horizon(phasing: pd.DataFrame, active: pd.DataFrame,
                          months: Sequence[date]) -> pd.DataFrame:
    """The active initiatives' phasing inside ``months``, each fact with ``col``: its
    month's position in ``months``."""
    month_index = {m.isoformat(): i for i, m in enumerate(months)}
    facts = phasing[["initiative_id", "metric_id", "month", "amount_minor"]]
    facts = facts[facts["initiative_id"].isin(active["initiative_id"]).to_numpy()]
    month = facts["month"]
    col: np.ndarray
    if isinstance(month.dtype, pd.CategoricalDtype):
        # A position per category, then one vectorised lookup (no string per fact).
        category_col = np.array([month_index.get(str(c)[:10], -1)
                                 for c in month.cat.categories] + [-1], dtype=np.int64)
        col = category_col[month.cat.codes.to_numpy()]
    else:
        col = month.astype(str).str.slice(0, 10).map(month_index).fillna(-1) \
            .to_numpy(dtype=np.int64)
    inside = col >= 0  # phasing outside the horizon is not in the report (a check says so)
    return facts[inside].assign(col=col[inside])


def _amount_grid(facts: pd.DataFrame, rows: pd.DataFrame, n_months: int,
                 weighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """The (rows x months) minor-unit amounts and the mask of cells that have one."""
    n_rows = len(rows)
    amounts = np.zeros((n_rows, n_months), dtype=np.int64)
    present = np.zeros((n_rows, n_months), dtype=bool)
    if n_rows and len(facts):
        row_of = pd.Series(np.arange(n_rows), index=pd.MultiIndex.from_frame(
            rows[["initiative_id", "metric_id"]]))
        fact_row = row_of.reindex(pd.MultiIndex.from_frame(
            facts[["initiative_id", "metric_id"]])).to_numpy(dtype=np.int64)
        fact_col = facts["col"].to_numpy(dtype=np.int64)
        values = facts["amount_minor"].to_numpy(dtype=np.int64)
        if weighted:
            # An initiative whose stage gate has no weight counts at 0, as in the engine.
            weight_bp = rows["weight_bp"].fillna(0).to_numpy(dtype=np.int64)[fact_row]
            values = weigh(values, weight_bp)
        np.add.at(amounts, (fact_row, fact_col), values)
        present[fact_row, fact_col] = True
    return amounts, present
