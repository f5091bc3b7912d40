"""Reading an owner workbook back: stamp, scope rules and conflict detection.

An owner workbook (:mod:`reports.owner_workbook`) carries a hidden sheet ``_tledger``,
signed by the ledger that exported it. A workbook from another ledger, or whose stamp was
edited, is refused before anything else (``force`` cannot bypass that); so is a file that
fails the hardened reader's checks. Each row is resolved by its visible id in this ledger.
The import changes only the phasing of the initiatives that were exported to that owner,
for the stamped metric and scenario, and refuses, naming the cell:

* a row whose id belongs to someone else's initiative, or is unknown to the ledger;
* an edited locked cell (id, name, owner, unit, lever, stage, description, metric,
  scenario, or a header);
* a month cell that is not an amount.

Every problem in the file is reported in one run and nothing is written. Then, inside the
write transaction (which holds the ledger's write lock, so no other writer can slip in
between the check and the write), each initiative's phasing version is compared with the
one stamped at export: where the ledger changed a month since, and the workbook would
overwrite that change, the import stops with the list of conflicts (month, exported value,
ledger value now, workbook value) unless ``force`` is given, in which case the submission
records ``{"forced": true, "overrode": [...]}``.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from defusedxml import ElementTree
from openpyxl.utils import get_column_letter
from sqlalchemy import Connection

from importers.problems import ImportProblems, Problem, ProblemLog, shorten
from importers.workbook import (
    Workbook,
    cell_details,
    file_sha256,
    open_workbook,
    read_grid,
)
from ledger.api import Ledger, MetricInfo
from ledger.approvals import commitments
from ledger.errors import Conflict, LedgerError
from ledger.initiatives import current_initiatives
from ledger.money import AmountError, amount_text, from_minor, parse_amount, to_minor
from ledger.months import MonthError, month_range, parse_month
from ledger.owner_format import (
    ATTRIBUTE_KEYS,
    DATA_SHEET,
    FIRST_DATA_ROW,
    FIXED_HEADERS,
    HEADER_ROW,
    META_KEYS,
    SIGNATURE_KEY,
    STAMP_COLUMNS,
    STAMP_FORMAT,
    STAMP_SHEET,
    exported_rows,
    signature_matches,
    stamp_payload,
)
from ledger.phasing import initiative_phasing, phasing_versions, replace_initiative_phasing
from ledger.store import current_user, new_submission
from ledger.wording import plural

#: Attribute columns as (header, column in current_initiatives) in sheet order after ID.
_LOCKED = list(zip(FIXED_HEADERS[1:7], ATTRIBUTE_KEYS, strict=True))
#: An owner workbook is one owner's initiatives over one horizon: far below the limits of an
#: ordinary import. These bound what reading a hostile file can cost (memory, time); the
#: import limits (TLEDGER_IMPORT_MAX_BYTES / _CELLS) apply too where they are lower.
MAX_OWNER_BYTES = 64 << 20
MAX_OWNER_CELLS = 1_000_000
#: How much of a bad value a message quotes.
QUOTE = 40
#: Longest horizon a stamp may declare (a century): the reader walks every month column.
MAX_MONTHS = 1200


def has_stamp(path: str | Path) -> bool:
    """True when ``path`` is an .xlsx workbook with the owner-workbook stamp sheet.

    Reads only the workbook's sheet list (no cells), so it is cheap on any file.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("xl/workbook.xml")
            if info.file_size > 1 << 20:  # a sheet list is a few hundred bytes
                return False
            xml = zf.read(info)
    except (OSError, KeyError, zipfile.BadZipFile, EOFError, ValueError):
        return False
    try:
        root = ElementTree.fromstring(xml)
    except Exception:
        return False
    return any(el.get("name") == STAMP_SHEET for el in root.iter()
               if el.tag.endswith("}sheet") or el.tag == "sheet")


