"""calls and operator skills

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 02:18:10.241730
"""

from __future__ import annotations

import sqlalchemy as sa

import ticket_core.db
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('operator_skills',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('audience', sa.String(length=40), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.CheckConstraint('level BETWEEN 1 AND 5', name=op.f('ck_operator_skills_level')),
    sa.ForeignKeyConstraint(['audience'], ['audiences.code'], name=op.f('fk_operator_skills_audience_audiences')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_operator_skills_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'audience', name=op.f('pk_operator_skills'))
    )
    op.create_table('calls',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('site', sa.String(length=40), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('caller_number', sa.String(length=40), nullable=True),
    sa.Column('caller_raw', sa.String(length=80), nullable=True),
    sa.Column('audience', sa.String(length=40), nullable=True),
    sa.Column('received_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('presented_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('answered_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('ended_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('wait_seconds', sa.Float(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('lost_reason', sa.String(length=40), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('requester_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel_id', sa.String(length=80), nullable=True),
    sa.Column('operator_channel_id', sa.String(length=80), nullable=True),
    sa.Column('bridge_id', sa.String(length=80), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_calls_operator_id_users')),
    sa.ForeignKeyConstraint(['requester_id'], ['requesters.id'], name=op.f('fk_calls_requester_id_requesters')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_calls_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_caller_number', ['caller_number'], unique=False)
        batch_op.create_index('ix_calls_outcome', ['outcome'], unique=False)
        batch_op.create_index('ix_calls_received_at', ['received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_received_at')
        batch_op.drop_index('ix_calls_outcome')
        batch_op.drop_index('ix_calls_caller_number')

    op.drop_table('calls')
    op.drop_table('operator_skills')
