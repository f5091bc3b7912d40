"""Importing initiative and target workbooks: read, check, then write all or nothing.

The import runs in three phases:

1. **Read** every file (no database): check it is a harmless .xlsx, find the table, split it
   into attribute rows and raw amount cells. Slow work happens here, before any lock.
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

import gc
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, text

from importers.factdiff import diff_phasing, keyed, read_current, scope_keys, select
from importers.layout import SheetTable, cell_ref, locate_table
from importers.mapping import Mapping, load_mapping
from importers.prepare import Prepared, Reference, prepare_initiatives
from importers.problems import ERROR, WARNING, ImportProblems, Problem, ProblemLog
from importers.stale import Stamp, read_stamp
from importers.workbook import (
    STAMP_SHEET,
    CellDetails,
    ContentDigest,
    Workbook,
    cell_details,
    check_sheet_size,
    content_digest,
    file_sha256,
    open_workbook,
    read_grid,
    read_sheet_xml,
)
from ledger import settings
from ledger.api import Ledger
from ledger.bulkload import loaded_beside
from ledger.errors import LedgerError
from ledger.initiatives import write_initiatives
from ledger.models import OPEN, SCENARIOS, Phasing, Target
from ledger.money import from_minor
from ledger.progress import NoProgress, Progress
from ledger.store import (
    PHASING_KEY,
    TARGET_KEY,
    FactChanges,
    PhasingArrays,
    current_phasing_arrays,
    current_targets,
    current_user,
    diff_facts,
    new_submission,
    write_fact_changes,
)
from ledger.vocabulary import SCOPE_FORMS, parse_scope


def _v(series: pd.Series, pos: int) -> Any:
    """One value of ``series`` by position (typed loosely: cells hold anything)."""
    return series.iat[pos]

MODES = ("update", "snapshot")


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for an import, resume it after.

    An import allocates millions of short-lived objects (cells, keys, rows) that reference
    counting frees on its own; the cycle collector, triggered by those allocations, would
    scan every live container again and again meanwhile (about a quarter of a 5 %-changed
    re-import's read and check, measured). Once resumed it collects any cycles made.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
    """``initiatives`` or ``targets``: what the summary talks about."""
    owner_result: Any = None
    """For an owner workbook: the ``importers.owner.OwnerImportResult``."""
    overrode: int = 0
    """Newer ledger values a forced import overwrote (see :mod:`importers.stale`)."""

    @property
    def changed(self) -> bool:
        return bool(self.initiatives_added or self.initiatives_changed
                    or self.initiatives_withdrawn or self.facts_added or self.facts_changed
                    or self.facts_removed)

    def summary(self) -> str:
        """The one-line summary the CLI prints at the end."""
        if self.already_imported:
            subs = ", ".join(f"{f.already_imported_as}" + (
                f" (same content as {f.same_content_as})" if f.same_content_as else "")
                for f in self.files)
            return f"already imported as submission {subs}; nothing to do"
        verb = "would change" if self.dry_run else "changed"
        parts = [f"{self.rows_read:,} rows read"]
        if self.what == "initiatives":
            parts.append(f"initiatives: {len(self.initiatives_added):,} added, "
                         f"{len(self.initiatives_changed):,} changed, "
                         f"{len(self.initiatives_withdrawn):,} withdrawn")
        parts.append(f"{'facts' if self.what == 'initiatives' else 'target months'}: "
                     f"{self.facts_added:,} added, {self.facts_changed:,} changed, "
                     f"{self.facts_removed:,} removed")
        skipped = [f for f in self.files if f.already_imported_as is not None]
        if skipped:
            parts.append(", ".join(f"{f.file} already imported as submission "
                                   f"{f.already_imported_as}" + (
                                       f" (same content as {f.same_content_as})"
                                       if f.same_content_as else "") for f in skipped))
        if self.dry_run:
            tail = "dry run: nothing written"
        elif self.submission_ids:
            tail = "submission " + ", ".join(str(s) for s in self.submission_ids)
        else:
            tail = "no changes: nothing written"
        if not self.changed and not self.dry_run:
            verb = "nothing to change"
            return f"{verb}: {parts[0]}; {tail}"
        if self.overrode:
            parts.append(f"FORCED over {self.overrode:,} newer ledger values")
        return f"{verb}: " + "; ".join(parts) + f"; {tail}"


# ---------------------------------------------------------------------------- progress


def _steps(progress: Progress | None, total: int) -> Progress:
    """The caller's progress (started with ``total`` steps), or one that shows nothing."""
    steps: Progress = progress if progress is not None else NoProgress()
    steps.start(total)
    return steps


# ---------------------------------------------------------------------------- reading


@dataclass
class ParsedFile:
    path: Path
    sha256: str
    log: ProblemLog
    table: SheetTable | None = None
    stamped: bool = False
    already_imported_as: int | None = None
    """Set when a submission already imported this SHA-256 (or this content): the file is
    not even read."""
    digest: ContentDigest | None = None
    same_content_as: str | None = None
    stamp: Stamp | None = None
    """A pre-filled template's exported-at properties (:func:`importers.stale.read_stamp`)."""


