"""foundation: catalogue, requesters, tickets, history, problems, events journal,
audit log, calendar exceptions, users and login sessions.

Revision ID: 0001
Revises: 
Create Date: 2026-11-29 02:10:55.376214
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import ticket_core.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('criticality', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('criticality BETWEEN 1 AND 3', name=op.f('ck_applications_criticality')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('code', name=op.f('uq_applications_code'))
    )
    op.create_table('audiences',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('ivr_digit', sa.String(length=1), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_audiences')),
    sa.UniqueConstraint('ivr_digit', name=op.f('uq_audiences_ivr_digit'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.String(length=80), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('site', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=True),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('call_id', sa.String(length=80), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('queue', sa.String(length=40), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_call_id', ['call_id'], unique=False)
        batch_op.create_index('ix_events_kind_occurred_at', ['kind', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_ticket_id', ['ticket_id'], unique=False)

    op.create_table('request_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('excluded_from_resolution_indicators', sa.Boolean(), nullable=False),
    sa.Column('redirect_to', sa.String(length=200), nullable=True),
    sa.Column('escalation_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_types')),
    sa.UniqueConstraint('code', name=op.f('uq_request_types_code'))
    )
    op.create_table('severities',
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('level', name=op.f('pk_severities')),
    sa.UniqueConstraint('code', name=op.f('uq_severities_code'))
    )
    op.create_table('ticket_sequences',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_ticket_sequences'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=120), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sip_endpoint', sa.String(length=80), nullable=True),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("role IN ('operator', 'supervisor', 'auditor', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('sip_endpoint', name=op.f('uq_users_sip_endpoint')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('application_components',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('criticality', sa.Integer(), nullable=False),
    sa.CheckConstraint('criticality BETWEEN 1 AND 3', name=op.f('ck_application_components_criticality')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_components_application_id_applications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_components')),
    sa.UniqueConstraint('application_id', 'code', name='uq_application_components_app_code')
    )
    op.create_table('calendar_exceptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('opens', sa.Time(), nullable=True),
    sa.Column('closes', sa.Time(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('opening', 'closure')", name=op.f('ck_calendar_exceptions_kind')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_calendar_exceptions_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_exceptions'))
    )
    with op.batch_alter_table('calendar_exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_exceptions_day'), ['day'], unique=False)

    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_sessions_token_hash'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('problems',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_problems_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problems'))
    )
    op.create_table('requesters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('audience_code', sa.String(length=40), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('anonymised_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['audience_code'], ['audiences.code'], name=op.f('fk_requesters_audience_code_audiences')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requesters'))
    )
    op.create_table('requester_emails',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requester_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['requester_id'], ['requesters.id'], name=op.f('fk_requester_emails_requester_id_requesters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requester_emails')),
    sa.UniqueConstraint('address', name=op.f('uq_requester_emails_address'))
    )
    op.create_table('requester_phones',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requester_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['requester_id'], ['requesters.id'], name=op.f('fk_requester_phones_requester_id_requesters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requester_phones')),
    sa.UniqueConstraint('number', name=op.f('uq_requester_phones_number'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('level', sa.String(length=2), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('audience_code', sa.String(length=40), nullable=True),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('component_id', sa.Integer(), nullable=True),
    sa.Column('request_type_id', sa.Integer(), nullable=True),
    sa.Column('criticality', sa.Integer(), nullable=True),
    sa.Column('severity', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=True),
    sa.Column('requester_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('problem_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('merged_into_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('source_ref', sa.String(length=200), nullable=True),
    sa.Column('glpi_reference', sa.String(length=60), nullable=True),
    sa.Column('escalation_info', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('needs_attention', sa.Boolean(), nullable=False),
    sa.Column('contacts', sa.Integer(), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('escalation_bounced', sa.Boolean(), nullable=False),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('taken_in_charge_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('taken_in_charge_due_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('handled_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('handling_due_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('resolved_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('resolved_by_level', sa.String(length=2), nullable=True),
    sa.Column('closed_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('criticality IS NULL OR criticality BETWEEN 1 AND 3', name=op.f('ck_tickets_criticality')),
    sa.CheckConstraint('priority IS NULL OR priority BETWEEN 1 AND 5', name=op.f('ck_tickets_priority')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_tickets_application_id_applications')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_tickets_assignee_id_users')),
    sa.ForeignKeyConstraint(['audience_code'], ['audiences.code'], name=op.f('fk_tickets_audience_code_audiences')),
    sa.ForeignKeyConstraint(['component_id'], ['application_components.id'], name=op.f('fk_tickets_component_id_application_components')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['tickets.id'], name=op.f('fk_tickets_merged_into_id_tickets')),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_tickets_problem_id_problems')),
    sa.ForeignKeyConstraint(['request_type_id'], ['request_types.id'], name=op.f('fk_tickets_request_type_id_request_types')),
    sa.ForeignKeyConstraint(['requester_id'], ['requesters.id'], name=op.f('fk_tickets_requester_id_requesters')),
    sa.ForeignKeyConstraint(['severity'], ['severities.level'], name=op.f('fk_tickets_severity_severities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('reference', name=op.f('uq_tickets_reference'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_priority'), ['priority'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_source_ref'), ['source_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_status'), ['status'], unique=False)

    op.create_table('ticket_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ticket_history_actor_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_history_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_history'))
    )
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_history_ticket_id'), ['ticket_id'], unique=False)


    _append_only_journal()


def downgrade() -> None:
    _drop_append_only_journal()
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_history_ticket_id'))

    op.drop_table('ticket_history')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_status'))
        batch_op.drop_index(batch_op.f('ix_tickets_source_ref'))
        batch_op.drop_index(batch_op.f('ix_tickets_requester_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_priority'))
        batch_op.drop_index(batch_op.f('ix_tickets_created_at'))

    op.drop_table('tickets')
    op.drop_table('requester_phones')
    op.drop_table('requester_emails')
    op.drop_table('requesters')
    op.drop_table('problems')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))

    op.drop_table('login_sessions')
    with op.batch_alter_table('calendar_exceptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_exceptions_day'))

    op.drop_table('calendar_exceptions')
    op.drop_table('application_components')
    op.drop_table('users')
    op.drop_table('ticket_sequences')
    op.drop_table('severities')
    op.drop_table('request_types')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_ticket_id')
        batch_op.drop_index('ix_events_kind_occurred_at')
        batch_op.drop_index('ix_events_call_id')

    op.drop_table('events')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('audiences')
    op.drop_table('applications')


# The journal is the source of the indicators and the audit trail: the database itself
# refuses to change or delete a fact, whatever code runs against it.
def _append_only_journal() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the events journal is append-only'; END $$
        """)
        op.execute("""CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
                      FOR EACH ROW EXECUTE FUNCTION events_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events
                           BEGIN SELECT RAISE(ABORT, 'the events journal is append-only'); END""")


def _drop_append_only_journal() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
