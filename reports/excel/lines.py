"""The lines the Summary and the breakdown sheets share (target, bottom-up, gap and
coverage), written across the month and subtotal columns for one part."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xlsxwriter.worksheet import Worksheet

from reports.excel.columns import Column
from reports.excel.figures import Figures, coverage_value, num
from reports.excel.formulas import coverage, difference, sum_cells
from reports.excel.layout import Formats


@dataclass
class PartLines:
    """Writes one part's lines on ``sheet``; each cell caches the engine's figure."""

    sheet: Worksheet
    fmt: Formats
    cols: Sequence[Column]
    figures: Figures
    part: str
    month_pos: dict[int, int] = field(init=False)
    """Column index -> position among the month columns (the Initiatives month it sums)."""

    def __post_init__(self) -> None:
        month_cols = [col for col in self.cols if col.kind == "month"]
        self.month_pos = {col.index: pos for pos, col in enumerate(month_cols)}

    def value(self, col: Column, key: str) -> float:
        return num(self.figures.get(self.part, col, key))

    def target(self, row: int) -> None:
        """Targets are inputs in month columns; subtotals sum them."""
        for col in self.cols:
            if col.kind == "month":
                self.sheet.write_number(row, col.index, self.value(col, "target"),
                                        self.fmt.amount_in(col))
            else:
                self.sheet.write_formula(row, col.index, sum_cells(row, col.members),
                                         self.fmt.amount_in(col), self.value(col, "target"))

    def bottom_up(self, row: int, sumifs: Callable[[int], str]) -> None:
        """Month cells are ``sumifs(month position)`` over Initiatives; subtotals sum them."""
        for col in self.cols:
            if col.kind == "month":
                formula = sumifs(self.month_pos[col.index])
            else:
                formula = sum_cells(row, col.members)
            self.sheet.write_formula(row, col.index, formula, self.fmt.amount_in(col),
                                     self.value(col, "bottom_up"))

    def gap(self, row: int, target_row: int, bottom_up_row: int) -> None:
        for col in self.cols:
            self.sheet.write_formula(row, col.index,
                                     difference(target_row, bottom_up_row, col.index),
                                     self.fmt.amount_in(col), self.value(col, "gap"))

    def coverage(self, row: int, target_row: int, bottom_up_row: int) -> None:
        for col in self.cols:
            self.sheet.write_formula(
                row, col.index, coverage(target_row, bottom_up_row, col.index),
                self.fmt.pct_in(col),
                coverage_value(self.figures.get(self.part, col, "bottom_up"),
                               self.figures.get(self.part, col, "target")))
