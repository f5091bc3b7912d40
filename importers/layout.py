"""Finding the table in a sheet: its header row, what each column is, where the months are.

Pure functions over the grid of cell values that :func:`importers.workbook.read_grid`
returns. The result, a :class:`SheetTable`, holds one row per data row (attribute cells as
text) and one raw fact per non-empty amount cell, each with its sheet cell, so every later
problem names its cell. Nothing here knows the ledger except the programme's horizon and
fiscal-year start (to read ``FY27 M01`` headers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import column_index_from_string, get_column_letter

from importers.codes import value_at
from importers.mapping import ColumnRef, Mapping
from importers.problems import ProblemLog
from ledger.months import MonthError, parse_month

#: Rows scanned from the top for the header (title and note rows come first).
HEADER_SCAN_ROWS = 50

#: Header texts (normalised: lower case, single spaces) each role is recognised by.
ALIASES: dict[str, set[str]] = {
    "id": {"id", "initiative id", "initiative ref", "initiative reference", "ref",
           "reference", "initiative code", "initiative no", "initiative number", "code"},
    "name": {"name", "initiative", "initiative name", "title", "initiative title"},
    "owner": {"owner", "initiative owner", "accountable", "owner name", "lead"},
    "business_unit": {"business unit", "bu", "unit", "business unit code", "division"},
    "lever": {"lever", "value lever", "cost lever", "lever code"},
    "stage": {"stage", "stage gate", "gate", "stage code", "maturity"},
    "description": {"description", "details"},
    "metric": {"metric", "measure", "metric code"},
    "scenario": {"scenario", "case"},
    "month": {"month", "period"},
    "amount": {"amount", "value", "in month amount"},
    "scope": {"scope", "target scope"},
    # A comments column is kept as a note with the row's submission, never compared.
    "note": {"comment", "comments", "note", "notes", "remark", "remarks"},
}
TOTAL_HEADERS = {"total", "sum", "grand total", "row total", "totals"}

#: A row whose id (or, with no id, first text cell) reads like this is a total row.
TOTAL_ROW = re.compile(r"^\s*(grand\s+|sub\s*-?\s*)?totals?\b", re.IGNORECASE)

#: Unit notes above the header that mean the amounts are scaled.
_SCALE_NOTES = [
    (re.compile(r"(?<![\d.,])'?000s?\b|\bthousands?\b|\bin\s+k\b|\(k\)|\bk\s*(aud|usd|eur|gbp)\b",
                re.IGNORECASE), 1000),
    (re.compile(r"\bmillions?\b|\b(aud|usd|eur|gbp|\$)\s*(m|mn|mm)\b|\bin\s+m\b|\(m\)",
                re.IGNORECASE), 1_000_000),
]


def norm_header(value: Any) -> str:
    """A header cell as compared with aliases: text, lower case, single spaces."""
    if not isinstance(value, str):
        return ""
    return re.sub(r"[\s_\-./:]+", " ", value).strip().casefold()


def cell_ref(row0: int, col0: int) -> str:
    """``(13, 12)`` -> ``"M14"``."""
    return f"{get_column_letter(col0 + 1)}{row0 + 1}"


def text_value(value: Any) -> str | None:
    """A cell as attribute text: None when empty; whole numbers without ``.0``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip() or None


