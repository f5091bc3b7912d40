"""Hostile and broken workbooks, built by hand: each builder writes one file and returns it.

Every builder starts from a good canonical workbook (three initiatives), so whatever the
importer says is about the damage alone.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from reliability.support import pipeline_workbook

GOOD_ROWS = [{"id": f"HX-{i}", "name": f"Hostile {i}", "amounts": [i * 10 + 1] * 24}
             for i in range(1, 4)]
SHEET = "xl/worksheets/sheet1.xml"


def good(path: Path) -> Path:
    return pipeline_workbook(path, GOOD_ROWS)


def rewrite(src: Path, dest: Path, parts: dict[str, Callable[[bytes], bytes]],
            extra: dict[str, bytes] | None = None) -> Path:
    """Copy the ZIP ``src`` to ``dest``, rewriting ``parts`` and adding ``extra`` entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename in parts:
                data = parts[item.filename](data)
            zout.writestr(item, data)
        for name, data in (extra or {}).items():
            zout.writestr(zipfile.ZipInfo(name), data)
    return dest


def _declare_size(path: Path, part: str, size: int) -> None:
    """Make the ZIP headers of ``part`` claim ``size`` uncompressed bytes (a lie)."""
    raw = bytearray(path.read_bytes())
    name = part.encode()
    for sig, name_len_at, size_at, header in ((b"PK\x03\x04", 26, 22, 30),
                                              (b"PK\x01\x02", 28, 24, 46)):
        i = raw.find(sig)
        while i != -1:
            n = struct.unpack("<H", raw[i + name_len_at:i + name_len_at + 2])[0]
            if raw[i + header:i + header + n] == name:
                raw[i + size_at:i + size_at + 4] = struct.pack("<I", size)
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))


BOMB = (b'<!DOCTYPE worksheet [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;")
                                              * 10) for i in range(1, 10)) + b"]>")


def _with_bomb(data: bytes, pad: bytes) -> bytes:
    body = data.replace(b"<t>Hostile 1</t>", b"<t>&lol9;</t>")
    if body.startswith(b"<?xml"):
        body = body.split(b"?>", 1)[1]
    return b'<?xml version="1.0" encoding="UTF-8"?>' + pad + BOMB + body


# --------------------------------------------------------------------------- the corpus


