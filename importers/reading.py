"""Phase 1 of an import, and recognising a file seen before.

Reading needs no database: check the file is a harmless .xlsx, find the table, note cells
calamine cannot show. Slow work happens here, before any lock. A file whose bytes (or
whose content, when only its package metadata differs) were imported before with the same
parameters is recognised by its SHA-256s and not read at all.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from importers.layout import SheetTable, cell_ref, holds_table, locate_table
from importers.mapping import Mapping
from importers.otherformats import ods_details, xls_details, xlsb_error_cells
from importers.problems import ProblemLog
from importers.stale import Stamp
from importers.textcells import check_text_formulas
from importers.workbook import (
    STAMP_SHEET,
    CellDetails,
    ContentDigest,
    Workbook,
    cell_details,
    check_sheet_size,
    content_digest,
    file_sha256,
    hidden_rows_and_columns,
    open_workbook,
    read_grid,
    read_sheet_xml,
)
from ledger.api import ProgrammeInfo
from ledger.settings import import_max_bytes as max_import_bytes
from ledger.settings import import_max_cells as max_import_cells

#: Files read as CSV text (a grid of text cells, one "sheet" without a name).
CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass
class ParsedFile:
    path: Path
    sha256: str
    log: ProblemLog
    table: SheetTable | None = None
    """The (first) sheet's table."""
    tables: list[SheetTable] = field(default_factory=list)
    """Every sheet's table (several sheets of one layout: ``sheet = ["PRO*", "MIN"]``)."""
    sheet_choice: str = ""
    """Why these sheets were read (for ``import inspect``)."""
    stamped: bool = False
    already_imported_as: int | None = None
    """Set when a submission already imported this SHA-256 (or this content): the file is
    not even read."""
    digest: ContentDigest | None = None
    same_content_as: str | None = None
    stamp: Stamp | None = None
    """A pre-filled template's exported-at properties (:func:`importers.stale.read_stamp`)."""


def _chosen_by_mapping(book: Workbook, wanted: str | list[str], log: ProblemLog,
                       ) -> list[str] | None:
    """The sheets the mapping names: a name, or names and patterns (``PRO*``), each
    matching at least one sheet; in the workbook's order."""
    names = [s for s in book.sheets if s != STAMP_SHEET]
    listing = ", ".join(repr(s) for s in names)
    if isinstance(wanted, str) and not any(ch in wanted for ch in "*?["):
        found = book.find_sheet(wanted)
        if found is None:
            log.error("", "", f"no sheet {wanted!r} (sheets: {listing})",
                      "the sheet named in the mapping")
            return None
        return [found]
    patterns = [wanted] if isinstance(wanted, str) else wanted
    chosen: set[str] = set()
    ok = True
    for pattern in patterns:
        hits = {s for s in names
                if fnmatch.fnmatchcase(s.strip().casefold(), pattern.strip().casefold())}
        if not hits:
            log.error("", "", f"no sheet matching {pattern!r} (sheets: {listing})",
                      "each sheet name or pattern in the mapping's sheet list to match a sheet")
            ok = False
        chosen |= hits
    return [s for s in names if s in chosen] if ok else None


def _probe_sheets(book: Workbook, candidates: list[str], mapping: Mapping,
                  programme: ProgrammeInfo, key_role: str, log: ProblemLog,
                  ) -> tuple[list[str], dict[str, list[list[Any]]]]:
    """The candidate sheets that hold a table (a header with the key column, and month
    columns or a Month and an Amount column), and the grids read on the way."""
    grids: dict[str, list[list[Any]]] = {}
    holding: list[str] = []
    for sheet in candidates:
        quiet = ProblemLog(log.file)
        if not check_sheet_size(book, sheet, quiet):
            holding.append(sheet)  # too large to look into: read (and refused) as chosen
            continue
        grid = read_grid(book, sheet, quiet)
        if grid is None:
            continue
        if holds_table(grid, mapping, key_role=key_role, fy_start=programme.fy_start_month):
            grids[sheet] = grid
            holding.append(sheet)
    return holding, grids


