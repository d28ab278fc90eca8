"""report validation: who validated a monthly report and when (its PDF edition is made then)

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-29 06:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

import ticket_core.db
from alembic import op


revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('generated_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('validated_at', ticket_core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('validated_by', sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('generated_reports', schema=None) as batch_op:
        batch_op.drop_column('validated_by')
        batch_op.drop_column('validated_at')
