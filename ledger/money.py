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
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

__all__ = [
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


def from_minor(minor: int, decimals: int) -> Decimal:
    """Return minor units as a Decimal with exactly ``decimals`` places (any size)."""
    value = Decimal(int(minor)).scaleb(-decimals)
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, value.adjusted() + decimals + 2)
        return value.quantize(Decimal(1).scaleb(-decimals))


_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DASHES = {"-", "–", "—", "−"}


def parse_amount(raw: object) -> Decimal | None:
    """Read a workbook cell as an exact amount.

    Accepts ints, Decimals, floats (by their shortest round-tripping text, so the float
    0.1 reads as exactly 0.1), and text as finance writes it: ``"1,200"``, ``"(350)"`` for
    -350, ``"-"`` or ``""`` for no amount, a leading currency sign, a trailing ``%`` is
    refused. Returns None for "no amount".

    Raises:
        AmountError: the value is not an amount (the message says what was found).
    """
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
    if not isinstance(raw, str):
        raise AmountError(f"found {type(raw).__name__} {raw!s:.40}, expected a number")
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    if text == "" or text in _DASHES:
        return None
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    if text[:1] in "$€£¥":
        text = text[1:]
    if text.startswith("-") and text[1:2] in "$€£¥":
        text = "-" + text[2:]
    text = text.replace(",", "")
    if not _NUMBER_RE.match(text):
        raise AmountError(f"found {raw!r:.60}, expected a number such as 1200, 1,200.50 or (350)")
    value = Decimal(text)
    return -value if negative else value


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
