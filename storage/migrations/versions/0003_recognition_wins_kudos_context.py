"""recognition: wins, win contributors, kudos context (win link, private flag)

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer', sa.String(length=120), nullable=False),
    sa.Column('summary', sa.String(length=1000), nullable=False),
    sa.Column('value', sa.String(length=120), nullable=True),
    sa.Column('won_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_key')
    )
    with op.batch_alter_table('wins', schema=None) as batch_op:
        batch_op.create_index('ix_wins_created_at', ['created_at'], unique=False)

    op.create_table('win_contributors',
    sa.Column('win_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['win_id'], ['wins.id'], ),
    sa.PrimaryKeyConstraint('win_id', 'user_id')
    )
    with op.batch_alter_table('win_contributors', schema=None) as batch_op:
        batch_op.create_index('ix_win_contributors_user', ['user_id'], unique=False)

    op.create_table('kudos_context',
    sa.Column('kudos_id', sa.Integer(), nullable=False),
    sa.Column('win_id', sa.Integer(), nullable=True),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['kudos_id'], ['kudos.id'], ),
    sa.ForeignKeyConstraint(['win_id'], ['wins.id'], ),
    sa.PrimaryKeyConstraint('kudos_id')
    )
    with op.batch_alter_table('kudos_context', schema=None) as batch_op:
        batch_op.create_index('ix_kudos_context_win', ['win_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kudos_context', schema=None) as batch_op:
        batch_op.drop_index('ix_kudos_context_win')
    op.drop_table('kudos_context')
    with op.batch_alter_table('win_contributors', schema=None) as batch_op:
        batch_op.drop_index('ix_win_contributors_user')
    op.drop_table('win_contributors')
    with op.batch_alter_table('wins', schema=None) as batch_op:
        batch_op.drop_index('ix_wins_created_at')
    op.drop_table('wins')