def _choose_sheets(book: Workbook, mapping: Mapping, default: str, programme: ProgrammeInfo,
                   key_role: str, several: bool, log: ProblemLog,
                   ) -> tuple[list[str], dict[str, list[list[Any]]], str] | None:
    """The sheets to read, grids already read, and why they were chosen.

    The mapping's ``sheet`` (a name, or a list of names and patterns); else the sheet named
    ``default``; else the one visible sheet; else every visible sheet that holds a table
    (``several``: all of them, same layout, one submission; else the first). None (logged,
    with the sheets listed) when none does.
    """
    if mapping.sheet:
        chosen = _chosen_by_mapping(book, mapping.sheet, log)
        if chosen is None:
            return None
        if len(chosen) > 1 and not several:
            log.error("", "", f"{len(chosen)} sheets ({', '.join(chosen)})",
                      "one sheet for this import")
            return None
        return chosen, {}, "named in the mapping"
    found = book.find_sheet(default)
    if found is not None:
        return [found], {}, f"named {default}"
    candidates = [s for s in book.visible if s != STAMP_SHEET] or [
        s for s in book.sheets if s != STAMP_SHEET]
    if not candidates:
        log.error("", "", "a workbook without worksheets", f"a sheet named {default}")
        return None
    if len(candidates) == 1:
        return candidates, {}, "the only sheet"
    holding, grids = _probe_sheets(book, candidates, mapping, programme, key_role, log)
    if not holding:
        key = "an ID column" if key_role == "id" else f"a {key_role.title()} column"
        log.error("", "", "no sheet with " + key + " and month columns (sheets: "
                  + ", ".join(repr(s) for s in book.sheets if s != STAMP_SHEET) + ")",
                  f"a sheet named {default}, or one whose header has {key} and one column "
                  "per month (or say which with sheet = \"...\" in a --mapping file)")
        return None
    passed = [s for s in candidates if s not in holding]
    if not several:
        passed += holding[1:]
        holding = holding[:1]
    why = ("the sheet" if len(holding) == 1 else "the sheets") + " with an id column and months"
    if passed:
        why += f" (passed over: {', '.join(passed)})"
    return holding, grids, why


def read_csv_grid(path: Path, log: ProblemLog) -> list[list[Any]] | None:
    """A .csv (or .txt/.tsv) file as a grid of text cells: UTF-8 (with or without BOM),
    else Windows-1252; the delimiter of the first line (comma, semicolon or tab)."""
    try:
        size = path.stat().st_size
        if size > max_import_bytes():
            log.error("", "", f"a {size:,}-byte file", f"at most {max_import_bytes():,} "
                      "bytes (TLEDGER_IMPORT_MAX_BYTES)")
            return None
        raw = path.read_bytes()
    except OSError as exc:
        log.error("", "", str(path), f"a readable file ({exc.strerror})")
        return None
    if not raw.strip():
        log.error("", "", "an empty file", "a header row and at least one data row")
        return None
    if b"\0" in raw[:4096]:
        log.error("", "", "a binary file named .csv", "a CSV text file, or an .xlsx workbook")
        return None
    try:
        text_in = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text_in = raw.decode("cp1252", errors="replace")
    first = text_in.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first.count)
    rows = list(csv.reader(io.StringIO(text_in, newline=""), delimiter=delimiter))
    width = max((len(r) for r in rows), default=0)
    if len(rows) * max(width, 1) > max_import_cells():
        log.error("", "", f"{len(rows):,} rows x {width:,} columns",
                  f"at most {max_import_cells():,} cells (TLEDGER_IMPORT_MAX_CELLS)")
        return None
    return [r + [""] * (width - len(r)) for r in rows]


