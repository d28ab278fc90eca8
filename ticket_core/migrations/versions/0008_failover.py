"""failover: the ACD lease, site reports, switchovers, the drills calendar and drill records

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-29 03:04:30.138981
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ticket_core.db

revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('failover_lease',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=40), nullable=True),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('acquired_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('renewed_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('expires_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('requested_holder', sa.String(length=40), nullable=True),
    sa.Column('requested_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('requested_by', sa.String(length=120), nullable=True),
    sa.Column('request_kind', sa.String(length=20), nullable=True),
    sa.Column('request_reason', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_failover_lease'))
    )
    op.bulk_insert(sa.table('failover_lease', sa.column('name', sa.String), sa.column('epoch', sa.Integer)),
                   [{'name': 'acd', 'epoch': 0}])
    op.create_table('failover_sites',
    sa.Column('site', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=True),
    sa.Column('healthy', sa.Boolean(), nullable=False),
    sa.Column('checks', JSONType, nullable=False),
    sa.Column('peer_checks', JSONType, nullable=False),
    sa.Column('endpoints', JSONType, nullable=False),
    sa.Column('started_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('activated_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('site', name=op.f('pk_failover_sites'))
    )
    op.create_table('failover_switchovers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_site', sa.String(length=40), nullable=True),
    sa.Column('to_site', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=True),
    sa.Column('detected_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('completed_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('promoted', sa.Boolean(), nullable=False),
    sa.Column('promotion_seconds', sa.Float(), nullable=True),
    sa.Column('activation_seconds', sa.Float(), nullable=True),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('calls_lost', sa.Integer(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failover_switchovers'))
    )
    with op.batch_alter_table('failover_switchovers', schema=None) as batch_op:
        batch_op.create_index('ix_failover_switchovers_completed_at', ['completed_at'], unique=False)

    op.create_table('failover_drill_plans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('semester', sa.String(length=7), nullable=False),
    sa.Column('planned_for', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_failover_drill_plans_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failover_drill_plans'))
    )
    with op.batch_alter_table('failover_drill_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_failover_drill_plans_semester'), ['semester'], unique=False)

    op.create_table('failover_drills',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('semester', sa.String(length=7), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('started_by', sa.Integer(), nullable=True),
    sa.Column('started_by_name', sa.String(length=120), nullable=False),
    sa.Column('from_site', sa.String(length=40), nullable=False),
    sa.Column('target_site', sa.String(length=40), nullable=False),
    sa.Column('started_at', ticket_core.db.UTCDateTime(), nullable=False),
    sa.Column('ended_at', ticket_core.db.UTCDateTime(), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('switchover_seconds', sa.Float(), nullable=True),
    sa.Column('failback_seconds', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('checks', JSONType, nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['failover_drill_plans.id'], name=op.f('fk_failover_drills_plan_id_failover_drill_plans')),
    sa.ForeignKeyConstraint(['started_by'], ['users.id'], name=op.f('fk_failover_drills_started_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failover_drills'))
    )
    with op.batch_alter_table('failover_drills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_failover_drills_semester'), ['semester'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('failover_drills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_failover_drills_semester'))

    op.drop_table('failover_drills')
    with op.batch_alter_table('failover_drill_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_failover_drill_plans_semester'))

    op.drop_table('failover_drill_plans')
    with op.batch_alter_table('failover_switchovers', schema=None) as batch_op:
        batch_op.drop_index('ix_failover_switchovers_completed_at')

    op.drop_table('failover_switchovers')
    op.drop_table('failover_sites')
    op.drop_table('failover_lease')
