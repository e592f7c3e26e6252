"""Retention: raw text (customer feedback, relayed quotes, pulse comments) is kept for `retention.days`, then blanked.

Admins set `retention: {days: 365}` in PULSEBRIDGE_CONFIG. The purge runs daily and on demand
(`pulsebridge retention run`); counts, scores and averages are untouched, so aggregates stay.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.datarights.config import RetentionConfig
from storage.kernel.db import in_db_thread, write_unit
from storage.datarights.retention import PurgeReport, purge_before

if TYPE_CHECKING:
    from bot.kernel.core import PulseBridge

log = logging.getLogger(__name__)

JOB = "retention.purge"
JOB_ID = "retention:purge"
def run_purge(engine, config: RetentionConfig, now: datetime) -> PurgeReport:
    """One transaction: either every table is purged up to the cutoff or none is."""
    cutoff = now - timedelta(days=config.days)
    with write_unit(engine) as s:
        return purge_before(s, cutoff)


async def _purge(core: PulseBridge) -> None:
    report = await in_db_thread(core.engine, "retention", run_purge, core.engine, core.org.retention, core.clock())
    log.info("retention (%d days): %s", core.org.retention.days, report.line())


def _schedule(core: PulseBridge) -> None:
    if core.scheduler is not None:
        core.scheduler.cron(JOB_ID, JOB, timezone="UTC", hour=4, minute=23)


def register(core: PulseBridge) -> None:
    core.job(JOB, _purge)
    core.on_startup(_schedule)
