"""The two XlsxWriter internals tledger relies on, in one place, pinned and canary-tested.

XlsxWriter's public API has no way to (1) learn the style index a format will carry in
the file, which :mod:`reports.sheetxml` needs to stream rows as raw SpreadsheetML, (2)
skip the regular-expression rewrites it applies to every formula, a large share of the gap
report's write time (figures: docs/benchmarks.md), or (3) give a chart series its cached
values in ``constant_memory`` mode, where XlsxWriter cannot read them back from the sheet
(a chart without them is blank in a viewer that does not recalculate, e.g. a mail
preview). All go through this module only.
``pyproject.toml`` pins XlsxWriter to the range these were checked against, and
``tests/test_xlsxwriter_canary.py`` fails loudly if an upgrade changes either behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

__all__ = ["cached_series", "style_index", "write_formulas_verbatim"]


def style_index(fmt: Format) -> int:
    """The ``s`` attribute XlsxWriter writes for cells in ``fmt`` (registering it now, so
    the workbook's styles part includes it)."""
    return int(fmt._get_xf_index())


def write_formulas_verbatim(ws: Worksheet) -> bool:
    """Make ``ws`` write formulas as given (minus the leading ``=``), without the ``_xlfn.``
    prefix rewrites; only for sheets whose formulas use functions that need no prefix
    (SUM, SUMIF(S), IF, MIN, MAX, ROUND, AND).

    Returns False (and changes nothing) on an XlsxWriter without the hook.
    """
    if not hasattr(ws, "_prepare_formula"):
        return False

    def prepare(formula: str, expand_future_functions: bool = False) -> str:
        return formula[1:] if formula.startswith("=") else formula

    ws._prepare_formula = prepare
    return True


def cached_series(options: dict[str, Any], values: Sequence[float],
                  categories: Sequence[float | str] | None = None) -> dict[str, Any]:
    """``options`` for ``chart.add_series`` plus the series' cached values (and categories):
    XlsxWriter's ``values_data`` / ``categories_data``, written as the chart's numCache /
    strCache instead of the (unreadable, flushed) cells."""
    out = dict(options)
    out["values_data"] = list(values)
    if categories is not None:
        out["categories_data"] = list(categories)
    return out
