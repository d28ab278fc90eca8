"""indicators and reports: generated reports, their files, report notes; the indexes the
indicators need on calls (caller_number, answered_at) and tickets (resolved_at)

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import ticket_core.db
from alembic import op


revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_caller_number_answered_at', ['caller_number', 'answered_at'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_resolved_at', ['resolved_at'], unique=False)

    op.create_table('generated_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('schedule_key', sa.String(length=60), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generated_reports')),
    sa.UniqueConstraint('schedule_key', name=op.f('uq_generated_reports_schedule_key'))
    )
    with op.batch_alter_table('generated_reports', schema=None) as batch_op:
        batch_op.create_index('ix_generated_reports_kind_period', ['kind', 'period'], unique=False)

    op.create_table('report_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=120), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['generated_reports.id'], name=op.f('fk_report_files_report_id_generated_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_files'))
    )
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_files_report_id'), ['report_id'], unique=False)

    op.create_table('report_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('section', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=120), nullable=False),
    sa.Column('updated_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_notes')),
    sa.UniqueConstraint('period', 'section', name='uq_report_notes_period_section')
    )


def downgrade() -> None:
    op.drop_table('report_notes')
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_files_report_id'))
    op.drop_table('report_files')
    with op.batch_alter_table('generated_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_generated_reports_kind_period')
    op.drop_table('generated_reports')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_resolved_at')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_caller_number_answered_at')
