"""Formula cells in text columns: a name, an owner, a code or a comment that is a formula.

A comment typed as ``=owner to confirm timing`` becomes a formula; Excel saves a value for
it (0, or an error) that is not what the person wrote. Its saved value is taken when it is
text (calamine reads it); otherwise the cell is read as empty, with a warning naming the
cell, the formula and the value saved, so a "0" never lands in the ledger silently.
"""

from __future__ import annotations

from importers.layout import SheetTable, cell_ref
from importers.problems import ProblemLog
from importers.workbook import CellDetails, formula_and_value

#: Columns read as text (their cells become attributes, codes or notes).
TEXT_ROLES = ("name", "owner", "business_unit", "lever", "stage", "description", "note",
              "metric", "scenario")


def check_text_formulas(details: CellDetails, table: SheetTable, log: ProblemLog) -> None:
    """Warn about, and empty, every cell of a text column that holds a formula whose saved
    value is not text, or no saved value at all (such a cell is taken out of
    ``details.no_cached_value``: it is this warning, not an error)."""
    if not (details.formula_values or details.no_cached_value or details.error_values) \
            or not len(table.rows):
        return
    text_cols = {col: role for role, col in table.columns.items() if role in TEXT_ROLES}
    if not text_cols:
        return
    pos_of = {int(r): i for i, r in enumerate(table.rows["row"].tolist())}
    emptied: dict[str, list[int]] = {}
    for row, col in sorted(details.no_cached_value):
        role = text_cols.get(col)
        pos = pos_of.get(row)
        if role is None or pos is None:
            continue
        details.no_cached_value.discard((row, col))
        header = table.headers.get(col)
        column = f", column {header!r}" if header else ""
        log.warn(table.sheet, cell_ref(row, col), f"a formula without a saved value{column}",
                 "text: the cell is read as empty (type the text, or open the workbook in "
                 "Excel or LibreOffice and save it)")
        emptied.setdefault(role, []).append(pos)
    for (row, col), body in sorted(details.formula_values.items()):
        role = text_cols.get(col)
        pos = pos_of.get(row)
        if role is None or pos is None:
            continue
        formula, saved = formula_and_value(body)
        details.error_values.pop((row, col), None)  # this warning, not an error
        shown = formula or "a formula"
        header = table.headers.get(col)
        column = f", column {header!r}" if header else ""
        log.warn(table.sheet, cell_ref(row, col),
                 f"{shown[:80]} (a formula{column}) whose saved value is {saved or 'empty'!r}, "
                 "not text",
                 "text: the cell is read as empty (type the text without the leading '=', or "
                 "put an apostrophe before it)")
        emptied.setdefault(role, []).append(pos)
    for role, positions in emptied.items():
        values = table.rows[role].to_numpy(dtype=object, copy=True)
        values[positions] = None
        table.rows[role] = values

