"""Directory sync: who works here, according to Slack and Teams, daily and on demand.

People the platform lists are upserted (email, name, timezone); people it marks deleted or no
longer lists are deactivated, never deleted, so their history stays intact while features that
message people skip them (`User.active`). Slack user groups named in the YAML become teams unless
the YAML itself defines a team of that name.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.kernel.orgconfig import member_identifier
from bot.kernel.crontab import cron_fields
from storage.kernel.db import session
from storage.directory.queries import sync_teams
from storage.directory.sync import GroupTeam, deactivate_missing, sync_group_teams, upsert_profiles
from storage.directory.tables import User

if TYPE_CHECKING:
    from bot.kernel.core import PulseBridge

log = logging.getLogger(__name__)

JOB = "directory.sync"
JOB_ID = "directory:sync"
_NOT_SLUG = re.compile(r"[^a-z0-9_-]+")


@dataclass
class SyncReport:
    platform: str
    listed: int = 0
    deactivated: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    complete: bool = True
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return f"{self.platform}: failed ({self.error})"
        parts = [f"{self.listed} listed", f"{len(self.deactivated)} deactivated"]
        if self.teams:
            parts.append(f"teams from groups: {', '.join(self.teams)}")
        if not self.complete:
            parts.append("listing incomplete, nobody deactivated for being absent")
        return f"{self.platform}: " + ", ".join(parts)


def team_slug(handle: str) -> str:
    return _NOT_SLUG.sub("-", handle.lower()).strip("-_")[:64] or "group"


async def sync_platform(core: PulseBridge, platform: str) -> SyncReport:
    adapter = core.adapters[platform]
    wanted = core.org.directory.slack_user_groups if platform == "slack" else []
    try:
        roster = await adapter.roster(groups=bool(wanted))
    except Exception as exc:  # noqa: BLE001 - a failed listing changes nothing and is reported
        log.warning("directory sync for %s failed: %s", platform, type(exc).__name__)
        return SyncReport(platform, error=f"{type(exc).__name__}: {exc}")

    report = SyncReport(platform, listed=len(roster.people), complete=roster.complete)
    with session(core.engine) as s, s.begin():
        was_active = set(
            s.execute(select(User.external_id).where(User.platform == platform, User.active.is_(True))).scalars()
        )
        upsert_profiles(s, platform, roster.people)
        report.deactivated = sorted(p.external_id for p in roster.people if p.deleted and p.external_id in was_active)
        if roster.complete:
            report.deactivated += sorted(u.external_id for u in deactivate_missing(s, platform, {p.external_id for p in roster.people}))
        if wanted:
            groups = {g.handle.lower(): g for g in roster.groups}
            for handle in wanted:
                if handle not in groups:
                    log.warning("Slack user group @%s named in the config does not exist (or is disabled)", handle)
            report.teams = sync_group_teams(
                s,
                platform,
                [
                    GroupTeam(
                        slug=team_slug(groups[h].handle),
                        name=groups[h].name,
                        member_identifiers=tuple(f"{platform}:{m}" for m in groups[h].member_ids),
                        slack_channel=groups[h].channel_id,
                    )
                    for h in wanted
                    if h in groups
                ],
                reserved=set(core.org.teams),
            )
    log.info("directory sync: %s", report.line())
    return report


async def sync_all(core: PulseBridge) -> list[SyncReport]:
    return [await sync_platform(core, platform) for platform in sorted(core.adapters)]


async def scheduled_sync(core: PulseBridge) -> None:
    await sync_all(core)


def sync_org_teams(core: PulseBridge) -> None:
    """Mirror PULSEBRIDGE_CONFIG's teams into the database so queries can join on membership."""
    with session(core.engine) as s, s.begin():
        sync_teams(
            s,
            (
                (
                    slug,
                    {
                        "name": team.name or slug,
                        "slack_channel": team.slack_channel,
                        "teams_channel": team.teams_channel,
                        "timezone": team.timezone,
                    },
                    [member_identifier(m) for m in team.members],
                    [member_identifier(m) for m in team.leads],
                )
                for slug, team in core.org.teams.items()
            ),
        )


def _schedule(core: PulseBridge) -> None:
    if core.scheduler is not None:
        core.scheduler.cron(JOB_ID, JOB, timezone="UTC", **cron_fields(core.settings.PULSEBRIDGE_DIRECTORY_SYNC_CRON))


def register(core: PulseBridge) -> None:
    core.job(JOB, scheduled_sync)
    core.on_startup(_schedule)
