"""Opening an input workbook safely and reading one sheet's cell values fast.

Values come from python-calamine (Rust; about 7x faster than openpyxl). Before calamine
sees a file, :func:`open_workbook` checks what the file is (an .xls, .csv, .ods or .xlsb
gets a clear message), that its ZIP is whole, that no XML part declares a DOCTYPE or
entities (the "billion laughs" bomb) and that its uncompressed size stays under a limit;
before calamine builds a sheet, :func:`check_sheet_size` counts its cells in the XML
(calamine allocates the whole rows x columns grid, so one far cell would abort the process).
calamine reads an error value (``#REF!``) and a formula without a saved value as an empty
cell; :func:`cell_details` finds both in the sheet's XML so they are reported, not taken as
"no amount".
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import threading
import zipfile
import zlib
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

import python_calamine as pc
from defusedxml import ElementTree as SafeET

from importers.problems import ProblemLog
from ledger import settings
from ledger.faults import pause_point

#: Largest total uncompressed size of a workbook's parts (bytes); None: read at use from
#: TLEDGER_IMPORT_MAX_BYTES (ledger.settings), so a bad value is reported, not a traceback.
MAX_UNCOMPRESSED_BYTES: int | None = None
#: Largest sheet (rows x columns of its used range) read; None: TLEDGER_IMPORT_MAX_CELLS.
MAX_CELLS: int | None = None


def _max_bytes() -> int:
    return settings.import_max_bytes() if MAX_UNCOMPRESSED_BYTES is None else MAX_UNCOMPRESSED_BYTES


def _max_cells() -> int:
    return settings.import_max_cells() if MAX_CELLS is None else MAX_CELLS

#: Excel's largest sheet: no spreadsheet program writes a cell beyond ``XFD1048576``.
EXCEL_ROWS, EXCEL_COLS = 1_048_576, 16_384

STAMP_SHEET = "_tledger"

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes (hex): what makes an import idempotent."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: Parts whose content decides what an import reads: everything under ``xl/`` (workbook,
#: relationships, sheets, shared strings, styles, ...). Not the package's document
#: properties (``docProps/``: author, saved-at time, SharePoint's custom properties),
#: ``customXml/``, the content-type list or the root relationships, which a save without
#: edits, a download from SharePoint or a re-zip change although no cell changed.
CONTENT_PREFIX = "xl/"


@dataclass
class ContentDigest:
    """What a workbook holds, apart from its package's metadata (see :data:`CONTENT_PREFIX`).

    ``parts`` comes from the ZIP directory alone (each content part's name, size and
    CRC-32): free to compute, and the lookup key among earlier imports. A match is then
    confirmed by :meth:`sha256`, the SHA-256 of the parts' uncompressed bytes, so a CRC
    collision can never make a changed workbook pass for an imported one.
    """

    path: Path
    parts: str
    _sha256: str | None = None
    _worker: threading.Thread | None = None

    def start(self) -> None:
        """Compute :meth:`sha256` in a background thread (zlib and hashlib release the GIL,
        so it runs beside calamine's parse on a second core)."""
        if self._worker is None and self._sha256 is None:
            self._worker = threading.Thread(target=self._compute, daemon=True)
            self._worker.start()

    def sha256(self) -> str | None:
        """SHA-256 over every content part's name and uncompressed bytes (None if the ZIP
        cannot be read: the import then reports why)."""
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        if self._sha256 is None:
            self._compute()
        return self._sha256

    def _compute(self) -> None:
        if self._sha256 is None:
            digest = hashlib.sha256()
            try:
                with zipfile.ZipFile(self.path) as archive:
                    for info in _content_parts(archive):
                        digest.update(f"{info.filename}\0{info.file_size}\0".encode())
                        with archive.open(info) as part:
                            for chunk in iter(lambda: part.read(1 << 20), b""):
                                digest.update(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error,
                    RuntimeError, NotImplementedError):
                return
            self._sha256 = digest.hexdigest()


def _content_parts(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return sorted((i for i in archive.infolist()
                   if i.filename.startswith(CONTENT_PREFIX) and not i.is_dir()),
                  key=lambda i: i.filename)


def content_digest(path: Path) -> ContentDigest | None:
    """The :class:`ContentDigest` of an .xlsx/.xlsm, or None for anything else (a damaged
    ZIP, a part too large to unpack: the import reads the file and says what is wrong)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = _content_parts(archive)
            if not infos or "xl/workbook.xml" not in {i.filename for i in infos}:
                return None
            if sum(i.file_size for i in archive.infolist()) > _max_bytes():
                return None
            listing = "\n".join(f"{i.filename}\0{i.file_size}\0{i.CRC:08x}" for i in infos)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None
    return ContentDigest(path, hashlib.sha256(listing.encode()).hexdigest())


@dataclass
class Workbook:
    """An opened, checked workbook."""

    path: Path
    book: Any
    """The ``python_calamine.CalamineWorkbook``."""
    sheets: list[str]
    visible: list[str]
    sheet_parts: dict[str, str] = field(default_factory=dict)
    """Sheet name -> its XML part inside the ZIP (for :func:`cell_details`)."""
    sized: dict[str, int] = field(default_factory=dict)
    """Sheet name -> the cell limit :func:`check_sheet_size` found it within."""

    def find_sheet(self, name: str) -> str | None:
        """The sheet called ``name`` (case and surrounding spaces ignored), if any."""
        want = name.strip().casefold()
        for sheet in self.sheets:
            if sheet.strip().casefold() == want:
                return sheet
        return None

    def close(self) -> None:
        with suppress(Exception):  # closing twice is harmless
            self.book.close()


def _sniff(path: Path, log: ProblemLog) -> bool:
    """Say what a file that is not an .xlsx/.xlsm is; True if it may be one."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        log.error("", "", str(path), "an existing .xlsx file (no such file)")
        return False
    except IsADirectoryError:
        log.error("", "", str(path), "an .xlsx file, not a folder")
        return False
    except OSError as exc:
        log.error("", "", str(path), f"a readable .xlsx file ({exc.strerror})")
        return False
    suffix = path.suffix.lower()
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        log.error("", "", "an Excel 97-2003 (.xls) or password-protected workbook",
                  "an .xlsx or .xlsm workbook: open it in Excel or LibreOffice and save it "
                  "as .xlsx (without a password)")
        return False
    if not head:
        log.error("", "", "an empty file (0 bytes)", "an .xlsx or .xlsm workbook")
        return False
    if not head.startswith(b"PK"):
        if suffix in (".csv", ".txt", ".tsv"):
            what = "a CSV/text file"
        elif suffix == ".xls":
            what = "a file named .xls that is not an Excel workbook"
        else:
            what = "a file that is not a workbook (not a ZIP archive)"
        log.error("", "", what, "an .xlsx or .xlsm workbook: open it in Excel or "
                  "LibreOffice and save it as .xlsx")
        return False
    return True


def _check_zip(path: Path, log: ProblemLog,
               max_bytes: int | None = None) -> dict[str, str] | None:
    """Check the ZIP's structure and parts; return sheet name -> part path, or None."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        log.error("", "", "a damaged or truncated file (its ZIP directory is missing)",
                  "a complete .xlsx workbook: copy or save it again")
        return None
    with archive:
        names = set(archive.namelist())
        if "mimetype" in names:
            kind = archive.read("mimetype")[:100].decode("ascii", "replace")
            if "opendocument" in kind:
                log.error("", "", "an OpenDocument spreadsheet (.ods)",
                          "an .xlsx or .xlsm workbook: save it as .xlsx in LibreOffice")
                return None
        if "xl/workbook.bin" in names:
            log.error("", "", "a binary Excel workbook (.xlsb)",
                      "an .xlsx or .xlsm workbook: save it as .xlsx")
            return None
        if "xl/workbook.xml" not in names:
            log.error("", "", "a ZIP archive that is not an Excel workbook",
                      "an .xlsx or .xlsm workbook")
            return None
        total = sum(info.file_size for info in archive.infolist())
        limit = _max_bytes() if max_bytes is None else min(max_bytes, _max_bytes())
        if total > limit:
            log.error("", "", f"{total:,} bytes of XML once unpacked",
                      f"at most {limit:,} (TLEDGER_IMPORT_MAX_BYTES)")
            return None
        try:
            for info in archive.infolist():
                if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
                    continue
                with archive.open(info) as part:
                    head = part.read(8192)
                if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
                    log.error("", info.filename, "an XML DOCTYPE or entity declaration "
                              "(a possible XML bomb)",
                              "a workbook as Excel or LibreOffice write it (they never "
                              "declare entities)")
                    return None
            return _sheet_parts(archive)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
            log.error("", "", f"a damaged workbook ({exc})",
                      "a complete .xlsx workbook: copy or save it again")
            return None
        except SafeET.ParseError as exc:
            log.error("", "xl/workbook.xml", f"malformed XML ({exc})",
                      "a workbook as Excel or LibreOffice write it")
            return None


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> worksheet XML part, from workbook.xml and its relationships."""
    book = SafeET.fromstring(archive.read("xl/workbook.xml"))
    rels_name = "xl/_rels/workbook.xml.rels"
    targets: dict[str, str] = {}
    if rels_name in archive.namelist():
        rels = SafeET.fromstring(archive.read(rels_name))
        for rel in rels.iter(f"{_NS_PKG_REL}Relationship"):
            target = rel.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
            targets[rel.get("Id", "")] = part
    out: dict[str, str] = {}
    for sheet in book.iter(f"{_NS_MAIN}sheet"):
        rid = sheet.get(f"{_NS_REL}id", "")
        if rid in targets:
            out[sheet.get("name", "")] = targets[rid]
    return out


def open_workbook(path: Path, log: ProblemLog, *,
                  max_bytes: int | None = None) -> Workbook | None:
    """Open ``path`` for reading after checking it is a whole, harmless .xlsx/.xlsm.

    ``max_bytes`` lowers the limit on the unpacked size for a kind of workbook known to be
    small. Returns None (with the reason in ``log``) when it cannot be read.
    """
    if not _sniff(path, log):
        return None
    parts = _check_zip(path, log, max_bytes)
    if parts is None:
        return None
    try:
        book = pc.CalamineWorkbook.from_path(str(path))
        meta = book.sheets_metadata
    except Exception as exc:  # calamine raises several types for a damaged part
        log.error("", "", f"a damaged workbook ({str(exc).splitlines()[0][:120]})",
                  "a complete .xlsx workbook: open it in Excel or LibreOffice and save again")
        return None
    sheets = [m.name for m in meta if m.typ == pc.SheetTypeEnum.WorkSheet]
    visible = [m.name for m in meta if m.typ == pc.SheetTypeEnum.WorkSheet
               and m.visible == pc.SheetVisibleEnum.Visible]
    return Workbook(path=path, book=book, sheets=sheets, visible=visible, sheet_parts=parts)


def read_sheet_xml(wb: Workbook, sheet: str, log: ProblemLog) -> bytes | None:
    """The XML of ``sheet``, unpacked once so that the size guard and :func:`cell_details`
    share it. None (reason in ``log``) if it cannot be read."""
    part = wb.sheet_parts.get(sheet)
    why = "its part is missing"
    if part:
        try:
            with zipfile.ZipFile(wb.path) as archive:
                return archive.read(part)
        except (KeyError, zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as exc:
            why = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
    log.error(sheet, "", f"a worksheet whose XML cannot be read ({why})",
              "a complete worksheet: open the workbook in Excel or LibreOffice and save it")
    return None


def check_sheet_size(wb: Workbook, sheet: str, log: ProblemLog, *, xml: bytes | None = None,
                     max_cells: int | None = None) -> bool:
    """True if calamine may build ``sheet``: its cells fit Excel's sheet and ``max_cells``
    (at most TLEDGER_IMPORT_MAX_CELLS). Otherwise the reason goes to ``log``.

    calamine allocates the whole rows x columns grid from A1 to the last cell holding a
    value, so one cell at ``XFD1048576`` asks for hundreds of gigabytes and aborts the
    process. The extent is therefore measured in the sheet's XML first: a scan at C speed
    (:func:`_fits_cheaply`) settles a sheet written the way spreadsheet programs write
    them, and only an unusual one (cells without a reference, references out of a
    generous box) pays for the exact token-by-token scan (:func:`_extent_of`).
    """
    limit = _max_cells() if max_cells is None else min(max_cells, _max_cells())
    if wb.sized.get(sheet, limit + 1) <= limit:
        return True
    if xml is None:
        xml = read_sheet_xml(wb, sheet, log)
        if xml is None:
            return False
    encoding = _declared_encoding(xml)
    if encoding is not None:
        log.error(sheet, "", f"a worksheet encoded as {encoding}",
                  "a worksheet in UTF-8, as Excel writes it: open the workbook in Excel or "
                  "LibreOffice and save it")
        return False
    claimed = _dimension_extent(xml)
    if claimed is not None and claimed[0] * claimed[1] > limit:
        log.error(sheet, "", f"a used range (<dimension>) of {claimed[0]:,} rows x "
                  f"{claimed[1]:,} columns", f"at most {limit:,} cells"
                  f"{_limit_source(limit)}: open the workbook in Excel or LibreOffice and "
                  "save it")
        return False
    if not _fits_cheaply(xml, limit):
        rows, cols = _extent_of(xml, limit)
        if rows > EXCEL_ROWS or cols > EXCEL_COLS:
            log.error(sheet, "", f"cells spanning {min(rows, _FAR):,} rows x "
                      f"{min(cols, _FAR):,} columns", f"at most {EXCEL_ROWS:,} rows and "
                      f"{EXCEL_COLS:,} columns (A1:XFD1048576, as in Excel)")
            return False
        if rows * cols > limit:
            log.error(sheet, "", f"cells spanning {rows:,} rows x {cols:,} columns",
                      f"at most {limit:,} cells{_limit_source(limit)}")
            return False
    wb.sized[sheet] = limit
    return True


def _limit_source(limit: int) -> str:
    """Where the cell limit comes from, when the user can raise it."""
    return " (TLEDGER_IMPORT_MAX_CELLS)" if limit == _max_cells() else ""


def read_grid(wb: Workbook, sheet: str, log: ProblemLog, *,
              max_cells: int | None = None, xml: bytes | None = None) -> list[list[Any]] | None:
    """Every cell value of ``sheet`` from A1 to its last used cell (row i of the list is
    sheet row i+1). Empty cells are ``""``; numbers ``float``; dates ``date``/``datetime``.

    The sheet's size is checked first (:func:`check_sheet_size`, with ``max_cells`` and the
    sheet's XML if the caller has it), so a sheet too large is refused before calamine
    builds it. Returns None (reason in ``log``) if the sheet cannot be read or is too large.
    """
    if not check_sheet_size(wb, sheet, log, xml=xml, max_cells=max_cells):
        return None
    try:
        data = wb.book.get_sheet_by_name(sheet)
    except Exception as exc:
        log.error(sheet, "", f"a sheet that cannot be read ({str(exc).splitlines()[0][:120]})",
                  "a complete worksheet: open the workbook in Excel or LibreOffice and save it")
        return None
    end_row, end_col = data.end if data.end is not None else (0, 0)
    limit = _max_cells() if max_cells is None else min(max_cells, _max_cells())
    if (end_row + 1) * (end_col + 1) > limit:  # the XML scan and calamine disagree
        log.error(sheet, "", f"a used range of {end_row + 1:,} rows x {end_col + 1:,} columns",
                  f"at most {limit:,} cells{_limit_source(limit)}")
        return None
    rows: list[list[Any]] = data.to_python(skip_empty_area=False)
    pause_point("reading")  # test-only (ledger.faults)
    return rows


_HAS_VALUE = re.compile(rb"<v(?:\s[^>]*)?>[^<]+</v>")
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})(\d{1,7})"')


@dataclass
class CellDetails:
    """Cells that calamine reads as empty although they are not."""

    no_cached_value: set[tuple[int, int]]
    """(row, column), 0-based: formulas the writing program never calculated."""
    error_values: dict[tuple[int, int], str]
    """(row, column) -> the error shown, such as ``#REF!``."""
    formula_values: dict[tuple[int, int], bytes] = field(default_factory=dict)
    """(row, column) -> the cell's XML from its ``<f``, for formulas whose saved value is
    not text (a number, a boolean, an error): read into a text column, that value is not
    what the cell says. :func:`formula_and_value` reads it (only for the few cells that matter)."""


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def cell_details(wb: Workbook, sheet: str, xml: bytes | None = None) -> CellDetails:
    """Find formulas without a saved value and error values (``#REF!``) in ``sheet``.

    Formulas: a byte scan for ``<f``, one pass of ``bytes.find`` for a sheet without any.
    Error values: see :func:`_find_error_cells` (parsed, not matched, because XML allows
    ``t='e'`` and ``t = "e"`` as well as ``t="e"``).
    """
    details = CellDetails(set(), {})
    if xml is None:
        part = wb.sheet_parts.get(sheet)
        if not part:
            return details
        try:
            with zipfile.ZipFile(wb.path) as archive:
                xml = archive.read(part)
        except (KeyError, zipfile.BadZipFile, OSError, EOFError, zlib.error):
            return details
    # Formulas: a <c> element containing <f...> but no <v>.
    pos = xml.find(b"<f")
    while pos != -1:
        nxt = xml[pos + 2:pos + 3]
        if nxt in (b">", b" ", b"/"):
            start = xml.rfind(b"<c ", 0, pos)
            end = xml.find(b"</c>", pos)
            if start != -1:
                if end == -1:
                    end = len(xml)
                body = xml[pos:end]
                tag = xml[start:xml.find(b">", start) + 1]
                # t="str": a text result, possibly "" (legitimately empty). Otherwise a
                # saved value is a non-empty <v>; openpyxl writes <v /> or nothing.
                if b't="str"' not in tag and not _HAS_VALUE.search(body):
                    ref = _CELL_REF.search(xml, start, pos)
                    if ref:
                        details.no_cached_value.add(
                            (int(ref.group(2)) - 1, _col_index(ref.group(1))))
                elif b't="str"' not in tag:
                    ref = _CELL_REF.search(xml, start, pos)
                    if ref:
                        details.formula_values[
                            (int(ref.group(2)) - 1, _col_index(ref.group(1)))] = body
            pos = xml.find(b"<f", (end if end != -1 else pos) + 1)
        else:
            pos = xml.find(b"<f", pos + 2)
    _find_error_cells(xml, details.error_values)
    return details


_FORMULA = re.compile(rb"<f(?:\s[^>]*)?>([^<]*)</f>")
_VALUE = re.compile(rb"<v(?:\s[^>]*)?>([^<]*)</v>")


def formula_and_value(body: bytes) -> tuple[str, str]:
    """A cell's formula (``=...``, empty for a shared formula's copies) and saved value."""
    from html import unescape

    formula = _FORMULA.search(body)
    value = _VALUE.search(body)
    return ("=" + unescape(formula.group(1).decode("utf-8", "replace")) if formula else "",
            unescape(value.group(1).decode("utf-8", "replace")) if value else "")


_EXTENT_TOKEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"([A-Za-z]{0,3})(\d{1,7})")
#: Past Excel's last row and column: a reference this long is out of any real sheet.
_FAR = 10**8


