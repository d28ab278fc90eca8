"""softphone credentials kept as digest hashes: users.sip_secret (clear) becomes
users.sip_realm + users.sip_ha1 = MD5(endpoint:realm:secret), computed from the existing
secrets with the default realm ``guichet``. Downgrading cannot give the secrets back: the
accounts then need new softphone secrets.

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-29 06:30:00.000000
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0003'
branch_labels = None
depends_on = None

REALM = "guichet"


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sip_realm', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('sip_ha1', sa.String(length=32), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('sip_endpoint', sa.String),
                     sa.column('sip_secret', sa.String), sa.column('sip_realm', sa.String),
                     sa.column('sip_ha1', sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.sip_endpoint, users.c.sip_secret).where(
        users.c.sip_endpoint.is_not(None), users.c.sip_secret.is_not(None))).all()
    for row in rows:
        ha1 = hashlib.md5(f"{row.sip_endpoint}:{REALM}:{row.sip_secret}".encode(), usedforsecurity=False).hexdigest()
        conn.execute(users.update().where(users.c.id == row.id).values(sip_realm=REALM, sip_ha1=ha1))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('sip_secret')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sip_secret', sa.String(length=120), nullable=True))
        batch_op.drop_column('sip_ha1')
        batch_op.drop_column('sip_realm')
