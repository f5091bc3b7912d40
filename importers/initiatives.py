"""Importing initiative workbooks: read, check, then write all or nothing.

The import runs in three phases:

1. **Read** every file (no database, :mod:`importers.reading`): check it is a harmless
   .xlsx, find the table, split it into attribute rows and raw amount cells. Slow work
   happens here, before any lock.
2. **Check** inside the write transaction (so nothing can change underneath): resolve codes,
   compare with the ledger, convert amounts exactly. Every problem of every file is kept.
3. **Write**, only if no file has an error: each file becomes one submission (its name and
   SHA-256 recorded), all files in ONE transaction, so a command either lands completely or
   not at all. Only facts that differ from the ledger are written.

Modes: ``update`` (default, safe) adds and changes what the workbook lists and leaves the
ledger's other initiatives alone. ``snapshot`` treats the workbook as the full picture of
its scope: the business units its initiatives belong to, and the metric/scenario pairs it
holds. Initiatives of those units that the workbook lacks are withdrawn, and their phasing
for those metric/scenario pairs ends.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from importers.command import (
    check_args,
    chosen_scale,
    cycle_collector_paused,
    started_steps,
    transaction,
)
from importers.committed import CommittedPlanChange, committed_plan_changes, require_note
from importers.factdiff import diff_phasing, keyed, read_current, scope_keys, select
from importers.layout import SheetTable
from importers.mapping import Mapping, load_mapping
from importers.prepare import Prepared, Reference, merge_prepared, prepare_initiatives
from importers.problems import ERROR, WARNING, ImportProblems, Problem, ProblemLog
from importers.reading import (
    ImportParams,
    ParsedFile,
    already_imported,
    content_columns,
    read_file,
    sha_or_empty,
)
from importers.results import (
    FileOutcome,
    ImportResult,
    pair_change,
    sum_changes,
    total_change,
    totals_before,
)
from importers.stale import read_stamp
from importers.valuemaps import Resolver
from importers.workbook import content_digest
from ledger import settings
from ledger.api import Ledger
from ledger.bulkload import bulk_loading
from ledger.errors import LedgerError
from ledger.initiatives import write_initiatives
from ledger.models import SCENARIOS, Phasing
from ledger.progress import Progress
from ledger.store import (
    PHASING_KEY,
    FactChanges,
    PhasingArrays,
    current_phasing_arrays,
    current_user,
    new_submission,
    write_fact_changes,
)

_PAIR = ["metric_id", "scenario"]
_TOTAL_COLUMNS = ["metric", "scenario", "before", "after", "change"]


@dataclass
class _Plan:
    """What one file would change, made against the ledger in the import's transaction."""

    prepared: Prepared
    withdraw: pd.Series | None
    init_added: list[str]
    init_changed: list[str]
    init_withdrawn: list[str]
    facts: FactChanges
    placeholder: dict[int, str]
    current: pd.DataFrame
    """The current initiatives the plan was made against (read in this transaction)."""

    @property
    def changed(self) -> bool:
        return bool(self.init_added or self.init_changed or self.init_withdrawn
                    or self.facts.count)


#: A workbook with at least this many amount cells has the ledger's current phasing read on
#: a second thread while its cells are checked (TLEDGER_PREFETCH_MIN_FACTS overrides).
PREFETCH_MIN_FACTS = 100_000


