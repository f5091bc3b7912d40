"""Workbooks in: initiative and target workbooks imported into the ledger.

``import_initiatives`` and ``import_targets`` read .xlsx/.xlsm files (the canonical template
or a real-world layout described by a mapping file), report every problem with its cell,
and write all or nothing. See docs/importing.md.
"""

from __future__ import annotations

from importers.api import ImportResult, import_initiatives, import_targets
from importers.problems import ImportProblems, Problem

__all__ = ["ImportProblems", "ImportResult", "Problem", "import_initiatives", "import_targets"]
