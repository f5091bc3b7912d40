"""month_close: the months finance closed (``tledger programme close``)

The programme's last closed month is the newest row valid at an instant: closed months'
outturn is their actuals, open months' their forecast (see ``ledger.finance``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 19:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'month_close',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('created_submission_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'],
                                name=op.f('fk_month_close_created_submission_id_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_month_close')),
    )
    op.create_index(op.f('ix_month_close_created_submission_id'), 'month_close',
                    ['created_submission_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_month_close_created_submission_id'), table_name='month_close')
    op.drop_table('month_close')
