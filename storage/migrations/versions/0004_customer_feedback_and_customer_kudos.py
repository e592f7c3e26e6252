"""customer feedback and customer kudos

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('customer_name', sa.String(length=256), nullable=True),
    sa.Column('customer_account', sa.String(length=256), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('scale', sa.String(length=16), nullable=True),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('sentiment', sa.String(length=16), nullable=False),
    sa.Column('polarity', sa.Float(), nullable=True),
    sa.Column('agent_email', sa.String(length=320), nullable=True),
    sa.Column('agent_name', sa.String(length=256), nullable=True),
    sa.Column('agent_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('route_method', sa.String(length=32), nullable=True),
    sa.Column('route_confidence', sa.Float(), nullable=True),
    sa.Column('route_detail', sa.String(length=1000), nullable=True),
    sa.Column('routed_user_id', sa.Integer(), nullable=True),
    sa.Column('routed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['routed_by_user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['routed_user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id', name='uq_feedback_source_external_id')
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_routed_user', ['routed_user_id'], unique=False)
        batch_op.create_index('ix_feedback_sentiment_created', ['sentiment', 'created_at'], unique=False)
        batch_op.create_index('ix_feedback_status', ['status'], unique=False)

    op.create_table('customer_kudos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('giver_label', sa.String(length=256), nullable=False),
    sa.Column('quote', sa.String(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('scale', sa.String(length=16), nullable=True),
    sa.Column('route_method', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('feedback_id')
    )
    with op.batch_alter_table('customer_kudos', schema=None) as batch_op:
        batch_op.create_index('ix_customer_kudos_user_created', ['user_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customer_kudos', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_kudos_user_created')

    op.drop_table('customer_kudos')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_status')
        batch_op.drop_index('ix_feedback_sentiment_created')
        batch_op.drop_index('ix_feedback_routed_user')

    op.drop_table('feedback')
