"""Cell values to exact minor units, vectorised.

Policy (documented in docs/importing.md): an amount with more decimals than its metric
allows is **rounded half away from zero with a warning** naming the cell, as Excel's ROUND
would; it is not refused, because a phasing computed in Excel (``=120000/7``) always has
more decimals than cents.

The fast path: a float cell ``x`` whose true value (its shortest round-tripping decimal,
as :func:`ledger.money.parse_amount` reads it) times ``scale`` is a whole number of minor
units is recognised with numpy: ``x * scale * 10**d`` lands within a few ulps of that
integer, and ``rint`` returns it exactly (below 2**52). Every other cell (text such as
``"1,200"`` or ``"(350)"``, a float with extra decimals, anything near a tie) takes the
exact :class:`~decimal.Decimal` path, so no float ever decides a cent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from ledger.money import AmountError, parse_amount, round_half_away

#: Largest amount accepted, in minor units (far inside BIGINT; also keeps sums exact).
MAX_MINOR = 10**15
_FAST_LIMIT = float(2**52)


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


def _exact(value: object) -> Decimal | None:
    """One cell by the exact path (raises AmountError for a non-amount)."""
    if isinstance(value, (datetime, date, time, timedelta)):
        raise AmountError(f"found a date or time ({value}), expected a number")
    return parse_amount(value)


def convert(values: np.ndarray, decimals: np.ndarray, scale: Decimal) -> Converted:
    """Convert raw cells to minor units of their metric.

    Args:
        values: object array of cell values (float, int, str, date, ...), none empty.
        decimals: int array, the metric's decimals for each cell.
        scale: multiply every amount by this (1000 for a sheet in thousands).
    """
    n = len(values)
    minor = np.zeros(n, dtype=np.int64)
    present = np.ones(n, dtype=bool)
    out = Converted(minor, present)
    if n == 0:
        return out
    is_float = np.fromiter((v.__class__ is float for v in values), dtype=bool, count=n)
    slow = ~is_float
    if is_float.any():
        fidx = np.flatnonzero(is_float)
        x = values[fidx].astype(np.float64)
        factor = float(scale) * np.power(10.0, decimals[fidx].astype(np.float64))
        with np.errstate(invalid="ignore", over="ignore"):
            y = x * factor
            r = np.rint(y)
            tol = np.maximum(1e-7, np.abs(y) * 1e-13)
            ok = (np.isfinite(y) & (np.abs(y - r) <= tol) & (np.abs(r) < _FAST_LIMIT)
                  & (np.abs(r) <= MAX_MINOR))
        minor[fidx[ok]] = r[ok].astype(np.int64)
        slow[fidx[~ok]] = True
    if slow.any():
        cache: dict[tuple[type, object, int], tuple[int | None, Decimal | None, str | None]] = {}
        for i in np.flatnonzero(slow):
            value = values[i]
            d = int(decimals[i])
            key = (value.__class__, value, d)
            hit = cache.get(key)
            if hit is None:
                hit = _convert_one(value, d, scale)
                cache[key] = hit
            got, read, problem = hit
            if problem is not None:
                out.errors.append((int(i), value, problem))
                present[i] = False
            elif got is None:
                present[i] = False
            else:
                minor[i] = got
                if read is not None:
                    out.rounded.append((int(i), read, round_half_away(read, d)))
    return out


def _convert_one(value: object, d: int, scale: Decimal,
                 ) -> tuple[int | None, Decimal | None, str | None]:
    """(minor units or None for "no amount", the value read if it was rounded, problem)."""
    try:
        dec = _exact(value)
    except AmountError as exc:
        text = str(exc)
        expected = text.split("expected ", 1)[1] if "expected " in text else "a number"
        return None, None, expected
    if dec is None:
        return None, None, None
    scaled = dec * scale
    kept = round_half_away(scaled, d)
    if abs(kept.scaleb(d)) > MAX_MINOR:
        return None, None, f"an amount below {Decimal(MAX_MINOR).scaleb(-d):,.0f}"
    rounded = scaled if kept != scaled else None
    return int(kept.scaleb(d)), rounded, None
