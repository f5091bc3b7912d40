"""Office imports that change a committed plan (:mod:`ledger.approvals`).

An initiative's plan is committed when it enters L3; afterwards owners change only the
forecast, and the office may change the plan with a note (as in the grid and `tledger
phasing set`). An initiatives workbook imported by the office goes through the same rule:
the dry run lists every committed initiative whose plan it changes, per metric and fiscal
year (:class:`CommittedPlanChange`), and the real import needs a note when there is any
(:func:`require_note`), else nothing is written. Initiatives committed by the import
itself (moved into L3 by it) are not listed: their committed plan is the one it writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection

from importers.prepare import Reference
from importers.results import pair_change
from ledger.approvals import commitments
from ledger.errors import LedgerError
from ledger.money import from_minor
from ledger.months import fiscal_year, fiscal_year_label
from ledger.store import FactChanges

_KEY = ["initiative_id", "metric_id", "fiscal_year"]


@dataclass(frozen=True)
class CommittedPlanChange:
    """The net change an import makes to one committed initiative's plan of one metric in
    one fiscal year (months re-phased within the year show a net change of 0)."""

    file: str
    external_id: str
    metric: str
    fiscal_year: str
    change: Decimal

    @property
    def moved(self) -> str:
        """``benefit FY27 +12,000.00``."""
        return (f"{self.metric} {self.fiscal_year} {self.change:+,}"
                + (" (re-phased)" if self.change == 0 else ""))

    @property
    def line(self) -> str:
        """``plan of committed initiative GR-0002 changed: benefit FY27 +12,000.00``."""
        return f"plan of committed initiative {self.external_id} changed: {self.moved}"


def committed_plan_changes(conn: Connection, ref: Reference, facts: FactChanges,
                           file: str) -> list[CommittedPlanChange]:
    """The plan changes in ``facts`` of initiatives committed now (before the write), per
    initiative, metric and fiscal year, in external id order."""
    frames = [facts.added, facts.changed, facts.removed]
    ids = sorted({int(i) for f in frames if len(f)
                  for i in f.loc[f["scenario"] == "plan", "initiative_id"] if int(i) > 0})
    since = commitments(conn, ids)
    if not since:
        return []
    start = ref.programme.fy_start_month

    def plan_of_committed(frame: pd.DataFrame) -> pd.DataFrame:
        if not len(frame):
            return frame.assign(fiscal_year=pd.Series(dtype=object))
        part = frame[(frame["scenario"] == "plan") & frame["initiative_id"].isin(list(since))]
        years = [fiscal_year_label(fiscal_year(date.fromisoformat(str(m)[:10]), start))
                 for m in part["month"]]
        return part.assign(fiscal_year=pd.Series(years, index=part.index, dtype=object))

    added, changed, removed = (plan_of_committed(f) for f in frames)
    change = pair_change(FactChanges(added, changed, removed, unchanged=0), _KEY)
    names = dict(zip(ref.current["initiative_id"].astype(int), ref.current["external_id"],
                     strict=True))
    metrics = {m.id: m for m in ref.metrics.values()}
    out = [CommittedPlanChange(file, str(names[int(r["initiative_id"])]),
                               metrics[int(r["metric_id"])].code, str(r["fiscal_year"]),
                               from_minor(int(r["change"]),
                                          metrics[int(r["metric_id"])].decimals))
           for r in change.to_dict("records")]
    return sorted(out, key=lambda c: (c.external_id, c.metric, c.fiscal_year))


def require_note(changes: list[CommittedPlanChange], note: str) -> None:
    """Refuse a real import that changes a committed plan without a note.

    Raises:
        LedgerError: naming the initiatives and what to do (the import then writes
            nothing).
    """
    if not changes or note.strip():
        return
    named = list(dict.fromkeys(c.external_id for c in changes))
    shown = ", ".join(named[:20]) + (f", ... ({len(named)} in all)" if len(named) > 20 else "")
    raise LedgerError(
        f"the plan of committed {'initiative' if len(named) == 1 else 'initiatives'} "
        f"{shown} would change (committed at L3: "
        f"{'; '.join(f'{c.external_id} {c.moved}' for c in changes[:5])}"
        f"{'; ...' if len(changes) > 5 else ''}): a note is required to change a committed "
        "plan; give --note (or the note field) to say why, or run --dry-run to see every "
        "change. Nothing was written")