@dataclass
class Stamp:
    """What the export recorded in ``_tledger``, as text, plus the parsed fields."""

    meta: dict[str, str]
    """Every :data:`META_KEYS` entry as found (what the signature covers)."""
    signature: str
    table: list[list[str]]
    """The per-initiative table as found, in sheet order (:data:`STAMP_COLUMNS`)."""
    programme: str
    owner: str
    metric: str
    scenario: str
    decimals: int
    months: list[date]
    as_of: int
    exported_at: str
    exported_by: str
    initiatives: pd.DataFrame
    """``external_id, phasing_version, attributes_version, row``."""

    @property
    def ledger_id(self) -> str:
        return self.meta["ledger_id"]


@dataclass
class OwnerWorkbook:
    """A read (not yet checked against the ledger) owner workbook."""

    path: Path
    sha256: str
    stamp: Stamp
    rows: pd.DataFrame
    """One row per data row: ``row`` (sheet row number), ``ID`` and the locked columns as
    text, as found."""
    amounts: pd.DataFrame
    """``external_id, month (YYYY-MM-01), amount (Decimal), cell``: non-empty month cells."""
    problems: list[Problem] = field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


def _refuse(log: ProblemLog) -> LedgerError:
    """The first problem the hardened reader logged, as one line."""
    first = " ".join(str(log.problems[0]).split())
    return LedgerError(f"{first}; nothing was written")


def read_owner_workbook(path: str | Path) -> OwnerWorkbook:
    """Read an owner workbook's stamp, locked cells and month cells.

    The file goes through the same hardened reader as every import
    (:func:`importers.workbook.open_workbook`: what the file is, its ZIP, no XML DOCTYPE,
    its unpacked size; each sheet's extent measured before it is built), with limits fitted
    to an owner workbook (:data:`MAX_OWNER_BYTES`, :data:`MAX_OWNER_CELLS`). Problems found
    in the file itself (edited headers, cells that are not amounts) are collected in
    ``problems``; the stamp's signature and the ledger-dependent checks come later.

    Raises:
        LedgerError: the file cannot be read safely, has no stamp, or its stamp is damaged
            or of an older format (one line saying why).
    """
    file_path = Path(path)
    log = ProblemLog(file_path.name)
    book = open_workbook(file_path, log, max_bytes=MAX_OWNER_BYTES)
    if book is None:
        raise _refuse(log)
    try:
        sha = file_sha256(file_path)
        return _read_book(file_path, sha, book, log)
    except OSError as exc:
        raise LedgerError(f"cannot read {file_path}: {exc.strerror or exc}") from exc
    finally:
        book.close()


def _cell(rows: list[list[Any]], r: int, c: int) -> Any:
    """The value at 1-based row ``r``, column ``c`` of ``rows`` (None when empty or beyond
    the data)."""
    if r - 1 >= len(rows):
        return None
    row = rows[r - 1]
    value = row[c - 1] if c - 1 < len(row) else None
    return None if value == "" else value


