"""The month-by-month column layout shared by the Summary and breakdown sheets (and the
Summary's CSV): months in order, each fiscal year followed by its subtotal, then the
horizon total."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ledger.months import fiscal_year, fiscal_year_label


@dataclass(frozen=True)
class Column:
    kind: str  # "month" | "fy" | "horizon"
    index: int
    label: str
    month: date | None = None
    period: str | None = None  # "FY27" or "Horizon" for subtotal columns
    members: tuple[int, ...] = ()


def column_layout(months: Sequence[date], fy_start: int, first_col: int) -> list[Column]:
    """Months in order, each fiscal year followed by its subtotal column, then the horizon."""
    cols: list[Column] = []
    index = first_col
    fy_cols: list[int] = []
    group: list[int] = []
    for pos, month in enumerate(months):
        cols.append(Column("month", index, month.strftime("%b-%y"), month=month))
        group.append(index)
        index += 1
        last_of_fy = pos == len(months) - 1 or fiscal_year(months[pos + 1], fy_start) != \
            fiscal_year(month, fy_start)
        if last_of_fy:
            label = fiscal_year_label(fiscal_year(month, fy_start))
            cols.append(Column("fy", index, label, period=label, members=tuple(group)))
            fy_cols.append(index)
            index += 1
            group = []
    cols.append(Column("horizon", index, "Horizon", period="Horizon", members=tuple(fy_cols)))
    return cols


def last_month_col(cols: Sequence[Column], col: Column) -> Column:
    """The last month column before ``col`` (a subtotal's closing month)."""
    months = [c for c in cols if c.kind == "month" and c.index < col.index]
    return months[-1]
