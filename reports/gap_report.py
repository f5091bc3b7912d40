"""Loading what the gap report shows: the engine's figures and the detail they sum.

:func:`load_report` reads one consistent snapshot of the ledger (every piece at the same
submission) and returns a :class:`reports.excel.ReportInput`; :func:`reports.excel.
write_gap_report` writes it; :func:`reports.summary_csv.summary_table` turns it into the
CSV summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import Connection

import ledger as ledger_pkg
from ledger.api import Ledger
from ledger.engine import as_of_instant, checks, finance, gap
from ledger.errors import LedgerError
from ledger.initiatives import current_initiatives
from ledger.months import month_iso
from ledger.pnl import has_gl_actuals, reconcile
from ledger.ratio import PROGRAMME_PART
from ledger.store import month_number_sql, read_frame_in, submission_as_of, version_filter
from reports.excel import BREAKDOWN_SHEETS, BreakdownSheet, ReportInput, build_detail
from reports.excel.inputs import PAPERS, TOP_N, DetailTable, FunnelStage, TopLists

if TYPE_CHECKING:
    from ledger.api import MetricInfo
    from ledger.bridge import BridgeResult
    from ledger.engine import GapReport
    from ledger.ratio import RatioReport

__all__ = ["last_month_end", "load_report"]

def load_report(
    ledger: Ledger,
    *,
    metric: str | None = None,
    scenario: str = "plan",
    as_of: datetime | date | str | None = None,
    weighted: bool = False,
    bridge_from: datetime | date | str | None = None,
    scale: str = "auto",
    paper: str = "A4",
) -> ReportInput:
    """Read everything the report shows, as the ledger stood at one submission.

    The bridge is part of every report: from ``bridge_from``, by default from the last
    month-end before the report's instant (the end of the previous month's last day, UTC).

    The summary, each breakdown, the Initiatives detail, the checks and the bridge are read
    in one read transaction, so they show the ledger at one submission.

    Raises:
        LedgerError: unknown metric or scenario, or a bad as-of.
    """
    instant = as_of_instant(as_of)
    # One read transaction: the summary, breakdowns, detail, checks and bridge all see the
    # same snapshot, whatever a writer commits meanwhile.
    with ledger.reading() as conn:
        summary = gap(ledger, metric=metric, scenario=scenario, as_of=instant,
                      weighted=weighted, conn=conn)
        sub = summary.as_of_submission
        reports = {by: gap(ledger, metric=metric, scenario=scenario, by=by, as_of=instant,
                           weighted=weighted, conn=conn) for by, *_rest in BREAKDOWN_SHEETS}
        # The funnel shows both: the stage gates' value unweighted and risk-weighted.
        by_stage = {w: gap(ledger, metric=metric, scenario=scenario, by="stage", as_of=instant,
                           weighted=w, conn=conn) for w in (False, True)}
        metrics = ledger.metrics(conn)
        initiatives = current_initiatives(conn, as_of=sub)
        phasing = _phasing(conn, scenario, sub, [m.id for m in metrics])
        names = {
            "business_unit": _names(ledger.business_units(conn)),
            "lever": _names(ledger.levers(conn)),
            "owner": {},
        }
        stages = ledger.stage_gates(conn, as_of=sub)
        coverage_red, coverage_amber = ledger.coverage_thresholds(conn, as_of=sub)
        # The report shows the findings; `tledger checks` is where the file itself is checked.
        findings = checks(ledger, as_of=instant, conn=conn, check_storage=False)
        bridge, bridge_instant = _bridge(ledger, bridge_from, instant, summary.metric.code,
                                         scenario, weighted, conn)
        outturn = finance(ledger, metric=summary.metric.code, as_of=instant, conn=conn)
        top_inputs = _top_inputs(conn, scenario, sub, instant, summary.metric.id,
                                 summary.programme.months)
        used = sorted(set(phasing["metric_id"].tolist()) | {summary.metric.id})
        detail_metrics = [m for m in metrics if m.id in used]
        detail = build_detail(initiatives, phasing, detail_metrics, summary.programme.months,
                              weighted=weighted, report_metric_id=summary.metric.id)
        top = _top_lists(conn, top_inputs, detail, initiatives, summary.metric, sub)
        pnl = (reconcile(ledger, as_of=sub, conn=conn) if has_gl_actuals(conn, sub)
               else None)
        unit_costs = _unit_costs(ledger, conn, metrics, scenario=scenario, weighted=weighted,
                                 as_of=sub)
    funnel = _funnel(stages, by_stage, detail, summary.metric.code)
    if paper not in PAPERS:
        raise LedgerError(f"paper {paper!r}: expected {' or '.join(PAPERS)}")
    return ReportInput(
        programme=summary.programme,
        metric=summary.metric,
        metrics=detail_metrics,
        scenario=scenario,
        weighted=weighted,
        summary=summary,
        breakdowns=[BreakdownSheet(by, sheet, column, heading, reports[by], names[by], targets)
                    for by, sheet, column, heading, targets in BREAKDOWN_SHEETS],
        detail=detail,
        checks=findings,
        as_of=instant,
        as_of_submission=summary.as_of_submission,
        last_submission_id=summary.last_submission_id,
        version=ledger_pkg.__version__,
        bridge=bridge,
        bridge_from=bridge_instant,
        scale=scale,
        finance=outturn,
        paper=paper,
        coverage_red=coverage_red,
        coverage_amber=coverage_amber,
        funnel=funnel,
        top=top,
        pnl=pnl,
        unit_costs=unit_costs,
    )


def _unit_costs(ledger: Ledger, conn: Connection, metrics: Sequence[MetricInfo], *,
                scenario: str, weighted: bool, as_of: int) -> list[RatioReport]:
    """Each ratio metric's unit-cost gap, by business unit, keeping the programme and the
    units that have baselines of their own (a unit without any would be a block of empty
    cells)."""
    from ledger.ratio import ratio_gap, ratio_metric_codes

    out = []
    for code in ratio_metric_codes(conn, [m.id for m in metrics]):
        rep = ratio_gap(ledger, metric=code, scenario=scenario, by="business_unit",
                        as_of=as_of, weighted=weighted, conn=conn)
        monthly = rep.monthly
        has_baseline = (monthly["numerator_baseline"].notna()
                        | monthly["denominator_baseline"].notna())
        keep = {PROGRAMME_PART, *monthly.loc[has_baseline, "part"]}
        out.append(replace(
            rep, monthly=monthly[monthly["part"].isin(keep)].reset_index(drop=True),
            fiscal=rep.fiscal[rep.fiscal["part"].isin(keep)].reset_index(drop=True)))
    return out


_CHUNK = 100_000


def _phasing(conn: Connection, scenario: str, as_of_sub: int, metric_ids: list[int]
             ) -> pd.DataFrame:
    """Every metric's phasing for ``scenario`` valid at ``as_of_sub``: ``initiative_id,
    metric_id, month, amount_minor``; ``month`` is a Categorical of ISO strings.

    Read with the driver's own cursor in chunks straight into numpy arrays (SQLAlchemy's Row
    objects cost more than the query; a million facts fetched at once cost ~350 MB of
    tuples). PostgreSQL streams through a server-side cursor.

    Raises nothing on an empty ledger: the frame is empty.
    """
    where, params = version_filter(as_of_sub)
    # Naming the metrics lets both databases answer from the covering index ix_phasing_scan;
    # the month comes back as an integer (year * 12 + month - 1) so every column is numeric.
    ids = ", ".join(str(int(i)) for i in metric_ids) or "NULL"
    month_key = month_number_sql(conn)
    sql = (f"SELECT initiative_id, metric_id, {month_key}, amount_minor FROM phasing "  # noqa: S608  (ids int()-formatted; where: version_filter's fixed SQL)
           f"WHERE metric_id IN ({ids}) AND scenario = :scenario AND {where}")
    args: dict[str, object] = {**params, "scenario": scenario}
    if conn.dialect.name == "postgresql":
        sql = re.sub(r":(\w+)", r"%(\1)s", sql)
        driver = conn.connection.driver_connection
        assert driver is not None  # noqa: S101  (narrows the type)
        cursor = driver.cursor(name="tledger_report_phasing")
        cursor.itersize = _CHUNK
    else:
        cursor = conn.connection.cursor()
    chunks: list[np.ndarray] = []
    try:
        cursor.execute(sql, args)
        while True:
            rows = cursor.fetchmany(_CHUNK)
            if not rows:
                break
            chunks.append(np.array(rows, dtype=np.int64).reshape(-1, 4))
            del rows
    finally:
        cursor.close()
    table = np.concatenate(chunks) if chunks else np.zeros((0, 4), dtype=np.int64)
    keys, codes = np.unique(table[:, 2], return_inverse=True)
    categories = pd.Index([month_iso(int(k)) for k in keys], dtype=object)
    return pd.DataFrame({
        "initiative_id": table[:, 0],
        "metric_id": table[:, 1],
        "month": pd.Categorical.from_codes(codes.reshape(-1), categories=categories),
        "amount_minor": table[:, 3],
    })


def _names(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(n) for c, n in zip(frame["code"], frame["name"], strict=True)}


def last_month_end(instant: datetime) -> date:
    """The last day of the month before ``instant``'s (UTC): a report's movement starts at
    the end of that day."""
    return instant.astimezone(UTC).date().replace(day=1) - timedelta(days=1)


def _bridge(ledger: Ledger, bridge_from: datetime | date | str | None,
            instant: datetime | None, metric: str, scenario: str, weighted: bool,
            conn: Connection) -> tuple[BridgeResult | None, datetime | None]:
    """The bridge from ``bridge_from`` (None: the last month-end) to the report's instant."""
    from ledger import bridge as bridge_mod

    end = instant if instant is not None else datetime.now(UTC)
    start = as_of_instant(bridge_from if bridge_from is not None else last_month_end(end))
    result = bridge_mod.bridge(ledger, start=start, end=end, metric=metric,
                               scenario=scenario, weighted=weighted, conn=conn)
    return result, start


