"""submission.content_hash and chain_hash: the history's hash chain

Every submission gets a SHA-256 over its own row and the history rows it wrote or closed,
and a chain hash linking it to the submission before (see ``ledger.chain``);
``chain_verification`` records each full verification (``tledger verify``). Existing
ledgers are sealed here, oldest submission first, from what they hold now: the chain
vouches for the history from this upgrade on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.models import UTCDateTime

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ adds and drops columns in place): a batch copy of
    # submission would trip the foreign keys that every history table holds to it.
    for column in ('rows_hash', 'content_hash', 'chain_hash'):
        op.add_column('submission', sa.Column(column, sa.String(length=64), nullable=True))
    op.create_table(
        'chain_verification',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('verified_at', UTCDateTime(), nullable=False),
        sa.Column('through_submission_id', sa.Integer(), nullable=True),
        sa.Column('head_hash', sa.String(length=64), nullable=True),
        sa.Column('problem', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_verification')),
    )
    from ledger.chain import seal_all

    seal_all(op.get_bind())


def downgrade() -> None:
    op.drop_table('chain_verification')
    for column in ('chain_hash', 'content_hash', 'rows_hash'):
        op.drop_column('submission', column)
