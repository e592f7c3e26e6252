"""teams.source: drop the server default 0005 left behind (schema drift from the model)

0005 added `teams.source` as NOT NULL with `server_default='config'` so existing rows got a value,
and kept the default. The model (storage.directory.tables.Team) has none: `source` is always written by the
application (its Python default is "config"). Autogenerate with server-default comparison reported
the difference on both databases; this removes it, so a migrated schema is exactly the model.
Downgrade puts the default back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.alter_column('source', existing_type=sa.String(length=16), existing_nullable=False, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.alter_column('source', existing_type=sa.String(length=16), existing_nullable=False, server_default='config')