def _horizon(report: GapReport) -> dict[str, Decimal]:
    """Each part's horizon bottom-up in an engine report."""
    fiscal = report.fiscal
    rows = fiscal[fiscal["period"] == "Horizon"]
    return {str(p): Decimal(str(v)) for p, v in zip(rows["part"], rows["bottom_up"],
                                                     strict=True)}


def _funnel(stages: pd.DataFrame, by_stage: dict[bool, GapReport], detail: DetailTable,
            metric_code: str) -> list[FunnelStage]:
    """Every stage gate in order: its initiatives (rows of the reported metric) and its
    horizon value, unweighted and risk-weighted, from the engine."""
    unweighted, weighted = _horizon(by_stage[False]), _horizon(by_stage[True])
    attrs = detail.attributes
    rows = attrs[attrs["metric"].astype(str) == metric_code]
    counts = rows["stage"].astype(str).value_counts().to_dict()
    return [FunnelStage(code=str(rec["code"]), name=str(rec["name"]),
                        count=int(counts.get(str(rec["code"]), 0)),
                        unweighted=unweighted.get(str(rec["code"]), Decimal(0)),
                        weight=rec["weight"],
                        weighted=weighted.get(str(rec["code"]), Decimal(0)))
            for rec in stages.to_dict("records")]


