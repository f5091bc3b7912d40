"""Importing a top-down targets workbook (sheet ``Targets``: Metric, Scope, one column per
month) as one new target revision: read, check, then write all or nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from importers.amounts import convert
from importers.codes import ids_for_codes, value_at
from importers.command import check_args, chosen_scale, started_steps, transaction
from importers.layout import SheetTable, cell_ref
from importers.mapping import Mapping, load_mapping
from importers.prepare import Reference
from importers.problems import WARNING, ImportProblems, Problem, ProblemLog
from importers.reading import (
    ImportParams,
    ParsedFile,
    already_imported,
    content_columns,
    read_file,
)
from importers.results import FileOutcome, ImportResult, pair_change, total_change
from importers.valuemaps import Resolver, apply_value_maps
from ledger.api import Ledger
from ledger.errors import LedgerError
from ledger.models import Target
from ledger.progress import Progress
from ledger.store import (
    TARGET_KEY,
    FactChanges,
    current_targets,
    current_user,
    diff_facts,
    new_submission,
    write_fact_changes,
)
from ledger.vocabulary import SCOPE_FORMS, did_you_mean, parse_scope

#: The key of a target row: one metric for one scope.
_SCOPE_KEY = ["metric_id", "scope_kind", "scope_code"]
_TOTAL_COLUMNS = ["metric", "scope", "before", "after", "change"]


def _metric_ids(table: SheetTable, ref: Reference, log: ProblemLog) -> pd.Series:
    """The metric id of each row (NA where the code is unknown, reported)."""
    rows, cols = table.rows, table.columns
    metric_known = {code: metric.id for code, metric in ref.metrics.items()}
    metric_ids, bad = ids_for_codes(rows["metric"], metric_known)
    for pos in np.flatnonzero(bad.to_numpy()).tolist():
        found = value_at(rows["metric"], pos)
        log.bad_value(table.sheet, cell_ref(int(value_at(rows["row"], pos)), cols["metric"]),
                      found, "a metric code: " + ", ".join(sorted(metric_known))
                      + did_you_mean(str(found), list(metric_known)))
    return metric_ids


def _scopes(table: SheetTable, scope_raw: pd.Series, ref: Reference, log: ProblemLog,
            ) -> tuple[list[str | None], list[str | None]]:
    """(scope kinds, scope codes) of each row: None where the scope is bad (reported)."""
    rows, cols = table.rows, table.columns
    kinds: list[str | None] = []
    codes: list[str | None] = []
    for pos, raw in enumerate(scope_raw):
        where = (cell_ref(int(value_at(rows["row"], pos)), cols["scope"]) if "scope" in cols
                 else "")
        try:
            scope = parse_scope(None if raw is None else str(raw))
        except LedgerError:
            log.bad_value(table.sheet, where, raw, SCOPE_FORMS)
            kinds.append(None)
            codes.append(None)
            continue
        if scope.kind == "programme":
            kinds.append("programme")
            codes.append("")
            continue
        kind, code = scope.kind, scope.code
        known = ref.units if kind == "business_unit" else ref.levers
        if code not in known:
            folded = {k.casefold(): k for k in known}
            if code.casefold() in folded:
                code = folded[code.casefold()]
            else:
                log.bad_value(table.sheet, where, raw, f"a known {kind.replace('_', ' ')} "
                              "code: " + ", ".join(sorted(known))
                              + did_you_mean(code, list(known)))
        kinds.append(kind)
        codes.append(code)
    return kinds, codes


def _target_facts(table: SheetTable, frame: pd.DataFrame, metric_ids: pd.Series,
                  ref: Reference, log: ProblemLog, scale: Decimal, decimal_mark: str,
                  ) -> pd.DataFrame:
    """The amount cells converted exactly to minor units, one fact per metric, scope and
    month (bad cells reported, rounded ones warned about)."""
    decimals_by = {metric.id: metric.decimals for metric in ref.metrics.values()}
    fact_pos = table.facts["pos"].to_numpy(dtype=np.int64)
    fact_metrics = metric_ids.fillna(-1).to_numpy(dtype=np.int64)[fact_pos]
    decimals = np.array([decimals_by.get(int(m), 0) for m in fact_metrics], dtype=np.int64)
    converted = convert(table.facts["value"].to_numpy(dtype=object), decimals, scale,
                        decimal_mark)
    fact_rows = table.facts["row"].to_numpy()
    fact_cols = table.facts["col"].to_numpy()
    for index, found, expected in converted.errors:
        log.bad_value(table.sheet, cell_ref(int(fact_rows[index]), int(fact_cols[index])),
                      found, expected)
    for index, read, kept in converted.rounded[:200]:
        log.warn(table.sheet, cell_ref(int(fact_rows[index]), int(fact_cols[index])), str(read),
                 f"at most {int(decimals[index])} decimals: rounded to {kept}")
    keep = converted.present & (fact_metrics >= 0)
    kept_pos = fact_pos[keep]
    return pd.DataFrame({
        "metric_id": fact_metrics[keep],
        "scope_kind": frame["scope_kind"].to_numpy(dtype=object)[kept_pos],
        "scope_code": frame["scope_code"].to_numpy(dtype=object)[kept_pos],
        "month": table.facts["month"].to_numpy(dtype=object)[keep],
        "amount_minor": converted.minor[keep],
    })


def _prepare_targets(table: SheetTable, mapping: Mapping, ref: Reference, log: ProblemLog,
                     scale: Decimal) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(facts, scopes, rows read) of a targets sheet: metric x scope rows, month columns."""
    # Metric labels ("Net benefit") and names to codes, as for initiatives.
    apply_value_maps(table.rows, table, Resolver.build(ref.names, mapping, log), log)
    rows = table.rows
    metric_ids = _metric_ids(table, ref, log)
    scope_raw = rows["scope"] if "scope" in rows else pd.Series(
        [mapping.defaults.get("scope")] * len(rows), dtype=object)
    kinds, codes = _scopes(table, scope_raw, ref, log)
    frame = pd.DataFrame({"metric_id": metric_ids, "scope_kind": kinds, "scope_code": codes})
    dup = frame.duplicated(keep="first").to_numpy() & frame.notna().all(axis=1).to_numpy()
    for pos in np.flatnonzero(dup).tolist():
        log.error(table.sheet, cell_ref(int(value_at(rows["row"], pos)),
                                        table.columns["metric"]),
                  f"{value_at(rows['metric'], pos)} {value_at(scope_raw, pos)} again",
                  "one row per metric and scope")
    facts = _target_facts(table, frame, metric_ids, ref, log, scale, mapping.decimal)
    scopes = frame.dropna().drop_duplicates().astype({"metric_id": "int64"})
    return facts, scopes, len(rows)