def truncated_half(tmp: Path) -> Path:
    data = good(tmp / "src.xlsx").read_bytes()
    out = tmp / "truncated-half.xlsx"
    out.write_bytes(data[: len(data) // 2])
    return out


def truncated_directory(tmp: Path) -> Path:
    data = good(tmp / "src.xlsx").read_bytes()
    out = tmp / "truncated-directory.xlsx"
    out.write_bytes(data[:-22])  # the end-of-central-directory record is gone
    return out


def corrupted_sheet(tmp: Path) -> Path:
    src = good(tmp / "src.xlsx")
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 20, start + info.compress_size - 10, 37):
        raw[k] ^= 0x5A  # flip bits throughout the compressed sheet
    out = tmp / "corrupted.xlsx"
    out.write_bytes(bytes(raw))
    return out


def entity_bomb(tmp: Path) -> Path:
    return rewrite(good(tmp / "src.xlsx"), tmp / "bomb.xlsx",
                   {SHEET: lambda d: _with_bomb(d, b"")})


def entity_bomb_behind_comment(tmp: Path) -> Path:
    """The DOCTYPE hidden behind 20 KB of comment, past any quick look at a part's head."""
    pad = b"<!--" + b"x" * 20_000 + b"-->"
    return rewrite(good(tmp / "src.xlsx"), tmp / "bomb-comment.xlsx",
                   {SHEET: lambda d: _with_bomb(d, pad)})


def entity_bomb_in_workbook_part(tmp: Path) -> Path:
    pad = b"<!--" + b"x" * 20_000 + b"-->"

    def bomb(d: bytes) -> bytes:
        body = d.split(b"?>", 1)[1] if d.startswith(b"<?xml") else d
        return (b'<?xml version="1.0"?>' + pad + BOMB.replace(b"worksheet", b"workbook")
                + body.replace(b'name="Initiatives"', b'name="&lol9;"'))
    return rewrite(good(tmp / "src.xlsx"), tmp / "bomb-workbook.xlsx",
                   {"xl/workbook.xml": bomb})


def oversized_shared_strings(tmp: Path) -> Path:
    """A sharedStrings part of 24 MB (one 'name' of 24 million characters), honestly
    declared; xlsxwriter writes shared strings as Excel does."""
    import xlsxwriter

    out = tmp / "shared-strings.xlsx"
    book = xlsxwriter.Workbook(str(out), {"strings_to_numbers": False})
    sheet = book.add_worksheet("Initiatives")
    sheet.write_row(0, 0, ["Initiatives: Cost 2028"])
    sheet.write_row(1, 0, ["Amounts in AUD"])
    from datetime import datetime

    from reliability.support import HEADER, MONTHS
    sheet.write_row(3, 0, HEADER)
    month_format = book.add_format({"num_format": "mmm-yy"})
    for c, m in enumerate(MONTHS, start=len(HEADER)):
        sheet.write_datetime(3, c, datetime(m.year, m.month, 1), month_format)
    sheet.write_row(4, 0, ["HX-1", "Hostile 1", "Ana Lima", "PRO", "PROC", "L2", "", "benefit",
                           "plan", 11])
    book.close()

    def grow(d: bytes) -> bytes:
        return d.replace(b"<t>Hostile 1</t>", b"<t>" + b"A" * 24_000_000 + b"</t>")
    big = tmp / "shared-strings-big.xlsx"
    return rewrite(out, big, {"xl/sharedStrings.xml": grow})


def lying_sizes(tmp: Path) -> Path:
    """A zip bomb that lies: the sheet claims 200 bytes but inflates to 20 MB."""
    out = rewrite(good(tmp / "src.xlsx"), tmp / "lying.xlsx",
                  {SHEET: lambda d: d.replace(b"</sheetData>", b" " * 20_000_000
                                              + b"</sheetData>")})
    _declare_size(out, SHEET, 200)
    return out


def path_traversal(tmp: Path) -> Path:
    """Extra ZIP entries whose names climb out of any folder they could be unpacked to."""
    names = ["../../evil-1.xml", "/tmp/evil-2.xml", "xl/../../evil-3.xml", "..\\evil-4.xml",
             "C:/evil-5.xml", "xl/worksheets/../../../evil-6.xml"]
    return rewrite(good(tmp / "src.xlsx"), tmp / "traversal.xlsx", {},
                   {n: b"<evil/>" for n in names})


def header_repeated(tmp: Path) -> Path:
    """Two blocks pasted one under the other: the header row comes again in the middle."""
    from openpyxl import load_workbook

    src = good(tmp / "src.xlsx")
    wb = load_workbook(src)
    ws = wb["Initiatives"]
    header = [c.value for c in ws[4]]
    ws.append(header)
    ws.append(["HX-9", "Hostile 9", "Ana Lima", "PRO", "PROC", "L2", "", "benefit", "plan",
               *([91] * 24)])
    out = tmp / "header-repeated.xlsx"
    wb.save(out)
    return out


def not_a_number_literals(tmp: Path) -> Path:
    """Number cells whose XML says NaN, INF and 1e999: no program writes these."""
    def patch(d: bytes) -> bytes:
        d = d.replace(b'<c r="J5" t="n"><v>11</v>', b'<c r="J5" t="n"><v>NaN</v>', 1)
        d = d.replace(b'<c r="K5" t="n"><v>11</v>', b'<c r="K5" t="n"><v>INF</v>', 1)
        return d.replace(b'<c r="L5" t="n"><v>11</v>', b'<c r="L5" t="n"><v>-1e999</v>', 1)
    return rewrite(good(tmp / "src.xlsx"), tmp / "nan.xlsx", {SHEET: patch})


def garbage_number(tmp: Path) -> Path:
    def patch(d: bytes) -> bytes:
        return d.replace(b'<c r="J6" t="n"><v>21</v>', b'<c r="J6" t="n"><v>12abc</v>', 1)
    return rewrite(good(tmp / "src.xlsx"), tmp / "garbage-number.xlsx", {SHEET: patch})


def empty_file(tmp: Path) -> Path:
    out = tmp / "empty.xlsx"
    out.write_bytes(b"")
    return out


def random_bytes(tmp: Path) -> Path:
    import random

    out = tmp / "random.xlsx"
    out.write_bytes(random.Random(7).randbytes(5000))
    return out


def zip_without_workbook(tmp: Path) -> Path:
    out = tmp / "plain.xlsx"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hello")
    return out


# ---------------------------------------------- sheets whose grid calamine would allocate
# calamine builds the whole rows x columns grid from A1 to the farthest cell; these must be
# refused from their XML before it does (a run that got it wrong would abort the process,
# so they are imported in a child process).


def _append_row(xml: bytes, row: bytes) -> bytes:
    return xml.replace(b"</sheetData>", row + b"</sheetData>")


def _patched(tmp: Path, name: str, patch: Callable[[bytes], bytes]) -> Path:
    return rewrite(good(tmp / "src.xlsx"), tmp / name, {SHEET: patch})


def cell_at_xfd1048576(tmp: Path) -> Path:
    """One value at Excel's last cell: 17 billion cells for calamine."""
    return _patched(tmp, "xfd1048576.xlsx", lambda d: _append_row(
        d, b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'))


def cell_at_xfd1048576_single_quoted(tmp: Path) -> Path:
    """The same reference written with single quotes (legal XML, not what Excel writes)."""
    return _patched(tmp, "xfd-quoted.xlsx", lambda d: _append_row(
        d, b"<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>"))


def cell_at_xfd1048576_prefixed(tmp: Path) -> Path:
    """The far cell in elements with a namespace prefix bound to the sheet's namespace."""
    ns = b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    return _patched(tmp, "xfd-prefixed.xlsx", lambda d: _append_row(
        d, b'<x:row %s r="1048576"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>' % ns))


def lying_dimension(tmp: Path) -> Path:
    """A small sheet whose ``<dimension>`` claims all of Excel's 17 billion cells."""
    return _patched(tmp, "lying-dimension.xlsx", lambda d: d.replace(
        b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>', 1))


def cells_without_reference(tmp: Path) -> Path:
    """20,000 ``<c>`` without ``r=`` in one row: more columns than Excel has."""
    return _patched(tmp, "no-refs.xlsx", lambda d: _append_row(
        d, b'<row r="9">' + b"<c><v>1</v></c>" * 20_000 + b"</row>"))


def last_row_in_column_a(tmp: Path) -> Path:
    """A value in A1048576, Excel's last row: a legal cell, but the used range (1,048,576
    rows x the table's 33 columns) is past the 30,000,000-cell limit."""
    return _patched(tmp, "last-row.xlsx", lambda d: _append_row(
        d, b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>'))


def sheet_in_utf16(tmp: Path) -> Path:
    """The sheet's XML re-encoded as UTF-16, past any scan of its bytes as UTF-8."""
    def utf16(d: bytes) -> bytes:
        text = _append_row(d, b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
        text = text.split(b"?>", 1)[1] if text.startswith(b"<?xml") else text
        return ('<?xml version="1.0" encoding="UTF-16"?>' + text.decode()).encode("utf-16")
    return _patched(tmp, "utf16.xlsx", utf16)


#: name -> (builder, what the one error line must say: the sheet and the limit).
GRID_CORPUS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "cell_at_xfd1048576": (cell_at_xfd1048576, "at most 30,000,000 cells"),
    "cell_at_xfd1048576_single_quoted": (cell_at_xfd1048576_single_quoted,
                                         "at most 30,000,000 cells"),
    "cell_at_xfd1048576_prefixed": (cell_at_xfd1048576_prefixed, "at most 30,000,000 cells"),
    "lying_dimension": (lying_dimension, "at most 30,000,000 cells"),
    "cells_without_reference": (cells_without_reference, "at most 1,048,576 rows and 16,384 "
                                "columns"),
    "last_row_in_column_a": (last_row_in_column_a, "at most 30,000,000 cells"),
    "sheet_in_utf16": (sheet_in_utf16, "a worksheet in UTF-8"),
}


CORPUS: dict[str, Callable[[Path], Path]] = {f.__name__: f for f in [
    truncated_half, truncated_directory, corrupted_sheet, entity_bomb,
    entity_bomb_behind_comment, entity_bomb_in_workbook_part, oversized_shared_strings,
    lying_sizes, path_traversal, header_repeated, not_a_number_literals, garbage_number,
    empty_file, random_bytes, zip_without_workbook]}