@dataclass
class SheetTable:
    """One sheet's table, located and split into attribute rows and raw amount cells."""

    sheet: str
    header_row: int
    """0-based grid row of the header."""
    layout: str
    """``wide`` or ``long``."""
    columns: dict[str, int]
    """role -> 0-based column."""
    rows: pd.DataFrame
    """One per data row: ``row`` (0-based grid row) and a text column per role present."""
    facts: pd.DataFrame
    """One per non-empty amount cell: ``pos`` (position in ``rows``), ``row``, ``col``
    (0-based), ``month`` (ISO ``YYYY-MM-01``) and ``value`` (the raw cell)."""
    scale_note: tuple[str, int] | None = None
    """(cell, factor) of a unit note above the header, e.g. ("A2", 1000) for "AUD 000"."""
    month_columns: dict[int, date] = field(default_factory=dict)
    headers: dict[int, str] = field(default_factory=dict)
    """0-based column -> its header text (every non-empty header cell)."""
    ignored: list[int] = field(default_factory=list)
    """Columns the mapping's ``ignore`` names."""
    skipped: dict[str, list[int]] = field(default_factory=dict)
    """Why rows were not read (``title``, ``blank``, ``total``, ``subtotal``, ``skip``,
    ``label``) -> their 1-based sheet rows."""


def _scan_scale_note(grid: list[list[Any]], header_row: int) -> tuple[str, int] | None:
    for row in range(header_row):
        for col, value in enumerate(grid[row]):
            if not isinstance(value, str) or not value.strip():
                continue
            for pattern, factor in _SCALE_NOTES:
                if pattern.search(value):
                    return cell_ref(row, col), factor
    return None


def _header_matches(value: Any, wanted: str) -> bool:
    return norm_header(value) == norm_header(wanted)


def _month_of(value: Any, fy_start: int) -> date | None:
    if isinstance(value, (date, datetime)):
        return parse_month(value)
    if isinstance(value, str) and value.strip():
        try:
            return parse_month(value, fy_start)
        except MonthError:
            return None
    return None


def _find_header(grid: list[list[Any]], mapping: Mapping, key_role: str, fy_start: int,
                 ) -> int | None:
    """The header row: the one (in the first rows) that names the key column and the most
    known columns and months. None if no row names the key column."""
    wanted = mapping.columns.get(key_role)
    best: tuple[int, int] | None = None
    for r, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        normed = [norm_header(v) for v in row]
        if isinstance(wanted, str):
            has_key = any(_header_matches(v, wanted) for v in row)
        elif isinstance(wanted, ColumnRef):
            has_key = True
        else:
            has_key = any(n in ALIASES[key_role] for n in normed)
        if not has_key:
            continue
        known = sum(1 for n in normed if any(n in a for a in ALIASES.values()))
        months = sum(1 for v in row if _month_of(v, fy_start) is not None)
        score = known + months
        if best is None or score > best[1]:
            best = (r, score)
    return None if best is None else best[0]


def locate_table(
    grid: list[list[Any]],
    sheet: str,
    mapping: Mapping,
    log: ProblemLog,
    *,
    key_role: str,
    fy_start: int,
    horizon: tuple[date, date],
) -> SheetTable | None:
    """Find the header row, the role columns and the month columns of ``sheet``.

    ``key_role`` is the column every data row must have (``id`` for initiatives,
    ``metric`` for targets). Returns None (reasons in ``log``) if the table cannot be found.
    """
    header = _header_row(grid, sheet, mapping, log, key_role, fy_start)
    if header is None:
        return None
    head = grid[header]
    ignored = ignored_columns(head, mapping)
    columns = _role_columns(head, header, sheet, mapping, log, key_role, ignored)
    if columns is None:
        return None
    months, months_ok = _month_columns(head, header, sheet, mapping, log,
                                       set(columns.values()) | set(ignored), fy_start)
    layout = mapping.layout
    if layout == "auto":
        layout = "wide" if months else "long"
    if layout == "long":
        for role in ("month", "amount"):
            if role not in columns:
                log.error(sheet, f"{header + 1}:{header + 1}", "no month columns and no "
                          f"{role} column", "month columns (dates or text such as Jul-26) or, "
                          "for a long layout, a Month and an Amount column")
                return None
        months = {}
    elif not months:
        log.error(sheet, f"{header + 1}:{header + 1}", "no month columns",
                  "one column per month headed by a date or text such as Jul-26, 2026-07 "
                  "or FY27 M01")
        return None
    if not months_ok:
        return None

    body = grid[header + 1:]
    skip_rows = {r - 1 for r in mapping.skip.rows}
    table = SheetTable(sheet=sheet, header_row=header, layout=layout, columns=columns,
                       rows=pd.DataFrame(), facts=pd.DataFrame(),
                       scale_note=_scan_scale_note(grid, header), month_columns=months,
                       headers={c: t for c, t in ((c, text_value(v)) for c, v in
                                                  enumerate(head)) if t is not None},
                       ignored=ignored,
                       skipped={"title": [r + 1 for r in range(header)
                                          if any(text_value(v) for v in grid[r])]})
    _split_rows(table, body, header + 1, skip_rows, mapping, log, key_role, fy_start, horizon)
    return table