@dataclass
class _Revision:
    """What a targets file changes, checked against the ledger in the import's transaction."""

    changes: FactChanges
    total: pd.DataFrame
    rows_read: int
    problems: list[Problem]
    submission_id: int | None = None


def _scope_label(kind: str, code: str) -> str:
    return kind if kind == "programme" else f"{'unit' if kind == 'business_unit' else kind}:{code}"


def _total_by_scope(ref: Reference, current: pd.DataFrame, change: pd.DataFrame,
                    ) -> pd.DataFrame:
    """metric, scope, before, after, change of the target rows the revision touches."""
    before = pd.DataFrame(current.groupby(_SCOPE_KEY, as_index=False)["amount_minor"]
                          .sum()).rename(columns={"amount_minor": "before"})
    touched = before.merge(change[_SCOPE_KEY], on=_SCOPE_KEY, how="right").fillna(
        {"before": 0})
    total = total_change(ref, touched, change, _SCOPE_KEY)
    if not len(total):
        return pd.DataFrame(columns=_TOTAL_COLUMNS)
    total.insert(1, "scope", [_scope_label(kind, code) for kind, code in
                              zip(total.pop("scope_kind"), total.pop("scope_code"),
                                  strict=True)])
    return total


def _check_revision(ledger: Ledger, conn: Connection, parsed: ParsedFile, mapping: Mapping,
                    scale: Decimal) -> _Revision:
    """Phase 2: the file's facts, checked, and their difference from the current targets."""
    ref = Reference.load(ledger, conn)
    assert parsed.table is not None  # noqa: S101  (narrows the type: read_file found a table)
    facts, scopes, rows_read = _prepare_targets(parsed.table, mapping, ref, parsed.log, scale)
    problems = parsed.log.finish()
    if parsed.log.has_errors:
        raise ImportProblems(problems)
    current = current_targets(conn, metric_ids=scopes["metric_id"].unique().tolist())
    changes = diff_facts(current, facts, TARGET_KEY, scopes=scopes)
    total = _total_by_scope(ref, current, pair_change(changes, _SCOPE_KEY))
    return _Revision(changes, total, rows_read, problems)


