"""The importers' public face: what callers import, gathered from the modules that own it.

- :mod:`importers.initiatives`: :func:`import_initiatives` (and its three phases).
- :mod:`importers.targets`: :func:`import_targets`.
- :mod:`importers.reading`: reading a file, recognising one imported before.
- :mod:`importers.results`: what an import reports (data only: the interface words it).
- :mod:`ledger.bulkload`: how a large batch of facts is written (storage).
"""

from __future__ import annotations

from importers.command import MODES
from importers.initiatives import PREFETCH_MIN_FACTS, import_initiatives
from importers.reading import ImportParams, ParsedFile, read_file
from importers.results import FileOutcome, ImportResult
from importers.targets import import_targets
from ledger.bulkload import BULK_INDEX_THRESHOLD

__all__ = [
    "BULK_INDEX_THRESHOLD",
    "MODES",
    "PREFETCH_MIN_FACTS",
    "FileOutcome",
    "ImportParams",
    "ImportResult",
    "ParsedFile",
    "import_initiatives",
    "import_targets",
    "read_file",
]