def _header_row(grid: list[list[Any]], sheet: str, mapping: Mapping, log: ProblemLog,
                key_role: str, fy_start: int) -> int | None:
    """The header row (0-based): found, or the one the mapping gives; None (logged) for an
    empty sheet, no row naming the key column, or a row beyond the sheet."""
    if not any(any(v != "" and v is not None for v in row) for row in grid):
        log.error(sheet, "", "an empty sheet", "a header row and at least one data row")
        return None
    if mapping.header_row == "auto":
        header = _find_header(grid, mapping, key_role, fy_start)
        if header is None:
            label = mapping.columns.get(key_role)
            what = (f"a column headed {label!r}" if isinstance(label, str) else
                    "a column headed 'ID'" if key_role == "id" else
                    f"a column headed {key_role.title()!r}")
            log.error(sheet, "", f"no header row with an {key_role} column in the first "
                      f"{min(len(grid), HEADER_SCAN_ROWS)} rows",
                      f"{what} (for another layout, say where it is with --mapping)")
        return header
    header = int(mapping.header_row) - 1
    if header >= len(grid):
        log.error(sheet, f"A{header + 1}", "no such row (the sheet ends at row "
                  f"{len(grid)})", "the header row given by header_row in the mapping")
        return None
    return header


def ignored_columns(head: list[Any], mapping: Mapping) -> list[int]:
    """The columns whose header the mapping's ``ignore`` names (case and spaces ignored)."""
    wanted = {norm_header(h) for h in mapping.ignore}
    return [c for c, v in enumerate(head) if norm_header(v) in wanted] if wanted else []


def _role_columns(head: list[Any], header: int, sheet: str, mapping: Mapping,
                  log: ProblemLog, key_role: str, ignored: list[int]) -> dict[str, int] | None:
    """Role -> 0-based column: the mapping's columns first, then headers read by their
    aliases. None (logged) if a mapped column is missing or there is no key column."""
    width = len(head)
    columns: dict[str, int] = {}
    ok = True
    for role, spec in mapping.columns.items():
        if isinstance(spec, ColumnRef):
            col = column_index_from_string(spec.column) - 1
            if col >= width:
                log.error(sheet, cell_ref(header, col), "a column beyond the table",
                          f"the {role} column given in the mapping")
                ok = False
                continue
        else:
            found = [c for c, v in enumerate(head) if _header_matches(v, spec)]
            if not found:
                names = ", ".join(repr(v) for v in head if isinstance(v, str) and v.strip())
                log.error(sheet, f"{header + 1}:{header + 1}", f"no column headed {spec!r} "
                          f"(headers: {names[:200]})", f"the {role} column named in the mapping")
                ok = False
                continue
            col = found[0]
        columns[role] = col
    taken = set(columns.values()) | set(ignored)
    for col, value in enumerate(head):
        normed = norm_header(value)
        if not normed or col in taken:
            continue
        for role, aliases in ALIASES.items():
            if role not in columns and role not in mapping.columns and normed in aliases:
                columns[role] = col
                taken.add(col)
                break
    if key_role not in columns:
        if ok:
            log.error(sheet, f"{header + 1}:{header + 1}", f"no {key_role} column in the header "
                      f"row {header + 1}", "a column headed "
                      + ("ID" if key_role == "id" else key_role.title()))
        return None
    return columns if ok else None


