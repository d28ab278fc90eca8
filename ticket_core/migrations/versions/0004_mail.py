"""mail gateway: mails received and sent (raw bytes included), attachments, IMAP
bookkeeping (UIDVALIDITY, ingested UIDs).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 02:50:14.380261
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import ticket_core.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_imap_mailboxes',
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_mail_imap_mailboxes'))
    )
    op.create_table('mail_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('message_id', sa.String(length=500), nullable=True),
    sa.Column('in_reply_to', sa.String(length=500), nullable=True),
    sa.Column('reference_ids', sa.Text(), nullable=False),
    sa.Column('from_address', sa.String(length=320), nullable=True),
    sa.Column('from_name', sa.String(length=200), nullable=False),
    sa.Column('reply_to', sa.String(length=320), nullable=True),
    sa.Column('counterpart', sa.String(length=320), nullable=True),
    sa.Column('to_addresses', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('cc_addresses', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('envelope_from', sa.String(length=320), nullable=True),
    sa.Column('envelope_to', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_raw', sa.Text(), nullable=True),
    sa.Column('html_sanitized', sa.Text(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('needs_attention', sa.Boolean(), nullable=False),
    sa.Column('problems', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('automatic', sa.String(length=40), nullable=True),
    sa.Column('ack_status', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('claimed_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('sent_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['sent_by'], ['users.id'], name=op.f('fk_mail_messages_sent_by_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_mail_messages_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages')),
    sa.UniqueConstraint('direction', 'sha256', name='uq_mail_messages_direction_sha256')
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_messages_counterpart'), ['counterpart'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_messages_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_messages_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_mail_messages_outbox', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_messages_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('mail_attachments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mail_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=False),
    sa.Column('content_id', sa.String(length=300), nullable=True),
    sa.Column('inline', sa.Boolean(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('stored', sa.Boolean(), nullable=False),
    sa.Column('skipped_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['mail_id'], ['mail_messages.id'], name=op.f('fk_mail_attachments_mail_id_mail_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_attachments'))
    )
    with op.batch_alter_table('mail_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_attachments_mail_id'), ['mail_id'], unique=False)

    op.create_table('mail_imap_uids',
    sa.Column('mailbox_key', sa.String(length=400), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('mail_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('ingested_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('flagged_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['mail_id'], ['mail_messages.id'], name=op.f('fk_mail_imap_uids_mail_id_mail_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('mailbox_key', 'uidvalidity', 'uid', name=op.f('pk_mail_imap_uids'))
    )


def downgrade() -> None:
    op.drop_table('mail_imap_uids')
    with op.batch_alter_table('mail_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_attachments_mail_id'))

    op.drop_table('mail_attachments')
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_messages_ticket_id'))
        batch_op.drop_index('ix_mail_messages_outbox')
        batch_op.drop_index(batch_op.f('ix_mail_messages_message_id'))
        batch_op.drop_index(batch_op.f('ix_mail_messages_created_at'))
        batch_op.drop_index(batch_op.f('ix_mail_messages_counterpart'))

    op.drop_table('mail_messages')
    op.drop_table('mail_imap_mailboxes')