def _extent_of(xml: bytes, stop_above: int) -> tuple[int, int]:
    """(rows, columns) from A1 to the farthest cell of ``xml`` that is not an empty
    ``<c .../>`` (calamine skips those); the scan stops once rows x columns exceeds
    ``stop_above``. A cell without a reference counts at the next position, as a reader
    places it; a reference tledger cannot read counts as far away, so it is refused rather
    than guessed at."""
    rows = cols = row = col = 0
    for m in _EXTENT_TOKEN.finditer(xml):
        attrs = m.group(2)
        ref = _R_ATTR.search(attrs)
        value = None if ref is None else (ref.group(1) if ref.group(1) is not None
                                          else ref.group(2))
        if m.group(1) == b"row":
            row = (row + 1 if value is None else
                   int(value) if value.isdigit() and len(value) <= 7 else _FAR)
            col = 0
            continue
        if value is None:
            col += 1
        else:
            parsed = _REF.fullmatch(value.strip())
            if parsed is None:
                row = col = _FAR
            else:
                col = _col_index(parsed.group(1).upper()) + 1 if parsed.group(1) else col + 1
                row = int(parsed.group(2))
        if attrs.endswith(b"/"):
            continue
        rows, cols = max(rows, row, 1), max(cols, col)
        if rows * cols > stop_above:
            break
    return rows, cols


