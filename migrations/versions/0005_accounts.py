"""accounts: who may log in to ``tledger serve``, their sessions and failed logins

Also the web face's settings, with a random 256-bit ``secret_key`` generated here that
signs session cookies when ``TLEDGER_SECRET_KEY`` is not set.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.models import UTCDateTime

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'account',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('owner_name', sa.String(length=200), nullable=True),
        sa.Column('password_hash', sa.String(length=200), nullable=True),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('office', 'finance', 'owner')", name=op.f('ck_account_role')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account')),
        sa.UniqueConstraint('email', name=op.f('uq_account_email')),
    )
    op.create_table(
        'web_session',
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(), nullable=False),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                                name=op.f('fk_web_session_account_id_account')),
        sa.PrimaryKeyConstraint('token_sha256', name=op.f('pk_web_session')),
    )
    op.create_index(op.f('ix_web_session_account_id'), 'web_session', ['account_id'])
    op.create_table(
        'login_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=200), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt')),
    )
    op.create_index('ix_login_attempt_email_at', 'login_attempt', ['email', 'at'])
    op.create_index('ix_login_attempt_address_at', 'login_attempt', ['address', 'at'])
    settings = op.create_table(
        'web_setting',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_web_setting')),
    )
    op.bulk_insert(settings, [{'name': 'secret_key', 'value': secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table('web_setting')
    op.drop_index('ix_login_attempt_address_at', table_name='login_attempt')
    op.drop_index('ix_login_attempt_email_at', table_name='login_attempt')
    op.drop_table('login_attempt')
    op.drop_index(op.f('ix_web_session_account_id'), table_name='web_session')
    op.drop_table('web_session')
    op.drop_table('account')
