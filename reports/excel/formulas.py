"""Formula text: cell references, sums, and the SUMIFS over the Initiatives sheet that
every bottom-up cell is."""

from __future__ import annotations

from collections.abc import Iterable

from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from reports.excel.inputs import DETAIL_ATTRS, DetailTable
from reports.excel.layout import FIRST_DATA_ROW


def cell(row: int, col: int, absolute: bool = False) -> str:
    # XlsxWriter is untyped; the name is a str.
    name: str = xl_rowcol_to_cell(row, col, row_abs=absolute, col_abs=absolute)
    return name


def criterion(code: str | None) -> str:
    """A SUMIFS criterion matching exactly ``code`` (or an empty cell for None), as a
    formula string literal: ``"=PRO"``. Wildcards in the code are escaped with ``~``."""
    if code is None:
        return '"="'
    escaped = code.replace("~", "~~").replace("*", "~*").replace("?", "~?")
    return '"=' + escaped.replace('"', '""') + '"'


def literal_of(text: str) -> str:
    """``text`` as a formula string literal."""
    return '"' + text.replace('"', '""') + '"'


def needs_exact(parts: Iterable[str]) -> set[str]:
    """The parts SUMIFS cannot tell apart from another (equal ignoring case) or would
    read as a number (``01``, ``1E3``): they are matched by exact text. So are parts that
    start like a formula (an owner ``=cmd|...``): matched against their own label cell,
    their text never goes into a formula."""
    from ledger.codes import numeric_value
    from reports.safe import looks_like_formula

    folded: dict[str, list[str]] = {}
    for part in parts:
        folded.setdefault(part.casefold(), []).append(part)
    return {p for group in folded.values() for p in group
            if len(group) > 1 or numeric_value(p) is not None or looks_like_formula(p)}


def sum_cells(row: int, cols: Iterable[int]) -> str:
    """``=SUM(B5:M5)`` for a contiguous run of columns, else ``=SUM(B5,O5,...)``."""
    indices = list(cols)
    if not indices:
        return "=0"
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"=SUM({cell(row, indices[0])}:{cell(row, indices[-1])})"
    return "=SUM(" + ",".join(cell(row, col) for col in indices) + ")"


def difference(row_a: int, row_b: int, col: int) -> str:
    """``=B5-B6``: the cell in ``row_a`` minus the one in ``row_b``, same column."""
    return f"={cell(row_a, col)}-{cell(row_b, col)}"


def coverage(target_row: int, bottom_up_row: int, col: int) -> str:
    """Bottom-up over target, blank where the target is zero."""
    target, bottom_up = cell(target_row, col), cell(bottom_up_row, col)
    return f'=IF({target}=0,"",{bottom_up}/{target})'


class DetailRefs:
    """Ranges of the Initiatives sheet that the SUMIFS formulas read."""

    def __init__(self, detail: DetailTable) -> None:
        self.first_row = FIRST_DATA_ROW
        self.last_row = FIRST_DATA_ROW + max(len(detail), 1) - 1
        self.attr_col = {name: i for i, (name, _h, _w) in enumerate(DETAIL_ATTRS)}
        self.first_month_col = len(DETAIL_ATTRS) + (1 if "weight" in detail.attributes
                                                    else 0)

    def column(self, col: int) -> str:
        name = xl_col_to_name(col)
        return f"Initiatives!${name}${self.first_row + 1}:${name}${self.last_row + 1}"

    def month(self, month_pos: int) -> str:
        return self.column(self.first_month_col + month_pos)

    def attr(self, name: str) -> str:
        return self.column(self.attr_col[name])

    def sumifs(self, month_pos: int, metric: str, part_column: str | None = None,
               part: str | None = None, unallocated: bool = False,
               exact: bool = False, part_ref: str | None = None) -> str:
        """The month's sum over Initiatives for ``metric`` (and ``part`` of
        ``part_column``). SUMIFS matches text ignoring case and reads a number-like
        criterion as a number; ``exact`` matches the part by exact text instead
        (``SUMPRODUCT(EXACT(...))``), for parts such as owners ``Ann`` and ``ann`` or
        ``01`` and ``1`` that SUMIFS would add together; with ``part_ref`` (the cell
        holding the part's text) against that cell, not a copy of the text."""
        if exact and part_column is not None and part is not None and not unallocated:
            literal = part_ref or '"' + part.replace('"', '""') + '"'
            return (f"=SUMPRODUCT(EXACT({self.attr(part_column)},{literal})"
                    f"*({self.attr('metric')}={literal_of(metric)}),{self.month(month_pos)})")
        formula = f"SUMIFS({self.month(month_pos)},{self.attr('metric')},{criterion(metric)}"
        if part_column is not None:
            formula += f",{self.attr(part_column)},{criterion(None if unallocated else part)}"
        return "=" + formula + ")"
