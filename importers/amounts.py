"""Cell values to exact minor units, vectorised.

Policy (documented in docs/importing.md): an amount with more decimals than its metric
allows is **rounded half away from zero with a warning** naming the cell, as Excel's ROUND
would; it is not refused, because a phasing computed in Excel (``=120000/7``) always has
more decimals than cents.

The fast path: a float cell ``x`` whose true value (its shortest round-tripping decimal,
as :func:`ledger.money.parse_amount` reads it) times ``scale * 10**d`` is a whole number
``r`` of minor units is recognised with numpy, and only when that can be proved: the
candidate ``r = rint(x * F)`` (``F = scale * 10**d``, an exact power of ten) is kept only
if ``r / F``, correctly rounded, gives ``x`` back and ``|r| < 2**50``. Below that bound two
different multiples of ``1/F`` never round to the same float, so the shortest decimal of
``x`` is exactly ``r / F``. Every other cell (text, a float with extra decimals or near a
tie, a large value, a scale that is not a power of ten) takes the exact
:class:`~decimal.Decimal` path, so no float ever decides a minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from ledger.money import AmountError, parse_amount, round_half_away

#: Largest amount accepted, in minor units (far inside BIGINT; also keeps sums exact).
MAX_MINOR = 10**15
#: Fast path only below this many minor units: there a float's spacing is at most 1/4 of
#: a minor unit, so a float identifies one multiple of a minor unit (see the module doc).
_FAST_LIMIT = float(2**50)


@dataclass
class Converted:
    """The result of converting one vector of cells."""

    minor: np.ndarray
    """int64 minor units (0 where ``present`` is False)."""
    present: np.ndarray
    """bool: the cell holds an amount (False for blank text such as ``"-"``)."""
    errors: list[tuple[int, object, str]] = field(default_factory=list)
    """(position, the cell's value, expected) for cells that are not amounts."""
    rounded: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)
    """(position, value read, value kept) for cells rounded to the metric's decimals."""


def _exact(value: object, decimal: str) -> Decimal | None:
    """One cell by the exact path (raises AmountError for a non-amount)."""
    if isinstance(value, (datetime, date, time, timedelta)):
        raise AmountError(f"found a date or time ({value}), expected a number")
    return parse_amount(value, decimal)


def _power_of_ten(scale: Decimal) -> int | None:
    """k if ``scale`` is exactly 10**k (k >= 0), else None."""
    digits = scale.normalize().as_tuple()
    exponent = digits.exponent
    if digits.sign or digits.digits != (1,) or not isinstance(exponent, int) or exponent < 0:
        return None
    return exponent


def convert(values: np.ndarray, decimals: np.ndarray, scale: Decimal,
            decimal: str = ".") -> Converted:
    """Convert raw cells to minor units of their metric.

    Args:
        values: object array of cell values (float, int, str, date, ...), none empty.
        decimals: int array, the metric's decimals for each cell.
        scale: multiply every amount by this (1000 for a sheet in thousands).
        decimal: the decimal separator of amounts written as text (``.`` or ``,``).
    """
    count = len(values)
    minor = np.zeros(count, dtype=np.int64)
    present = np.ones(count, dtype=bool)
    out = Converted(minor, present)
    if count == 0:
        return out
    is_float = np.fromiter((v.__class__ is float for v in values), dtype=bool, count=count)
    scale_power = _power_of_ten(scale)
    if scale_power is None:
        is_float[:] = False
    slow = ~is_float
    if is_float.any():
        fidx = np.flatnonzero(is_float)
        floats = values[fidx].astype(np.float64)
        # 10**k is an exact float up to k = 22; beyond, the cell goes the exact way.
        power = decimals[fidx].astype(np.int64) + (scale_power or 0)
        factor = np.power(10.0, np.minimum(power, 22).astype(np.float64))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            rounded_minor = np.rint(floats * factor)
            ok = ((power <= 22) & np.isfinite(rounded_minor) & (np.abs(rounded_minor) < _FAST_LIMIT)
                  & (np.abs(rounded_minor) <= MAX_MINOR) & (rounded_minor / factor == floats))
        minor[fidx[ok]] = rounded_minor[ok].astype(np.int64)
        slow[fidx[~ok]] = True
    if slow.any():
        cache: dict[tuple[type, object, int], tuple[int | None, Decimal | None, str | None]] = {}
        for cell in np.flatnonzero(slow):
            value = values[cell]
            places = int(decimals[cell])
            key = (value.__class__, value, places)
            hit = cache.get(key)
            if hit is None:
                hit = _convert_one(value, places, scale, decimal)
                cache[key] = hit
            got, read, problem = hit
            if problem is not None:
                out.errors.append((int(cell), value, problem))
                present[cell] = False
            elif got is None:
                present[cell] = False
            else:
                minor[cell] = got
                if read is not None:
                    out.rounded.append((int(cell), read, round_half_away(read, places)))
    return out


def _convert_one(value: object, places: int, scale: Decimal, decimal: str,
                 ) -> tuple[int | None, Decimal | None, str | None]:
    """(minor units or None for "no amount", the value read if it was rounded, problem)."""
    try:
        dec = _exact(value, decimal)
    except AmountError as exc:
        text = str(exc)
        expected = text.split("expected ", 1)[1] if "expected " in text else "a number"
        return None, None, expected
    if dec is None:
        return None, None, None
    scaled = dec * scale
    kept = round_half_away(scaled, places)
    if abs(kept.scaleb(places)) > MAX_MINOR:
        return None, None, f"an amount below {Decimal(MAX_MINOR).scaleb(-places):,.0f}"
    rounded = scaled if kept != scaled else None
    return int(kept.scaleb(places)), rounded, None
