"""baselines and ratio metrics: the do-nothing trajectory per metric, scope and month
(with recorded actuals and an optional driver flex), and unit-cost metrics defined as a
numerator over a denominator (issue 18; docs/baselines.md)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = 9_223_372_036_854_775_807


def upgrade() -> None:
    op.create_table(
        'metric_ratio',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('metric_id', sa.Integer(), nullable=False),
        sa.Column('numerator_metric_id', sa.Integer(), nullable=False),
        sa.Column('denominator_metric_id', sa.Integer(), nullable=False),
        sa.Column('created_submission_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['metric_id'], ['metric.id'],
                                name=op.f('fk_metric_ratio_metric_id_metric')),
        sa.ForeignKeyConstraint(['numerator_metric_id'], ['metric.id'],
                                name=op.f('fk_metric_ratio_numerator_metric_id_metric')),
        sa.ForeignKeyConstraint(['denominator_metric_id'], ['metric.id'],
                                name=op.f('fk_metric_ratio_denominator_metric_id_metric')),
        sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'],
                                name=op.f('fk_metric_ratio_created_submission_id_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_ratio')),
        sa.UniqueConstraint('metric_id', name=op.f('uq_metric_ratio_metric_id')),
    )
    op.create_table(
        'baseline',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('metric_id', sa.Integer(), nullable=False),
        sa.Column('series', sa.String(length=8), nullable=False),
        sa.Column('scope_kind', sa.String(length=16), nullable=False),
        sa.Column('scope_code', sa.String(length=40), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('driver_metric_id', sa.Integer(), nullable=True),
        sa.Column('rate_micro', sa.BigInteger(), nullable=True),
        sa.Column('valid_from', sa.Integer(), nullable=False),
        sa.Column('valid_to', sa.BigInteger(), nullable=False),
        sa.CheckConstraint("scope_kind IN ('programme', 'business_unit', 'lever')",
                           name=op.f('ck_baseline_scope_kind')),
        sa.CheckConstraint("series IN ('baseline', 'actual')", name=op.f('ck_baseline_series')),
        sa.CheckConstraint('(driver_metric_id IS NULL) = (rate_micro IS NULL)',
                           name=op.f('ck_baseline_driver')),
        sa.ForeignKeyConstraint(['metric_id'], ['metric.id'],
                                name=op.f('fk_baseline_metric_id_metric')),
        sa.ForeignKeyConstraint(['driver_metric_id'], ['metric.id'],
                                name=op.f('fk_baseline_driver_metric_id_metric')),
        sa.ForeignKeyConstraint(['valid_from'], ['submission.id'],
                                name=op.f('fk_baseline_valid_from_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline')),
    )
    op.create_index('ix_baseline_scan', 'baseline',
                    ['metric_id', 'valid_to', 'valid_from', 'series', 'scope_kind',
                     'scope_code', 'month'])
    op.create_index('ix_baseline_valid_from', 'baseline', ['valid_from'])
    op.create_index('uq_baseline_one_current', 'baseline',
                    ['metric_id', 'series', 'scope_kind', 'scope_code', 'month'], unique=True,
                    sqlite_where=sa.text(f'valid_to = {OPEN}'),
                    postgresql_where=sa.text(f'valid_to = {OPEN}'))


def downgrade() -> None:
    op.drop_index('uq_baseline_one_current', table_name='baseline')
    op.drop_index('ix_baseline_valid_from', table_name='baseline')
    op.drop_index('ix_baseline_scan', table_name='baseline')
    op.drop_table('baseline')
    op.drop_table('metric_ratio')
