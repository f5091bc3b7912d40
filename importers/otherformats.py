"""What calamine does not show of .ods, .xlsb and .xls sheets: error values, hidden rows.

calamine reads an error value (``#REF!``, ``#DIV/0!``) as an empty cell in every format.
For .xlsx, :func:`importers.workbook.cell_details` finds error cells in the sheet's XML;
this module does the same for the other formats calamine reads, so an error cell is
named, not taken as "no amount":

* .ods: ``content.xml``, parsed as a stream (repeated rows and cells counted), also for
  hidden and filtered-out rows and hidden columns;
* .xlsb: the sheet's binary records (MS-XLSB: ``BrtCellError``, ``BrtFmlaError``);
* .xls: the workbook stream of the OLE compound file (BIFF8: ``BOUNDSHEET``, ``BOOLERR``,
  ``FORMULA`` records whose saved result is an error), also for hidden rows (``ROW``) and
  columns (``COLINFO``).

Each reader returns nothing rather than fail on a file it cannot walk (calamine has read
the file already; a damaged one is reported there).
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from dataclasses import dataclass, field
from xml.parsers import expat

from defusedxml import ElementTree as SafeET

from importers.workbook import _NS_PKG_REL, _SHOWN_MAX, Workbook, _Unsure

_ODS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODS_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
#: Repeats of one error cell or hidden row/column recorded at most (a repeat spans a sheet).
_ODS_REPEAT_CAP = 10_000


@dataclass
class SheetExtras:
    """What calamine does not show of a sheet: error cells and hidden rows/columns."""

    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)


class _OdsScan:
    """The streaming parse of :func:`ods_details`: the position of each cell of one sheet
    (rows and cells may repeat), its error value, the hidden rows and columns."""

    T = _ODS_TABLE + " "

    def __init__(self, sheet: str, out: SheetExtras) -> None:
        self.sheet, self.out = sheet, out
        self.depth = 0
        self.inside = False
        self.row = self.col = self.colno = 0
        self.row_repeat = self.col_repeat = 1
        self.error = False
        self.text: list[str] = []

    def _repeat(self, attrs: dict[str, str], what: str) -> int:
        value = attrs.get(self.T + f"number-{what}-repeated", "1")
        return int(value) if value.isdigit() else 1

    def begin(self, name: str, attrs: dict[str, str]) -> None:
        t = self.T
        if name == t + "table":
            self.depth += 1
            if self.depth == 1:
                self.inside = attrs.get(t + "name") == self.sheet
        elif not self.inside or self.depth != 1:
            return
        elif name == t + "table-column":
            rep = min(self._repeat(attrs, "columns"), _ODS_REPEAT_CAP)
            if attrs.get(t + "visibility", "visible") != "visible":
                self.out.hidden_columns.update(range(self.colno, self.colno + rep))
            self.colno += rep
        elif name == t + "table-row":
            self.row_repeat, self.col = self._repeat(attrs, "rows"), 0
            if attrs.get(t + "visibility", "visible") != "visible":
                self.out.hidden_rows.update(
                    range(self.row, self.row + min(self.row_repeat, _ODS_REPEAT_CAP)))
        elif name in (t + "table-cell", t + "covered-table-cell"):
            self.col_repeat = self._repeat(attrs, "columns")
            self.error = attrs.get(_ODS_CALCEXT + " value-type") == "error"
            self.text = []

    def finish(self, name: str) -> None:
        t = self.T
        if name == t + "table":
            self.depth -= 1
            if self.depth == 0:
                self.inside = False
        elif not self.inside or self.depth != 1:
            return
        elif name in (t + "table-cell", t + "covered-table-cell"):
            if self.error:
                shown = ("".join(self.text).strip() or "#ERROR")[:_SHOWN_MAX]
                for k in range(min(self.col_repeat, _ODS_REPEAT_CAP)):
                    for j in range(min(self.row_repeat, _ODS_REPEAT_CAP)):
                        self.out.errors[(self.row + j, self.col + k)] = shown
            self.col += self.col_repeat
            self.error = False
        elif name == t + "table-row":
            self.row += self.row_repeat

    def chars(self, data: str) -> None:
        if self.error:
            self.text.append(data)


def ods_details(wb: Workbook, sheet: str) -> SheetExtras:
    """Error cells (``#REF!``; calamine reads them as empty) and hidden or filtered-out rows
    and hidden columns of ``sheet`` in an .ods file, from ``content.xml``. A sheet without
    any costs a few byte searches; otherwise one streaming parse (no DTD, no entities)."""
    out = SheetExtras()
    try:
        with zipfile.ZipFile(wb.path) as archive:
            xml = archive.read("content.xml")
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError):
        return out
    if b'value-type="error"' not in xml and b"visibility=" not in xml:
        return out
    scan = _OdsScan(sheet, out)

    def refuse(*_: object) -> None:
        raise _Unsure

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler = scan.begin
    parser.EndElementHandler = scan.finish
    parser.CharacterDataHandler = scan.chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(xml, True)
    except (expat.ExpatError, _Unsure, ValueError):
        return SheetExtras()
    return out


#: BrtCellError and BrtFmlaError records of an .xlsb sheet, and the error each code shows.
_XLSB_ERROR_RECORDS = (0x0003, 0x000B)
_XLSB_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!",
                0x1D: "#NAME?", 0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}


def xlsb_error_cells(wb: Workbook, sheet: str) -> dict[tuple[int, int], str]:
    """Error cells (``#REF!``; calamine reads them as empty) of ``sheet`` in an .xlsb file:
    one pass over the sheet's records (MS-XLSB: a type and a size, each a little-endian
    base-128 number, then the payload), following ``BrtRowHdr`` for the row."""
    found: dict[tuple[int, int], str] = {}
    try:
        with zipfile.ZipFile(wb.path) as archive:
            part = _xlsb_sheet_part(archive, sheet)
            if part is None:
                return found
            data = archive.read(part)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError):
        return found
    pos, row, end = 0, 0, len(data)
    while pos < end:
        kind, pos = _base128(data, pos, 2)
        size, pos = _base128(data, pos, 4)
        if kind == 0x0000 and size >= 4:
            row = int.from_bytes(data[pos:pos + 4], "little")
        elif kind in _XLSB_ERROR_RECORDS and size >= 9:
            col = int.from_bytes(data[pos:pos + 4], "little")
            found[(row, col)] = _XLSB_ERRORS.get(data[pos + 8], "#ERROR")
        elif kind == 0x0092:  # BrtEndSheetData
            break
        pos += size
    return found


def _base128(data: bytes, pos: int, limit: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(limit):
        if pos >= len(data):
            return value, len(data)
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return value, pos


def _xlsb_sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The part of ``sheet`` named by ``xl/workbook.bin`` (its BrtBundleSh record) and the
    relationships; None if it cannot be told."""
    try:
        rels = SafeET.fromstring(archive.read("xl/_rels/workbook.bin.rels"))
        targets = {rel.get("Id", ""): rel.get("Target", "")
                   for rel in rels.iter(f"{_NS_PKG_REL}Relationship")}
        data = archive.read("xl/workbook.bin")
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError,
            SafeET.ParseError):
        return None
    pos = 0
    while pos < len(data):
        kind, pos = _base128(data, pos, 2)
        size, pos = _base128(data, pos, 4)
        if kind == 0x009C and size >= 12:
            body = data[pos:pos + size]
            rel_len = int.from_bytes(body[8:12], "little") * 2
            rel_id = body[12:12 + rel_len].decode("utf-16-le", "replace")
            name_len = int.from_bytes(body[12 + rel_len:16 + rel_len], "little") * 2
            name = body[16 + rel_len:16 + rel_len + name_len].decode("utf-16-le", "replace")
            if name == sheet and rel_id in targets:
                return posixpath.normpath(posixpath.join("xl", targets[rel_id]))
        elif kind == 0x0090:  # BrtEndBundleShs
            break
        pos += size
    return None


