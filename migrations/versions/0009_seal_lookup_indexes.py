"""seal lookup indexes: the rows a submission wrote to initiative and initiative_version

Sealing a submission (``ledger.chain.seal``, inside the write lock) looks up the rows it
wrote in every history table by the column naming it. ``initiative.created_submission_id``
and ``initiative_version.valid_from`` had no index, so each seal scanned both tables (two
sequential scans per web save on a ledger of 10,000 initiatives).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 19:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.create_index('ix_initiative_created_submission_id', ['created_submission_id'],
                              unique=False)
    with op.batch_alter_table('initiative_version', schema=None) as batch_op:
        batch_op.create_index('ix_initiative_version_valid_from', ['valid_from'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('initiative_version', schema=None) as batch_op:
        batch_op.drop_index('ix_initiative_version_valid_from')
    with op.batch_alter_table('initiative', schema=None) as batch_op:
        batch_op.drop_index('ix_initiative_created_submission_id')