# Complexity: reads the stamp and the data sheet in file order; to be split into steps.
def _read_book(  # noqa: C901
        p: Path, sha: str, wb: Workbook, log: ProblemLog) -> OwnerWorkbook:
    name = p.name
    if STAMP_SHEET not in wb.sheets:
        raise LedgerError(f"{name} is not an owner workbook: no {STAMP_SHEET} sheet")
    stamp_grid = read_grid(wb, STAMP_SHEET, log, max_cells=MAX_OWNER_CELLS)
    if stamp_grid is None:
        raise _refuse(log)
    stamp = _read_stamp(name, stamp_grid)
    problems: list[Problem] = []

    def problem(sheet: str, cell: str, found: Any, expected: str) -> None:
        shown = found if isinstance(found, str) else _text(found)
        problems.append(Problem(name, sheet, cell, shorten(shown, QUOTE), expected, "error"))

    if DATA_SHEET not in wb.sheets:
        problem(DATA_SHEET, "", "no such sheet", f"the sheet {DATA_SHEET} as exported")
        return OwnerWorkbook(p, sha, stamp, pd.DataFrame(), pd.DataFrame(), problems)
    ws = read_grid(wb, DATA_SHEET, log, max_cells=MAX_OWNER_CELLS)
    if ws is None:
        raise _refuse(log)
    # calamine reads a formula without a saved value, and an error value, as an empty cell:
    # both are found in the sheet's XML so that neither passes for "no amount".
    hidden = cell_details(wb, DATA_SHEET)
    n_fixed = len(FIXED_HEADERS)
    month_cols = {n_fixed + 1 + j: m for j, m in enumerate(stamp.months)}
    total_col = n_fixed + 1 + len(stamp.months)
    header = {c: _cell(ws, HEADER_ROW, c) for c in range(1, total_col + 1)}
    for i, h in enumerate(FIXED_HEADERS, start=1):
        if _text(header.get(i)) != h:
            problem(DATA_SHEET, f"{get_column_letter(i)}{HEADER_ROW}", header.get(i) or "(empty)",
                    f"the locked header {h!r}")
    for col, mon in month_cols.items():
        raw = header.get(col)
        try:
            ok = raw is not None and parse_month(raw) == mon
        except MonthError:
            ok = False
        if not ok:
            problem(DATA_SHEET, f"{get_column_letter(col)}{HEADER_ROW}", raw or "(empty)",
                    f"the locked month header {mon:%b-%y}")
    if _text(header.get(total_col)) != "Total":
        problem(DATA_SHEET, f"{get_column_letter(total_col)}{HEADER_ROW}",
                header.get(total_col) or "(empty)", "the locked header 'Total'")

    rows: list[dict[str, Any]] = []
    amounts: list[tuple[str, str, Decimal, str]] = []
    for r in range(FIRST_DATA_ROW, len(ws) + 1):
        fixed = [_cell(ws, r, c) for c in range(1, n_fixed + 1)]
        months = {c: _cell(ws, r, c) for c in month_cols}
        flagged = [c for c in month_cols
                   if (r - 1, c - 1) in hidden.no_cached_value
                   or (r - 1, c - 1) in hidden.error_values]
        if not flagged and all(v is None or _text(v) == ""
                               for v in [*fixed, *months.values()]):
            continue
        ext = _text(fixed[0])
        rec: dict[str, Any] = {"row": r}
        for h, v in zip(FIXED_HEADERS, fixed, strict=True):
            rec[h] = _text(v)
        rows.append(rec)
        if not ext:
            problem(DATA_SHEET, f"A{r}", "(empty)", "the initiative id exported in this row")
        for c, raw in months.items():
            cell = f"{get_column_letter(c)}{r}"
            if (r - 1, c - 1) in hidden.no_cached_value:
                problem(DATA_SHEET, cell, "a formula without a saved result",
                        "a number (open and save the file in Excel, or type the number)")
                continue
            if (r - 1, c - 1) in hidden.error_values:
                problem(DATA_SHEET, cell, hidden.error_values[(r - 1, c - 1)],
                        "a number (the cell shows an error)")
                continue
            if isinstance(raw, float) and not math.isfinite(raw):
                problem(DATA_SHEET, cell, str(raw), "a finite number")
                continue
            try:
                value = parse_amount(raw)
            except AmountError:
                problem(DATA_SHEET, cell, raw, "an amount in the metric's unit")
                continue
            if value is None:
                continue
            if not value.is_finite() or abs(value) >= Decimal(10) ** 15:
                problem(DATA_SHEET, cell, raw, "an amount below 10^15")
                continue
            amounts.append((ext, month_cols[c].isoformat(), value, cell))
    frame = pd.DataFrame(rows, columns=["row", *FIXED_HEADERS])
    amt = pd.DataFrame(amounts, columns=["external_id", "month", "amount", "cell"])
    return OwnerWorkbook(p, sha, stamp, frame, amt, problems)


