"""Crontab lines in settings (PULSEBRIDGE_DIRECTORY_SYNC_CRON), checked when settings load and used by the scheduler."""

from __future__ import annotations

from datetime import UTC

from apscheduler.triggers.cron import CronTrigger


def cron_fields(expression: str) -> dict[str, str]:
    """A crontab line as CronTrigger fields: 5 fields, or 6 with seconds first ("*/2 * * * * *").

    Raises ValueError naming the problem, so a bad setting stops start-up with a clear message.
    """
    parts = expression.split()
    names = ["minute", "hour", "day", "month", "day_of_week"]
    if len(parts) == 6:
        names = ["second", *names]
    elif len(parts) != 5:
        raise ValueError(f"expected 5 crontab fields (minute hour day month weekday) or 6 with seconds first, got {expression!r}")
    fields = dict(zip(names, parts))
    CronTrigger(timezone=UTC, **fields)
    return fields
