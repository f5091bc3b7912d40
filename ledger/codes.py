"""Codes that cannot collide: unit, lever, metric and initiative codes are unique
regardless of case, and the codes a report matches on (unit, lever, metric) never read as
numbers.

Excel's SUMIFS, COUNTIFS and ``=`` compare text case-insensitively, and a criterion such
as ``"=01"`` or ``"=1E3"`` is read as a number: a unit ``pro`` beside ``PRO``, or ``01``
beside ``1``, would add the two together in every formula of the gap report. So such a
code is refused when it is created (one line naming the code it collides with), the
migration that introduced the rule refuses to upgrade a ledger that already has such
pairs (listing them), and ``tledger checks`` reports any it finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from ledger.errors import LedgerError

__all__ = ["CODED_TABLES", "code_collisions", "numeric_value", "refuse_collision",
           "refuse_numeric"]

#: Table, code column and what the code names, for every coded table.
CODED_TABLES: list[tuple[str, str, str]] = [
    ("business_unit", "code", "business unit"),
    ("lever", "code", "lever"),
    ("metric", "code", "metric"),
    ("initiative", "external_id", "initiative"),
]

# What Excel reads as a number when typed (or used as a criterion): 1, 01, -1.5, .5, 1E3,
# 1e-3, 50%, 1,000 (thousands separators).
_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d*)?([eE][+-]?\d+)?%?")


def numeric_value(code: str) -> Decimal | None:
    """The number Excel would read ``code`` as, or None when it is text to Excel."""
    text = code.strip()
    if not text or not any(c.isdigit() for c in text) or not _NUMBER.fullmatch(text):
        return None
    body = text.rstrip("%").replace(",", "")
    try:
        value = Decimal(body)
    except InvalidOperation:
        return None
    return value / 100 if text.endswith("%") else value


def refuse_numeric(code: str, what: str) -> None:
    """Refuse a code Excel would read as a number (``01``, ``1E3``, ``5%``).

    Raises:
        LedgerError: naming the code and the number it reads as.
    """
    value = numeric_value(code)
    if value is not None:
        raise LedgerError(f"{what} code {code!r} reads as the number {value.normalize():f} in "
                          "Excel, which would match it as a number in the report; use a "
                          f"code with a letter (e.g. {what[0].upper()}{code})")


def refuse_collision(code: str, existing: Iterable[str], what: str) -> None:
    """Refuse ``code`` when an existing code differs from it only by case.

    Raises:
        LedgerError: one line naming the existing code.
    """
    folded = code.casefold()
    for other in existing:
        if other.casefold() == folded:
            if other == code:
                raise LedgerError(f"{what} {code!r} already exists")
            raise LedgerError(f"{what} {code!r} collides with the existing {what} {other!r}: "
                              "codes are unique regardless of case")


def code_collisions(codes: Iterable[str], *, numeric: bool = True) -> list[list[str]]:
    """Groups of two or more distinct codes that Excel would match as one: equal ignoring
    case, or (``numeric``) reading as the same number (``01`` and ``1``). Sorted."""
    groups: dict[tuple[str, str], set[str]] = {}
    for code in codes:
        groups.setdefault(("text", code.casefold()), set()).add(code)
        value = numeric_value(code) if numeric else None
        if value is not None:
            groups.setdefault(("number", f"{value.normalize():f}"), set()).add(code)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)