class _CurrentPrefetch:
    """The current phasing of the metrics and scenarios a big workbook names, read on a
    second thread over the import's own connection while the main thread checks the cells.

    The check (``prepare_initiatives``) does not touch the database, and the read is in the
    import's transaction, so it sees exactly what a read after the check would. The bulk
    read spends its time in the database and in C (SQLite's ``group_concat``, a binary COPY
    on PostgreSQL), not holding the GIL, so both threads advance.
    """

    def __init__(self, conn: Connection, metric_ids: list[int], scenarios: list[str]) -> None:
        self.metric_ids = metric_ids
        self.scenarios = scenarios
        self._facts: PhasingArrays | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, args=(conn,), daemon=True,
                                        name="tledger-prefetch")
        self._thread.start()

    def _read(self, conn: Connection) -> None:
        try:
            self._facts = current_phasing_arrays(conn, metric_ids=self.metric_ids,
                                                 scenarios=self.scenarios, initiative_ids=None)
        except BaseException as exc:  # raised again in the main thread
            self._error = exc

    def wait(self) -> None:
        """Until the read is over (before the main thread uses the connection again)."""
        self._thread.join()

    def current(self, metric_ids: list[int], scenarios: list[str],
                initiative_ids: list[int]) -> dict[str, np.ndarray] | None:
        """What :func:`importers.factdiff.read_current` would return, or None if the read
        did not cover these metrics and scenarios."""
        self.wait()
        if self._error is not None:
            raise self._error
        if not (set(metric_ids) <= set(self.metric_ids)
                and set(scenarios) <= set(self.scenarios)) or self._facts is None:
            return None
        return keyed(select(self._facts, metric_ids=metric_ids, scenarios=scenarios,
                            initiative_ids=initiative_ids))


def _prefetch_current(conn: Connection, table: SheetTable, mapping: Mapping,
                      ref: Reference) -> _CurrentPrefetch | None:
    """Start reading the current phasing of the metrics and scenarios ``table`` names (as
    the check will resolve them, or a superset), if the workbook is big enough to gain."""
    threshold = settings.count("TLEDGER_PREFETCH_MIN_FACTS", PREFETCH_MIN_FACTS)
    if len(table.facts) < threshold or not ref.metrics:
        return None
    by_code = {code.casefold(): m.id for code, m in ref.metrics.items()}
    resolver = Resolver.build(ref.names, mapping)

    def named(role: str, default: str) -> set[str]:
        values = {str(mapping.defaults.get(role, default)).strip().casefold()}
        if role in table.rows:
            for v in table.rows[role].dropna().unique():
                code = resolver.resolve(role, str(v))[0] or str(v)
                values.add(code.strip().casefold())
        return values

    metric_ids = sorted({by_code[t] for t in named("metric", next(iter(ref.metrics)))
                         if t in by_code})
    scenarios = sorted(t for t in named("scenario", "plan") if t in SCENARIOS)
    if not metric_ids or not scenarios:
        return None
    return _CurrentPrefetch(conn, metric_ids, scenarios)


def _plan_initiatives(conn: Connection, ref: Reference, prepared: Prepared,
                      mode: str, prefetch: _CurrentPrefetch | None = None) -> _Plan:
    """What ``prepared`` would change (nothing written): initiatives added, changed and, in
    snapshot mode, withdrawn, and the phasing facts that differ. New initiatives get
    placeholder ids (negative) until :func:`_apply_initiatives` writes them."""
    withdraw: pd.Series | None = None
    if mode == "snapshot":
        units = ref.current["business_unit_id"]
        in_scope = units.isin([u for u in prepared.units_in_file if u is not None])
        if None in prepared.units_in_file:
            in_scope |= units.isna()
        withdraw = pd.Series(in_scope.to_numpy(), index=ref.current.index)
    would = write_initiatives(conn, prepared.initiatives, 0, withdraw_missing=withdraw,
                              dry_run=True, current=ref.current)
    ids = {str(k): int(v) for k, v in ref.current["initiative_id"].items()}
    placeholder: dict[int, str] = {}
    for nth, ext in enumerate(would.added, start=1):
        ids[ext] = -nth
        placeholder[-nth] = ext
    facts = prepared.facts
    # Map ids once per data row (20,000), then spread to the facts (1.2 million).
    row_ids = pd.Series(prepared.row_external_ids).map(ids).to_numpy(dtype=np.int64)
    incoming = pd.DataFrame({
        "initiative_id": row_ids[facts["pos"].to_numpy(dtype=np.int64)],
        "metric_id": facts["metric_id"].to_numpy(dtype=np.int64),
        "scenario": pd.Series(facts["scenario"].to_numpy(dtype=object), dtype=object),
        "month": pd.Series(facts["month"].to_numpy(dtype=object), dtype=object),
        "amount_minor": facts["amount_minor"].to_numpy(dtype=np.int64),
    })
    scope_initiatives = prepared.row_scopes["external_id"].map(ids).to_numpy(dtype=np.int64)
    scope_metrics = prepared.row_scopes["metric_id"].to_numpy(dtype=np.int64)
    scope_scenarios = prepared.row_scopes["scenario"].to_numpy(dtype=object)
    if would.withdrawn:
        pairs = sorted({(int(m), str(sc))
                        for m, sc in zip(scope_metrics, scope_scenarios, strict=True)})
        gone = np.array([ids[e] for e in would.withdrawn], dtype=np.int64)
        pair_metrics = np.array([p[0] for p in pairs], dtype=np.int64)
        pair_scenarios = np.array([p[1] for p in pairs], dtype=object)
        scope_initiatives = np.concatenate([scope_initiatives, np.repeat(gone, len(pairs))])
        scope_metrics = np.concatenate([scope_metrics, np.tile(pair_metrics, len(gone))])
        scope_scenarios = np.concatenate([scope_scenarios, np.tile(pair_scenarios, len(gone))])
    scopes = scope_keys(scope_initiatives, scope_metrics, scope_scenarios)
    existing = sorted({int(i) for i in scope_initiatives if i > 0})
    metric_ids = sorted({int(m) for m in scope_metrics})
    scenarios = sorted({str(s) for s in scope_scenarios})
    current = None if prefetch is None else prefetch.current(metric_ids, scenarios, existing)
    if current is None:
        current = read_current(conn, metric_ids=metric_ids, scenarios=scenarios,
                               initiative_ids=existing)
    changes = diff_phasing(current, incoming, scopes)
    return _Plan(prepared, withdraw, would.added, would.changed, would.withdrawn, changes,
                 placeholder, ref.current)