def _month_columns(head: list[Any], header: int, sheet: str, mapping: Mapping,
                   log: ProblemLog, taken: set[int], fy_start: int
                   ) -> tuple[dict[int, date], bool]:
    """Column -> month: the mapping's span (every header in it must read as a month) or
    every other header that reads as one. Returns them and False if a problem was logged
    (a bad month header, or two columns for one month)."""
    months: dict[int, date] = {}
    ok = True
    if mapping.months.columns != "auto":
        first, last = mapping.months.columns.split(":")
        span = range(column_index_from_string(first) - 1, column_index_from_string(last))
        for col in span:
            if col >= len(head):
                break
            month = _month_of(head[col], fy_start)
            if month is None:
                log.bad_value(sheet, cell_ref(header, col),
                              head[col] if head[col] != "" else None,
                              "a month such as a date, Jul-26, 2026-07 or FY27 M01 "
                              f"(the mapping says {mapping.months.columns} are months)")
                ok = False
            else:
                months[col] = month
    else:
        for col, value in enumerate(head):
            if col in taken:
                continue
            month = _month_of(value, fy_start)
            if month is not None:
                months[col] = month
    first_col: dict[date, int] = {}
    for col, month in months.items():
        if month in first_col:
            log.error(sheet, cell_ref(header, col), f"a second column for {month:%b-%y} "
                      f"(the first is {cell_ref(header, first_col[month])})",
                      "one column per month")
            ok = False
        else:
            first_col[month] = col
    return months, ok