def _damaged(name: str, why: str) -> LedgerError:
    return LedgerError(f"{name}: its hidden {STAMP_SHEET} sheet is damaged ({why}): export a "
                       "new workbook")


def _read_stamp(name: str, grid: list[list[Any]]) -> Stamp:
    meta: dict[str, str] = {}
    table_at = None
    for r, row in enumerate(grid):
        key = _text(row[0]) if row else ""
        if key == STAMP_COLUMNS[0]:
            table_at = r
            break
        if key:
            meta[key] = _text(row[1]) if len(row) > 1 else ""
    found_format = meta.get("format", "")
    if found_format != STAMP_FORMAT:
        if found_format.startswith("tledger-owner-workbook/"):
            raise LedgerError(
                f"{name} was exported by an older tledger (stamp "
                f"{shorten(found_format, QUOTE)!r}, unsigned); this tledger reads only "
                f"signed workbooks ({STAMP_FORMAT!r}): export a new workbook")
        raise _damaged(name, f"format {shorten(found_format, QUOTE) or '(empty)'!r}, "
                             f"expected {STAMP_FORMAT!r}")
    missing = [k for k in META_KEYS if not meta.get(k)]
    if not meta.get(SIGNATURE_KEY):
        missing.append(SIGNATURE_KEY)
    if missing or table_at is None:
        raise _damaged(name, f"missing: {', '.join(missing) or 'initiative table'}")
    table: list[list[str]] = []
    for row in grid[table_at + 1:]:
        if not row or _text(row[0]) == "":
            continue
        cells = [_text(v) for v in row[:len(STAMP_COLUMNS)]]
        table.append(cells + [""] * (len(STAMP_COLUMNS) - len(cells)))
    frame = pd.DataFrame(table, columns=STAMP_COLUMNS)
    try:
        for col in STAMP_COLUMNS[1:]:
            frame[col] = [int(v) for v in frame[col]]
        first = date.fromisoformat(meta["first_month"])
        last = date.fromisoformat(meta["last_month"])
        as_of = int(meta["as_of"])
        decimals = int(meta["decimals"])
    except (ValueError, TypeError, OverflowError) as exc:
        raise _damaged(name, shorten(str(exc), QUOTE)) from exc
    if not 0 <= as_of < 2**62:
        raise _damaged(name, "as_of out of range")
    if frame["external_id"].duplicated().any() or not first <= last:
        raise _damaged(name, "repeated initiative or reversed horizon")
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise _damaged(name, f"a horizon of more than {MAX_MONTHS} months")
    return Stamp(
        meta={k: meta[k] for k in META_KEYS}, signature=meta[SIGNATURE_KEY], table=table,
        programme=meta["programme"], owner=meta["owner"], metric=meta["metric"],
        scenario=meta["scenario"], decimals=decimals, months=month_range(first, last),
        as_of=as_of, exported_at=meta["exported_at"], exported_by=meta["exported_by"],
        initiatives=frame,
    )


