"""Building real test workbooks with openpyxl (and a few by hand, as ZIP parts).

The canonical layout follows docs/workbook-format.md: title, unit note, blank row, header in
row 4 (ID, Name, Owner, Business unit, Lever, Stage, Description, Metric, Scenario, one
column per month as a real date, Total), data from row 5.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ledger.months import month_range

FIXED = ["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Description", "Metric",
         "Scenario"]
STD_MONTHS = month_range(date(2026, 7, 1), date(2028, 6, 1))


def initiative_row(ext: str, amounts: Sequence[Any], *, name: str | None = None,
                   owner: str = "Ana Lima", unit: str | None = "PRO", lever: str | None = "PROC",
                   stage: str = "L2", description: str = "", metric: str = "benefit",
                   scenario: str = "plan") -> list[Any]:
    """One canonical row: attributes, then the month cells (None = blank)."""
    return [ext, name or f"Initiative {ext}", owner, unit, lever, stage, description, metric,
            scenario, *amounts]


def canonical_sheet(header: Sequence[Any], *, title: str, note: str = "Amounts in AUD",
                    sheet: str = "Initiatives") -> tuple[Workbook, Worksheet]:
    """A new workbook whose one sheet has the canonical preamble (title, unit note, blank
    row) and ``header`` in row 4; data rows go from row 5."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    ws.append([title])
    ws.append([note])
    ws.append([])
    ws.append(list(header))
    return wb, ws


def canonical_workbook(path: Path, rows: Sequence[Sequence[Any]], *,
                       months: Sequence[Any] = STD_MONTHS, note: str = "Amounts in AUD",
                       sheet: str = "Initiatives", total_column: bool = True,
                       total_row: bool = False) -> Path:
    """Write the canonical initiatives workbook with ``rows`` (see :func:`initiative_row`)."""
    header: list[Any] = [*FIXED]
    for m in months:
        header.append(datetime(m.year, m.month, 1) if isinstance(m, date) else m)
    if total_column:
        header.append("Total")
    wb, ws = canonical_sheet(header, title="Initiatives: Cost 2028", note=note, sheet=sheet)
    first_month_col = len(FIXED) + 1
    last_month_col = len(FIXED) + len(months)
    for r, row in enumerate(rows, start=5):
        values = list(row)
        if total_column:
            values = values + [None] * (len(header) - 1 - len(values))
            values.append(f"=SUM({get_column_letter(first_month_col)}{r}:"
                          f"{get_column_letter(last_month_col)}{r})")
        ws.append(values)
    if total_row:
        r = 5 + len(rows)
        ws.cell(r, 1, "Total")
        for c in range(first_month_col, last_month_col + 1):
            letter = get_column_letter(c)
            ws.cell(r, c, f"=SUM({letter}5:{letter}{r - 1})")
    for c in range(first_month_col, last_month_col + 1):
        ws.cell(4, c).number_format = "mmm-yy"
    wb.save(path)
    return path


def targets_workbook(path: Path, rows: Sequence[Sequence[Any]], *,
                     months: Sequence[date] = STD_MONTHS, sheet: str = "Targets") -> Path:
    """The canonical targets workbook: Metric, Scope, months, Total (a baselines workbook
    with ``sheet="Baselines"``)."""
    wb, ws = canonical_sheet(
        ["Metric", "Scope", *[datetime(m.year, m.month, 1) for m in months], "Total"],
        title=f"{sheet}: Cost 2028", sheet=sheet)
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def replace_part(src: Path, dest: Path, part: str, transform: Any) -> Path:
    """Copy the ZIP ``src`` to ``dest`` with ``part`` rewritten by ``transform(bytes)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                data = transform(data)
            zout.writestr(item, data)
    return dest


def resaved_copy(src: Path, dest: Path, *, compresslevel: int = 9) -> Path:
    """Copy ``src`` as a save without edits plus a SharePoint download would: a new
    saved-at time in docProps/core.xml, a custom properties part (with its content type and
    root relationship) and every part compressed again at another level. No part under
    ``xl/`` changes, so no cell does; the file's SHA-256 does."""
    custom = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties '
              b'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
              b'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
              b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
              b'name="ContentTypeId"><vt:lpwstr>0x0101</vt:lpwstr></property></Properties>')
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(
            dest, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2031-01-02T03:04:05Z",
                              data)
                if b"dcterms:modified" not in data:
                    data = data.replace(b"</cp:coreProperties>", b"<dc:description>saved "
                                        b"again</dc:description></cp:coreProperties>")
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/docProps/custom.xml" '
                                    b'ContentType="application/vnd.openxmlformats-'
                                    b'officedocument.custom-properties+xml"/></Types>')
            elif item.filename == "_rels/.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdSP" '
                                    b'Type="http://schemas.openxmlformats.org/officeDocument/'
                                    b'2006/relationships/custom-properties" '
                                    b'Target="docProps/custom.xml"/></Relationships>')
            zout.writestr(item.filename, data)
        zout.writestr("docProps/custom.xml", custom)
    return dest


def million_blank_rows(src: Path, dest: Path, *, keep_data: bool) -> Path:
    """``src`` with its first sheet padded to a million blank but formatted rows.

    Written straight into the ZIP in chunks (no openpyxl), so it takes about a second.
    """
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED,
                                                      compresslevel=1) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename != "xl/worksheets/sheet1.xml":
                zout.writestr(item, data)
                continue
            text = data.decode()
            text = re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:Z1000000"/>',
                          text)
            if not keep_data:
                text = re.sub(r"<sheetData>.*</sheetData>|<sheetData\s*/>",
                              "<sheetData></sheetData>", text, flags=re.S)
            head, tail = text.split("</sheetData>")
            last = max((int(n) for n in re.findall(r'<row r="(\d+)"', head)), default=0)
            with zout.open(item.filename, "w", force_zip64=True) as out:
                out.write(head.encode())
                chunk: list[str] = []
                for r in range(last + 1, 1_000_001):
                    # How Excel saves a formatted row: the row's style, no cells.
                    chunk.append(f'<row r="{r}" s="1" customFormat="1" ht="15"/>')
                    if len(chunk) == 50_000:
                        out.write("".join(chunk).encode())
                        chunk = []
                out.write("".join(chunk).encode())
                out.write(("</sheetData>" + tail).encode())
    return dest