def _choose_sheet(wb: Workbook, mapping: Mapping, default: str, log: ProblemLog) -> str | None:
    if mapping.sheet:
        found = wb.find_sheet(mapping.sheet)
        if found is None:
            log.error("", "", f"no sheet {mapping.sheet!r} (sheets: {', '.join(wb.sheets)})",
                      "the sheet named in the mapping")
        return found
    found = wb.find_sheet(default)
    if found is not None:
        return found
    candidates = [s for s in wb.visible if s != STAMP_SHEET] or [
        s for s in wb.sheets if s != STAMP_SHEET]
    if not candidates:
        log.error("", "", "a workbook without worksheets", f"a sheet named {default}")
        return None
    return candidates[0]


def read_file(path: Path, mapping: Mapping, ledger_info: Any, *, default_sheet: str,
              key_role: str, scale: Decimal | None, sha: str | None = None,
              digest: ContentDigest | None = None) -> ParsedFile:
    """Phase 1 for one file: open, find the table, note cells calamine cannot show."""
    path = Path(path)
    log = ProblemLog(path.name)
    if sha is None:
        sha = _sha_or_empty(path)
    if digest is None:
        digest = content_digest(path)
    parsed = ParsedFile(path=path, sha256=sha, log=log, digest=digest)
    if digest is not None:
        digest.start()  # its SHA-256, recorded with the submission, beside the parse
    wb = open_workbook(path, log)
    if wb is None:
        return parsed
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        parsed.stamped = STAMP_SHEET in wb.sheets
        sheet = _choose_sheet(wb, mapping, default_sheet, log)
        if sheet is None:
            return parsed
        # The sheet's XML, unpacked once: its size is checked before calamine may build
        # the grid, then a byte scan for formulas without values and error cells runs
        # beside calamine's parse.
        xml = read_sheet_xml(wb, sheet, log)
        if xml is None or not check_sheet_size(wb, sheet, log, xml=xml):
            return parsed
        details = pool.submit(cell_details, wb, sheet, xml)
        del xml
        grid = read_grid(wb, sheet, log)
        if grid is None:
            return parsed
        table = locate_table(grid, sheet, mapping, log, key_role=key_role,
                             fy_start=ledger_info.fy_start_month,
                             horizon=(ledger_info.first_month, ledger_info.last_month))
        del grid
        if table is None:
            return parsed
        parsed.table = table
        _check_hidden_cells(details.result(), table, log)
        if table.scale_note is not None and scale is None:
            cell, factor = table.scale_note
            log.error(table.sheet, cell, f"a unit note saying amounts are in units of "
                      f"{factor:,}", f"--scale {factor} (or scale = {factor} in the mapping; "
                      "--scale 1 to take the amounts as written)")
        # The file's SHA-256 and content SHA-256 (recorded to recognise it later) and its
        # cells were read at different moments: they belong together only if nobody saved
        # the file in between.
        if digest is not None:
            digest.sha256()
        if sha and _sha_or_empty(path) != sha:
            log.error("", "", "a file that changed while it was being read (saved again "
                      "meanwhile?)", "a file nobody is saving: import it again")
    finally:
        pool.shutdown(wait=True)
        wb.close()
    return parsed


def _check_hidden_cells(details: CellDetails, table: SheetTable, log: ProblemLog) -> None:
    """Report formulas without a saved value and error values in the cells we read."""
    if not details.no_cached_value and not details.error_values:
        return
    used_cols = set(table.columns.values()) | set(table.month_columns)
    data_rows = set(table.rows["row"].tolist())
    for (r, c) in sorted(details.no_cached_value):
        if r in data_rows and c in used_cols:
            log.error(table.sheet, cell_ref(r, c), "a formula without a saved value (the "
                      "program that wrote the file did not calculate it)",
                      "a value: open the workbook in Excel or LibreOffice and save it")
    for (r, c), shown in sorted(details.error_values.items()):
        if r in data_rows and c in used_cols:
            log.error(table.sheet, cell_ref(r, c), shown, "a number (the cell shows an error)")


# ---------------------------------------------------------------------------- diffing


def _pair_change(changes: FactChanges, pair: list[str]) -> pd.DataFrame:
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
    summed: pd.DataFrame = frame.groupby(pair, as_index=False)["change"].sum()  # type: ignore[assignment]
    return summed


# ---------------------------------------------------------------------------- initiatives


