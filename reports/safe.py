"""Writing text from the ledger into spreadsheets without it ever becoming a formula.

Names, owners, notes and descriptions come from workbooks people typed. A name such as
``=HYPERLINK("http://evil","click")`` or ``+cmd|' /C calc'!A0`` must reach the next
workbook as the same text, never as a live formula. The rules:

* **xlsx**: write text with an explicit string cell type: :func:`write_text` for
  XlsxWriter, :func:`set_text` for openpyxl. The text is kept exactly (no quote prefix),
  and a spreadsheet shows it as text because the cell *is* a string.
* **CSV**: there is no cell type, so a value that a spreadsheet would evaluate is prefixed
  with an apostrophe by :func:`csv_text` (the OWASP "CSV injection" advice).

Every helper first normalises the value with :func:`safe_text`.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "FORMULA_TRIGGERS",
    "MAX_CELL_TEXT",
    "csv_text",
    "looks_like_formula",
    "safe_text",
    "set_text",
    "write_text",
]

#: First characters that make a spreadsheet read typed text as a formula (or DDE call).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d",
                    "\uff20")
#: Excel's limit on the characters in one cell.
MAX_CELL_TEXT = 32767

# Characters XML 1.0 cannot carry (openpyxl refuses them; Excel reports a corrupt file).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def safe_text(value: Any) -> str:
    """``value`` as text fit for a cell: None is ``""``, characters XML cannot hold are
    dropped, and the text is cut to Excel's 32,767 characters.

    The result still starts with whatever it started with: write it with
    :func:`write_text` / :func:`set_text` (string cells) or :func:`csv_text`.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _ILLEGAL_XML.sub("", text)
    return text[:MAX_CELL_TEXT]


def looks_like_formula(value: Any) -> bool:
    """True when a spreadsheet would evaluate ``value`` typed into a cell as-is."""
    text = safe_text(value)
    return text.startswith(FORMULA_TRIGGERS)


def write_text(worksheet: Any, row: int, col: int, value: Any, cell_format: Any = None) -> None:
    """Write ``value`` as a string cell with XlsxWriter (0-based ``row``, ``col``).

    ``write_string`` stores a shared string whatever the text looks like; never use
    ``worksheet.write`` for ledger text (it turns ``=...`` into a formula by default).
    """
    worksheet.write_string(row, col, safe_text(value), cell_format)


def set_text(cell: Any, value: Any) -> None:
    """Put ``value`` in an openpyxl cell as a string, even if it starts with ``=``.

    openpyxl marks any value starting with ``=`` as a formula on assignment; resetting
    ``data_type`` to ``"s"`` makes the writer store it as text.
    """
    cell.value = safe_text(value)
    cell.data_type = "s"


def csv_text(value: Any) -> str:
    """``value`` for a CSV cell: prefixed with ``'`` when a spreadsheet would evaluate it.

    For text columns only (names, owners, notes): amounts are written as plain numbers,
    where a leading minus is meant.
    """
    text = safe_text(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
