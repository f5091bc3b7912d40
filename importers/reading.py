"""Phase 1 of an import, and recognising a file seen before.

Reading needs no database: check the file is a harmless .xlsx, find the table, note cells
calamine cannot show. Slow work happens here, before any lock. A file whose bytes (or
whose content, when only its package metadata differs) were imported before with the same
parameters is recognised by its SHA-256s and not read at all.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, text

from importers.layout import SheetTable, cell_ref, locate_table
from importers.mapping import Mapping
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
    open_workbook,
    read_grid,
    read_sheet_xml,
)
from ledger.api import ProgrammeInfo


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


def _choose_sheet(book: Workbook, mapping: Mapping, default: str, log: ProblemLog) -> str | None:
    if mapping.sheet:
        found = book.find_sheet(mapping.sheet)
        if found is None:
            log.error("", "", f"no sheet {mapping.sheet!r} (sheets: {', '.join(book.sheets)})",
                      "the sheet named in the mapping")
        return found
    found = book.find_sheet(default)
    if found is not None:
        return found
    candidates = [s for s in book.visible if s != STAMP_SHEET] or [
        s for s in book.sheets if s != STAMP_SHEET]
    if not candidates:
        log.error("", "", "a workbook without worksheets", f"a sheet named {default}")
        return None
    return candidates[0]


def read_file(path: Path, mapping: Mapping, programme: ProgrammeInfo, *, default_sheet: str,
              key_role: str, scale: Decimal | None, sha: str | None = None,
              digest: ContentDigest | None = None) -> ParsedFile:
    """Phase 1 for one file: open, find the table, note cells calamine cannot show."""
    path = Path(path)
    log = ProblemLog(path.name)
    if sha is None:
        sha = sha_or_empty(path)
    if digest is None:
        digest = content_digest(path)
    parsed = ParsedFile(path=path, sha256=sha, log=log, digest=digest)
    if digest is not None:
        digest.start()  # its SHA-256, recorded with the submission, beside the parse
    book = open_workbook(path, log)
    if book is None:
        return parsed
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        parsed.stamped = STAMP_SHEET in book.sheets
        sheet = _choose_sheet(book, mapping, default_sheet, log)
        if sheet is None:
            return parsed
        # The sheet's XML, unpacked once: its size is checked before calamine may build
        # the grid, then a byte scan for formulas without values and error cells runs
        # beside calamine's parse.
        xml = read_sheet_xml(book, sheet, log)
        if xml is None or not check_sheet_size(book, sheet, log, xml=xml):
            return parsed
        details = pool.submit(cell_details, book, sheet, xml)
        del xml
        grid = read_grid(book, sheet, log)
        if grid is None:
            return parsed
        table = locate_table(grid, sheet, mapping, log, key_role=key_role,
                             fy_start=programme.fy_start_month,
                             horizon=(programme.first_month, programme.last_month))
        del grid
        if table is None:
            return parsed
        parsed.table = table
        check_text_formulas(details.result(), table, log)  # (first: it takes its cells)
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
        if sha and sha_or_empty(path) != sha:
            log.error("", "", "a file that changed while it was being read (saved again "
                      "meanwhile?)", "a file nobody is saving: import it again")
    finally:
        pool.shutdown(wait=True)
        book.close()
    return parsed


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