def _ref_number(digits: bytes) -> int:
    return int(digits) if len(digits) <= 8 else _FAR


#: Every attribute named ``t`` (XML: white space, the name, ``=`` with optional white space;
#: the caller checks the white space before) whose value is not a type that cannot be an
#: error. calamine takes ``t='e'`` and ``t = "e"`` for an error as well as ``t="e"``: what
#: this finds is parsed.
_SUSPECT_TYPE = re.compile(
    rb"t[ \t\r\n]*=(?![ \t\r\n]*(?:\"(?:s|n|str|inlineStr|b|d)\""
    rb"|'(?:s|n|str|inlineStr|b|d)'))")
#: The start tag of a cell element (``<c ...>`` or ``<x:c .../>``), by the XML grammar.
_CELL_START = re.compile(
    rb"<((?:[A-Za-z_][\w.-]*:)?c)((?:[ \t\r\n]+[^ \t\r\n=/>]+[ \t\r\n]*=[ \t\r\n]*"
    rb"(?:\"[^\"]*\"|'[^']*'))*)[ \t\r\n]*(/?)>")
_CELL_REF_TEXT = re.compile(r"^([A-Z]{1,3})(\d{1,7})$")
_SHOWN_MAX = 40
_WHITE = frozenset(b" \t\r\n")


