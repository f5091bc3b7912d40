"""Reading the month part of a header: what each header cell says about time.

A header cell is one of:

* a **month**: a real date, an Excel serial date number (``46204`` is 1 Jul 2026), or text
  :func:`ledger.months.parse_month` reads (``Jul-26``, ``Jul26``, ``July 2026``,
  ``2026/07``, ``FY27 M01``);
* a month that needs its **year from the row above** (a two-row header: ``FY27`` or
  ``2026``, often merged across the months, above ``Jul``, ``Aug``, ... or ``M1``..``M12``),
  or from ``[months] fiscal_year`` in the mapping (``M1`` or ``Jul`` with a stated fiscal
  year);
* a **total column** between or after the months: a fiscal year (``FY27``, ``FY27 Total``,
  ``Total FY27``), a quarter (``Q1``, ``Q1 FY27``, ``FY27 Q1``, ``Q1 2027``) or a half
  (``H1``, ``H2 FY27``). Its months are those its label names; a bare ``Q1`` or ``H1``
  with no year anywhere covers the month columns between it and the previous total
  column. Total columns are not amounts: they are checked against their months
  (:mod:`importers.totals`), or, for quarterly-only phasing with ``quarters = "spread"``,
  read as the quarter's amount.

Pure functions over one or two header rows; nothing here knows the ledger beyond the
fiscal-year start month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ledger.months import (
    MonthError,
    add_months,
    fiscal_year_months,
    parse_month,
)

#: Excel's serial day 0 (serial 1 is 1900-01-01, counting Excel's 29 Feb 1900).
_EXCEL_EPOCH = date(1899, 12, 30)
#: Serial numbers read as dates in a header: 1 Jan 2000 to 31 Dec 2099.
SERIAL_MIN, SERIAL_MAX = 36526, 73050

_MONTHS = {name: i + 1 for i, names in enumerate([
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")]) for name in names}

_YEAR = r"(?:fy\s*'?(?P<fy>\d{2}|\d{4})|(?P<cy>(?:19|20)\d{2}))"
_FY_ONLY = re.compile(r"^fy\s*'?(\d{2}|\d{4})$")
_CY_ONLY = re.compile(r"^((?:19|20)\d{2})$")
_FY_TOTAL = re.compile(r"^(?:(?:total|full year)\s+)?fy\s*'?(\d{2}|\d{4})"
                       r"(?:\s+(?:total|full year|fy|sum))?$")
_PART = re.compile(rf"^(?:(?P<k1>[qh])(?P<n1>[1-4])(?:\s+{_YEAR})?|"
                   rf"(?:fy\s*'?(?P<fy2>\d{{2}}|\d{{4}})|(?P<cy2>(?:19|20)\d{{2}}))\s+"
                   rf"(?P<k2>[qh])(?P<n2>[1-4]))(?:\s+total)?$")
_FISCAL_M = re.compile(r"^(?:m|p|month|period)\s*0?([1-9]|1[0-2])$")


def norm(value: Any) -> str:
    """Header text compared with patterns: lower case, separators as single spaces."""
    if not isinstance(value, str):
        return ""
    return re.sub(r"[\s_\-./:]+", " ", value).strip().casefold()


def year_of(value: Any) -> tuple[str, int] | None:
    """A cell above the months that gives their year: ``("fy", 2027)`` for ``FY27``,
    ``("cy", 2026)`` for ``2026`` (text or number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and 1900 <= value <= 2099:
            return "cy", int(value)
        return None
    text = norm(value)
    m = _FY_ONLY.match(text) or _FY_TOTAL.match(text)
    if m:
        return "fy", _full_year(m.group(1))
    m = _CY_ONLY.match(text)
    if m:
        return "cy", int(m.group(1))
    return None


def _full_year(digits: str) -> int:
    n = int(digits)
    return 2000 + n if n < 100 else n


def serial_month(value: Any) -> date | None:
    """An Excel serial date number (a whole number from 2000 to 2099) as its month."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not float(value).is_integer() or not SERIAL_MIN <= value <= SERIAL_MAX:
        return None
    day = _EXCEL_EPOCH + timedelta(days=int(value))
    return date(day.year, day.month, 1)


def plain_month(value: Any, fy_start: int) -> date | None:
    """A header cell that is a month on its own (a date, a serial number, month text)."""
    if isinstance(value, (date, datetime)):
        return parse_month(value)
    if isinstance(value, str) and value.strip():
        try:
            return parse_month(value, fy_start)
        except MonthError:
            return None
    return serial_month(value)


@dataclass
class TotalColumn:
    """A fiscal-year, quarter or half total among the month columns."""

    col: int
    label: str
    kind: str
    """``year``, ``quarter`` or ``half``."""
    months: list[date] = field(default_factory=list)
    """The months it totals (empty: not known from its label, see ``positional``)."""
    positional: bool = False
    """A bare ``Q1``/``H1``: it totals the month columns since the previous total column."""


@dataclass
class HeaderMonths:
    """What the month part of a header says."""

    months: dict[int, date] = field(default_factory=dict)
    """Column -> month."""
    totals: dict[int, TotalColumn] = field(default_factory=dict)
    """Column -> the total it holds."""
    context_row: int | None = None
    """0-based row above the months that gave their years (a two-row header)."""


def _months_in_year(kind: str, year: int, fy_start: int) -> list[date]:
    if kind == "fy":
        return fiscal_year_months(year, fy_start)
    return [date(year, m, 1) for m in range(1, 13)]


def _total_of(col: int, value: Any, context: tuple[str, int] | None,
              fy_start: int) -> TotalColumn | None:
    text = norm(value)
    if not text:
        return None
    m = _FY_TOTAL.match(text)
    if m:
        fy = _full_year(m.group(1))
        return TotalColumn(col, str(value).strip(), "year", fiscal_year_months(fy, fy_start))
    m = _PART.match(text)
    if not m:
        return None
    kind_letter = m.group("k1") or m.group("k2")
    n = int(m.group("n1") or m.group("n2"))
    if kind_letter == "h" and n > 2:
        return None
    size = 3 if kind_letter == "q" else 6
    kind = "quarter" if kind_letter == "q" else "half"
    fy_text: str | None = m.group("fy") or m.group("fy2")
    cy_text: str | None = m.group("cy") or m.group("cy2")
    year: tuple[str, int] | None = (("fy", _full_year(fy_text)) if fy_text else
                                    ("cy", int(cy_text)) if cy_text else context)
    label = str(value).strip()
    if year is None:
        return TotalColumn(col, label, kind, positional=True)
    months = _months_in_year(year[0], year[1], fy_start)
    return TotalColumn(col, label, kind, months[(n - 1) * size:n * size])


def _with_year(value: Any, context: tuple[str, int] | None, stated_fy: int | None,
               fy_start: int) -> date | None:
    """A month name (``Jul``) or fiscal month (``M1``) completed by a year from above (or
    the mapping's fiscal year for ``M1``)."""
    text = norm(value)
    if not text:
        return None
    year = context if context is not None else (
        ("fy", stated_fy) if stated_fy is not None else None)
    if text in _MONTHS and year is not None:
        wanted = _MONTHS[text]
        for month in _months_in_year(year[0], year[1], fy_start):
            if month.month == wanted:
                return month
    m = _FISCAL_M.match(text)
    if m:
        fy = context[1] if context is not None and context[0] == "fy" else stated_fy
        if fy is not None:
            return fiscal_year_months(fy, fy_start)[int(m.group(1)) - 1]
    return None


def read_header_months(head: list[Any], above: list[Any] | None, columns: range | None,
                       taken: set[int], fy_start: int, stated_fy: int | None
                       ) -> HeaderMonths:
    """The months and total columns of the header ``head`` (``above``: the row over it,
    for years; ``columns``: only these columns, else all but ``taken``)."""
    out = HeaderMonths()
    context: tuple[str, int] | None = None
    used_context = False
    span = columns if columns is not None else range(len(head))
    for col in range(len(head)):
        if above is not None and col < len(above):
            # A merged cell holds its value in its first column only: carry it right.
            cell = above[col]
            if cell not in ("", None):
                context = year_of(cell)
        if col in taken or col not in span:
            continue
        value = head[col]
        month = plain_month(value, fy_start)
        if month is None:
            month = _with_year(value, context, stated_fy, fy_start)
            if month is not None and context is not None:
                used_context = True
        if month is not None:
            out.months[col] = month
            continue
        total = _total_of(col, value, context, fy_start)
        if total is not None:
            out.totals[col] = total
    _place_positional(out)
    if used_context and above is not None:
        out.context_row = -1  # the caller fills in the row number
    return out


def _place_positional(out: HeaderMonths) -> None:
    """A bare ``Q1``/``H1`` totals the month columns since the previous total column."""
    start = -1
    for col in sorted(set(out.months) | set(out.totals)):
        total = out.totals.get(col)
        if total is None:
            continue
        if total.positional:
            total.months = [out.months[c] for c in sorted(out.months) if start < c < col]
        start = col


def quarter_start(total: TotalColumn) -> date | None:
    """The first month of a quarter column whose months are known from its label."""
    if total.kind != "quarter" or total.positional or len(total.months) != 3:
        return None
    first = total.months[0]
    return first if add_months(first, 2) == total.months[-1] else None