def _check_stamp(ledger: Ledger, conn: Connection, book: OwnerWorkbook, then: pd.DataFrame,
                 ) -> MetricInfo:
    """Refuse a workbook this ledger did not export, or whose stamp was edited; return the
    stamped metric. ``then``: the initiatives as of the stamped submission.

    The signature covers the stamp and what the export wrote into the data sheet, which the
    ledger rebuilds from its history as of the stamped submission. ``force`` cannot bypass
    any of this: it only overrides newer ledger values, after these checks.
    """
    stamp = book.stamp
    name = book.path.name
    ledger_id, key = ledger.identity(conn)
    if stamp.ledger_id != ledger_id:
        raise LedgerError(
            f"{name} was exported from another ledger (id {shorten(stamp.ledger_id[:8])}…), not "
            f"this one ({ledger_id[:8]}…): export a new workbook from this ledger")
    edited = LedgerError(f"{name}: its hidden {STAMP_SHEET} sheet was edited (signature "
                         "does not match): export a new workbook")
    if stamp.metric not in {m.code for m in ledger.metrics(conn)}:
        raise edited
    metric = ledger.metric(stamp.metric, conn)
    exts = set(stamp.initiatives["external_id"])
    then = then[then["external_id"].isin(exts)]
    ext_of = dict(zip(then["initiative_id"], then["external_id"], strict=True))
    months = [m.isoformat() for m in stamp.months]
    phasing = initiative_phasing(conn, list(ext_of), metric.id, stamp.scenario,
                                 as_of=stamp.as_of)
    cells = exported_rows(
        then.to_dict("records"),
        zip(phasing["initiative_id"].map(ext_of), phasing["month"], phasing["amount_minor"],
            strict=True),
        months,
    )
    missing = exts - set(then["external_id"])
    cells += exported_rows([{"external_id": e} for e in missing], [], months)
    if not signature_matches(key, stamp_payload(stamp.meta, stamp.table, cells),
                             stamp.signature):
        raise edited
    return metric


class OwnerConflict(Conflict):
    """The ledger changed after the export in months the workbook would overwrite."""

    def __init__(self, message: str, conflicts: pd.DataFrame) -> None:
        super().__init__(message)
        self.conflicts = conflicts


@dataclass
class OwnerImportResult:
    """What an owner-workbook import did (or would do, for a dry run)."""

    file: str
    sha256: str
    owner: str
    metric: str
    scenario: str
    initiatives: int
    added: int
    changed: int
    removed: int
    unchanged: int
    submission_id: int | None
    """None when nothing changed or for a dry run."""
    forced: bool
    overrode: pd.DataFrame
    """Conflicts overridden with ``force`` (same columns as :attr:`OwnerConflict.conflicts`)."""
    dry_run: bool = False

    @property
    def count(self) -> int:
        return self.added + self.changed + self.removed


CONFLICT_COLUMNS = ["external_id", "month", "exported", "ledger_now", "workbook"]