def _apply_initiatives(conn: Connection, plan: _Plan, submission_id: int) -> None:
    """Write ``plan`` under ``submission_id``: the initiatives, then the phasing facts with
    the new initiatives' placeholder ids replaced by their real ones."""
    written = write_initiatives(conn, plan.prepared.initiatives, submission_id,
                                withdraw_missing=plan.withdraw, current=plan.current)
    changes = plan.facts
    if plan.placeholder and len(changes.added):
        real = {k: written.ids[ext] for k, ext in plan.placeholder.items()}
        ids = changes.added["initiative_id"].to_numpy()
        new = ids < 0
        if new.any():
            ids = ids.copy()
            ids[new] = pd.Series(ids[new]).map(real).to_numpy(dtype=np.int64)
            changes.added["initiative_id"] = ids
    phasing = Phasing.metadata.tables[Phasing.__tablename__]
    with bulk_loading(conn, phasing, len(changes.added) + len(changes.changed)) as target:
        write_fact_changes(conn, target, PHASING_KEY, changes, submission_id)

def import_initiatives(
    ledger: Ledger,
    paths: list[Path],
    *,
    mapping: Path | None = None,
    mode: str = "update",
    scale: Decimal | None = None,
    dry_run: bool = False,
    user: str | None = None,
    note: str = "",
    progress: Progress | None = None,
    force: bool = False,
) -> ImportResult:
    """Import initiative workbooks: all files in one transaction, one submission per file.

    A file already imported (same SHA-256) is skipped and said so. A file whose content
    matches the ledger writes nothing. Otherwise only the initiatives and phasing facts that
    differ are written, as new versions under the file's submission.

    Raises:
        ImportProblems: any file has an error (every problem of every file listed);
            nothing was written.
        LedgerError: a bad argument or mapping file, or no programme.
    """
    check_args(mode, scale)
    from importers.owner import has_stamp

    stamped = [Path(p) for p in paths if has_stamp(p)]
    if stamped:
        if len(paths) > 1:
            raise LedgerError(f"{stamped[0].name} is an owner workbook (from `tledger phasing "
                              "export`): import owner workbooks one file at a time")
        if mapping is not None or mode != "update" or scale is not None:
            raise LedgerError(f"{stamped[0].name} is an owner workbook: its layout is known, "
                              "so --mapping, --mode and --scale do not apply")
        return _import_owner(ledger, stamped[0], force=force, dry_run=dry_run, user=user,
                             note=note)
    the_mapping = load_mapping(mapping)
    use_scale = chosen_scale(scale, the_mapping.scale, mapping)
    params = ImportParams.of("initiatives", the_mapping, use_scale, mode)
    timings: dict[str, float] = {}
    steps = started_steps(progress, 3 * len(paths))
    with cycle_collector_paused():
        try:
            started = time.perf_counter()
            parsed = _read_files(ledger, paths, the_mapping, params, use_scale, steps)
            timings["read"] = time.perf_counter() - started
            result = _import_parsed(ledger, parsed, the_mapping, params, dry_run, user, note,
                                    steps, timings, force)
        finally:
            steps.close()
    return result