@dataclass
class _TopInputs:
    """Per-initiative horizon totals (minor units) the Top initiatives sheet ranks."""

    plan: dict[int, int]
    forecast: dict[int, int]
    before: dict[int, int]
    now: dict[int, int]
    since: datetime | None


def _totals(conn: Connection, scenario: str, sub: int, metric_id: int,
            months: Sequence[date]) -> dict[int, int]:
    """Each initiative's total of ``scenario`` in the horizon at submission ``sub``."""
    frame = _phasing(conn, scenario, sub, [metric_id])
    inside = {m.isoformat() for m in months}
    frame = frame[frame["month"].astype(str).isin(inside).to_numpy()]
    sums = frame.groupby("initiative_id")["amount_minor"].sum()
    return {int(str(k)): int(v) for k, v in sums.items()}


def _top_inputs(conn: Connection, scenario: str, sub: int | None, instant: datetime | None,
                metric_id: int, months: Sequence[date]) -> _TopInputs:
    """Plan and forecast totals now, and the scenario's totals at the start of the month
    (of the as-of instant, else of today) and now."""
    if sub is None:
        return _TopInputs({}, {}, {}, {}, None)
    point = instant if instant is not None else datetime.now(UTC)
    since = datetime(point.year, point.month, 1, tzinfo=UTC)
    before_sub = submission_as_of(conn, since)
    plan = _totals(conn, "plan", sub, metric_id, months)
    forecast = _totals(conn, "forecast", sub, metric_id, months)
    now = {"plan": plan, "forecast": forecast}.get(scenario) or _totals(
        conn, scenario, sub, metric_id, months)
    before = (now if before_sub == sub else
              _totals(conn, scenario, before_sub, metric_id, months) if before_sub else {})
    return _TopInputs(plan, forecast, before, now, since)