# Complexity: the ordered checks of one owner-workbook import; to be split into steps.
def import_owner_workbook(  # noqa: C901
    ledger: Ledger,
    path: str | Path,
    *,
    force: bool = False,
    dry_run: bool = False,
    user: str | None = None,
    note: str = "",
) -> OwnerImportResult:
    """Apply an owner workbook's phasing to the ledger, all or nothing.

    Raises:
        ImportProblems: bad or out-of-scope cells (each named); nothing written.
        OwnerConflict: the ledger changed after the export where the workbook differs;
            nothing written (pass ``force`` to override and record it).
        LedgerError: not an owner workbook, or one for another programme.
    """
    book = read_owner_workbook(path)
    stamp = book.stamp
    name = book.path.name
    problems = list(book.problems)
    with ledger.writing() as conn:
        then = current_initiatives(conn, as_of=stamp.as_of)
        metric = _check_stamp(ledger, conn, book, then)
        prog = ledger.programme(conn)
        if stamp.programme != prog.name:  # pragma: no cover - signed, so only a rename
            raise LedgerError(f"{name} was exported from programme "
                              f"{shorten(stamp.programme, QUOTE)!r}; this ledger tracks "
                              f"{prog.name!r}")
        then = then.set_index("external_id")
        now = current_initiatives(conn).set_index("external_id")
        stamped = stamp.initiatives.set_index("external_id")
        owner_key = stamp.owner.strip().casefold()

        def owner_of(frame: pd.DataFrame, ext: str) -> str:
            return shorten(frame.loc[ext, "owner"], QUOTE)

        seen: set[str] = set()
        for rec in book.rows.to_dict("records"):
            row = int(rec["row"])
            ext = str(rec["ID"])
            if not ext:
                continue
            shown = shorten(ext, QUOTE)
            if ext in seen:
                problems.append(Problem(name, DATA_SHEET, f"A{row}", shown,
                                        "each initiative once (this id is repeated)", "error"))
                continue
            seen.add(ext)
            if ext not in stamped.index:
                if ext in now.index and owner_of(now, ext).strip().casefold() != owner_key:
                    expected = (f"only {stamp.owner}'s initiatives ({shown} is owned by "
                                f"{owner_of(now, ext)})")
                elif ext in now.index:
                    expected = (f"only the initiatives exported in this workbook ({shown} "
                                "was not: export a new workbook)")
                else:
                    expected = ("an initiative exported in this workbook (owner workbooks "
                                "cannot add initiatives; the office imports new ones)")
                problems.append(Problem(name, DATA_SHEET, f"A{row}", shown, expected, "error"))
                continue
            if ext not in now.index:  # pragma: no cover - initiatives are never deleted
                problems.append(Problem(name, DATA_SHEET, f"A{row}", shown,
                                        "an initiative of this ledger", "error"))
                continue
            if str(now.loc[ext, "owner"]).strip().casefold() != owner_key:
                problems.append(Problem(
                    name, DATA_SHEET, f"A{row}", shown,
                    f"only {stamp.owner}'s initiatives ({shown} was reassigned to "
                    f"{owner_of(now, ext)} after the export)", "error"))
                continue
            if now.loc[ext, "status"] != "active":
                problems.append(Problem(
                    name, DATA_SHEET, f"A{row}", shown,
                    f"an active initiative ({shown} was withdrawn after the export)", "error"))
                continue
            old = then.loc[ext] if ext in then.index else None
            for c, (header, col) in enumerate(_LOCKED, start=2):
                exported = "" if old is None else _cell_text(old[col])
                found = str(rec[header])
                if found != exported:
                    problems.append(Problem(
                        name, DATA_SHEET, f"{get_column_letter(c)}{row}",
                        shorten(found, QUOTE) or "(empty)",
                        f"the locked {header} {shorten(exported, QUOTE)!r} as exported "
                        "(edit only month cells)", "error"))
            for c, (header, value) in enumerate(
                    [("Metric", stamp.metric), ("Scenario", stamp.scenario)],
                    start=len(FIXED_HEADERS) - 1):
                found = str(rec[header])
                if found != value:
                    problems.append(Problem(
                        name, DATA_SHEET, f"{get_column_letter(c)}{row}",
                        shorten(found, QUOTE) or "(empty)",
                        f"the locked {header} {value!r} as exported", "error"))
        for ext, srow in zip(stamped.index, stamped["row"], strict=True):
            if ext not in seen:
                problems.append(Problem(
                    name, DATA_SHEET, f"A{int(srow)}", "(row removed)",
                    f"the row for {ext} as exported (to empty its phasing, clear its month "
                    "cells)", "error"))
        locked: list[int] = []
        if stamp.scenario == "plan":
            edits, locked = _committed_plan_edits(conn, book, metric, now)
            problems += edits
        if problems:
            raise ImportProblems(problems)

        # Each row is written to the initiative this ledger knows by the row's visible id:
        # nothing read from the file names an internal id.
        ids = {str(ext): int(now.loc[ext, "initiative_id"]) for ext in stamped.index}
        init_ids = list(ids.values())
        amounts = book.amounts.copy()
        amounts["initiative_id"] = amounts["external_id"].map(ids).astype("int64")
        amounts["amount_minor"] = [to_minor(a, metric.decimals) for a in amounts["amount"]]
        incoming = amounts[["initiative_id", "month", "amount_minor"]]
        current = initiative_phasing(conn, init_ids, metric.id, stamp.scenario)
        # Months outside the workbook (beyond the horizon it was exported with) are kept.
        wb_months = {m.isoformat() for m in stamp.months}
        keep = current[~current["month"].isin(wb_months)]
        if locked:  # a committed plan is never written from an owner's workbook
            incoming = incoming[~incoming["initiative_id"].isin(locked)]
            keep = current[~current["month"].isin(wb_months)
                           | current["initiative_id"].isin(locked)]
        incoming = pd.concat([incoming, keep[["initiative_id", "month", "amount_minor"]]],
                             ignore_index=True)

        conflicts = _conflicts(conn, stamp, metric.id, metric.decimals, ids, current, incoming)
        records = conflicts.to_dict("records")
        if records and not force:
            lines = [
                f"  {row['external_id']} {str(row['month'])[:7]}: "
                f"exported {amount_text(row['exported'])}, "
                f"ledger now {amount_text(row['ledger_now'])}, "
                f"workbook {amount_text(row['workbook'])}"
                for row in records
            ]
            n_ini = conflicts["external_id"].nunique()
            raise OwnerConflict(
                f"{name}: {plural(n_ini, 'initiative')} changed in the ledger after this "
                "workbook was "
                f"exported (at submission {stamp.as_of}); nothing was written. Export a new "
                "workbook, or import with --force to overwrite these newer values:\n"
                + "\n".join(lines),
                conflicts,
            )
        changes = replace_initiative_phasing(conn, init_ids, metric.id, stamp.scenario,
                                             incoming, 0, dry_run=True)
        sub_id = None
        if changes.count and not dry_run:
            details: dict[str, Any] = {
                "owner_workbook": {"owner": stamp.owner, "metric": stamp.metric,
                                   "scenario": stamp.scenario, "exported_as_of": stamp.as_of,
                                   "exported_at": stamp.exported_at},
            }
            if force and len(conflicts):
                details["forced"] = True
                details["overrode"] = [
                    {"initiative": row["external_id"], "month": str(row["month"])[:7],
                     "exported": _str(row["exported"]), "ledger": _str(row["ledger_now"]),
                     "workbook": _str(row["workbook"])}
                    for row in records
                ]
            sub = new_submission(conn, kind="import", user=current_user(user), note=note,
                                 source_name=name, source_sha256=book.sha256, details=details)
            sub_id = sub.id
            replace_initiative_phasing(conn, init_ids, metric.id, stamp.scenario, incoming,
                                       sub.id)
    return OwnerImportResult(
        file=name, sha256=book.sha256, owner=stamp.owner, metric=stamp.metric,
        scenario=stamp.scenario, initiatives=len(ids), added=len(changes.added),
        changed=len(changes.changed), removed=len(changes.removed),
        unchanged=changes.unchanged, submission_id=sub_id, forced=bool(force and len(conflicts)),
        overrode=conflicts if force else conflicts.iloc[0:0], dry_run=dry_run,
    )


