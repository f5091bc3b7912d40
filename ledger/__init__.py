"""tledger: a transformation target ledger and reconciliation engine.

What flows through the package: the storage layer (``ledger.db``, ``ledger.models``,
``ledger.store``) loads and saves programmes, reference data, initiatives, phasing and
targets as append-only history; ``ledger.money`` and ``ledger.months`` are pure helpers
for exact amounts and month arithmetic; the CLI (``tledger.cli``) is a thin layer over them.
"""

from __future__ import annotations

__version__ = "0.1.0"
