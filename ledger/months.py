"""Month arithmetic and fiscal years, as pure functions.

A month is a :class:`datetime.date` on the first day of the month. Fiscal years are named
by the calendar year they end in: with a July start, FY27 runs from July 2026 to June 2027.
"""

from __future__ import annotations

import re
from datetime import date, datetime

__all__ = [
    "MonthError",
    "add_months",
    "fiscal_month_number",
    "fiscal_year",
    "fiscal_year_label",
    "fiscal_year_months",
    "month_range",
    "months_between",
    "parse_fiscal_year",
    "parse_month",
]

_MONTH_NAMES = {
    name: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for name in names
}


class MonthError(ValueError):
    """A value that cannot be read as a month."""


def first_of_month(d: date) -> date:
    """The first day of ``d``'s month."""
    return date(d.year, d.month, 1)


def add_months(month: date, n: int) -> date:
    """``month`` moved by ``n`` months (first of month in, first of month out)."""
    index = month.year * 12 + (month.month - 1) + n
    return date(index // 12, index % 12 + 1, 1)


def month_number(iso: str) -> int:
    """``"YYYY-MM..."`` -> ``year * 12 + month - 1``: one integer per month, in order (the
    bulk reads and fact keys count months this way)."""
    return int(iso[:4]) * 12 + int(iso[5:7]) - 1


def month_iso(number: int) -> str:
    """:func:`month_number` back to ``"YYYY-MM-01"``."""
    return f"{number // 12:04d}-{number % 12 + 1:02d}-01"


def months_between(start: date, end: date) -> int:
    """Number of months from ``start`` to ``end`` (0 when the same month)."""
    return (end.year - start.year) * 12 + (end.month - start.month)


def month_range(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last``, both included."""
    return [add_months(first, i) for i in range(months_between(first, last) + 1)]


def fiscal_year(month: date, fy_start_month: int) -> int:
    """The fiscal year (by the calendar year it ends in) that ``month`` belongs to."""
    if fy_start_month == 1:
        return month.year
    return month.year + 1 if month.month >= fy_start_month else month.year


def fiscal_year_label(fy: int) -> str:
    """``2027`` -> ``"FY27"``."""
    return f"FY{fy % 100:02d}"


def fiscal_month_number(month: date, fy_start_month: int) -> int:
    """1 for the fiscal year's first month, 12 for its last."""
    return (month.month - fy_start_month) % 12 + 1


def fiscal_year_months(fy: int, fy_start_month: int) -> list[date]:
    """The twelve months of fiscal year ``fy``."""
    start_year = fy - 1 if fy_start_month != 1 else fy
    start = date(start_year, fy_start_month, 1)
    return month_range(start, add_months(start, 11))


_FY_RE = re.compile(r"^\s*FY\s*'?(\d{2}|\d{4})\s*$", re.IGNORECASE)


def parse_fiscal_year(text: str) -> int:
    """``"FY27"``, ``"FY2027"`` -> 2027."""
    m = _FY_RE.match(text)
    if not m:
        raise MonthError(f"found {text!r}, expected a fiscal year such as FY27")
    value = int(m.group(1))
    return 2000 + value if value < 100 else value


_ISO_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?$")
_MY_RE = re.compile(r"^(\d{1,2})[-/.](\d{4})$")
_NAME_RE = re.compile(r"^([A-Za-z]{3,9})[\s\-'/.,]*(\d{2}|\d{4})$")
_FYM_RE = re.compile(r"^FY\s*'?(\d{2}|\d{4})[\s\-_]*(?:M|P|Month\s*)(\d{1,2})$", re.IGNORECASE)


def parse_month(value: object, fy_start_month: int = 1) -> date:
    """Read a month header or cell: a real date, or text such as ``Jul-26``, ``Jul 2026``,
    ``July 2026``, ``2026-07``, ``07/2026`` or a fiscal label ``FY27 M01``.

    Raises:
        MonthError: the value is not a month (the message says what was expected).
    """
    if isinstance(value, datetime):
        return date(value.year, value.month, 1)
    if isinstance(value, date):
        return date(value.year, value.month, 1)
    if not isinstance(value, str):
        raise MonthError(f"found {value!r}, expected a month (a date, Jul-26, 2026-07 or FY27 M01)")
    text = value.strip()
    m = _ISO_RE.match(text)
    if m:
        year, mon = int(m.group(1)), int(m.group(2))
        if 1 <= mon <= 12:
            return date(year, mon, 1)
    m = _MY_RE.match(text)
    if m:
        mon, year = int(m.group(1)), int(m.group(2))
        if 1 <= mon <= 12:
            return date(year, mon, 1)
    m = _NAME_RE.match(text)
    if m and m.group(1).lower() in _MONTH_NAMES:
        year = int(m.group(2))
        year = 2000 + year if year < 100 else year
        return date(year, _MONTH_NAMES[m.group(1).lower()], 1)
    m = _FYM_RE.match(text)
    if m:
        fy = int(m.group(1))
        fy = 2000 + fy if fy < 100 else fy
        n = int(m.group(2))
        if 1 <= n <= 12:
            return fiscal_year_months(fy, fy_start_month)[n - 1]
    raise MonthError(f"found {text!r:.40}, expected a month (a date, Jul-26, 2026-07 or FY27 M01)")
