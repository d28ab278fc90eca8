"""callbacks

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-29 02:41:47.303613
"""

from __future__ import annotations

import sqlalchemy as sa

import ticket_core.db
from alembic import op


revision = '0007'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lost_calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('call_id', sa.String(length=80), nullable=False),
    sa.Column('caller_number', sa.String(length=40), nullable=True),
    sa.Column('audience', sa.String(length=40), nullable=True),
    sa.Column('lost_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('wait_seconds', sa.Float(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('recover_by', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('recovered_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('recovered_by', sa.String(length=20), nullable=True),
    sa.Column('recovered_call_id', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_lost_calls_call_id_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lost_calls')),
    sa.UniqueConstraint('call_id', name=op.f('uq_lost_calls_call_id'))
    )
    with op.batch_alter_table('lost_calls', schema=None) as batch_op:
        batch_op.create_index('ix_lost_calls_lost_at', ['lost_at'], unique=False)
        batch_op.create_index('ix_lost_calls_status_number', ['status', 'caller_number'], unique=False)

    op.create_table('callbacks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lost_call_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('audience', sa.String(length=40), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('next_attempt_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('queue_entered_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_outcome', sa.String(length=20), nullable=True),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('closed_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_callbacks_closed_by_users')),
    sa.ForeignKeyConstraint(['lost_call_id'], ['lost_calls.id'], name=op.f('fk_callbacks_lost_call_id_lost_calls')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_callbacks_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks')),
    sa.UniqueConstraint('lost_call_id', name=op.f('uq_callbacks_lost_call_id'))
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callbacks_state'), ['state'], unique=False)

    op.create_table('callback_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('callback_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('ended_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('user_answered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['callback_id'], ['callbacks.id'], name=op.f('fk_callback_attempts_callback_id_callbacks')),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_callback_attempts_operator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempts'))
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_attempts_callback_id'), ['callback_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_attempts_callback_id'))

    op.drop_table('callback_attempts')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callbacks_state'))

    op.drop_table('callbacks')
    with op.batch_alter_table('lost_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_lost_calls_status_number')
        batch_op.drop_index('ix_lost_calls_lost_at')

    op.drop_table('lost_calls')
