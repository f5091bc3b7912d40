"""reviewed_pair: pairs of initiatives the office reviewed as not double counting

``tledger checks`` reports ``possible_double_count`` for two active initiatives of the same
business unit and lever with similar names whose phasing of the same metric overlaps in
some month; ``tledger checks review-pair A B --note ...`` records that the office looked
and the pair is no double count, so it is not reported again. Append-only: one row per
pair (lower initiative id first), written once, sealed in the history's hash chain.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'reviewed_pair',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('first_initiative_id', sa.Integer(), nullable=False),
        sa.Column('second_initiative_id', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_submission_id', sa.Integer(), nullable=False),
        sa.CheckConstraint('first_initiative_id < second_initiative_id',
                           name=op.f('ck_reviewed_pair_ordered')),
        sa.ForeignKeyConstraint(['first_initiative_id'], ['initiative.id'],
                                name=op.f('fk_reviewed_pair_first_initiative_id_initiative')),
        sa.ForeignKeyConstraint(['second_initiative_id'], ['initiative.id'],
                                name=op.f('fk_reviewed_pair_second_initiative_id_initiative')),
        sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'],
                                name=op.f('fk_reviewed_pair_created_submission_id_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reviewed_pair')),
    )
    op.create_index('uq_reviewed_pair_pair', 'reviewed_pair',
                    ['first_initiative_id', 'second_initiative_id'], unique=True)
    op.create_index(op.f('ix_reviewed_pair_created_submission_id'), 'reviewed_pair',
                    ['created_submission_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_reviewed_pair_created_submission_id'), table_name='reviewed_pair')
    op.drop_index('uq_reviewed_pair_pair', table_name='reviewed_pair')
    op.drop_table('reviewed_pair')
