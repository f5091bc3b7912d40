"""code collisions: refuse to upgrade a ledger whose codes Excel would match as one

From this revision on, unit, lever, metric and initiative codes are unique regardless of
case, and unit, lever and metric codes never read as numbers (see :mod:`ledger.codes`).
A ledger that already holds such codes is not upgraded: the migration lists them and
stops, merging or renaming nothing. No table changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 19:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.codes import CODED_TABLES, code_collisions, numeric_value
from ledger.errors import LedgerError

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def collisions(conn: sa.Connection) -> list[str]:
    """One line per group of colliding codes, and per number-like unit, lever or metric."""
    lines: list[str] = []
    for table, column, what in CODED_TABLES:
        codes = [str(c) for c in conn.execute(sa.text(f"SELECT {column} FROM {table}")).scalars()]  # noqa: S608  (constant table and column names)
        matched_in_report = table != "initiative"
        lines += [f"{what}: {', '.join(map(repr, group))}"
                  for group in code_collisions(codes, numeric=matched_in_report)]
        if matched_in_report:
            lines += [f"{what}: {code!r} reads as a number" for code in codes
                      if numeric_value(code) is not None]
    return lines


def upgrade() -> None:
    found = collisions(op.get_bind())
    if found:
        raise LedgerError(
            "cannot upgrade, nothing was changed: these codes are one code to Excel (equal "
            "but for case, or the same number) and the gap report could not tie; correct "
            "them in the database (tledger has no rename command yet), then run `tledger db "
            "upgrade` again: " + "; ".join(found))


def downgrade() -> None:
    pass
