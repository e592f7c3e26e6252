"""teamhealth: shared goals, goal teams, feedback index for per-team CX figures

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
# The feedback index needs the feedback table, so 0006 comes after 0004. It was released as
# `down_revision = '0001'` with `depends_on = ('0004',)`: the same ancestors (0001, 0004), so every
# database the old form upgraded means the same thing now; but a dependency leaves 0004 an
# "effective head", and no merge revision can be written over one (see 0008).
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('goal_teams',
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], ),
    sa.PrimaryKeyConstraint('goal_id', 'team_id')
    )
    with op.batch_alter_table('goal_teams', schema=None) as batch_op:
        batch_op.create_index('ix_goal_teams_team', ['team_id'], unique=False)
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_routed_user_created', ['routed_user_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_routed_user_created')
    with op.batch_alter_table('goal_teams', schema=None) as batch_op:
        batch_op.drop_index('ix_goal_teams_team')
    op.drop_table('goal_teams')
    op.drop_table('goals')