def read_file(path: Path, mapping: Mapping, programme: ProgrammeInfo, *, default_sheet: str,
              key_role: str, scale: Decimal | None, sha: str | None = None,
              digest: ContentDigest | None = None, several: bool = False) -> ParsedFile:
    """Phase 1 for one file: open, find the table(s), note cells calamine cannot show.

    ``several``: more than one sheet may be read (each its own table, one submission).
    """
    path = Path(path)
    log = ProblemLog(path.name)
    if sha is None:
        sha = sha_or_empty(path)
    if digest is None:
        digest = content_digest(path)
    parsed = ParsedFile(path=path, sha256=sha, log=log, digest=digest)
    if digest is not None:
        digest.start()  # its SHA-256, recorded with the submission, beside the parse
    if is_csv_file(path):
        grid = read_csv_grid(path, log)
        if grid is not None:
            _locate(parsed, grid, "", mapping, programme, key_role, None)
            parsed.sheet_choice = "a CSV file"
        _finish(parsed, scale)
        return parsed
    book = open_workbook(path, log, other_formats=True)
    if book is None:
        return parsed
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        parsed.stamped = STAMP_SHEET in book.sheets
        choice = _choose_sheets(book, mapping, default_sheet, programme, key_role, several,
                                log)
        if choice is None:
            return parsed
        sheets, grids, parsed.sheet_choice = choice
        for sheet in sheets:
            _read_sheet(parsed, book, sheet, grids.pop(sheet, None), mapping, programme,
                        key_role, pool)
        if len(parsed.tables) > 1:
            _check_same_layout(parsed.tables, log)
        _finish(parsed, scale)
    finally:
        pool.shutdown(wait=True)
        book.close()
    return parsed


def is_csv_file(path: Path) -> bool:
    """Whether ``path`` is read as CSV text: a .csv, .tsv or .txt file that is no ZIP
    package (a workbook misnamed .csv is read as the workbook it is)."""
    return path.suffix.lower() in CSV_SUFFIXES and path.is_file() and not _is_zip(path)


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(2) == b"PK"
    except OSError:
        return False


def _read_sheet(parsed: ParsedFile, book: Workbook, sheet: str,
                grid: list[list[Any]] | None, mapping: Mapping, programme: ProgrammeInfo,
                key_role: str, pool: ThreadPoolExecutor) -> None:
    """Read one sheet's table into ``parsed`` (problems to its log)."""
    log = parsed.log
    details = None
    hidden: tuple[set[int], set[int]] = (set(), set())
    if book.kind == "xlsx":
        # The sheet's XML, unpacked once: its size is checked before calamine may build
        # the grid, then a byte scan for formulas without values and error cells runs
        # beside calamine's parse.
        xml = read_sheet_xml(book, sheet, log)
        if xml is None or not check_sheet_size(book, sheet, log, xml=xml):
            return
        details = pool.submit(cell_details, book, sheet, xml)
        hidden = hidden_rows_and_columns(xml)
        del xml
    extras = (ods_details(book, sheet) if book.kind == "ods" else
              xls_details(book, sheet) if book.kind == "xls" else None)
    if extras is not None:
        hidden = (extras.hidden_rows, extras.hidden_columns)
    if grid is None:
        grid = read_grid(book, sheet, log)
    if grid is None:
        return
    table = _locate(parsed, grid, sheet, mapping, programme, key_role, hidden)
    if table is not None and details is not None:
        check_text_formulas(details.result(), table, log)  # (first: it takes its cells)
        _check_hidden_cells(details.result(), table, log)
    if table is not None and extras is not None and extras.errors:
        _check_hidden_cells(CellDetails(set(), extras.errors), table, log)
    if table is not None and book.kind == "xlsb":
        errors = xlsb_error_cells(book, sheet)
        if errors:
            _check_hidden_cells(CellDetails(set(), errors), table, log)


def _locate(parsed: ParsedFile, grid: list[list[Any]], sheet: str, mapping: Mapping,
            programme: ProgrammeInfo, key_role: str,
            hidden: tuple[set[int], set[int]] | None) -> SheetTable | None:
    table = locate_table(grid, sheet, mapping, parsed.log, key_role=key_role,
                         fy_start=programme.fy_start_month,
                         horizon=(programme.first_month, programme.last_month))
    if table is None:
        return None
    if hidden is not None and (hidden[0] or hidden[1]):
        _note_hidden(table, hidden, parsed.log)
    parsed.tables.append(table)
    if parsed.table is None:
        parsed.table = table
    return table