def _committed_plan_edits(conn: Connection, book: OwnerWorkbook, metric: MetricInfo,
                          now: pd.DataFrame) -> tuple[list[Problem], list[int]]:
    """Month cells of a plan workbook that differ from the plan exported, on initiatives
    whose plan is committed now (:mod:`ledger.approvals`), each named; and the ids of the
    committed initiatives (their plan is kept as it is in the ledger)."""
    stamp = book.stamp
    owner = stamp.owner.strip().casefold()
    ids = {str(e): int(now.loc[e, "initiative_id"]) for e in stamp.initiatives["external_id"]
           if e in now.index and now.loc[e, "status"] == "active"
           and str(now.loc[e, "owner"]).strip().casefold() == owner}
    since = commitments(conn, ids.values())
    locked = {e: i for e, i in ids.items() if i in since}
    if not locked:
        return [], []
    ext_of = {i: e for e, i in locked.items()}
    exported = initiative_phasing(conn, list(ext_of), metric.id, "plan", as_of=stamp.as_of)
    was = {(ext_of[int(i)], str(m)[:10]): int(a) for i, m, a in zip(
        exported["initiative_id"], exported["month"], exported["amount_minor"], strict=True)}
    typed = {(str(e), str(m)): to_minor(a, metric.decimals) for e, m, a in zip(
        book.amounts["external_id"], book.amounts["month"], book.amounts["amount"],
        strict=True)}
    rows = dict(zip(book.rows["ID"].astype(str), book.rows["row"], strict=True))
    first_col = len(FIXED_HEADERS) + 1
    problems: list[Problem] = []
    for ext in sorted(e for e in locked if e in rows):
        for j, mon in enumerate(stamp.months):
            key = (ext, mon.isoformat())
            old, new = was.get(key), typed.get(key)
            if old == new:
                continue
            shown = "(empty)" if new is None else amount_text(from_minor(new, metric.decimals))
            then = "(empty)" if old is None else amount_text(from_minor(old, metric.decimals))
            problems.append(Problem(
                book.path.name, DATA_SHEET, f"{get_column_letter(first_col + j)}{rows[ext]}",
                shown, f"the committed plan {then} as exported ({ext}'s plan is committed "
                f"since submission {since[locked[ext]]}: change the forecast, or ask the "
                "office to change the plan)", "error"))
    return problems, list(ext_of)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _cell_text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).strip()


