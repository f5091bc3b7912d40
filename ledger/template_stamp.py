"""What a pre-filled initiatives template records about the ledger it was exported from,
shared by the writer (``reports.templates``) and the importer (``importers.stale``).

Two custom document properties (``docProps/custom.xml``), which Excel and LibreOffice keep
when the file is saved: the ledger's id and the submission the template shows the ledger as
of. An import of the file, or of a copy, compares the ledger's changes since that
submission with what the file would overwrite.
"""

from __future__ import annotations

#: The id of the ledger the template was exported from (``ledger_identity.ledger_id``).
LEDGER_PROPERTY = "tledger_ledger_id"
#: The submission the template's pre-filled values are as of.
BASE_PROPERTY = "tledger_based_on"


def stamp_properties(ledger_id: str, based_on: int) -> dict[str, str]:
    """The custom document properties of a template pre-filled as of ``based_on``."""
    return {LEDGER_PROPERTY: ledger_id, BASE_PROPERTY: str(int(based_on))}
