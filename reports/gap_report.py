"""Loading what the gap report shows: the engine's figures and the detail they sum.

:func:`load_report` reads one consistent snapshot of the ledger (every piece at the same
submission) and returns a :class:`reports.excel.ReportInput`; :func:`reports.excel.
write_gap_report` writes it; :func:`reports.summary_csv.summary_table` turns it into the
CSV summary.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import Connection

import ledger as ledger_pkg
from ledger.api import Ledger
from ledger.engine import as_of_instant, checks, finance, gap
from ledger.initiatives import current_initiatives
from ledger.months import month_iso
from ledger.store import month_number_sql, version_filter
from reports.excel import BREAKDOWN_SHEETS, BreakdownSheet, ReportInput, build_detail

if TYPE_CHECKING:
    from ledger.bridge import BridgeResult

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
                           weighted=weighted, conn=conn) for by, _s, _c, _h in BREAKDOWN_SHEETS}
        metrics = ledger.metrics(conn)
        initiatives = current_initiatives(conn, as_of=sub)
        phasing = _phasing(conn, scenario, sub, [m.id for m in metrics])
        names = {
            "business_unit": _names(ledger.business_units(conn)),
            "lever": _names(ledger.levers(conn)),
            "stage": _names(ledger.stage_gates(conn, as_of=sub)),
        }
        # The report shows the findings; `tledger checks` is where the file itself is checked.
        findings = checks(ledger, as_of=instant, conn=conn, check_storage=False)
        bridge, bridge_instant = _bridge(ledger, bridge_from, instant, summary.metric.code,
                                         scenario, weighted, conn)
        outturn = finance(ledger, metric=summary.metric.code, as_of=instant, conn=conn)
    used = sorted(set(phasing["metric_id"].tolist()) | {summary.metric.id})
    detail_metrics = [m for m in metrics if m.id in used]
    detail = build_detail(initiatives, phasing, detail_metrics, summary.programme.months,
                          weighted=weighted, report_metric_id=summary.metric.id)
    return ReportInput(
        programme=summary.programme,
        metric=summary.metric,
        metrics=detail_metrics,
        scenario=scenario,
        weighted=weighted,
        summary=summary,
        breakdowns=[BreakdownSheet(by, sheet, column, heading, reports[by], names[by])
                    for by, sheet, column, heading in BREAKDOWN_SHEETS],
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
    )


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