#: The error each BIFF8 error code shows (.xls BOOLERR and FORMULA records).
_BIFF_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!",
                0x1D: "#NAME?", 0x24: "#NUM!", 0x2A: "#N/A"}
_CFB_END = 0xFFFFFFFE
_CFB_FREE = 0xFFFFFFFF


def _cfb_stream(data: bytes, wanted: tuple[str, ...]) -> bytes | None:
    """The first of the ``wanted`` streams of an OLE compound file (an .xls), read by its
    sector chain; None if the file cannot be walked. Streams below the mini-stream cutoff
    are read from the mini stream."""
    if len(data) < 512 or data[:8] != b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return None
    def u16(off: int) -> int:
        return int.from_bytes(data[off:off + 2], "little")

    def u32(off: int) -> int:
        return int.from_bytes(data[off:off + 4], "little")

    size = 1 << u16(30)
    mini_size = 1 << u16(32)
    cutoff = u32(56)

    def sector(n: int) -> bytes:
        return data[512 + n * size:512 + (n + 1) * size]

    fat_sectors = [u32(76 + 4 * i) for i in range(109)]
    next_difat, left = u32(68), u32(72)
    while next_difat not in (_CFB_END, _CFB_FREE) and left > 0 and len(fat_sectors) < 1 << 20:
        block = sector(next_difat)
        fat_sectors += [int.from_bytes(block[i:i + 4], "little")
                        for i in range(0, size - 4, 4)]
        next_difat = int.from_bytes(block[size - 4:size], "little")
        left -= 1
    fat = b"".join(sector(n) for n in fat_sectors[:u32(44)] if n not in (_CFB_END, _CFB_FREE))
    entries = len(fat) // 4

    def chain(start: int, limit: int) -> bytes:
        out = bytearray()
        n, seen = start, 0
        while n < entries and len(out) < limit and seen <= entries:
            out += sector(n)
            n = int.from_bytes(fat[4 * n:4 * n + 4], "little")
            seen += 1
        return bytes(out[:limit])

    directory = chain(u32(48), len(data))
    root = directory[:128]
    mini_stream = chain(int.from_bytes(root[116:120], "little"),
                        int.from_bytes(root[120:124], "little"))
    mini_fat = chain(u32(60), u32(64) * size)
    for at in range(0, len(directory) - 127, 128):
        entry = directory[at:at + 128]
        name_len = int.from_bytes(entry[64:66], "little")
        name = entry[:max(name_len - 2, 0)].decode("utf-16-le", "replace")
        if entry[66] != 2 or name not in wanted:
            continue
        start = int.from_bytes(entry[116:120], "little")
        length = int.from_bytes(entry[120:124], "little")
        if length >= cutoff:
            return chain(start, length)
        out = bytearray()
        n, seen = start, 0
        while n * mini_size < len(mini_stream) and len(out) < length and seen < 1 << 20:
            out += mini_stream[n * mini_size:(n + 1) * mini_size]
            n = int.from_bytes(mini_fat[4 * n:4 * n + 4], "little") if 4 * n + 4 <= len(
                mini_fat) else _CFB_END
            seen += 1
        return bytes(out[:length])
    return None


