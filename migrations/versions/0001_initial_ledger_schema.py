"""initial ledger schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 22:08:37.123373
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledger.models

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stage_gate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('ordinal', sa.SmallInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_gate')),
    sa.UniqueConstraint('code', name=op.f('uq_stage_gate_code')),
    sa.UniqueConstraint('ordinal', name=op.f('uq_stage_gate_ordinal'))
    )
    op.create_table('submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('user', sa.String(length=200), nullable=False),
    sa.Column('created_at', ledger.models.UTCDateTime(), nullable=False),
    sa.Column('source_name', sa.String(length=500), nullable=True),
    sa.Column('source_sha256', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('setup', 'reference', 'import', 'edit', 'target', 'stage')", name=op.f('ck_submission_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission'))
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_submission_source_sha256'), ['source_sha256'], unique=False)

    op.create_table('business_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_submission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'], name=op.f('fk_business_unit_created_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_unit')),
    sa.UniqueConstraint('code', name=op.f('uq_business_unit_code'))
    )
    op.create_table('initiative',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('created_submission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'], name=op.f('fk_initiative_created_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_initiative')),
    sa.UniqueConstraint('external_id', name=op.f('uq_initiative_external_id'))
    )
    op.create_table('lever',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_submission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'], name=op.f('fk_lever_created_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lever')),
    sa.UniqueConstraint('code', name=op.f('uq_lever_code'))
    )
    op.create_table('metric',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('decimals', sa.SmallInteger(), nullable=False),
    sa.Column('created_submission_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('benefit', 'cost')", name=op.f('ck_metric_kind')),
    sa.CheckConstraint('decimals BETWEEN 0 AND 6', name=op.f('ck_metric_decimals')),
    sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'], name=op.f('fk_metric_created_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric')),
    sa.UniqueConstraint('code', name=op.f('uq_metric_code'))
    )
    op.create_table('programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('fy_start_month', sa.SmallInteger(), nullable=False),
    sa.Column('first_month', sa.Date(), nullable=False),
    sa.Column('last_month', sa.Date(), nullable=False),
    sa.Column('created_submission_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('first_month <= last_month', name=op.f('ck_programme_horizon')),
    sa.CheckConstraint('fy_start_month BETWEEN 1 AND 12', name=op.f('ck_programme_fy_start_month')),
    sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'], name=op.f('fk_programme_created_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme'))
    )
    op.create_table('stage_weight',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stage_gate_id', sa.Integer(), nullable=False),
    sa.Column('weight_bp', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Integer(), nullable=False),
    sa.Column('valid_to', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('weight_bp BETWEEN 0 AND 10000', name=op.f('ck_stage_weight_weight_bp')),
    sa.ForeignKeyConstraint(['stage_gate_id'], ['stage_gate.id'], name=op.f('fk_stage_weight_stage_gate_id_stage_gate')),
    sa.ForeignKeyConstraint(['valid_from'], ['submission.id'], name=op.f('fk_stage_weight_valid_from_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_weight'))
    )
    with op.batch_alter_table('stage_weight', schema=None) as batch_op:
        batch_op.create_index('ix_stage_weight_current', ['stage_gate_id', 'valid_to'], unique=False)

    op.create_table('initiative_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('business_unit_id', sa.Integer(), nullable=True),
    sa.Column('lever_id', sa.Integer(), nullable=True),
    sa.Column('stage_gate_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('valid_from', sa.Integer(), nullable=False),
    sa.Column('valid_to', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'withdrawn')", name=op.f('ck_initiative_version_status')),
    sa.ForeignKeyConstraint(['business_unit_id'], ['business_unit.id'], name=op.f('fk_initiative_version_business_unit_id_business_unit')),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_initiative_version_initiative_id_initiative')),
    sa.ForeignKeyConstraint(['lever_id'], ['lever.id'], name=op.f('fk_initiative_version_lever_id_lever')),
    sa.ForeignKeyConstraint(['stage_gate_id'], ['stage_gate.id'], name=op.f('fk_initiative_version_stage_gate_id_stage_gate')),
    sa.ForeignKeyConstraint(['valid_from'], ['submission.id'], name=op.f('fk_initiative_version_valid_from_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_initiative_version'))
    )
    with op.batch_alter_table('initiative_version', schema=None) as batch_op:
        batch_op.create_index('ix_initiative_version_current', ['valid_to', 'initiative_id'], unique=False)
        batch_op.create_index('uq_initiative_version_one_current', ['initiative_id'], unique=True, sqlite_where=sa.text('valid_to = 9223372036854775807'), postgresql_where=sa.text('valid_to = 9223372036854775807'))

    op.create_table('phasing',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('metric_id', sa.Integer(), nullable=False),
    sa.Column('scenario', sa.String(length=8), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Integer(), nullable=False),
    sa.Column('valid_to', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("scenario IN ('plan', 'forecast', 'actual')", name=op.f('ck_phasing_scenario')),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'], name=op.f('fk_phasing_initiative_id_initiative')),
    sa.ForeignKeyConstraint(['metric_id'], ['metric.id'], name=op.f('fk_phasing_metric_id_metric')),
    sa.ForeignKeyConstraint(['valid_from'], ['submission.id'], name=op.f('fk_phasing_valid_from_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phasing'))
    )
    with op.batch_alter_table('phasing', schema=None) as batch_op:
        batch_op.create_index('ix_phasing_initiative', ['initiative_id', 'metric_id', 'scenario', 'month'], unique=False)
        batch_op.create_index('ix_phasing_scan', ['metric_id', 'scenario', 'valid_to', 'valid_from', 'month', 'initiative_id', 'amount_minor'], unique=False)
        batch_op.create_index('ix_phasing_valid_from', ['valid_from'], unique=False)
        batch_op.create_index('uq_phasing_one_current', ['initiative_id', 'metric_id', 'scenario', 'month'], unique=True, sqlite_where=sa.text('valid_to = 9223372036854775807'), postgresql_where=sa.text('valid_to = 9223372036854775807'))

    op.create_table('target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('metric_id', sa.Integer(), nullable=False),
    sa.Column('scope_kind', sa.String(length=16), nullable=False),
    sa.Column('scope_code', sa.String(length=40), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Integer(), nullable=False),
    sa.Column('valid_to', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("scope_kind IN ('programme', 'business_unit', 'lever')", name=op.f('ck_target_scope_kind')),
    sa.ForeignKeyConstraint(['metric_id'], ['metric.id'], name=op.f('fk_target_metric_id_metric')),
    sa.ForeignKeyConstraint(['valid_from'], ['submission.id'], name=op.f('fk_target_valid_from_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_target'))
    )
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.create_index('ix_target_scan', ['metric_id', 'valid_to', 'valid_from', 'scope_kind', 'scope_code', 'month', 'amount_minor'], unique=False)
        batch_op.create_index('ix_target_valid_from', ['valid_from'], unique=False)
        batch_op.create_index('uq_target_one_current', ['metric_id', 'scope_kind', 'scope_code', 'month'], unique=True, sqlite_where=sa.text('valid_to = 9223372036854775807'), postgresql_where=sa.text('valid_to = 9223372036854775807'))



def downgrade() -> None:
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.drop_index('uq_target_one_current', sqlite_where=sa.text('valid_to = 9223372036854775807'), postgresql_where=sa.text('valid_to = 9223372036854775807'))
        batch_op.drop_index('ix_target_valid_from')
        batch_op.drop_index('ix_target_scan')

    op.drop_table('target')
    with op.batch_alter_table('phasing', schema=None) as batch_op:
        batch_op.drop_index('uq_phasing_one_current', sqlite_where=sa.text('valid_to = 9223372036854775807'), postgresql_where=sa.text('valid_to = 9223372036854775807'))
        batch_op.drop_index('ix_phasing_valid_from')
        batch_op.drop_index('ix_phasing_scan')
        batch_op.drop_index('ix_phasing_initiative')

    op.drop_table('phasing')
    with op.batch_alter_table('initiative_version', schema=None) as batch_op:
        batch_op.drop_index('uq_initiative_version_one_current', sqlite_where=sa.text('valid_to = 9223372036854775807'), postgresql_where=sa.text('valid_to = 9223372036854775807'))
        batch_op.drop_index('ix_initiative_version_current')

    op.drop_table('initiative_version')
    with op.batch_alter_table('stage_weight', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_weight_current')

    op.drop_table('stage_weight')
    op.drop_table('programme')
    op.drop_table('metric')
    op.drop_table('lever')
    op.drop_table('initiative')
    op.drop_table('business_unit')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_source_sha256'))
        batch_op.drop_index(batch_op.f('ix_submission_created_at'))

    op.drop_table('submission')
    op.drop_table('stage_gate')