# Complexity: one pass over the rows, classifying each (title, blank, total, data), kept
# as one loop for speed on 1.2 M cells.
def _split_rows(  # noqa: C901
        table: SheetTable, body: list[list[Any]], first_row: int, skip_rows: set[int],
        mapping: Mapping, log: ProblemLog, key_role: str, fy_start: int,
        horizon: tuple[date, date]) -> None:
    """Fill ``table.rows`` and ``table.facts`` from the data rows, skipping blank rows,
    total rows and the rows the mapping says to skip."""
    sheet = table.sheet
    skip_patterns = [re.compile(p) for p in mapping.skip.id_matches]
    key_col = table.columns[key_role]
    attr_roles = [r for r in table.columns if r not in ("month", "amount")]
    month_cols = sorted(table.month_columns)
    amount_cols = [table.columns["amount"]] if table.layout == "long" else month_cols
    block = np.array(body, dtype=object) if body else np.empty((0, 0), dtype=object)
    if block.ndim != 2:  # ragged rows cannot come from calamine, but be safe
        width = max(len(r) for r in body)
        block = np.array([r + [""] * (width - len(r)) for r in body], dtype=object)
    n = len(body)
    if n:
        amounts = block[:, amount_cols]
        filled = (amounts != "") & (amounts != None)  # noqa: E711 - elementwise on objects
        has_amount = filled.any(axis=1)
    else:
        filled = np.zeros((0, len(amount_cols)), dtype=bool)
        has_amount = np.zeros(0, dtype=bool)
    keep: list[int] = []
    skipped = table.skipped
    for i in range(n):
        r = first_row + i
        if r in skip_rows:
            skipped.setdefault("skip", []).append(r + 1)
            continue
        key = text_value(block[i, key_col])
        if key is None:
            if not has_amount[i] and not any(text_value(block[i, c]) for c in
                                             table.columns.values()):
                skipped.setdefault("blank", []).append(r + 1)
                continue  # a blank row
            texts = [t for t in (text_value(v) for v in block[i]) if t]
            total = TOTAL_ROW.match(texts[0]) if texts else None
            if total:
                skipped.setdefault("subtotal" if total.group(1) and total.group(1)[:1]
                                   in "sS" else "total", []).append(r + 1)
                continue  # a total row without an id
            if not has_amount[i]:
                skipped.setdefault("label", []).append(r + 1)
                continue  # a note or a stray label without amounts
            log.error(sheet, cell_ref(r, key_col), "an empty cell in a row with amounts",
                      f"the row's {key_role}" + (" (or a total row labelled Total)"
                                                 if key_role == "id" else ""))
            continue
        total = TOTAL_ROW.match(key)
        if total or any(p.search(key) for p in skip_patterns):
            kind = ("skip" if not total else "subtotal" if total.group(1) and
                    total.group(1)[:1] in "sS" else "total")
            skipped.setdefault(kind, []).append(r + 1)
            continue
        keep.append(i)
    idx = np.array(keep, dtype=np.int64)
    rows = pd.DataFrame({"row": idx + first_row})
    for role in attr_roles:
        col = table.columns[role]
        rows[role] = pd.Series([text_value(v) for v in block[idx, col]] if len(idx) else [],
                               dtype=object)
    if "month" in table.columns:
        rows["month_raw"] = pd.Series(list(block[idx, table.columns["month"]]) if len(idx)
                                      else [], dtype=object)
    table.rows = rows

    # Raw facts: one per non-empty amount cell of a kept row.
    if len(idx):
        sub = filled[idx]
        pos, j = np.nonzero(sub)
        values = amounts[idx][pos, j]
    else:
        pos = np.zeros(0, dtype=np.int64)
        j = np.zeros(0, dtype=np.int64)
        values = np.zeros(0, dtype=object)
    cols = np.array(amount_cols, dtype=np.int64)[j] if len(j) else np.zeros(0, dtype=np.int64)
    if table.layout == "wide":
        iso = np.array([m.isoformat() for m in (table.month_columns[c] for c in month_cols)],
                       dtype=object)
        month_iso = iso[j] if len(j) else np.zeros(0, dtype=object)
        in_horizon = {c: horizon[0] <= table.month_columns[c] <= horizon[1] for c in month_cols}
        used_cols = set(cols.tolist())
        for c in month_cols:
            if in_horizon[c]:
                continue
            m = table.month_columns[c]
            if c in used_cols:
                log.error(sheet, cell_ref(table.header_row, c), f"{m:%b-%y}, a month outside "
                          f"the programme's horizon", f"months from {horizon[0]:%b-%y} to "
                          f"{horizon[1]:%b-%y} (this column holds amounts)")
            else:
                log.warn(sheet, cell_ref(table.header_row, c), f"{m:%b-%y}, outside the "
                         f"horizon, with no amounts", "ignored")
    else:
        raw_months = rows["month_raw"].to_numpy()[pos] if len(pos) else np.zeros(0, object)
        month_iso = np.empty(len(pos), dtype=object)
        cache: dict[Any, str | None] = {}
        mcol = table.columns["month"]
        for k, value in enumerate(raw_months):
            ckey = (type(value), value)
            if ckey not in cache:
                month = _month_of(value, fy_start)
                cache[ckey] = month.isoformat() if month else None
            iso_m = cache[ckey]
            row0 = int(value_at(rows["row"], int(pos[k])))
            if iso_m is None:
                log.bad_value(sheet, cell_ref(row0, mcol), value if value != "" else None,
                          "a month such as a date, Jul-26, 2026-07 or FY27 M01")
            elif not horizon[0].isoformat() <= iso_m <= horizon[1].isoformat():
                log.error(sheet, cell_ref(row0, mcol), f"{iso_m[:7]}, outside the programme's "
                          "horizon", f"a month from {horizon[0]:%Y-%m} to {horizon[1]:%Y-%m}")
            month_iso[k] = iso_m
    table.facts = pd.DataFrame({
        "pos": pos.astype(np.int64),
        "row": (idx[pos] + first_row) if len(pos) else np.zeros(0, dtype=np.int64),
        "col": cols,
        "month": pd.Series(month_iso, dtype=object),
        "value": pd.Series(values, dtype=object),
    })
