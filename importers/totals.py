"""Total columns and subtotal rows: checked against what they total; quarters spread.

A workbook's own totals are never imported (the ledger sums the months itself), but they
say what its author saw: a ``Q1`` or ``FY27 Total`` column that does not equal its months,
or a ``PRO subtotal`` row that does not equal the rows above it, usually means a month was
typed in the wrong place or a row is missing. Each mismatch is a **warning** naming the
total's cell, the value found and the sum of its cells; the import goes on.

The comparison is made in the ledger's minor units after ``--scale``, exactly: a total
equals its cells' sum unless some of those cells (or the total) had more decimals than
the metric keeps, in which case each rounded cell may move the sum by half a minor unit.
A check is made only where it is possible: a total column whose months are all columns of
the sheet; a total row whose rows above hold one metric and scenario.

Quarterly-only phasing read with ``quarters = "spread"``: each quarter's amount, in minor
units, is split into three equal parts rounded toward zero, and the one or two minor units
left over go to the quarter's first months (100.00 -> 33.34, 33.33, 33.33; -100.00 ->
-33.34, -33.33, -33.33; 0.02 -> 0.01, 0.01 and no amount): the three months always add up
exactly to the quarter.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from importers.amounts import convert
from importers.layout import SheetTable, cell_ref
from importers.problems import ProblemLog
from ledger.months import month_iso, month_number


def spread_quarters(frame: pd.DataFrame, span: np.ndarray) -> pd.DataFrame:
    """Expand each fact whose ``span`` is above 1 into that many months from its month,
    by the remainder rule of this module. Other facts pass unchanged."""
    span = np.where(span > 1, span, 1).astype(np.int64)
    if not (span > 1).any():
        return frame
    out = frame.loc[frame.index.repeat(span)].reset_index(drop=True)
    starts = np.repeat(np.cumsum(span) - span, span)
    nth = np.arange(int(span.sum()), dtype=np.int64) - starts
    parts = np.repeat(span, span)
    amount = out["amount_minor"].to_numpy(dtype=np.int64)
    sign = np.sign(amount)
    size = np.abs(amount)
    out["amount_minor"] = sign * (size // parts + (nth < size % parts))
    # A part that comes to zero from a quarter that is not (0.02 -> 0.01, 0.01, 0) is no
    # amount for that month; a quarter of 0 is 0 in each month, as typed.
    keep = (out["amount_minor"].to_numpy() != 0) | (amount == 0)
    months = out["month"].to_numpy(dtype=object)
    out["month"] = pd.Series([month_iso(month_number(str(m)) + int(k)) if k else m
                              for m, k in zip(months, nth.tolist(), strict=True)],
                             dtype=object)
    kept: pd.DataFrame = out[keep].reset_index(drop=True)
    return kept


def _shown(minor: int, places: int) -> str:
    return f"{Decimal(minor).scaleb(-places):,.{places}f}"


def check_totals(table: SheetTable, metric_ids: np.ndarray, scenarios: np.ndarray,
                 facts: pd.DataFrame, cols: np.ndarray, rounded: np.ndarray,
                 decimals_by_metric: dict[int, int], scale: Decimal, decimal_mark: str,
                 log: ProblemLog) -> None:
    """Warn about each total column and total row of ``table`` that does not equal what it
    totals. ``facts`` (``pos``, ``month``, ``amount_minor``), ``cols`` (each fact's sheet
    column) and ``rounded`` (each fact was rounded) are the converted month cells;
    ``metric_ids`` and ``scenarios`` are per data row."""
    if table.layout != "wide" or not (table.total_columns or table.total_rows):
        return
    pos = facts["pos"].to_numpy(dtype=np.int64)
    amount = facts["amount_minor"].to_numpy(dtype=np.int64)
    places = np.array([decimals_by_metric.get(int(m), 0) for m in metric_ids], dtype=np.int64)
    if table.total_columns:
        _check_columns(table, places, pos, facts["month"].to_numpy(dtype=object), amount,
                       rounded, scale, decimal_mark, log)
    if table.total_rows:
        _check_rows(table, metric_ids, scenarios, places, pos, cols, amount, rounded, scale,
                    decimal_mark, log)


def _check_columns(table: SheetTable, places: np.ndarray, pos: np.ndarray,
                   month: np.ndarray, amount: np.ndarray, rounded: np.ndarray,
                   scale: Decimal, decimal_mark: str, log: ProblemLog) -> None:
    n = len(table.rows)
    present = set(table.month_columns.values())
    row0 = table.rows["row"].to_numpy(dtype=np.int64)
    for col, total in sorted(table.total_columns.items()):
        if not total.months or not set(total.months) <= present:
            continue  # not every month it totals is on the sheet: cannot be checked
        raw = table.total_values.get(col)
        if raw is None or not len(raw):
            continue
        filled = np.flatnonzero((raw != "") & (raw != None))  # noqa: E711
        if not len(filled):
            continue
        wanted = {m.isoformat() for m in total.months}
        inside = pd.Series(month, dtype=object).isin(wanted).to_numpy()
        sums = np.zeros(n, dtype=np.int64)
        np.add.at(sums, pos[inside], amount[inside])
        slack = np.zeros(n, dtype=np.int64)
        np.add.at(slack, pos[inside], rounded[inside].astype(np.int64))
        got = convert(raw[filled], places[filled], scale, decimal_mark)
        round_total = np.zeros(len(filled), dtype=np.int64)
        round_total[[i for i, _r, _k in got.rounded]] = 1
        first, last = min(total.months), max(total.months)
        bad = {i for i, _v, _e in got.errors}
        for k, p in enumerate(filled.tolist()):
            if not got.present[k]:
                if k in bad:
                    log.warn(table.sheet, cell_ref(int(row0[p]), col),
                             f"{raw[p]!r} in the total column "
                             f"{total.label!r}", "a number (total columns are not imported: "
                             "only checked against their months)")
                continue
            diff = int(got.minor[k]) - int(sums[p])
            if 2 * abs(diff) > int(slack[p]) + int(round_total[k]):
                log.warn(table.sheet, cell_ref(int(row0[p]), col),
                         f"{_shown(int(got.minor[k]), int(places[p]))} in {total.label!r}, "
                         f"but its months {first:%b-%y} to {last:%b-%y} add up to "
                         f"{_shown(int(sums[p]), int(places[p]))}",
                         "a total equal to its months (it is not imported: the months are; "
                         "check the sheet)")


def _check_rows(table: SheetTable, metric_ids: np.ndarray, scenarios: np.ndarray,
                places: np.ndarray, pos: np.ndarray, cols: np.ndarray, amount: np.ndarray,
                rounded: np.ndarray, scale: Decimal, decimal_mark: str,
                log: ProblemLog) -> None:
    row0 = table.rows["row"].to_numpy(dtype=np.int64)
    month_cols = sorted(table.month_columns)
    # Each fact's position among the month columns (-1: not a month column), by lookup.
    cols = np.asarray(cols, dtype=np.int64)
    size = max(max(month_cols, default=0), int(cols.max(initial=0))) + 1
    index = np.full(size, -1, dtype=np.int64)
    index[month_cols] = np.arange(len(month_cols), dtype=np.int64)
    fact_j = index[cols]
    fact_row = row0[pos] if len(pos) else np.zeros(0, dtype=np.int64)
    previous = -1
    for r, label in table.total_rows:
        group = (row0 > previous) & (row0 < r)
        everything = row0 < r
        checked = _check_one_row(table, r, label, group, everything, metric_ids, scenarios,
                                 places, fact_row, fact_j, amount, rounded, row0, month_cols,
                                 scale, decimal_mark, log)
        if checked:
            previous = r


def _check_one_row(table: SheetTable, r: int, label: str, group: np.ndarray,
                   everything: np.ndarray, metric_ids: np.ndarray, scenarios: np.ndarray,
                   places: np.ndarray, fact_row: np.ndarray, fact_j: np.ndarray,
                   amount: np.ndarray, rounded: np.ndarray, row0: np.ndarray,
                   month_cols: list[int], scale: Decimal, decimal_mark: str,
                   log: ProblemLog) -> bool:
    """Check total row ``r`` against the data rows since the previous total row (a
    subtotal) or all rows above it (a grand total). False if it could not be checked."""
    if not group.any():
        group = everything  # a grand total right after a subtotal
    if not group.any():
        return False
    kinds = {(int(m), str(s)) for m, s in zip(metric_ids[everything], scenarios[everything],
                                              strict=True)}
    group_kinds = {(int(m), str(s)) for m, s in zip(metric_ids[group], scenarios[group],
                                                    strict=True)}
    if len(group_kinds) != 1:
        return True  # several metrics or scenarios: a sum of them means nothing
    metric_places = int(places[np.flatnonzero(group)[0]])
    raw = np.array(table.total_row_values.get(r, []), dtype=object)
    filled = np.flatnonzero((raw != "") & (raw != None))  # noqa: E711
    if not len(filled):
        return True
    got = convert(raw[filled], np.full(len(filled), metric_places, dtype=np.int64), scale,
                  decimal_mark)
    round_total = np.zeros(len(filled), dtype=np.int64)
    round_total[[i for i, _r, _k in got.rounded]] = 1
    in_group = np.isin(fact_row, row0[group])
    in_all = np.isin(fact_row, row0[everything]) if len(kinds) == 1 else in_group
    width = len(month_cols)
    sums = _per_column(fact_j, in_group, amount, width)
    alls = _per_column(fact_j, in_all, amount, width)
    slack = _per_column(fact_j, in_group, rounded.astype(np.int64), width)
    slack_all = _per_column(fact_j, in_all, rounded.astype(np.int64), width)
    for k, j in enumerate(filled.tolist()):
        if not got.present[k] or j >= width:
            continue
        total = int(got.minor[k])
        own = int(round_total[k])
        if 2 * abs(total - int(sums[j])) <= int(slack[j]) + own or \
                2 * abs(total - int(alls[j])) <= int(slack_all[j]) + own:
            continue
        log.warn(table.sheet, cell_ref(r, month_cols[j]),
                 f"{_shown(total, metric_places)} in the total row {label!r}, but the rows "
                 f"above add up to {_shown(int(sums[j]), metric_places)}",
                 "a total equal to the rows it totals (it is not imported: the rows are; "
                 "check the sheet)")
    return True


def _per_column(fact_j: np.ndarray, mask: np.ndarray, values: np.ndarray,
                width: int) -> np.ndarray:
    out = np.zeros(width, dtype=np.int64)
    keep = mask & (fact_j >= 0)
    np.add.at(out, fact_j[keep], values[keep])
    return out
