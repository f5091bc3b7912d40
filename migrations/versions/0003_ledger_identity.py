"""ledger_identity: the ledger's id and the key that signs what it exports

One row, created here (so by ``tledger init`` for a new ledger, and by ``tledger db
upgrade`` for an existing one): a random UUID naming the ledger and a random 256-bit key.
Owner workbooks carry the id and an HMAC made with the key, so a workbook from another
ledger, or one whose stamp was edited, is refused.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from ledger.models import UTCDateTime

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        'ledger_identity',
        sa.Column('ledger_id', sa.String(length=36), nullable=False),
        sa.Column('stamp_key', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('ledger_id', name=op.f('pk_ledger_identity')),
    )
    op.bulk_insert(table, [{
        'ledger_id': str(uuid.uuid4()),
        'stamp_key': secrets.token_hex(32),
        'created_at': datetime.now(UTC),
    }])


def downgrade() -> None:
    op.drop_table('ledger_identity')
