"""The engine's numbers as the sheets need them: looked up by part and column, and turned
into the values Excel stores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from reports.excel.columns import Column, last_month_col


def as_decimal(value: Any) -> Decimal | None:
    """An engine value as an exact Decimal; None for a missing one (None, NaN, NA)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, float):
        return None if np.isnan(value) else Decimal(repr(value))
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return Decimal(str(value))


def num(value: Any) -> float:
    """The number Excel stores for an exact amount: the nearest double."""
    dec = as_decimal(value)
    return 0.0 if dec is None else float(dec)


def coverage_value(bottom_up: Any, target: Any) -> float | str:
    """The coverage formula's cached result: blank where the target is zero."""
    target_dec, bottom_up_dec = as_decimal(target), as_decimal(bottom_up)
    if target_dec is None or target_dec == 0:
        return ""
    return float((bottom_up_dec or Decimal(0)) / target_dec)


def _month_key(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date().replace(day=1)
    if isinstance(value, date):
        return value.replace(day=1)
    return date.fromisoformat(str(value)[:10])


class Figures:
    """The engine's numbers for one report, looked up by part and month or period."""

    def __init__(self, report: Any) -> None:
        monthly = report.monthly
        self.parts: list[str] = list(dict.fromkeys(monthly["part"].tolist()))
        self.monthly: dict[tuple[str, date], dict[str, Any]] = {}
        for rec in monthly.to_dict("records"):
            self.monthly[(rec["part"], _month_key(rec["month"]))] = rec
        self.fiscal: dict[tuple[str, str], dict[str, Any]] = {}
        for rec in report.fiscal.to_dict("records"):
            self.fiscal[(rec["part"], str(rec["period"]))] = rec

    def get(self, part: str, col: Column, field_name: str) -> Any:
        if col.kind == "month":
            assert col.month is not None  # noqa: S101  (narrows the type)
            rec = self.monthly.get((part, col.month))
        else:
            assert col.period is not None  # noqa: S101  (narrows the type)
            rec = self.fiscal.get((part, col.period))
        if rec is None:
            return None
        return rec.get(field_name)

    def cumulative(self, part: str, cols: Sequence[Column], col: Column,
                   field_name: str) -> Any:
        """Cumulative figures for a subtotal column: the value at its last month."""
        if col.kind == "month":
            return self.get(part, col, field_name)
        return self.get(part, last_month_col(cols, col), field_name)
