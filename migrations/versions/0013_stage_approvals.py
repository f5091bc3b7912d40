"""stage approvals: owners' requests to move an initiative into a gate that needs the
office's approval, and the office's decisions (issue 17; ``ledger.approvals``)

Both tables are append-only: a decision is a new row, never an update of the request.
The committed plan needs no table: it is the plan as of the submission that moved the
initiative into L3 or beyond (the approval's stage change), read with the as-of machinery
from the initiative's versions, so initiatives already at L3+ are committed at the stage
change (or import) that took them there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'stage_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('initiative_id', sa.Integer(), nullable=False),
        sa.Column('from_stage', sa.String(length=40), nullable=False),
        sa.Column('to_stage', sa.String(length=40), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('requested_by', sa.String(length=200), nullable=False),
        sa.Column('created_submission_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['initiative_id'], ['initiative.id'],
                                name=op.f('fk_stage_request_initiative_id_initiative')),
        sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'],
                                name=op.f('fk_stage_request_created_submission_id_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_request')),
    )
    op.create_index(op.f('ix_stage_request_initiative_id'), 'stage_request', ['initiative_id'])
    op.create_index(op.f('ix_stage_request_created_submission_id'), 'stage_request',
                    ['created_submission_id'])
    op.create_table(
        'stage_decision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=10), nullable=False),
        sa.Column('decided_by', sa.String(length=200), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_submission_id', sa.Integer(), nullable=False),
        sa.CheckConstraint("decision IN ('approved', 'rejected')",
                           name=op.f('ck_stage_decision_decision')),
        sa.ForeignKeyConstraint(['request_id'], ['stage_request.id'],
                                name=op.f('fk_stage_decision_request_id_stage_request')),
        sa.ForeignKeyConstraint(['created_submission_id'], ['submission.id'],
                                name=op.f('fk_stage_decision_created_submission_id_submission')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_decision')),
        sa.UniqueConstraint('request_id', name=op.f('uq_stage_decision_request_id')),
    )
    op.create_index(op.f('ix_stage_decision_created_submission_id'), 'stage_decision',
                    ['created_submission_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_stage_decision_created_submission_id'), table_name='stage_decision')
    op.drop_table('stage_decision')
    op.drop_index(op.f('ix_stage_request_created_submission_id'), table_name='stage_request')
    op.drop_index(op.f('ix_stage_request_initiative_id'), table_name='stage_request')
    op.drop_table('stage_request')