class _Unsure(Exception):
    """A suspect cell that cannot be read on its own: the whole sheet is parsed instead."""


def _find_error_cells(xml: bytes, found: dict[tuple[int, int], str]) -> None:
    """Add every error cell of the sheet ``xml`` to ``found`` ((row, column) -> shown).

    A regular expression finds the few attributes named ``t`` whose value is not a plain
    non-error type, and only their cells are parsed, so a sheet without suspect cells costs
    one scan. A suspect cell that cannot be parsed on its own (no ``r`` reference, no end
    tag) sends the whole sheet through the parser.
    """
    try:
        for match in _SUSPECT_TYPE.finditer(xml):
            if match.start() == 0 or xml[match.start() - 1] not in _WHITE:
                continue  # the end of another attribute's name, such as count=
            start = xml.rfind(b"<", 0, match.start())
            tag = _CELL_START.match(xml, start) if start >= 0 else None
            if tag is None:
                continue  # an attribute of another element, or text that looks like one
            if tag.group(3):
                end = tag.end()
            else:
                close = re.compile(rb"</" + re.escape(tag.group(1)) + rb"[ \t\r\n]*>")
                closing = close.search(xml, tag.end())
                if closing is None:
                    raise _Unsure
                end = closing.end()
            cell: dict[tuple[int, int], str] = {}
            if not _parse_error_cells(xml[start:end], cell, need_refs=True):
                raise _Unsure
            found.update(cell)
    except _Unsure:
        _parse_error_cells(xml, found, need_refs=False)


