"""A minimal .xlsb (Excel binary workbook) writer for the tests: LibreOffice reads .xlsb
but cannot save one, and no writer is a dependency.

Written from the MS-XLSB record layout: a ZIP holding ``xl/workbook.bin`` (one
``BrtBundleSh`` record per sheet naming its relationship), its relationships part and one
``xl/worksheets/sheetN.bin`` per sheet: ``BrtWsDim``, ``BrtBeginSheetData``, a
``BrtRowHdr`` per row, ``BrtCellReal`` for numbers, ``BrtCellSt`` for text,
``BrtCellError`` for ``#REF!``, ``#DIV/0!`` and ``#N/A``, then ``BrtEndSheetData``.
Enough for a reader such as Excel's or calamine's to see the cell values; no styles, so
no dates (month headers are written as text).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Any

_BUNDLE_SHEET = 0x009C
_END_BUNDLE_SHEETS = 0x0090
_CALC_PROP = 0x009D
_WS_DIM = 0x0094
_BEGIN_SHEET_DATA = 0x0091
_END_SHEET_DATA = 0x0092
_ROW_HEADER = 0x0000
_CELL_REAL = 0x0005
_CELL_TEXT = 0x0006


def _varint(value: int, limit: int) -> bytes:
    out = bytearray()
    for _ in range(limit):
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
    raise ValueError("value too large for a record header")


def _record(kind: int, payload: bytes = b"") -> bytes:
    return _varint(kind, 2) + _varint(len(payload), 4) + payload


def _wide(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<I", len(data) // 2) + data


#: Error values as BrtCellError writes them.
ERRORS = {"#DIV/0!": 0x07, "#REF!": 0x17, "#N/A": 0x2A}
_CELL_ERROR = 0x0003


def _cell(col: int, value: Any) -> bytes:
    head = struct.pack("<I", col) + b"\0\0\0\0"  # column, style 0, no flags
    if isinstance(value, str) and value in ERRORS:
        return _record(_CELL_ERROR, head + bytes([ERRORS[value]]))
    if isinstance(value, str):
        return _record(_CELL_TEXT, head + _wide(value))
    return _record(_CELL_REAL, head + struct.pack("<d", float(value)))


def _sheet(rows: list[list[Any]]) -> bytes:
    width = max((len(r) for r in rows), default=1)
    parts = [_record(_WS_DIM, struct.pack("<IIII", 0, max(len(rows) - 1, 0), 0,
                                          max(width - 1, 0))),
             _record(_BEGIN_SHEET_DATA)]
    for r, row in enumerate(rows):
        parts.append(_record(_ROW_HEADER, struct.pack("<I", r) + b"\0" * 8))
        for c, value in enumerate(row):
            if value is not None and value != "":
                parts.append(_cell(c, value))
    parts.append(_record(_END_SHEET_DATA))
    return b"".join(parts)


def write_xlsb(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """Write ``sheets`` (name -> rows of str, number or None) as an .xlsb workbook."""
    book = bytearray()
    rels = []
    types = []
    for n, name in enumerate(sheets, start=1):
        book += _record(_BUNDLE_SHEET, struct.pack("<II", 0, n) + _wide(f"rId{n}")
                        + _wide(name))
        rels.append(f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/worksheet" '
                    f'Target="worksheets/sheet{n}.bin"/>')
        types.append(f'<Override PartName="/xl/worksheets/sheet{n}.bin" ContentType='
                     '"application/vnd.ms-excel.worksheet"/>')
    book += _record(_END_BUNDLE_SHEETS) + _record(_CALC_PROP, b"\0" * 4)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://'
            'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="bin" '
            'ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
            + "".join(types) + "</Types>"))
        archive.writestr("xl/workbook.bin", bytes(book))
        archive.writestr("xl/_rels/workbook.bin.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns='
            '"http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(rels) + "</Relationships>"))
        for n, rows in enumerate(sheets.values(), start=1):
            archive.writestr(f"xl/worksheets/sheet{n}.bin", _sheet(rows))
    return path