def _latest_notes(conn: Connection, ids: list[int], sub: int | None) -> dict[int, str]:
    """The note of the latest submission (up to ``sub``) that changed each initiative's
    attributes or phasing."""
    if not ids or sub is None:
        return {}
    frame = read_frame_in(
        conn,
        "SELECT u.initiative_id, s.note FROM (SELECT initiative_id, MAX(valid_from) AS sub "
        "FROM (SELECT initiative_id, valid_from FROM phasing WHERE initiative_id IN :ids "
        "AND valid_from <= :sub UNION ALL SELECT initiative_id, valid_from FROM "
        "initiative_version WHERE initiative_id IN :ids AND valid_from <= :sub) x "
        "GROUP BY initiative_id) u JOIN submission s ON s.id = u.sub",
        {"sub": int(sub)}, "ids", ids)
    return {int(i): str(n or "") for i, n in zip(frame["initiative_id"], frame["note"],
                                                  strict=True)}


def _top_lists(conn: Connection, inputs: _TopInputs, detail: DetailTable,
               initiatives: pd.DataFrame, metric: object, sub: int | None) -> TopLists:
    """The three rankings, with each initiative's attributes and latest note."""
    decimals = int(metric.decimals)  # type: ignore[attr-defined]
    code = str(metric.code)  # type: ignore[attr-defined]

    def amount(minor: int) -> Decimal:
        return Decimal(int(minor)).scaleb(-decimals)

    attrs = detail.attributes
    metric_rows = np.flatnonzero((attrs["metric"].astype(str) == code).to_numpy())
    totals = np.where(detail.present, detail.amounts, 0).sum(axis=1)
    by_value_rows = sorted(metric_rows.tolist(), key=lambda r: (-int(totals[r]),
                                                               str(attrs.at[r, "external_id"])))
    info = initiatives.set_index("initiative_id")
    by_external = {str(e): int(i) for i, e in zip(initiatives["initiative_id"],
                                                   initiatives["external_id"], strict=True)}

    def ranked(changes: dict[int, tuple[int, int, int]]) -> list[int]:
        moved = [i for i, v in changes.items() if v[-1] != 0 and i in info.index]
        return sorted(moved, key=lambda i: (-abs(changes[i][-1]),
                                            str(info.at[i, "external_id"])))[:TOP_N]

    ids = sorted(set(inputs.plan) | set(inputs.forecast))
    variance = {i: (inputs.plan.get(i, 0), inputs.forecast.get(i, 0),
                    inputs.forecast.get(i, 0) - inputs.plan.get(i, 0)) for i in ids}
    ids = sorted(set(inputs.before) | set(inputs.now))
    movement = {i: (inputs.before.get(i, 0), inputs.now.get(i, 0),
                    inputs.now.get(i, 0) - inputs.before.get(i, 0)) for i in ids}
    top_value = by_value_rows[:TOP_N]
    top_variance, top_movement = ranked(variance), ranked(movement)
    chosen = {by_external[str(attrs.at[r, "external_id"])] for r in top_value
              if str(attrs.at[r, "external_id"]) in by_external}
    notes = _latest_notes(conn, sorted(chosen | set(top_variance) | set(top_movement)), sub)

    def about(initiative_id: int) -> dict[str, object]:
        rec = info.loc[initiative_id]
        return {"external_id": rec["external_id"], "name": rec["name"], "owner": rec["owner"],
                "stage": rec["stage"], "note": notes.get(initiative_id, "")}

    value_rows = []
    for r in top_value:
        external = str(attrs.at[r, "external_id"])
        iid = by_external.get(external)
        value_rows.append({"external_id": external, "name": attrs.at[r, "name"],
                           "owner": attrs.at[r, "owner"], "stage": attrs.at[r, "stage"],
                           "note": notes.get(iid, "") if iid is not None else "",
                           "amount": amount(int(totals[r])), "detail_row": r})
    columns = ["external_id", "name", "owner", "stage", "note"]
    return TopLists(
        by_value=pd.DataFrame(value_rows, columns=[*columns, "amount", "detail_row"]),
        variance=pd.DataFrame([{**about(i), "plan": amount(variance[i][0]),
                                "forecast": amount(variance[i][1]),
                                "variance": amount(variance[i][2])} for i in top_variance],
                              columns=[*columns, "plan", "forecast", "variance"]),
        movement=pd.DataFrame([{**about(i), "before": amount(movement[i][0]),
                                "now": amount(movement[i][1]),
                                "movement": amount(movement[i][2])} for i in top_movement],
                              columns=[*columns, "before", "now", "movement"]),
        movement_since=inputs.since)