def _write_revision(conn: Connection, parsed: ParsedFile, revision: _Revision,
                    params: ImportParams, user: str | None, note: str) -> int:
    """Phase 3: the file's submission and the target months that differ; its id."""
    sub = new_submission(conn, kind="import", user=current_user(user), note=note,
                         source_name=parsed.path.name, source_sha256=parsed.sha256,
                         **content_columns(parsed),
                         details={**params.details(), "rows": revision.rows_read})
    targets = Target.metadata.tables[Target.__tablename__]
    write_fact_changes(conn, targets, TARGET_KEY, revision.changes, sub.id)
    return sub.id


def import_targets(
    ledger: Ledger,
    path: Path,
    *,
    mapping: Path | None = None,
    scale: Decimal | None = None,
    dry_run: bool = False,
    user: str | None = None,
    note: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    """Import a top-down targets workbook (sheet ``Targets``: Metric, Scope, months) as one
    new target revision: only the months that differ are written; a metric x scope row
    replaces that row's months in full (an emptied month ends its target).

    Raises:
        ImportProblems: the file has errors (all listed); nothing was written.
    """
    check_args("update", scale)
    the_mapping = load_mapping(mapping)
    use_scale = chosen_scale(scale, the_mapping.scale, mapping)
    params = ImportParams.of("targets", the_mapping, use_scale)
    programme = ledger.programme()
    steps = started_steps(progress, 3)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        steps.step(f"reading {Path(path).name}")
        parsed = read_file(Path(path), the_mapping, programme, default_sheet="Targets",
                           key_role="metric", scale=use_scale)
        timings["read"] = time.perf_counter() - started
        outcome = FileOutcome(file=parsed.path.name, sha256=parsed.sha256)
        with transaction(ledger, dry_run) as conn:
            problems = (parsed.log.finish() if parsed.table is None or parsed.log.has_errors
                        else [])
            if problems:
                raise ImportProblems(problems)
            previous = already_imported(conn, parsed.sha256, parsed.digest, params)
            if previous is not None:
                outcome.already_imported_as, outcome.same_content_as = previous
                return ImportResult(None, True, 0, [], [], [], 0, 0, 0,
                                    pd.DataFrame(columns=_TOTAL_COLUMNS),
                                    [], files=[outcome], dry_run=dry_run, timings=timings)
            steps.step(f"checking {parsed.path.name}")
            revision = _check_revision(ledger, conn, parsed, the_mapping,
                                       use_scale or Decimal(1))
            outcome.rows_read = revision.rows_read
            if revision.changes.count and not dry_run:
                steps.step(f"writing {parsed.path.name}")
                write_started = time.perf_counter()
                revision.submission_id = outcome.submission_id = _write_revision(
                    conn, parsed, revision, params, user, note)
                timings["write"] = time.perf_counter() - write_started
    finally:
        steps.close()
    changes, sub_id = revision.changes, revision.submission_id
    return ImportResult(
        submission_id=sub_id, already_imported=False, rows_read=revision.rows_read,
        initiatives_added=[], initiatives_changed=[], initiatives_withdrawn=[],
        facts_added=len(changes.added), facts_changed=len(changes.changed),
        facts_removed=len(changes.removed), total_change=revision.total,
        warnings=[p for p in revision.problems if p.severity == WARNING],
        submission_ids=[sub_id] if sub_id else [], files=[outcome], dry_run=dry_run,
        timings=timings, what="targets")