def xls_details(wb: Workbook, sheet: str) -> SheetExtras:
    """Error cells (``#REF!``; calamine reads them as empty), hidden (or filtered-out) rows
    and hidden columns of ``sheet`` in an .xls file: the workbook stream's BOUNDSHEET record
    gives the sheet's offset, then its BOOLERR records (a typed error), FORMULA records
    whose saved result is an error, ROW records (``fDyZero``: hidden) and COLINFO records
    (``fHidden``)."""
    out = SheetExtras()
    try:
        stream = _cfb_stream(wb.path.read_bytes(), ("Workbook", "Book"))
    except (OSError, IndexError, ValueError):
        return out
    start = _xls_sheet_offset(stream, sheet) if stream else None
    if stream is None or start is None:
        return out
    pos = start
    while pos + 4 <= len(stream):
        kind = int.from_bytes(stream[pos:pos + 2], "little")
        size = int.from_bytes(stream[pos + 2:pos + 4], "little")
        body = stream[pos + 4:pos + 4 + size]
        pos += 4 + size
        if kind == 0x000A:  # EOF of the sheet
            break
        _xls_record(kind, body, out)
    return out


def _u16(body: bytes, at: int) -> int:
    return int.from_bytes(body[at:at + 2], "little")


def _xls_record(kind: int, body: bytes, out: SheetExtras) -> None:
    """Note what one BIFF8 record of a sheet says about errors and hidden rows/columns."""
    if kind == 0x0205 and len(body) >= 8 and body[7] == 1:  # BOOLERR, an error
        out.errors[(_u16(body, 0), _u16(body, 2))] = _BIFF_ERRORS.get(body[6], "#ERROR")
    elif kind == 0x0006 and len(body) >= 14 and body[6] == 2 and body[12:14] == b"\xff\xff":
        out.errors[(_u16(body, 0), _u16(body, 2))] = _BIFF_ERRORS.get(body[8], "#ERROR")
    elif kind == 0x0208 and len(body) >= 14 and _u16(body, 12) & 0x0020:  # ROW, fDyZero
        out.hidden_rows.add(_u16(body, 0))
    elif kind == 0x007D and len(body) >= 10 and _u16(body, 8) & 0x0001:  # COLINFO, fHidden
        first, last = _u16(body, 0), _u16(body, 2)
        out.hidden_columns.update(range(first, min(last, first + _ODS_REPEAT_CAP) + 1))


def _xls_sheet_offset(stream: bytes, sheet: str) -> int | None:
    """Where ``sheet``'s records start in the workbook stream (its BOUNDSHEET8 record)."""
    pos = 0
    while pos + 4 <= len(stream):
        kind = int.from_bytes(stream[pos:pos + 2], "little")
        size = int.from_bytes(stream[pos + 2:pos + 4], "little")
        body = stream[pos + 4:pos + 4 + size]
        if kind == 0x0085 and len(body) >= 8:  # BOUNDSHEET8
            count, flags = body[6], body[7]
            raw = body[8:8 + (count * 2 if flags & 1 else count)]
            name = raw.decode("utf-16-le" if flags & 1 else "latin-1", "replace")
            if name == sheet:
                return int.from_bytes(body[:4], "little")
        elif kind == 0x000A:  # EOF of the workbook globals
            return None
        pos += 4 + size
    return None