def _parse_error_cells(xml: bytes, found: dict[tuple[int, int], str], *,
                       need_refs: bool) -> bool:
    """Add the error cells of ``xml`` (a sheet, or one cell element) to ``found``; False if
    it is not well-formed XML, or (with ``need_refs``) an error cell has no reference.

    A cell without a reference is placed as calamine places it, in the column after the
    previous cell of its row. Element names keep their prefix (``x:c``), so expat runs
    without namespace processing; a DTD or an entity declaration stops the parse.
    """
    where = [-1, -1]  # row, column (0-based) of the current cell
    state: dict[str, Any] = {"error": False, "in_v": False, "text": [], "placed": True}

    def begin(name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "row":
            r = attributes.get("r", "")
            where[0], where[1] = (int(r) - 1 if r.isdigit() else where[0] + 1), -1
        elif local == "c":
            ref = _CELL_REF_TEXT.match(attributes.get("r", ""))
            if ref is not None:
                where[0], where[1] = int(ref.group(2)) - 1, _col_index(ref.group(1).encode())
            else:
                where[1] += 1
            state["error"] = attributes.get("t", "").strip() == "e"
            state["text"] = []
            if state["error"] and ref is None:
                state["placed"] = False
        elif local == "v":
            state["in_v"] = True

    def finish(name: str) -> None:
        local = name.rpartition(":")[2]
        if local == "v":
            state["in_v"] = False
        elif local == "c" and state["error"]:
            shown = "".join(state["text"]).strip() or "#ERROR"
            found[(where[0], where[1])] = (shown if len(shown) <= _SHOWN_MAX
                                           else shown[:_SHOWN_MAX] + "...")
            state["error"] = False

    def chars(data: str) -> None:
        if state["error"] and state["in_v"]:
            state["text"].append(data)

    def refuse(*_: object) -> None:
        raise _Unsure  # never expand a DTD or an entity

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = begin
    parser.EndElementHandler = finish
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(xml, True)
    except (expat.ExpatError, _Unsure):
        return False
    return bool(state["placed"]) or not need_refs


#: The last cell in the form every spreadsheet program writes (``<c r="AB12"``, the
#: reference first); its row sizes the box :func:`_fits_cheaply` checks.
_LAST_CELL = re.compile(rb'<c r="[A-Z]{1,3}([1-9]\d{0,6})"')
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_DIMENSION = re.compile(rb"""<(?:[\w.-]+:)?dimension\s[^>]*?\bref\s*=\s*["']"""
                        rb"""(?:[A-Za-z]{1,3}\d{1,7}:)?([A-Za-z]{1,3})(\d{1,7})["']""")


def _declared_encoding(xml: bytes) -> str | None:
    """The encoding the sheet declares, if not UTF-8 (the markup scans read UTF-8 bytes;
    every spreadsheet program writes UTF-8)."""
    head = xml[:200]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head.lstrip().startswith(b"<") or b"\0" in head:
        return "UTF-16 or an unknown encoding"
    m = _ENCODING.match(head.lstrip())
    if m and m.group(1).strip().lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return m.group(1)[:20].decode("ascii", "replace")
    return None


def _dimension_extent(xml: bytes) -> tuple[int, int] | None:
    """(rows, columns) the sheet's ``<dimension ref>`` claims, from A1."""
    end = xml.find(b"sheetData")
    m = _DIMENSION.search(xml, 0, end if end != -1 else len(xml))
    if m is None:
        return None
    return int(m.group(2)), _col_index(m.group(1).upper()) + 1


def _fits_cheaply(xml: bytes, limit: int) -> bool:
    """True if every cell of ``xml`` surely lies inside a box of at most ``limit`` cells;
    False means "not known": the caller then measures exactly.

    A cell with a reference lands where its reference says, whatever its row element
    says, so only cells are checked. The box comes from the last cell's row, rounded up
    at its first digit (row 20,004 gives rows up to 29,999), and the columns that leave
    room for it (at most two letters). One regex pass then looks for any ``<c`` whose
    first attribute is not a reference inside the box: a cell without a reference, one in
    single quotes or after another attribute, a row or column outside. A second looks
    for element names with a namespace prefix. Both at C speed, on bytes already unpacked
    for :func:`cell_details`.
    """
    last = xml.rfind(b'<c r="')
    m = _LAST_CELL.match(xml, last) if last != -1 else None
    if m is None:
        return False
    digits = m.group(1)
    first, width = int(digits[:1]), len(digits)
    max_row = (first + 1) * 10 ** (width - 1) - 1
    max_col = min(702, limit // max_row)
    if max_col < 1:
        return False
    # Most rows have as many digits as the last: that branch first. Possessive where the
    # next token cannot match what was taken, so nothing backtracks.
    rows = (rb"[1-%d]\d{%d}|[1-9]\d{0,%d}+" % (first, width - 1, width - 2) if width > 1
            else rb"[1-%d]" % first)
    if max_col >= 702:
        cols = rb"[A-Z]{1,2}+"
    elif max_col >= 52:
        cols = rb"[A-%c]?[A-Z]" % (64 + (max_col - 26) // 26)
    else:
        cols = rb"[A-%c]" % (64 + min(max_col, 26))
    outside = re.compile(rb'<c(?! r="%s(?:%s)")[\s/>]' % (cols, rows))
    return outside.search(xml) is None and _PREFIXED.search(xml) is None