def _read_files(ledger: Ledger, paths: list[Path], mapping: Mapping, params: ImportParams,
                scale: Decimal | None, steps: Progress) -> list[ParsedFile]:
    """Phase 1 for every file; a file imported before with ``params`` is not even read."""
    programme = ledger.programme()
    parsed: list[ParsedFile] = []
    for path in paths:
        steps.step(f"reading {Path(path).name}")
        sha = sha_or_empty(Path(path))
        digest = content_digest(Path(path))
        with ledger.reading() as conn:
            previous = already_imported(conn, sha, digest, params)
        if previous is not None:
            parsed.append(ParsedFile(Path(path), sha, ProblemLog(Path(path).name),
                                     already_imported_as=previous[0],
                                     same_content_as=previous[1]))
        else:
            parsed.append(read_file(Path(path), mapping, programme,
                                    default_sheet="Initiatives", key_role="id",
                                    scale=scale, sha=sha, digest=digest, several=True))
            parsed[-1].stamp = read_stamp(Path(path))
        steps.advance()
    return parsed


@dataclass
class _Tally:
    """What the files of one command did so far, summed into its :class:`ImportResult`."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    facts_added: int = 0
    facts_changed: int = 0
    facts_removed: int = 0
    overrode: int = 0
    submission_ids: list[int] = field(default_factory=list)
    change_frames: list[pd.DataFrame] = field(default_factory=list)
    committed: list[CommittedPlanChange] = field(default_factory=list)
    write_seconds: float = 0.0
    failed: bool = False
    """A file has an error: later files are still checked (all problems listed), none
    planned or written."""

    def add(self, plan: _Plan) -> None:
        self.added += plan.init_added
        self.changed += plan.init_changed
        self.withdrawn += plan.init_withdrawn
        self.facts_added += len(plan.facts.added)
        self.facts_changed += len(plan.facts.changed)
        self.facts_removed += len(plan.facts.removed)
        self.change_frames.append(pair_change(plan.facts, _PAIR))

    def result(self, total: pd.DataFrame, dry_run: bool, timings: dict[str, float],
               ) -> ImportResult:
        files_done = [o for o in self.outcomes if o.already_imported_as is None]
        ids = self.submission_ids
        return ImportResult(
            submission_id=ids[-1] if ids else None,
            already_imported=bool(self.outcomes) and not files_done,
            rows_read=sum(o.rows_read for o in self.outcomes),
            initiatives_added=self.added, initiatives_changed=self.changed,
            initiatives_withdrawn=self.withdrawn, facts_added=self.facts_added,
            facts_changed=self.facts_changed, facts_removed=self.facts_removed,
            total_change=total,
            warnings=[p for p in self.problems if p.severity == WARNING],
            submission_ids=ids, files=self.outcomes, dry_run=dry_run, timings=timings,
            overrode=self.overrode, committed_plan_changes=self.committed,
        )


def _all_imported_before(parsed: list[ParsedFile], dry_run: bool,
                         timings: dict[str, float]) -> ImportResult:
    return ImportResult(
        submission_id=None, already_imported=True, rows_read=0, initiatives_added=[],
        initiatives_changed=[], initiatives_withdrawn=[], facts_added=0, facts_changed=0,
        facts_removed=0, total_change=pd.DataFrame(columns=_TOTAL_COLUMNS),
        warnings=[], files=[FileOutcome(file=one.path.name, sha256=one.sha256,
                                        already_imported_as=one.already_imported_as,
                                        same_content_as=one.same_content_as)
                            for one in parsed], dry_run=dry_run, timings=timings)


def _import_parsed(ledger: Ledger, parsed: list[ParsedFile], mapping: Mapping,
                   params: ImportParams, dry_run: bool, user: str | None, note: str,
                   steps: Progress, timings: dict[str, float], force: bool) -> ImportResult:
    """Phases 2 and 3 for every file read, in one transaction."""
    check_started = time.perf_counter()
    if parsed and all(one.already_imported_as is not None for one in parsed):
        # Every file was imported before: nothing to read, check or write.
        timings.update(check=time.perf_counter() - check_started, write=0.0)
        return _all_imported_before(parsed, dry_run, timings)
    tally = _Tally()
    with transaction(ledger, dry_run) as conn:
        ref = Reference.load(ledger, conn)
        before = totals_before(conn, "phasing", _PAIR, [m.id for m in ref.metrics.values()])
        tally.failed = any(one.log.has_errors for one in parsed)
        for one in parsed:
            _import_one(ledger, conn, ref, one, parsed[-1], mapping, params, dry_run, user,
                        note, steps, force, tally)
        if tally.failed or any(p.severity == ERROR for p in tally.problems):
            raise ImportProblems(tally.problems)
        if not dry_run:
            require_note(tally.committed, note)  # raised here: the transaction rolls back
        change = (sum_changes(tally.change_frames, _PAIR) if tally.change_frames
                  else pd.DataFrame(columns=[*_PAIR, "change"]))
        touched = change[_PAIR].merge(before, on=_PAIR, how="left").fillna({"before": 0})
        total = total_change(ref, touched, change, _PAIR)
        before_commit = time.perf_counter()
    # The commit (leaving the transaction) belongs to the write phase.
    tally.write_seconds += (time.perf_counter() - before_commit) if tally.submission_ids else 0.0
    timings["check"] = time.perf_counter() - check_started - tally.write_seconds
    timings["write"] = tally.write_seconds
    return tally.result(total, dry_run, timings)


def _import_one(ledger: Ledger, conn: Connection, ref: Reference, parsed: ParsedFile,
                last: ParsedFile, mapping: Mapping, params: ImportParams, dry_run: bool,
                user: str | None, note: str, steps: Progress, force: bool,
                tally: _Tally) -> None:
    """Check one read file and, unless a file failed, plan and write it (into ``tally``)."""
    outcome = FileOutcome(file=parsed.path.name, sha256=parsed.sha256)
    tally.outcomes.append(outcome)
    if parsed.already_imported_as is not None:
        outcome.already_imported_as = parsed.already_imported_as
        outcome.same_content_as = parsed.same_content_as
        return
    if parsed.table is None or parsed.log.has_errors:
        tally.problems += parsed.log.finish()
        return
    previous = already_imported(conn, parsed.sha256, parsed.digest, params)
    if previous is not None:  # imported by another process since we looked
        outcome.already_imported_as, outcome.same_content_as = previous
        tally.problems += parsed.log.finish()
        return
    steps.step(f"checking {parsed.path.name}")
    prefetch = None if tally.failed else _prefetch_current(conn, parsed.table, mapping, ref)
    try:
        prepared = merge_prepared(
            [prepare_initiatives(table, mapping, ref, parsed.log, params.scale)
             for table in parsed.tables or [parsed.table]], parsed.log)
    finally:
        if prefetch is not None:
            prefetch.wait()
    outcome.rows_read = prepared.rows_read
    steps.advance()
    tally.problems += parsed.log.finish()
    if parsed.log.has_errors:
        tally.failed = True
    if tally.failed:
        return
    steps.step(f"writing {parsed.path.name}" if not dry_run
               else f"diffing {parsed.path.name}")
    plan = _plan_initiatives(conn, ref, prepared, params.mode, prefetch)
    overridden = _stale_values(ledger, conn, ref, parsed, plan, force)
    tally.committed += committed_plan_changes(conn, ref, plan.facts, parsed.path.name)
    tally.overrode += len(overridden)
    write_started = time.perf_counter()
    if plan.changed and not dry_run:
        sub = new_submission(
            conn, kind="import", user=current_user(user), note=note,
            source_name=parsed.path.name, source_sha256=parsed.sha256,
            **content_columns(parsed),
            details={**params.details(), "rows": prepared.rows_read,
                     "sheet": prepared.sheet, **_lineage_details(parsed, overridden),
                     **({"row_notes": prepared.notes} if prepared.notes else {})})
        _apply_initiatives(conn, plan, sub.id)
        outcome.submission_id = sub.id
        tally.submission_ids.append(sub.id)
        if parsed is not last:
            ref.current = Reference.load(ledger, conn).current
    tally.write_seconds += time.perf_counter() - write_started
    steps.advance()
    outcome.changed = plan.changed
    tally.add(plan)


def _stale_values(ledger: Ledger, conn: Connection, ref: Reference, parsed: ParsedFile,
                  plan: _Plan, force: bool) -> pd.DataFrame:
    """The newer ledger values ``plan`` would overwrite (see :mod:`importers.stale`): an
    error listing them unless ``force``; with ``force``, what to record as overridden."""
    from importers import stale

    if parsed.stamp is not None and parsed.stamp.ledger_id != ledger.identity(conn)[0]:
        parsed.stamp = None  # exported from another ledger: its submission numbers mean nothing
    empty = pd.DataFrame(columns=stale.CONFLICT_COLUMNS)
    if not plan.changed:
        return empty
    base = stale.file_base(conn, parsed.path.name, parsed.stamp)
    if base is None:
        return empty
    names = {"initiative": pd.Series(ref.current["external_id"].to_numpy(),
                                     index=ref.current["initiative_id"].to_numpy()),
             "metric": {m.id: m.code for m in ref.metrics.values()}}
    decimals = {m.id: m.decimals for m in ref.metrics.values()}
    found = [stale.phasing_conflicts(conn, base, plan.facts, names, decimals)]
    if plan.init_changed or plan.init_withdrawn:
        codes = {"units": {v: k for k, v in ref.units.items()},
                 "levers": {v: k for k, v in ref.levers.items()},
                 "stages": {v: k for k, v in ref.stages.items()}}
        found.append(stale.initiative_conflicts(
            conn, base, ref.current, plan.prepared.initiatives, plan.init_changed,
            plan.init_withdrawn, codes))
    found = [f for f in found if len(f)]
    if not found:
        return empty
    conflicts = pd.concat(found, ignore_index=True).sort_values(
        ["initiative", "what", "month"], kind="stable").reset_index(drop=True)
    if force:
        return conflicts
    lines = stale.describe(conflicts, stale.submission_users(conn, conflicts["changed_by"]))
    raise stale.StaleWorkbook(stale.refusal(parsed.path.name, base, conflicts, lines), conflicts)


def _lineage_details(parsed: ParsedFile, overrode: pd.DataFrame) -> dict[str, Any]:
    """Submission details that let later copies of this file find their base, and what a
    forced import overwrote."""
    from importers import stale

    out: dict[str, Any] = {}
    if parsed.stamp is not None:
        out["based_on"] = parsed.stamp.based_on
    if len(overrode):
        out["forced"] = True
        out["overrode"] = stale.overrode(overrode)
    return out

def _import_owner(ledger: Ledger, path: Path, *, force: bool, dry_run: bool,
                  user: str | None, note: str) -> ImportResult:
    """An owner workbook (stamped by ``tledger phasing export``) goes through the owner
    rules of :mod:`importers.owner`: only that owner's exported initiatives, conflicts
    refused unless ``force``."""
    from importers.owner import import_owner_workbook

    owner = import_owner_workbook(ledger, path, force=force, dry_run=dry_run, user=user,
                                  note=note)
    outcome = FileOutcome(file=owner.file, sha256=owner.sha256,
                          submission_id=owner.submission_id, rows_read=owner.initiatives,
                          changed=bool(owner.count))
    return ImportResult(
        submission_id=owner.submission_id, already_imported=False,
        rows_read=owner.initiatives, initiatives_added=[], initiatives_changed=[],
        initiatives_withdrawn=[], facts_added=owner.added, facts_changed=owner.changed,
        facts_removed=owner.removed, total_change=pd.DataFrame(columns=_TOTAL_COLUMNS),
        warnings=[], submission_ids=[owner.submission_id] if owner.submission_id else [],
        files=[outcome], dry_run=dry_run, owner_result=owner)
