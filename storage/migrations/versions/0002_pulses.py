"""pulses: pulses, questions, deliveries, anonymous answers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pulses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('cycle_date', sa.Date(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('min_group_size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_key')
    )
    with op.batch_alter_table('pulses', schema=None) as batch_op:
        batch_op.create_index('ix_pulses_status_closes', ['status', 'closes_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_pulses_team_id'), ['team_id'], unique=False)

    op.create_table('pulse_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pulse_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('question_keys', sa.JSON(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claim_token', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('platform_ref', sa.String(length=256), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pulse_id'], ['pulses.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pulse_id', 'user_id', name='uq_pulse_deliveries_pulse_user')
    )
    with op.batch_alter_table('pulse_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pulse_deliveries_pulse_id'), ['pulse_id'], unique=False)
        batch_op.create_index('ix_pulse_deliveries_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_pulse_deliveries_user', ['user_id'], unique=False)

    op.create_table('pulse_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pulse_id', sa.Integer(), nullable=False),
    sa.Column('question_key', sa.String(length=64), nullable=False),
    sa.Column('driver', sa.String(length=32), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('scale', sa.String(length=16), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('allow_comment', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['pulse_id'], ['pulses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pulse_id', 'question_key', name='uq_pulse_questions_pulse_key')
    )
    with op.batch_alter_table('pulse_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pulse_questions_pulse_id'), ['pulse_id'], unique=False)

    op.create_table('pulse_answers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('pulse_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('respondent', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(), nullable=True),
    sa.Column('comment', sa.String(), nullable=True),
    sa.Column('polarity', sa.Float(), nullable=True),
    sa.Column('answered_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['pulse_id'], ['pulses.id'], ),
    sa.ForeignKeyConstraint(['question_id'], ['pulse_questions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('question_id', 'respondent', name='uq_pulse_answers_question_respondent')
    )
    with op.batch_alter_table('pulse_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pulse_answers_pulse_id'), ['pulse_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pulse_answers_question_id'), ['question_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pulse_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pulse_answers_question_id'))
        batch_op.drop_index(batch_op.f('ix_pulse_answers_pulse_id'))

    op.drop_table('pulse_answers')
    with op.batch_alter_table('pulse_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pulse_questions_pulse_id'))

    op.drop_table('pulse_questions')
    with op.batch_alter_table('pulse_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_pulse_deliveries_user')
        batch_op.drop_index('ix_pulse_deliveries_status_due')
        batch_op.drop_index(batch_op.f('ix_pulse_deliveries_pulse_id'))

    op.drop_table('pulse_deliveries')
    with op.batch_alter_table('pulses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pulses_team_id'))
        batch_op.drop_index('ix_pulses_status_closes')

    op.drop_table('pulses')