def _note_hidden(table: SheetTable, hidden: tuple[set[int], set[int]], log: ProblemLog,
                 ) -> None:
    """Hidden (or filtered out) rows and hidden columns are read like visible ones: a
    warning lists those that hold what is read."""
    rows, cols = hidden
    data_rows = set(table.rows["row"].tolist())
    read_cols = set(table.columns.values()) | set(table.month_columns)
    table.hidden_rows = sorted(r for r in rows if r in data_rows)
    table.hidden_columns = sorted(c for c in cols if c in read_cols)
    if table.hidden_rows:
        shown = ", ".join(str(r + 1) for r in table.hidden_rows[:20])
        more = f" and {len(table.hidden_rows) - 20} more" if len(table.hidden_rows) > 20 else ""
        log.warn(table.sheet, f"{table.hidden_rows[0] + 1}:{table.hidden_rows[0] + 1}",
                 f"hidden or filtered-out rows {shown}{more}",
                 "nothing: hidden rows are imported like visible ones (delete a row to "
                 "leave it out)")
    if table.hidden_columns:
        shown = ", ".join(cell_ref(table.header_row, c) for c in table.hidden_columns[:20])
        log.warn(table.sheet, cell_ref(table.header_row, table.hidden_columns[0]),
                 f"hidden columns {shown}", "nothing: hidden columns are imported like "
                 "visible ones (delete a column to leave it out)")


def _check_same_layout(tables: list[SheetTable], log: ProblemLog) -> None:
    """Sheets imported together must hold one layout: the same roles and months."""
    first = tables[0]
    want = (first.layout, sorted(first.columns), sorted(first.month_columns.values()))
    for table in tables[1:]:
        got = (table.layout, sorted(table.columns), sorted(table.month_columns.values()))
        if got != want:
            log.error(table.sheet, f"{table.header_row + 1}:{table.header_row + 1}",
                      f"a header with columns {', '.join(got[1])} and {len(got[2])} months",
                      f"the layout of sheet {first.sheet!r} (columns "
                      f"{', '.join(want[1])} and {len(want[2])} months): sheets imported "
                      "together share one layout")


def _finish(parsed: ParsedFile, scale: Decimal | None) -> None:
    """Checks after the tables are read: a unit note without a scale; a file saved while
    it was read."""
    log = parsed.log
    for table in parsed.tables[:1]:
        if table.scale_note is not None and scale is None:
            cell, factor = table.scale_note
            log.error(table.sheet, cell, f"a unit note saying amounts are in units of "
                      f"{factor:,}", f"--scale {factor} (or scale = {factor} in the mapping; "
                      "--scale 1 to take the amounts as written)")
    # The file's SHA-256 and content SHA-256 (recorded to recognise it later) and its
    # cells were read at different moments: they belong together only if nobody saved
    # the file in between.
    if parsed.digest is not None:
        parsed.digest.sha256()
    if parsed.sha256 and sha_or_empty(parsed.path) != parsed.sha256:
        log.error("", "", "a file that changed while it was being read (saved again "
                  "meanwhile?)", "a file nobody is saving: import it again")


def _check_hidden_cells(details: CellDetails, table: SheetTable, log: ProblemLog) -> None:
    """Report formulas without a saved value and error values in the cells we read."""
    if not details.no_cached_value and not details.error_values:
        return
    used_cols = set(table.columns.values()) | set(table.month_columns)
    data_rows = set(table.rows["row"].tolist())
    for (row, col) in sorted(details.no_cached_value):
        if row in data_rows and col in used_cols:
            log.error(table.sheet, cell_ref(row, col), "a formula without a saved value (the "
                      "program that wrote the file did not calculate it)",
                      "a value: open the workbook in Excel or LibreOffice and save it")
    for (row, col), shown in sorted(details.error_values.items()):
        if row in data_rows and col in used_cols:
            log.error(table.sheet, cell_ref(row, col), shown, "a number (the cell shows an error)")


def sha_or_empty(path: Path) -> str:
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
        as_read = mapping.model_dump_json()
        custom = as_read != Mapping().model_dump_json()
        return cls(what=what, scale=Decimal(scale or 1), mode=mode,
                   mapping_sha256=hashlib.sha256(as_read.encode()).hexdigest() if custom
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


def already_imported(conn: Connection, sha: str, digest: ContentDigest | None,
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


def content_columns(parsed: ParsedFile) -> dict[str, str | None]:
    """The ``new_submission`` arguments that let a later import recognise this content."""
    if parsed.digest is None:
        return {}
    content = parsed.digest.sha256()
    return {"content_parts": parsed.digest.parts if content else None, "content_sha256": content}
