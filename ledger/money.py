"""Exact amounts.

Every amount is stored as an integer count of the metric's smallest unit (``minor`` units:
cents for a money metric with two decimals, kilograms for tonnes with three). Python code
handles amounts as :class:`decimal.Decimal` or ``int`` minor units; never as ``float``.

Rounding to a metric's precision is half away from zero, like Excel's ``ROUND``:
2.345 -> 2.35, -2.345 -> -2.35.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

__all__ = [
    "DECIMAL_SEPARATORS",
    "AmountError",
    "from_minor",
    "parse_amount",
    "round_half_away",
    "split_exact",
    "to_minor",
]


class AmountError(ValueError):
    """A value that cannot be read as an amount."""


def round_half_away(value: Decimal, decimals: int) -> Decimal:
    """Round ``value`` to ``decimals`` places, half away from zero (Excel ROUND).

    Exact for any finite size: the working precision grows with the value, so a huge cell
    (``1e300``) rounds instead of raising ``InvalidOperation``; callers refuse it by size.
    """
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, value.adjusted() + decimals + 2)
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def to_minor(value: Decimal | int | str, decimals: int) -> int:
    """Return ``value`` in minor units, rounded half away from zero.

    Raises:
        AmountError: for floats (they must be converted with ``Decimal(str(x))`` at the
            boundary that read them), NaN, infinities and non-numbers.
    """
    if isinstance(value, float):  # pragma: no cover - a programming error, not user input
        raise TypeError("floats never carry amounts; convert at the boundary with Decimal(str(x))")
    try:
        dec = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise AmountError(f"not a number: {value!r}") from exc
    if not dec.is_finite():
        raise AmountError(f"not a finite number: {value!r}")
    return int(round_half_away(dec, decimals).scaleb(decimals))


def amount_text(value: Decimal | None) -> str:
    """An amount as a conflict message shows it: ``1,234.50``, or ``(empty)`` for no value."""
    return "(empty)" if value is None else f"{value:,}"


def from_minor(minor: int, decimals: int) -> Decimal:
    """Return minor units as a Decimal with exactly ``decimals`` places (any size)."""
    value = Decimal(int(minor)).scaleb(-decimals)
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, value.adjusted() + decimals + 2)
        return value.quantize(Decimal(1).scaleb(-decimals))


_DASHES = {"-", "–", "—", "−"}
_CURRENCY = "$€£¥"
#: Spaces a spreadsheet or a typist puts between groups of three digits ("1 234 567").
_GROUP_SPACES = " \u00a0\u202f\u2009"
_SIGNS = "+-"

#: The number itself once signs, parentheses and a currency sign are peeled off: either
#: plain digits (an exponent only with the decimal point: ``1e5``) or digits grouped in
#: threes by one separator used throughout, the first group not starting with 0.
_PLAIN = {
    ".": re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"),
    ",": re.compile(r"^(?:\d+(?:,\d*)?|,\d+)$"),
}
_GROUPED = {
    ".": re.compile(rf"^[1-9]\d{{0,2}}(?P<g>[,{_GROUP_SPACES}])\d{{3}}(?:(?P=g)\d{{3}})*"
                    r"(?:\.\d*)?$"),
    ",": re.compile(rf"^[1-9]\d{{0,2}}(?P<g>[.{_GROUP_SPACES}])\d{{3}}(?:(?P=g)\d{{3}})*"
                    r"(?:,\d*)?$"),
}
#: What a refusal says is accepted, per decimal separator.
_EXAMPLES = {
    ".": "a number such as 1200, 1,200.50, -350 or (350)",
    ",": "a number such as 1200, 1.200,50, -350 or (350) (decimal comma)",
}
_MISPLACED = {
    ".": "a comma only between groups of three digits, as in 1,234 or 1,234,567.89 "
         "(a decimal comma is read only where an import mapping sets decimal = \",\")",
    ",": "a point only between groups of three digits, as in 1.234 or 1.234.567,89 "
         "(the mapping sets decimal = \",\")",
}
DECIMAL_SEPARATORS = tuple(_PLAIN)


def parse_amount(raw: object, decimal: str = ".") -> Decimal | None:
    """Read a workbook cell or a typed amount as an exact amount.

    Accepts ints, Decimals, floats (by their shortest round-tripping text, so the float
    0.1 reads as exactly 0.1), and text by one rule (docs/workbook-format.md, "Amounts
    written as text"): digits with ``decimal`` as the decimal separator, optionally
    grouped in threes by the other separator (``,`` when ``decimal`` is ``.``) or a space;
    one ``-``/``+`` or parentheses for a negative, not both; one leading currency sign;
    ``"-"`` or ``""`` for no amount. Returns None for "no amount".

    Raises:
        AmountError: the value is not an amount; the message says what was found and what
            is accepted.
    """
    if not isinstance(raw, str):
        return _cell_amount(raw)
    if decimal not in _PLAIN:
        raise ValueError(f"decimal separator {decimal!r}: expected one of {DECIMAL_SEPARATORS}")
    text = raw.strip()
    if text == "" or text in _DASHES:
        return None
    negative, text = _strip_marks(raw, text, decimal)
    value = Decimal(_plain_number(raw, text, decimal))
    return -value if negative else value


def _cell_amount(raw: object) -> Decimal | None:
    """:func:`parse_amount` of a value that is not text (a typed workbook cell)."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise AmountError(f"found {raw!r}, expected a number")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise AmountError(f"found {raw}, expected a finite number")
        return raw
    if isinstance(raw, float):
        if math.isnan(raw) or math.isinf(raw):
            raise AmountError(f"found {raw}, expected a finite number")
        return Decimal(repr(raw))
    raise AmountError(f"found {type(raw).__name__} {raw!s:.40}, expected a number")


def _strip_marks(raw: str, text: str, decimal: str) -> tuple[bool, str]:
    """(negative, the digits) of ``text`` once its sign, parentheses and currency sign are
    taken off; at most one sign and one currency sign."""
    negative, signs, currencies = False, 0, 0
    while text:
        if text[0] == "(" and text[-1] == ")":
            negative, signs, text = not negative, signs + 1, text[1:-1].strip()
        elif text[0] in _SIGNS:
            negative, signs = negative != (text[0] == "-"), signs + 1
            text = text[1:].lstrip()
        elif text[0] in _CURRENCY:
            currencies, text = currencies + 1, text[1:].lstrip()
        else:
            break
    if signs > 1:
        raise AmountError(f"found {raw!r:.60}, expected one sign: a minus (-350) or "
                          "parentheses ((350)), not both and not twice")
    if currencies > 1:
        raise AmountError(f"found {raw!r:.60}, expected {_EXAMPLES[decimal]}")
    return negative, text


def _plain_number(raw: str, text: str, decimal: str) -> str:
    """``text`` (digits, separators) as a number Decimal reads: point, no grouping."""
    if _PLAIN[decimal].match(text):
        return text.replace(",", ".")
    if _GROUPED[decimal].match(text):
        return _GROUP_STRIP[decimal](text)
    group = "," if decimal == "." else "."
    expected = _MISPLACED[decimal] if group in text else _EXAMPLES[decimal]
    raise AmountError(f"found {raw!r:.60}, expected {expected}")


def _strip_groups(group_chars: str, decimal: str) -> Callable[[str], str]:
    table = str.maketrans({**{c: None for c in group_chars}, decimal: "."})
    return lambda text: text.translate(table)


_GROUP_STRIP = {".": _strip_groups("," + _GROUP_SPACES, "."),
                ",": _strip_groups("." + _GROUP_SPACES, ",")}


def split_exact(total_minor: int, weights: list[int] | list[Decimal]) -> list[int]:
    """Split ``total_minor`` over ``weights`` so the parts sum exactly to the total.

    Each part is ``total * w / sum(w)`` truncated toward zero; the remainder (a few minor
    units) goes to the last non-zero-weight parts, one unit each, from the end backwards,
    so the profile's shape is kept and the last month absorbs the rounding.
    """
    ws = [Decimal(w) for w in weights]
    if not ws or any(w < 0 for w in ws):
        raise ValueError("weights must be non-negative and not empty")
    total_w = sum(ws)
    if total_w == 0:
        raise ValueError("weights must not all be zero")
    parts = [int((Decimal(total_minor) * w / total_w).to_integral_value(rounding="ROUND_DOWN"))
             for w in ws]
    remainder = total_minor - sum(parts)
    step = 1 if remainder > 0 else -1
    nonzero = [i for i, w in enumerate(ws) if w != 0]
    i = len(nonzero) - 1
    while remainder != 0:
        parts[nonzero[i]] += step
        remainder -= step
        i = (i - 1) % len(nonzero)
    return parts