@dataclass
class _Plan:
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

    def named(role: str, default: str) -> set[str]:
        values = {str(mapping.defaults.get(role, default)).strip().casefold()}
        if role in table.rows:
            values |= {str(v).strip().casefold() for v in table.rows[role].dropna().unique()}
        return values

    metric_ids = sorted({by_code[t] for t in named("metric", next(iter(ref.metrics)))
                         if t in by_code})
    scenarios = sorted(t for t in named("scenario", "plan") if t in SCENARIOS)
    if not metric_ids or not scenarios:
        return None
    return _CurrentPrefetch(conn, metric_ids, scenarios)


def _plan_initiatives(conn: Connection, ref: Reference, prepared: Prepared,
                      mode: str, prefetch: _CurrentPrefetch | None = None) -> _Plan:
    withdraw: pd.Series | None = None
    if mode == "snapshot":
        units = ref.current["business_unit_id"]
        in_scope = units.isin([u for u in prepared.units_in_file if u is not None])
        if None in prepared.units_in_file:
            in_scope |= units.isna()
        withdraw = pd.Series(in_scope.to_numpy(), index=ref.current.index)
    ic = write_initiatives(conn, prepared.initiatives, 0, withdraw_missing=withdraw,
                           dry_run=True, current=ref.current)
    ids = {str(k): int(v) for k, v in ref.current["initiative_id"].items()}
    placeholder: dict[int, str] = {}
    for n, ext in enumerate(ic.added, start=1):
        ids[ext] = -n
        placeholder[-n] = ext
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
    scope_iid = prepared.row_scopes["external_id"].map(ids).to_numpy(dtype=np.int64)
    scope_mid = prepared.row_scopes["metric_id"].to_numpy(dtype=np.int64)
    scope_sc = prepared.row_scopes["scenario"].to_numpy(dtype=object)
    if ic.withdrawn:
        pairs = sorted({(int(m), str(sc)) for m, sc in zip(scope_mid, scope_sc, strict=True)})
        gone = [ids[e] for e in ic.withdrawn]
        scope_iid = np.concatenate([scope_iid, np.repeat(np.array(gone, dtype=np.int64),
                                                         len(pairs))])
        scope_mid = np.concatenate([scope_mid, np.tile(np.array([p[0] for p in pairs],
                                                                dtype=np.int64), len(gone))])
        scope_sc = np.concatenate([scope_sc, np.tile(np.array([p[1] for p in pairs],
                                                              dtype=object), len(gone))])
    scopes = scope_keys(scope_iid, scope_mid, scope_sc)
    existing = sorted({int(i) for i in scope_iid if i > 0})
    metric_ids = sorted({int(m) for m in scope_mid})
    scenarios = sorted({str(s) for s in scope_sc})
    current = None if prefetch is None else prefetch.current(metric_ids, scenarios, existing)
    if current is None:
        current = read_current(conn, metric_ids=metric_ids, scenarios=scenarios,
                               initiative_ids=existing)
    changes = diff_phasing(current, incoming, scopes)
    return _Plan(prepared, withdraw, ic.added, ic.changed, ic.withdrawn, changes, placeholder,
                 ref.current)


def _apply_initiatives(conn: Connection, plan: _Plan, submission_id: int) -> None:
    ic = write_initiatives(conn, plan.prepared.initiatives, submission_id,
                           withdraw_missing=plan.withdraw, current=plan.current)
    changes = plan.facts
    if plan.placeholder and len(changes.added):
        real = {k: ic.ids[ext] for k, ext in plan.placeholder.items()}
        col = changes.added["initiative_id"].to_numpy()
        neg = col < 0
        if neg.any():
            col = col.copy()
            col[neg] = pd.Series(col[neg]).map(real).to_numpy(dtype=np.int64)
            changes.added["initiative_id"] = col
    phasing: Table = Phasing.__table__  # type: ignore[assignment]
    with _rebuilt_indexes(conn, phasing, len(changes.added) + len(changes.changed)) as target:
        write_fact_changes(conn, target, PHASING_KEY, changes, submission_id)


#: An import adding at least this many facts loads them the fast way: on SQLite, when they
#: outnumber the table's rows, without the table's indexes, recreated after the insert; on
#: PostgreSQL, when the table is empty, into a bare copy that takes its place at the end.
#: Override with TLEDGER_BULK_LOAD_MIN_FACTS (read at each import; the crash tests use it).
BULK_INDEX_THRESHOLD = 100_000


def _bulk_threshold() -> int:
    return settings.count("TLEDGER_BULK_LOAD_MIN_FACTS", BULK_INDEX_THRESHOLD)


