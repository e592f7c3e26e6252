"""scheduler: stored APScheduler jobs name bot.kernel.scheduler:run_job (the kernel move, issue 15)

APScheduler's SQLAlchemyJobStore keeps each job as a pickle of `Job.__getstate__()` whose "func" is
the textual reference it was added with, "bot.scheduler:run_job". When the scheduler module moved
to bot/kernel/scheduler.py, that reference stopped resolving, and APScheduler deletes every job it
cannot restore ("Unable to restore job ... -- removing it"): recurring jobs would be re-added on
start-up with a fresh next run (losing a run that fell due while the bot was down), and one-shot
jobs (a pulse fan-out) would be lost for good. This rewrites the reference in every stored job;
nothing else in the pickle changes. Jobs naming any other function are left as they are. The table
is APScheduler's, not ours: where the scheduler never ran it does not exist and there is nothing
to do. Downgrade writes the old reference back.

Roll-out: code from before the move cannot resolve the new reference either, and a scheduler of
that version (the leader replica) deletes what it cannot restore. Stop the old version's processes
before `pulsebridge db upgrade` for this release (as for any release: migrate, then start the new
version).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import logging
import pickle

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLE = "apscheduler_jobs"
OLD_REF = "bot.scheduler:run_job"
NEW_REF = "bot.kernel.scheduler:run_job"

log = logging.getLogger(f"alembic.{__name__}")


def _rewrite(old: str, new: str) -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(TABLE):
        return
    jobs = sa.table(TABLE, sa.column("id", sa.Unicode), sa.column("job_state", sa.LargeBinary))
    for job_id, job_state in bind.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        try:
            state = pickle.loads(job_state)
        except Exception:
            # APScheduler cannot restore it either (and removes it when it tries); not ours to judge.
            log.warning("scheduler job %r: stored state does not unpickle; left as it is", job_id)
            continue
        if not isinstance(state, dict) or state.get("func") != old:
            continue
        state["func"] = new
        # The protocol SQLAlchemyJobStore writes with (its default, which the bot's scheduler uses).
        bind.execute(jobs.update().where(jobs.c.id == job_id).values(job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))


def upgrade() -> None:
    _rewrite(OLD_REF, NEW_REF)


def downgrade() -> None:
    _rewrite(NEW_REF, OLD_REF)
