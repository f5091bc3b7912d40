"""submission: content digest of an imported workbook

Two nullable columns on ``submission``: ``content_parts`` (indexed; SHA-256 of the names,
sizes and CRC-32s of the workbook's parts under ``xl/``) and ``content_sha256`` (SHA-256 of
those parts' bytes). An import finds an earlier import of the same content, in a file whose
bytes differ only in its package metadata, without reading a cell. Existing submissions
keep NULL: their files are recognised by ``source_sha256`` as before.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_parts', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('content_sha256', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_submission_content_parts'), ['content_parts'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_content_parts'))
        batch_op.drop_column('content_sha256')
        batch_op.drop_column('content_parts')