@contextmanager
def _rebuilt_indexes(conn: Connection, phasing: Table, adding: int) -> Iterator[Table]:
    """The table to write a batch of ``adding`` new facts into, inside the import's
    transaction (``phasing`` itself, or on PostgreSQL a copy: see :func:`_pg_bulk_load`).

    On SQLite a batch that outgrows what the table holds (a first import) is inserted
    without the table's indexes, which are then recreated from their own DDL in
    ``sqlite_master``: building an index by sorting is about twice as fast as updating four
    B-trees row by row. The unique "one current version" index is recreated too, so a
    duplicate would still fail the transaction; if anything fails, the rollback restores
    the indexes as they were. (WAL readers never see the uncommitted DDL.)
    """
    threshold = _bulk_threshold()
    table = phasing.name
    if conn.dialect.name == "postgresql" and adding >= threshold:
        with _pg_bulk_load(conn, phasing, adding) as target:
            yield target
        return
    if conn.dialect.name != "sqlite" or adding < threshold:
        yield phasing
        return
    raw: Any = conn.connection.driver_connection
    held = int(raw.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])
    if adding <= held:
        yield phasing
        return
    ddl = raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                      "AND tbl_name = ? AND sql IS NOT NULL", (table,)).fetchall()
    for name, _sql in ddl:
        raw.execute(f'DROP INDEX "{name}"')
    yield phasing
    # SQLite's sorter may use helper threads to build an index (off by default): 2 cores
    # build the four indexes of 1.2 M rows in 2.8 s instead of 3.5 s (measured).
    threads = int(raw.execute("PRAGMA threads").fetchone()[0])
    raw.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
    try:
        for name, sql in ddl:
            try:
                raw.execute(sql)
            except sqlite3.IntegrityError as exc:  # the rollback restores the old index
                raise LedgerError(f"{table}: rebuilding index {name} failed ({exc}); "
                                  "nothing was written") from exc
    finally:
        raw.execute(f"PRAGMA threads = {threads}")


@contextmanager
def _pg_bulk_load(conn: Connection, table: Table, adding: int) -> Iterator[Table]:
    """On PostgreSQL, load a first batch into a bare copy of the empty ``table`` that takes
    its place at the end (:mod:`ledger.bulkload`: readers are never blocked for the load).
    A table with rows takes the batch through its keys and indexes, then fresh statistics.
    """
    with loaded_beside(conn, table) as load:
        yield table if load is None else load
    if load is None and adding > 0:
        conn.exec_driver_sql(f"ANALYZE {table.name}")


