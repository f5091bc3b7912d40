"""Streaming a big sheet's rows into a workbook as raw SpreadsheetML.

XlsxWriter writes every cell through several Python calls; a sheet of a million amounts
spends most of its time there (figures: docs/benchmarks.md). For such a sheet the workbook
is written by XlsxWriter without the data rows (everything else: styles, headers, widths,
validations, filters, panes, other sheets), then :func:`inject_rows` copies it, streaming
the rows, generated in bulk by the caller, into the sheet's ``<sheetData>``. The rows use the style
indices XlsxWriter registered (:func:`reports.xlsxwriter_internals.style_index`, called
before the workbook is closed), so the result is the file XlsxWriter would have written,
without a Python call per cell.

Text is written as inline strings (``t="inlineStr"``): a string cell, so ledger text such
as ``=HYPERLINK(...)`` stays text, never a formula.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from reports.safe import safe_text

__all__ = ["inject_rows", "inline_text"]

_SHEET_DATA_END = re.compile(rb"</sheetData>|<sheetData/>")
_DIMENSION = re.compile(rb'<dimension ref="[^"]*"/>')


def inline_text(value: object) -> str:
    """The ``<is>`` content of an inline-string cell holding ``value`` as text (cleaned
    by :func:`reports.safe.safe_text`, escaped for XML)."""
    text = safe_text(value)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if text != text.strip():
        return f'<t xml:space="preserve">{escaped}</t>'
    return f"<t>{escaped}</t>"


def inject_rows(src: str | Path, dst: str | Path, sheet_number: int, dimension: str,
                rows: Iterable[str]) -> None:
    """Copy the workbook ``src`` to ``dst`` with ``rows`` (``<row>`` elements, in order,
    after any rows the sheet already has) appended to sheet ``sheet_number``'s data and its
    used range set to ``dimension`` (e.g. ``A1:BR20005``)."""
    target = f"xl/worksheets/sheet{sheet_number}.xml"
    ref = f'<dimension ref="{dimension}"/>'.encode()
    with zipfile.ZipFile(src) as zin, \
            zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for item in zin.infolist():
            if item.filename != target:
                zout.writestr(item, zin.read(item.filename),
                              compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
                continue
            xml = zin.read(item.filename)
            match = _SHEET_DATA_END.search(xml)
            if match is None:  # pragma: no cover - XlsxWriter always writes sheetData
                raise RuntimeError(f"internal: {target} has no sheetData")
            head, tail = xml[:match.start()], xml[match.end():]
            if match.group() == b"<sheetData/>":
                head += b"<sheetData>"
            head = _DIMENSION.sub(ref, head, count=1)
            info = zipfile.ZipInfo(target, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(info, "w", force_zip64=True) as out:
                out.write(head)
                for chunk in rows:
                    out.write(chunk.encode("utf-8"))
                out.write(b"</sheetData>" + tail)
