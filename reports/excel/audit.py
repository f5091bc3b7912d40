"""The self-audit: before a byte is written, every bottom-up cell is recomputed the way
``SUMIFS`` will recompute it and compared with the engine's figure."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from ledger.money import to_minor
from reports.excel.figures import Figures, as_decimal
from reports.excel.formulas import needs_exact
from reports.excel.inputs import UNALLOCATED, ReportInput, ReportMismatch

#: Mismatches quoted in the error (the first few say enough to find the bug).
_MAX_QUOTED = 5


def verify(data: ReportInput) -> None:
    """Recompute every bottom-up cell the way SUMIFS will and compare with the engine.

    SUMIFS matches text case-insensitively and an empty criterion matches empty cells, so
    the detail is grouped the same way here.

    Raises:
        ReportMismatch: a cell would not recalculate to the engine's figure.
    """
    detail = data.detail
    decimals = data.metric.decimals
    metric_rows = (detail.attributes["metric"].astype(str).str.casefold()
                   == data.metric.code.casefold()).to_numpy()
    months = detail.months
    problems: list[str] = []

    def compare(label: str, part: str, mask: np.ndarray, figures: Figures) -> None:
        sums = detail.amounts[mask].sum(axis=0) if mask.any() else np.zeros(len(months),
                                                                              dtype=np.int64)
        for pos, month in enumerate(months):
            rec = figures.monthly.get((part, month))
            engine = 0 if rec is None else to_minor(as_decimal(rec["bottom_up"]) or
                                                    Decimal(0), decimals)
            if int(sums[pos]) != engine and len(problems) < _MAX_QUOTED:
                problems.append(f"{label} {part} {month:%Y-%m}: detail sums to "
                                f"{int(sums[pos])} minor units, engine says {engine}")

    summary = Figures(data.summary)
    for part in summary.parts:
        compare("Summary", part, metric_rows, summary)
    for breakdown in data.breakdowns:
        figures = Figures(breakdown.report)
        column = detail.attributes[breakdown.column]
        texts = column.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                           else str(v))
        keys = texts.map(lambda v: v.casefold() if isinstance(v, str) else None)
        exact = needs_exact(p for p in figures.parts if p != UNALLOCATED)
        for part in figures.parts:
            if part == UNALLOCATED:
                matches = keys.isna().to_numpy()
            elif part in exact:  # SUMPRODUCT(EXACT(...)): the text as it is
                matches = (texts == part).to_numpy()
            else:  # SUMIFS: ignoring case
                matches = (keys == part.casefold()).to_numpy()
            compare(breakdown.sheet, part, metric_rows & matches, figures)
    if problems:
        raise ReportMismatch("the report would not tie to the engine, nothing written: "
                             + "; ".join(problems))