def _sha_or_empty(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError:  # reported by read_file with the reason
        return ""


@dataclass(frozen=True)
class ImportParams:
    """What, besides the file, decides what an import writes: the same file imported again
    with other parameters (``--mode snapshot`` after an update, another ``--scale`` or
    mapping) is read again, not skipped as already imported."""

    what: str
    """``initiatives`` or ``targets``."""
    scale: Decimal
    mode: str = "update"
    mapping_sha256: str | None = None
    """SHA-256 of the mapping as read (its settings, not its file's bytes); None without."""

    @classmethod
    def of(cls, what: str, mapping: Mapping, scale: Decimal | None, mode: str = "update",
           ) -> ImportParams:
        settings = mapping.model_dump_json()
        custom = settings != Mapping().model_dump_json()
        return cls(what=what, scale=Decimal(scale or 1), mode=mode,
                   mapping_sha256=hashlib.sha256(settings.encode()).hexdigest() if custom
                   else None)

    def details(self) -> dict[str, str]:
        """The submission's ``details`` entries that record these parameters."""
        out = {"scale": str(self.scale)}
        if self.what == "initiatives":
            out["mode"] = self.mode
        else:
            out["what"] = self.what
        if self.mapping_sha256:
            out["mapping_sha256"] = self.mapping_sha256
        return out

    def matches(self, details: str | None) -> bool:
        """True if a submission with these ``details`` was imported with these parameters
        (a submission from before parameters were compared has no mapping entry: read as
        "no mapping")."""
        try:
            recorded = json.loads(details) if details else {}
            scale = Decimal(str(recorded.get("scale", "1")))
        except (ValueError, ArithmeticError):
            return False
        return (recorded.get("what", "initiatives") == self.what
                and (self.what != "initiatives" or recorded.get("mode", "update") == self.mode)
                and scale == self.scale
                and recorded.get("mapping_sha256") == self.mapping_sha256)


def _already_imported(conn: Connection, sha: str, digest: ContentDigest | None,
                      params: ImportParams) -> tuple[int, str | None] | None:
    """(submission, None) if a file with these bytes was imported with ``params``;
    (submission, its file's name) if a file with the same content was (the bytes differ
    only outside ``xl/``, in the package's metadata); else None.

    The content lookup costs nothing when no earlier import has the same ZIP directory
    (names, sizes, CRC-32s of the content parts); a match is confirmed by the SHA-256 of
    the uncompressed parts.
    """
    if sha:
        rows = conn.execute(
            text("SELECT id, details FROM submission WHERE source_sha256 = :s "
                 "AND kind = 'import' ORDER BY id"), {"s": sha}).all()
        for sub_id, details in rows:
            if params.matches(details):
                return int(sub_id), None
    if digest is None:
        return None
    candidates = conn.execute(
        text("SELECT id, content_sha256, source_name, details FROM submission "
             "WHERE content_parts = :p AND kind = 'import' ORDER BY id"),
        {"p": digest.parts}).all()
    candidates = [c for c in candidates if params.matches(c[3])]
    if not candidates:
        return None
    content = digest.sha256()
    for sub_id, content_sha, name, _details in candidates:
        if content is not None and content_sha == content:
            return int(sub_id), str(name)
    return None


def _content_columns(pf: ParsedFile) -> dict[str, str | None]:
    """The ``new_submission`` arguments that let a later import recognise this content."""
    if pf.digest is None:
        return {}
    content = pf.digest.sha256()
    return {"content_parts": pf.digest.parts if content else None, "content_sha256": content}


def _totals(conn: Connection, table: str, pairs: list[str], metric_ids: list[int],
            ) -> pd.DataFrame:
    if not metric_ids:
        return pd.DataFrame(columns=[*pairs, "before"])
    ids = ", ".join(str(int(m)) for m in sorted(set(metric_ids)))
    cols = ", ".join(pairs)
    rows = conn.execute(text(
        f"SELECT {cols}, SUM(amount_minor) FROM {table} WHERE valid_to = {OPEN} "
        f"AND metric_id IN ({ids}) GROUP BY {cols}")).all()
    frame = pd.DataFrame(rows, columns=[*pairs, "before"])
    frame["before"] = frame["before"].map(int).astype("int64") if len(frame) else []
    return frame


def _pair_change_sum(frames: list[pd.DataFrame], pairs: list[str]) -> pd.DataFrame:
    summed: pd.DataFrame = pd.concat(frames, ignore_index=True).groupby(  # type: ignore[assignment]
        pairs, as_index=False)["change"].sum()
    return summed


def _total_change(ref: Reference, before: pd.DataFrame, change: pd.DataFrame,
                  pairs: list[str]) -> pd.DataFrame:
    """metric, <pair columns>, before, after, change as Decimals in the metric's unit."""
    merged = before.merge(change, on=pairs, how="outer")
    merged = merged.fillna({"before": 0, "change": 0})
    by_id = {m.id: m for m in ref.metrics.values()}
    records = []
    for rec in merged.sort_values(pairs).to_dict("records"):
        metric = by_id[int(rec["metric_id"])]
        b, c = int(rec["before"]), int(rec["change"])
        out: dict[str, Any] = {"metric": metric.code}
        for p in pairs[1:]:
            out[p] = rec[p]
        out["before"] = from_minor(b, metric.decimals)
        out["after"] = from_minor(b + c, metric.decimals)
        out["change"] = from_minor(c, metric.decimals)
        records.append(out)
    columns = ["metric", *pairs[1:], "before", "after", "change"]
    return pd.DataFrame(records, columns=columns)


def _check_args(mode: str, scale: Decimal | None) -> None:
    if mode not in MODES:
        raise LedgerError(f"mode {mode!r}: expected update (default: leave initiatives the "
                          "workbook lacks alone) or snapshot (withdraw them)")
    if scale is not None and (not Decimal(scale).is_finite() or Decimal(scale) <= 0):
        raise LedgerError(f"scale {scale}: expected a positive number such as 1000")


@contextmanager
def _transaction(ledger: Ledger, dry_run: bool) -> Iterator[Connection]:
    """A write transaction, or for a dry run a read-only snapshot."""
    ctx = ledger.reading() if dry_run else ledger.writing()
    with ctx as conn:
        yield conn


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
    _check_args(mode, scale)
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
    use_scale = Decimal(scale) if scale is not None else the_mapping.scale
    params = ImportParams.of("initiatives", the_mapping, use_scale, mode)
    info = ledger.programme()
    timings: dict[str, float] = {}
    steps = _steps(progress, 3 * len(paths))
    with _cycle_collector_paused():
        try:
            t0 = time.perf_counter()
            parsed: list[ParsedFile] = []
            for path in paths:
                steps.step(f"reading {Path(path).name}")
                sha = _sha_or_empty(Path(path))
                digest = content_digest(Path(path))
                with ledger.reading() as conn:
                    previous = _already_imported(conn, sha, digest, params)
                if previous is not None:  # idempotent: do not even read it
                    parsed.append(ParsedFile(Path(path), sha, ProblemLog(Path(path).name),
                                             already_imported_as=previous[0],
                                             same_content_as=previous[1]))
                else:
                    parsed.append(read_file(Path(path), the_mapping, info,
                                            default_sheet="Initiatives", key_role="id",
                                            scale=use_scale, sha=sha, digest=digest))
                    parsed[-1].stamp = read_stamp(Path(path))
                steps.advance()
            timings["read"] = time.perf_counter() - t0
            result = _import_parsed(ledger, parsed, the_mapping, params, dry_run, user, note,
                                    steps, timings, force)
        finally:
            steps.close()
    return result


def _import_parsed(ledger: Ledger, parsed: list[ParsedFile], mapping: Mapping,
                   params: ImportParams, dry_run: bool, user: str | None, note: str,
                   steps: Progress, timings: dict[str, float], force: bool) -> ImportResult:
    mode, scale = params.mode, params.scale
    t1 = time.perf_counter()
    outcomes: list[FileOutcome] = []
    all_problems: list[Problem] = []
    added: list[str] = []
    changed: list[str] = []
    withdrawn: list[str] = []
    n_added = n_changed = n_removed = n_overrode = 0
    sub_ids: list[int] = []
    change_frames: list[pd.DataFrame] = []
    write_time = 0.0
    if parsed and all(pf.already_imported_as is not None for pf in parsed):
        # Every file was imported before: nothing to read, check or write.
        timings.update(check=time.perf_counter() - t1, write=0.0)
        return ImportResult(
            submission_id=None, already_imported=True, rows_read=0, initiatives_added=[],
            initiatives_changed=[], initiatives_withdrawn=[], facts_added=0, facts_changed=0,
            facts_removed=0, total_change=pd.DataFrame(
                columns=["metric", "scenario", "before", "after", "change"]),
            warnings=[], files=[FileOutcome(file=pf.path.name, sha256=pf.sha256,
                                            already_imported_as=pf.already_imported_as,
                                            same_content_as=pf.same_content_as)
                                for pf in parsed], dry_run=dry_run, timings=timings)
    with _transaction(ledger, dry_run) as conn:
        ref = Reference.load(ledger, conn)
        before = _totals(conn, "phasing", ["metric_id", "scenario"],
                         [m.id for m in ref.metrics.values()])
        failed = any(p.log.has_errors for p in parsed)
        for pf in parsed:
            outcome = FileOutcome(file=pf.path.name, sha256=pf.sha256)
            outcomes.append(outcome)
            if pf.already_imported_as is not None:
                outcome.already_imported_as = pf.already_imported_as
                outcome.same_content_as = pf.same_content_as
                continue
            if pf.table is None or pf.log.has_errors:
                all_problems += pf.log.finish()
                continue
            previous = _already_imported(conn, pf.sha256, pf.digest, params)
            if previous is not None:  # imported by another process since we looked
                outcome.already_imported_as, outcome.same_content_as = previous
                all_problems += pf.log.finish()
                continue
            steps.step(f"checking {pf.path.name}")
            prefetch = None if failed else _prefetch_current(conn, pf.table, mapping, ref)
            try:
                prepared = prepare_initiatives(pf.table, mapping, ref, pf.log, scale)
            finally:
                if prefetch is not None:
                    prefetch.wait()
            outcome.rows_read = prepared.rows_read
            steps.advance()
            all_problems += pf.log.finish()
            if pf.log.has_errors:
                failed = True
            if failed:
                continue
            steps.step(f"writing {pf.path.name}" if not dry_run else f"diffing {pf.path.name}")
            plan = _plan_initiatives(conn, ref, prepared, mode, prefetch)
            overridden = _stale_values(ledger, conn, ref, pf, plan, force)
            n_overrode += len(overridden)
            tw = time.perf_counter()
            if plan.changed and not dry_run:
                sub = new_submission(
                    conn, kind="import", user=current_user(user), note=note,
                    source_name=pf.path.name, source_sha256=pf.sha256, **_content_columns(pf),
                    details={**params.details(), "rows": prepared.rows_read,
                             "sheet": prepared.sheet, **_lineage_details(pf, overridden)})
                _apply_initiatives(conn, plan, sub.id)
                outcome.submission_id = sub.id
                sub_ids.append(sub.id)
                if pf is not parsed[-1]:
                    ref.current = Reference.load(ledger, conn).current
            write_time += time.perf_counter() - tw
            steps.advance()
            outcome.changed = plan.changed
            added += plan.init_added
            changed += plan.init_changed
            withdrawn += plan.init_withdrawn
            n_added += len(plan.facts.added)
            n_changed += len(plan.facts.changed)
            n_removed += len(plan.facts.removed)
            change_frames.append(_pair_change(plan.facts, ["metric_id", "scenario"]))
        if failed or any(p.severity == ERROR for p in all_problems):
            raise ImportProblems(all_problems)
        pairs = ["metric_id", "scenario"]
        change = (_pair_change_sum(change_frames, pairs) if change_frames
                  else pd.DataFrame(columns=[*pairs, "change"]))
        touched = change[pairs].merge(before, on=pairs, how="left").fillna({"before": 0})
        total = _total_change(ref, touched, change, pairs)
        before_commit = time.perf_counter()
    # The commit (leaving the transaction) belongs to the write phase.
    write_time += (time.perf_counter() - before_commit) if sub_ids else 0.0
    timings["check"] = time.perf_counter() - t1 - write_time
    timings["write"] = write_time
    files_done = [o for o in outcomes if o.already_imported_as is None]
    return ImportResult(
        submission_id=sub_ids[-1] if sub_ids else None,
        already_imported=bool(outcomes) and not files_done,
        rows_read=sum(o.rows_read for o in outcomes),
        initiatives_added=added, initiatives_changed=changed, initiatives_withdrawn=withdrawn,
        facts_added=n_added, facts_changed=n_changed, facts_removed=n_removed,
        total_change=total, warnings=[p for p in all_problems if p.severity == WARNING],
        submission_ids=sub_ids, files=outcomes, dry_run=dry_run, timings=timings,
        overrode=n_overrode,
    )


def _stale_values(ledger: Ledger, conn: Connection, ref: Reference, pf: ParsedFile,
                  plan: _Plan, force: bool) -> pd.DataFrame:
    """The newer ledger values ``plan`` would overwrite (see :mod:`importers.stale`): an
    error listing them unless ``force``; with ``force``, what to record as overridden."""
    from importers import stale

    if pf.stamp is not None and pf.stamp.ledger_id != ledger.identity(conn)[0]:
        pf.stamp = None  # exported from another ledger: its submission numbers mean nothing
    empty = pd.DataFrame(columns=stale.CONFLICT_COLUMNS)
    if not plan.changed:
        return empty
    base = stale.file_base(conn, pf.path.name, pf.stamp)
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
    raise stale.StaleWorkbook(stale.refusal(pf.path.name, base, conflicts, lines), conflicts)


def _lineage_details(pf: ParsedFile, overrode: pd.DataFrame) -> dict[str, Any]:
    """Submission details that let later copies of this file find their base, and what a
    forced import overwrote."""
    from importers import stale

    out: dict[str, Any] = {}
    if pf.stamp is not None:
        out["based_on"] = pf.stamp.based_on
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

    r = import_owner_workbook(ledger, path, force=force, dry_run=dry_run, user=user,
                              note=note)
    outcome = FileOutcome(file=r.file, sha256=r.sha256, submission_id=r.submission_id,
                          rows_read=r.initiatives, changed=bool(r.count))
    return ImportResult(
        submission_id=r.submission_id, already_imported=False, rows_read=r.initiatives,
        initiatives_added=[], initiatives_changed=[], initiatives_withdrawn=[],
        facts_added=r.added, facts_changed=r.changed, facts_removed=r.removed,
        total_change=pd.DataFrame(columns=["metric", "scenario", "before", "after",
                                           "change"]),
        warnings=[], submission_ids=[r.submission_id] if r.submission_id else [],
        files=[outcome], dry_run=dry_run, owner_result=r)


# ---------------------------------------------------------------------------- targets


def _prepare_targets(table: SheetTable, mapping: Mapping, ref: Reference, log: ProblemLog,
                     scale: Decimal) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(facts, scopes, rows read) of a targets sheet: metric x scope rows, month columns."""
    from importers.amounts import convert
    from importers.prepare import _resolve, _suggest

    sheet = table.sheet
    rows = table.rows
    cols = table.columns
    metric_known = {c: m.id for c, m in ref.metrics.items()}
    metric_ids, bad = _resolve(rows["metric"], metric_known)
    for pos in np.flatnonzero(bad.to_numpy()).tolist():
        found = _v(rows["metric"], pos)
        log.bad_value(sheet, cell_ref(int(_v(rows["row"], pos)), cols["metric"]), found,
                  "a metric code: " + ", ".join(sorted(metric_known))
                  + _suggest(str(found), list(metric_known)))
    kinds: list[str | None] = []
    codes: list[str | None] = []
    scope_raw = rows["scope"] if "scope" in rows else pd.Series(
        [mapping.defaults.get("scope")] * len(rows), dtype=object)
    for pos, raw in enumerate(scope_raw):
        where = cell_ref(int(_v(rows["row"], pos)), cols["scope"]) if "scope" in cols else ""
        try:
            scope = parse_scope(None if raw is None else str(raw))
        except LedgerError:
            log.bad_value(sheet, where, raw, SCOPE_FORMS)
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
                log.bad_value(sheet, where, raw, f"a known {kind.replace('_', ' ')} code: "
                          + ", ".join(sorted(known)) + _suggest(code, list(known)))
        kinds.append(kind)
        codes.append(code)
    frame = pd.DataFrame({"metric_id": metric_ids, "scope_kind": kinds, "scope_code": codes})
    dup = frame.duplicated(keep="first").to_numpy() & frame.notna().all(axis=1).to_numpy()
    for pos in np.flatnonzero(dup).tolist():
        log.error(sheet, cell_ref(int(_v(rows["row"], pos)), cols["metric"]),
                  f"{_v(rows['metric'], pos)} {_v(scope_raw, pos)} again",
                  "one row per metric and scope")
    decimals_by = {m.id: m.decimals for m in ref.metrics.values()}
    fpos = table.facts["pos"].to_numpy(dtype=np.int64)
    mids = metric_ids.fillna(-1).to_numpy(dtype=np.int64)[fpos]
    decimals = np.array([decimals_by.get(int(m), 0) for m in mids], dtype=np.int64)
    conv = convert(table.facts["value"].to_numpy(dtype=object), decimals, scale,
                   mapping.decimal)
    frow = table.facts["row"].to_numpy()
    fcol = table.facts["col"].to_numpy()
    for i, found, expected in conv.errors:
        log.bad_value(sheet, cell_ref(int(frow[i]), int(fcol[i])), found, expected)
    for i, read, kept in conv.rounded[:200]:
        log.warn(sheet, cell_ref(int(frow[i]), int(fcol[i])), str(read),
                 f"at most {int(decimals[i])} decimals: rounded to {kept}")
    keep = conv.present & (mids >= 0)
    pos = fpos[keep]
    facts = pd.DataFrame({
        "metric_id": mids[keep],
        "scope_kind": frame["scope_kind"].to_numpy(dtype=object)[pos],
        "scope_code": frame["scope_code"].to_numpy(dtype=object)[pos],
        "month": table.facts["month"].to_numpy(dtype=object)[keep],
        "amount_minor": conv.minor[keep],
    })
    scopes = frame.dropna().drop_duplicates().astype({"metric_id": "int64"})
    return facts, scopes, len(rows)


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
    _check_args("update", scale)
    the_mapping = load_mapping(mapping)
    use_scale = Decimal(scale) if scale is not None else the_mapping.scale
    params = ImportParams.of("targets", the_mapping, use_scale)
    info = ledger.programme()
    steps = _steps(progress, 3)
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        steps.step(f"reading {Path(path).name}")
        pf = read_file(Path(path), the_mapping, info, default_sheet="Targets",
                       key_role="metric", scale=use_scale)
        timings["read"] = time.perf_counter() - t0
        outcome = FileOutcome(file=pf.path.name, sha256=pf.sha256)
        with _transaction(ledger, dry_run) as conn:
            problems = pf.log.finish() if pf.table is None or pf.log.has_errors else []
            if problems:
                raise ImportProblems(problems)
            previous = _already_imported(conn, pf.sha256, pf.digest, params)
            if previous is not None:
                outcome.already_imported_as, outcome.same_content_as = previous
                return ImportResult(None, True, 0, [], [], [], 0, 0, 0,
                                    pd.DataFrame(columns=["metric", "scope", "before",
                                                          "after", "change"]),
                                    [], files=[outcome], dry_run=dry_run, timings=timings)
            steps.step(f"checking {pf.path.name}")
            ref = Reference.load(ledger, conn)
            assert pf.table is not None
            facts, scopes, n_rows = _prepare_targets(pf.table, the_mapping, ref, pf.log,
                                                     use_scale or Decimal(1))
            problems = pf.log.finish()
            if pf.log.has_errors:
                raise ImportProblems(problems)
            outcome.rows_read = n_rows
            current = current_targets(conn, metric_ids=scopes["metric_id"].unique().tolist())
            changes = diff_facts(current, facts, TARGET_KEY, scopes=scopes)
            pairs = ["metric_id", "scope_kind", "scope_code"]
            before = pd.DataFrame(current.groupby(pairs, as_index=False)["amount_minor"]
                                  .sum()).rename(columns={"amount_minor": "before"})
            change = _pair_change(changes, pairs)
            sub_id: int | None = None
            if changes.count and not dry_run:
                steps.step(f"writing {pf.path.name}")
                tw = time.perf_counter()
                sub = new_submission(conn, kind="import", user=current_user(user), note=note,
                                     source_name=pf.path.name, source_sha256=pf.sha256,
                                     **_content_columns(pf),
                                     details={**params.details(), "rows": n_rows})
                write_fact_changes(conn, Target.__table__, TARGET_KEY, changes,  # type: ignore[arg-type]
                                   sub.id)
                sub_id = outcome.submission_id = sub.id
                timings["write"] = time.perf_counter() - tw
            touched = before.merge(change[pairs], on=pairs, how="right").fillna({"before": 0})
            total = _total_change(ref, touched, change, pairs)
            if len(total):
                total.insert(1, "scope", [k if k == "programme" else
                                          f"{'unit' if k == 'business_unit' else k}:{c}"
                                          for k, c in zip(total.pop("scope_kind"),
                                                          total.pop("scope_code"),
                                                          strict=True)])
            else:
                total = pd.DataFrame(columns=["metric", "scope", "before", "after", "change"])
    finally:
        steps.close()
    return ImportResult(
        submission_id=sub_id, already_imported=False, rows_read=n_rows,
        initiatives_added=[], initiatives_changed=[], initiatives_withdrawn=[],
        facts_added=len(changes.added), facts_changed=len(changes.changed),
        facts_removed=len(changes.removed), total_change=total,
        warnings=[p for p in problems if p.severity == WARNING],
        submission_ids=[sub_id] if sub_id else [], files=[outcome], dry_run=dry_run,
        timings=timings, what="targets")
