"""gl_actual: general-ledger actual lines as imported (``tledger import actuals``), for the
reconciliation of claimed savings to the P&L (issue 18; docs/reconciliation.md)

Append-only: every line is tied to the import that wrote it; a later extract with lines in
a month replaces that month's lines (the newest submission with lines in a month wins, as
of any instant), so nothing is ever updated.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 21:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'gl_actual',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('business_unit_id', sa.Integer(), nullable=False),
        sa.Column('metric_id', sa.Integer(), nullable=False),
        sa.Column('pnl_kind', sa.String(length=8), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('cost_centre', sa.String(length=120), nullable=False),
        sa.Column('account', sa.String(length=200), nullable=False),
        sa.Column('created_submission_id', sa.Integer(), nullable=False),
        sa.CheckConstraint("pnl_kind IN ('cost', 'income')", name=op.f('ck_gl_actual_pnl_kind')),
        sa.ForeignKeyConstraint(['business_unit_id'], ['business_unit.id'],
                                name=op.f('fk_gl_actual_business_unit_id_business_unit')),
        sa.ForeignKeyConstraint(['metric_id'], ['metric.id'],
                                name=op.f('fk_gl_actual_metric_id_metric')),
        sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'],
                                name=op.f('fk_gl_actual_created_submission_id_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gl_actual')),
    )
    op.create_index('ix_gl_actual_month_sub', 'gl_actual', ['month', 'created_submission_id'])
    op.create_index(op.f('ix_gl_actual_created_submission_id'), 'gl_actual',
                    ['created_submission_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_gl_actual_created_submission_id'), table_name='gl_actual')
    op.drop_index('ix_gl_actual_month_sub', table_name='gl_actual')
    op.drop_table('gl_actual')
