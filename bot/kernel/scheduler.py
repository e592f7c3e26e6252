"""Scheduled work on APScheduler 3, with its job store in the bot's own database.

APScheduler persists jobs by a textual reference to a module-level function, so every job
runs through `run_job`, which looks the named handler up on the running core. Features
register handlers with `PulseBridge.job(name, handler)` and schedule them by name.

The scheduler runs on its own thread (BackgroundScheduler), not on the HTTP event loop: each
wake-up reads and rewrites the due jobs in the job store, and a statement on the loop's thread
stalls every request's ack for as long as the database takes. Only the jobs themselves come back
to the loop (`LoopExecutor`), where `run_job` hands them to a worker lane.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.executors.base import BaseExecutor, run_coroutine_job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from bot.kernel.metrics import SCHEDULER_JOBS

if TYPE_CHECKING:
    from bot.kernel.core import PulseBridge

log = logging.getLogger(__name__)

_running_core: PulseBridge | None = None


async def run_job(name: str, **kwargs: Any) -> None:
    core = _running_core
    if core is None:
        log.warning("job %s fired with no running core; skipped", name)
        return
    handler = core.jobs.get(name)
    if handler is None:
        log.warning("job %s has no handler (feature removed?); skipped", name)
        return
    if not core.inflight.accepting:
        log.info("job %s not started: shutting down", name)
        SCHEDULER_JOBS.labels(name, "skipped").inc()
        return
    async with core.inflight.track():
        try:
            # Off the HTTP loop (a pulse opening for 20,000 people must not stall acks or /healthz),
            # all jobs on one worker: the send pacers they share stay on one event loop.
            await core.pool.run(lambda: handler(core, **kwargs), lane=0)
        except Exception:
            SCHEDULER_JOBS.labels(name, "error").inc()
            raise
    SCHEDULER_JOBS.labels(name, "ok").inc()


class LoopExecutor(BaseExecutor):
    """Runs each (coroutine) job on `loop` from the scheduler's thread: `run_job` needs the loop the
    in-flight count and the worker pool's hand-off live on."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self._loop = loop
        self._pending: set = set()

    def shutdown(self, wait: bool = True) -> None:
        # Jobs still running were already drained (adapters/server.py stops the scheduler after
        # the shutdown grace); what is left is cancelled, as APScheduler's AsyncIOExecutor does.
        for future in list(self._pending):
            future.cancel()
        self._pending.clear()

    def _do_submit_job(self, job, run_times) -> None:
        def done(future) -> None:
            self._pending.discard(future)
            try:
                events = future.result()
            except BaseException:  # noqa: BLE001 - reported to the scheduler as the job's error
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        future = asyncio.run_coroutine_threadsafe(run_coroutine_job(job, job._jobstore_alias, run_times, self._logger.name), self._loop)
        self._pending.add(future)
        future.add_done_callback(done)


def _same_trigger(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a.__getstate__() == b.__getstate__()


class Scheduler:
    # A job missed while the process was down runs once on start-up (coalesce), not once per miss.
    JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 12 * 3600}

    def __init__(self, core: PulseBridge, engine: Engine, loop: asyncio.AbstractEventLoop):
        self.core = core
        self.apscheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
            executors={"default": LoopExecutor(loop)},
            job_defaults=self.JOB_DEFAULTS,
            timezone=UTC,
        )
        # Set once every feature's start-up hook has (re)defined its jobs (PulseBridge.start).
        self.ready = False

    def start(self) -> None:
        """Start the scheduler's thread. Reads and writes the job store: call it off the loop."""
        global _running_core
        _running_core = self.core
        self.apscheduler.start()

    def shutdown(self) -> None:
        """Stop, waiting for the scheduler's thread (it may be in the job store): off the loop."""
        global _running_core
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=False)
        if _running_core is self.core:
            _running_core = None

    def cron(self, job_id: str, name: str, *, timezone: str, kwargs: dict[str, Any] | None = None, **fields: Any) -> None:
        """(Re)define a recurring job, e.g. `cron("pulse:support", "pulse.open", timezone="Europe/Berlin", day_of_week="tue", hour=10)`.

        Re-defining a job exactly as stored keeps its next run time, so a run that fell due while no
        scheduler was up (a restart, a replica taking over) still happens once (see JOB_DEFAULTS).
        """
        trigger = CronTrigger(timezone=timezone, **fields)
        job_kwargs = {"name": name, **(kwargs or {})}
        existing = self.apscheduler.get_job(job_id)
        if existing is not None and existing.kwargs == job_kwargs and _same_trigger(existing.trigger, trigger):
            return
        self.apscheduler.add_job("bot.kernel.scheduler:run_job", trigger, id=job_id, replace_existing=True, kwargs=job_kwargs)

    def every(self, job_id: str, name: str, *, seconds: int, kwargs: dict[str, Any] | None = None) -> None:
        self.apscheduler.add_job(
            "bot.kernel.scheduler:run_job", IntervalTrigger(seconds=seconds), id=job_id, replace_existing=True, kwargs={"name": name, **(kwargs or {})}
        )

    def once(self, job_id: str, name: str, at: datetime, kwargs: dict[str, Any] | None = None) -> None:
        self.apscheduler.add_job(
            "bot.kernel.scheduler:run_job", DateTrigger(run_date=at), id=job_id, replace_existing=True, kwargs={"name": name, **(kwargs or {})}
        )

    def run_soon(self, job_id: str) -> None:
        """Bring a stored job's next run forward to now (a running instance is not doubled:
        max_instances still applies)."""
        if self.apscheduler.get_job(job_id) is not None:
            self.apscheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def remove(self, job_id: str) -> None:
        if self.apscheduler.get_job(job_id) is not None:
            self.apscheduler.remove_job(job_id)
