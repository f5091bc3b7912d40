"""What an import reports: per file and per command (data only: the interface words it),
and the totals of the change it made, per metric and scenario or scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import Connection, bindparam, text

from importers.prepare import Reference
from importers.problems import Problem
from ledger.models import OPEN
from ledger.money import from_minor
from ledger.store import FactChanges

if TYPE_CHECKING:
    from importers.committed import CommittedPlanChange
    from importers.owner import OwnerImportResult


@dataclass
class FileOutcome:
    """What happened to one file of the command."""

    file: str
    sha256: str
    submission_id: int | None = None
    already_imported_as: int | None = None
    same_content_as: str | None = None
    """Set when the file's bytes are new but its content is that of the file imported as
    ``already_imported_as`` (only its package metadata differs)."""
    rows_read: int = 0
    changed: bool = False


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    submission_id: int | None
    """The (last) submission written; None for a dry run or when nothing changed."""
    already_imported: bool
    """Every file was imported before (same SHA-256): nothing to do."""
    rows_read: int
    initiatives_added: list[str]
    initiatives_changed: list[str]
    initiatives_withdrawn: list[str]
    facts_added: int
    facts_changed: int
    facts_removed: int
    total_change: pd.DataFrame
    """metric, scenario, before, after, change (Decimals in the metric's unit)."""
    warnings: list[Problem]
    submission_ids: list[int] = field(default_factory=list)
    files: list[FileOutcome] = field(default_factory=list)
    dry_run: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per phase (read, check, write): what the benchmark prints."""
    what: str = "initiatives"
    """``initiatives`` or ``targets``: what the counts count."""
    owner_result: OwnerImportResult | None = None
    """For an owner workbook: the ``importers.owner.OwnerImportResult``."""
    overrode: int = 0
    """Newer ledger values a forced import overwrote (see :mod:`importers.stale`)."""
    committed_plan_changes: list[CommittedPlanChange] = field(default_factory=list)
    """Plans of committed initiatives (at L3+) the import changes, per initiative, metric
    and fiscal year (:mod:`importers.committed`); a real import needs a note for them."""

    @property
    def changed(self) -> bool:
        return bool(self.initiatives_added or self.initiatives_changed
                    or self.initiatives_withdrawn or self.facts_added or self.facts_changed
                    or self.facts_removed)


# ---------------------------------------------------------------------------- change totals


def pair_change(changes: FactChanges, pair: list[str]) -> pd.DataFrame:
    """The net change in minor units per ``pair`` key (metric and scenario, or scope)."""
    parts = []
    if len(changes.added):
        parts.append(changes.added[[*pair]].assign(change=changes.added["amount_minor"]))
    if len(changes.changed):
        parts.append(changes.changed[[*pair]].assign(
            change=changes.changed["amount_minor"] - changes.changed["old_amount_minor"]))
    if len(changes.removed):
        parts.append(changes.removed[[*pair]].assign(
            change=-changes.removed["old_amount_minor"]))
    if not parts:
        return pd.DataFrame(columns=[*pair, "change"])
    frame = pd.concat(parts, ignore_index=True)
    frame["change"] = frame["change"].astype("int64")
    return sum_changes([frame], pair)


def sum_changes(frames: list[pd.DataFrame], pairs: list[str]) -> pd.DataFrame:
    """The ``change`` column of ``frames`` summed per ``pairs`` key."""
    return pd.DataFrame(pd.concat(frames, ignore_index=True)
                        .groupby(pairs, as_index=False)["change"].sum())


def totals_before(conn: Connection, table: str, pairs: list[str], metric_ids: list[int],
                  ) -> pd.DataFrame:
    """The current total in minor units of ``table`` (phasing) per ``pairs`` key, for
    ``metric_ids``: the "before" of the change totals."""
    if not metric_ids:
        return pd.DataFrame(columns=[*pairs, "before"])
    cols = ", ".join(pairs)  # column names of the caller's own, never a user's text
    # OPEN stays a literal: it is the predicate of the tables' partial indexes.
    query = text(f"SELECT {cols}, SUM(amount_minor) FROM {table} WHERE valid_to = {OPEN} "  # noqa: S608  (column and table names of the caller's; ids bound)
                 f"AND metric_id IN :ids GROUP BY {cols}").bindparams(
                     bindparam("ids", expanding=True))
    rows = conn.execute(query, {"ids": sorted({int(m) for m in metric_ids})}).all()
    frame = pd.DataFrame(rows, columns=[*pairs, "before"])
    frame["before"] = frame["before"].map(int).astype("int64") if len(frame) else []
    return frame


def total_change(ref: Reference, before: pd.DataFrame, change: pd.DataFrame,
                 pairs: list[str]) -> pd.DataFrame:
    """metric, <pair columns>, before, after, change as Decimals in the metric's unit."""
    merged = before.merge(change, on=pairs, how="outer")
    merged = merged.fillna({"before": 0, "change": 0})
    by_id = {m.id: m for m in ref.metrics.values()}
    records = []
    for rec in merged.sort_values(pairs).to_dict("records"):
        metric = by_id[int(rec["metric_id"])]
        before_minor, change_minor = int(rec["before"]), int(rec["change"])
        out: dict[str, object] = {"metric": metric.code}
        for key in pairs[1:]:
            out[key] = rec[key]
        out["before"] = from_minor(before_minor, metric.decimals)
        out["after"] = from_minor(before_minor + change_minor, metric.decimals)
        out["change"] = from_minor(change_minor, metric.decimals)
        records.append(out)
    columns = ["metric", *pairs[1:], "before", "after", "change"]
    return pd.DataFrame(records, columns=columns)