def _conflicts(
    conn: Connection,
    stamp: Stamp,
    metric_id: int,
    decimals: int,
    ids: dict[str, int],
    current: pd.DataFrame,
    incoming: pd.DataFrame,
) -> pd.DataFrame:
    """Months the ledger changed after the export and the workbook would overwrite.

    Only initiatives whose phasing version moved past the stamped one are looked at; a
    month conflicts when its value now differs from the exported value *and* from the
    workbook's (a workbook that agrees with the newer value loses nothing).
    """
    versions = phasing_versions(conn, ids.values(), metric_id, stamp.scenario)
    stamped = {ids[str(ext)]: int(v) for ext, v in zip(
        stamp.initiatives["external_id"], stamp.initiatives["phasing_version"], strict=True)}
    moved = [i for i, v in versions.items() if v != stamped.get(i, 0)]
    if not moved:
        return pd.DataFrame(columns=CONFLICT_COLUMNS)
    exported = initiative_phasing(conn, moved, metric_id, stamp.scenario, as_of=stamp.as_of)
    key = ["initiative_id", "month"]
    frames = [
        exported[[*key, "amount_minor"]].rename(columns={"amount_minor": "exported"}),
        current[current["initiative_id"].isin(moved)][[*key, "amount_minor"]].rename(
            columns={"amount_minor": "ledger_now"}),
        incoming[incoming["initiative_id"].isin(moved)][[*key, "amount_minor"]].rename(
            columns={"amount_minor": "workbook"}),
    ]
    merged = frames[0].merge(frames[1], on=key, how="outer").merge(frames[2], on=key,
                                                                   how="outer")
    for col in ("exported", "ledger_now", "workbook"):
        merged[col] = merged[col].astype("Int64")

    def differ(a: pd.Series, b: pd.Series) -> pd.Series:
        both_na = a.isna() & b.isna()
        return ~both_na & (a.isna() | b.isna() | (a.fillna(0) != b.fillna(0)))

    hit = merged[differ(merged["exported"], merged["ledger_now"])
                 & differ(merged["workbook"], merged["ledger_now"])].copy()
    ext_of = {v: k for k, v in ids.items()}
    out = pd.DataFrame({
        "external_id": hit["initiative_id"].map(ext_of).to_numpy(),
        "month": hit["month"].astype(str).to_numpy(),
    })
    for col in ("exported", "ledger_now", "workbook"):
        out[col] = pd.Series(
            [None if pd.isna(v) else from_minor(int(v), decimals) for v in hit[col]],
            dtype=object)
    return out.sort_values(["external_id", "month"]).reset_index(drop=True)
