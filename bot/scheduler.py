"""Scheduled work on APScheduler 3, with its job store in the bot's own database.

APScheduler persists jobs by a textual reference to a module-level function, so every job
runs through `run_job`, which looks the named handler up on the running core. Features
register handlers with `PulseBridge.job(name, handler)` and schedule them by name.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from bot.core import PulseBridge

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
    await handler(core, **kwargs)


class Scheduler:
    # A job missed while the process was down runs once on start-up (coalesce), not once per miss.
    JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 12 * 3600}

    def __init__(self, core: PulseBridge, engine: Engine):
        self.core = core
        self.apscheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
            job_defaults=self.JOB_DEFAULTS,
            timezone=UTC,
        )

    def start(self) -> None:
        global _running_core
        _running_core = self.core
        self.apscheduler.start()

    def shutdown(self) -> None:
        global _running_core
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=False)
        if _running_core is self.core:
            _running_core = None

    def cron(self, job_id: str, name: str, *, timezone: str, kwargs: dict[str, Any] | None = None, **fields: Any) -> None:
        """(Re)define a recurring job, e.g. `cron("pulse:support", "pulse.open", timezone="Europe/Berlin", day_of_week="tue", hour=10)`."""
        self.apscheduler.add_job(
            "bot.scheduler:run_job",
            CronTrigger(timezone=timezone, **fields),
            id=job_id,
            replace_existing=True,
            kwargs={"name": name, **(kwargs or {})},
        )

    def every(self, job_id: str, name: str, *, seconds: int, kwargs: dict[str, Any] | None = None) -> None:
        self.apscheduler.add_job(
            "bot.scheduler:run_job", IntervalTrigger(seconds=seconds), id=job_id, replace_existing=True, kwargs={"name": name, **(kwargs or {})}
        )

    def once(self, job_id: str, name: str, at: datetime, kwargs: dict[str, Any] | None = None) -> None:
        self.apscheduler.add_job(
            "bot.scheduler:run_job", DateTrigger(run_date=at), id=job_id, replace_existing=True, kwargs={"name": name, **(kwargs or {})}
        )

    def remove(self, job_id: str) -> None:
        if self.apscheduler.get_job(job_id) is not None:
            self.apscheduler.remove_job(job_id)
