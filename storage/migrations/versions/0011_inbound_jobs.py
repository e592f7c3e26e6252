"""inbound_jobs: requests recorded before their ack, processed off the request (issue 17)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inbound_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=256), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('last_error', sa.String(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_inbound_jobs_status', 'inbound_jobs', ['status'])


def downgrade() -> None:
    op.drop_index('ix_inbound_jobs_status', table_name='inbound_jobs')
    op.drop_table('inbound_jobs')
