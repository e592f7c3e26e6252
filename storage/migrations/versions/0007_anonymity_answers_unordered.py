"""anonymity: pulse answers without row order (SQLite WITHOUT ROWID), existing answers re-shuffled

Answer rows used to be written in the same transaction as the delivery's `answered` flag, and
SQLite kept them in insertion (rowid) order: an operator could pair them with people by PostgreSQL
xmin or by row order. From now on flags are flipped in shuffled batches (bot/pulses/flags.py);
this migration removes what the old scheme left behind: every existing answer is re-inserted in
random order under a new random id (fresh xmin and position on PostgreSQL) with its date set to
its pulse's cycle date, and on SQLite the table is rebuilt WITHOUT ROWID, so its storage order is
that of the random primary key.

Revision ID: 0007
Revises: 0006, 0002
Create Date: 2026-12-01
"""
from alembic import op


revision = '0007'
# pulse_answers is created by 0002, so 0007 merges 0006 and 0002. It was released as
# `down_revision = '0006'` with `depends_on = ('0002',)`: the same ancestors, see 0006 and 0008.
down_revision = ('0006', '0002')
branch_labels = None
depends_on = None

COLUMNS = "pulse_id, question_id, respondent, value, text, comment, polarity"


def _sqlite_table(name: str, without_rowid: bool) -> str:
    return f"""CREATE TABLE {name} (
        id VARCHAR(32) NOT NULL,
        pulse_id INTEGER NOT NULL,
        question_id INTEGER NOT NULL,
        respondent VARCHAR(64) NOT NULL,
        value INTEGER,
        text VARCHAR,
        comment VARCHAR,
        polarity FLOAT,
        answered_on DATE NOT NULL,
        PRIMARY KEY (id),
        CONSTRAINT uq_pulse_answers_question_respondent UNIQUE (question_id, respondent),
        FOREIGN KEY(pulse_id) REFERENCES pulses (id),
        FOREIGN KEY(question_id) REFERENCES pulse_questions (id)
    ){' WITHOUT ROWID' if without_rowid else ''}"""


def _rebuild_sqlite(without_rowid: bool) -> None:
    op.execute("DROP INDEX IF EXISTS ix_pulse_answers_pulse_id")
    op.execute("DROP INDEX IF EXISTS ix_pulse_answers_question_id")
    op.execute(_sqlite_table("pulse_answers_new", without_rowid))
    op.execute(
        f"INSERT INTO pulse_answers_new (id, {COLUMNS}, answered_on) "
        f"SELECT lower(hex(randomblob(16))), {', '.join('a.' + c.strip() for c in COLUMNS.split(','))}, p.cycle_date "
        "FROM pulse_answers a JOIN pulses p ON p.id = a.pulse_id ORDER BY random()"
    )
    op.execute("DROP TABLE pulse_answers")
    op.execute("ALTER TABLE pulse_answers_new RENAME TO pulse_answers")
    op.execute("CREATE INDEX ix_pulse_answers_pulse_id ON pulse_answers (pulse_id)")
    op.execute("CREATE INDEX ix_pulse_answers_question_id ON pulse_answers (question_id)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(without_rowid=True)
        return
    op.execute(f"CREATE TEMPORARY TABLE pulse_answers_shuffle AS SELECT a.{COLUMNS.replace(', ', ', a.')}, p.cycle_date AS answered_on FROM pulse_answers a JOIN pulses p ON p.id = a.pulse_id")
    op.execute("DELETE FROM pulse_answers")
    op.execute(
        f"INSERT INTO pulse_answers (id, {COLUMNS}, answered_on) "
        f"SELECT md5(random()::text || clock_timestamp()::text || respondent || question_id::text), {COLUMNS}, answered_on "
        "FROM pulse_answers_shuffle ORDER BY random()"
    )
    op.execute("DROP TABLE pulse_answers_shuffle")


def downgrade() -> None:
    # The shuffle cannot be undone (nor should it be); only SQLite's table form goes back.
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(without_rowid=False)
