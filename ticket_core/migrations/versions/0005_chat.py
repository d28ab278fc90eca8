"""live chat, satisfaction survey and portal submissions (chatgw, web_pages)

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-29 02:46:25.735998
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ticket_core.db

revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('chat_conversations',
    sa.Column('id', BigId, nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=40), nullable=False),
    sa.Column('ticket_id', BigId, nullable=False),
    sa.Column('audience', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('visitor_name', sa.String(length=120), nullable=False),
    sa.Column('entered_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('answered_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=30), nullable=True),
    sa.CheckConstraint("status IN ('waiting', 'active', 'ended')", name=op.f('ck_chat_conversations_status')),
    sa.ForeignKeyConstraint(['audience'], ['audiences.code'], name=op.f('fk_chat_conversations_audience_audiences')),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_chat_conversations_operator_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_chat_conversations_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_conversations')),
    sa.UniqueConstraint('public_id', name=op.f('uq_chat_conversations_public_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_chat_conversations_token_hash'))
    )
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_conversations_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_conversations_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('chat_messages',
    sa.Column('id', BigId, nullable=False),
    sa.Column('conversation_id', BigId, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=10), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("sender IN ('user', 'operator', 'system')", name=op.f('ck_chat_messages_sender')),
    sa.ForeignKeyConstraint(['conversation_id'], ['chat_conversations.id'], name=op.f('fk_chat_messages_conversation_id_chat_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_chat_messages_operator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_messages')),
    sa.UniqueConstraint('conversation_id', 'seq', name='uq_chat_messages_conversation_seq')
    )

    op.create_table('satisfaction_invitations',
    sa.Column('id', BigId, nullable=False),
    sa.Column('ticket_id', BigId, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_satisfaction_invitations_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_satisfaction_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_satisfaction_invitations_token_hash'))
    )
    with op.batch_alter_table('satisfaction_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_satisfaction_invitations_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('satisfaction_answers',
    sa.Column('ticket_id', BigId, nullable=False),
    sa.Column('rating', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('answered_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("rating IN ('tres_satisfait', 'satisfait', 'insatisfait')", name=op.f('ck_satisfaction_answers_rating')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_satisfaction_answers_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_satisfaction_answers'))
    )

    op.create_table('portal_submissions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('ticket_id', BigId, nullable=False),
    sa.Column('received_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('fields', JSONType, nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_portal_submissions_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_submissions'))
    )
    with op.batch_alter_table('portal_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_submissions_ticket_id'), ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_submissions_ticket_id'))
    op.drop_table('portal_submissions')
    op.drop_table('satisfaction_answers')
    with op.batch_alter_table('satisfaction_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_satisfaction_invitations_ticket_id'))
    op.drop_table('satisfaction_invitations')
    op.drop_table('chat_messages')
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_conversations_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_chat_conversations_status'))
    op.drop_table('chat_conversations')
