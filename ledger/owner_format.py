"""The owner workbook's file format, shared by its writer and its reader.

The writer (:mod:`reports.owner_workbook`) and the reader (:mod:`importers.owner`) must
agree on sheet names, header positions, column order and the stamp; they both take them
from here, so neither imports the other.
"""

from __future__ import annotations

STAMP_SHEET = "_tledger"
STAMP_FORMAT = "tledger-owner-workbook/1"
DATA_SHEET = "Initiatives"
HEADER_ROW = 4  # 1-based, as in docs/workbook-format.md
FIRST_DATA_ROW = 5
FIXED_HEADERS = ["ID", "Name", "Owner", "Business unit", "Lever", "Stage", "Description",
                 "Metric", "Scenario"]
#: Columns of the per-initiative table in the stamp sheet.
STAMP_COLUMNS = ["external_id", "initiative_id", "phasing_version", "attributes_version", "row"]
#: Largest magnitude a month cell's validation accepts (beyond any real amount, within the
#: 15 significant digits a spreadsheet keeps exactly).
MAX_CELL = 10**12
