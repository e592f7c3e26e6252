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

from bot.directory.lookup import notify_admins
from bot.kernel.messages import Context, Message, Paragraph
from bot.kernel.orgconfig import member_identifier
from bot.kernel.crontab import cron_fields
from storage.kernel.db import session, write_unit
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
    refused: str | None = None  # why the guard refused this sync (nothing was changed)

    def line(self) -> str:
        if self.error:
            return f"{self.platform}: failed ({self.error})"
        if self.refused:
            return f"{self.platform}: refused, nothing changed: {self.refused}"
        parts = [f"{self.listed} listed", f"{len(self.deactivated)} deactivated"]
        if self.teams:
            parts.append(f"teams from groups: {', '.join(self.teams)}")
        if not self.complete:
            parts.append("listing incomplete, nobody deactivated for being absent")
        return f"{self.platform}: " + ", ".join(parts)


def team_slug(handle: str) -> str:
    return _NOT_SLUG.sub("-", handle.lower()).strip("-_")[:64] or "group"


def _guard(core: PulseBridge, s, platform: str, roster) -> str | None:
    """Why this listing must not be applied, or None.

    Counted against the platform's active people: those it no longer lists (an explicit
    `deleted` flag is the platform's own word and never counts) and those listed under a new id
    (same email as an active person whose old id is gone).
    """
    config = core.org.directory
    active = {u.external_id: (u.email or "").lower() for u in s.execute(select(User).where(User.platform == platform, User.active.is_(True))).scalars()}
    if not active:
        return None
    listed = {p.external_id for p in roster.people}
    absent = [i for i in active if i not in listed] if roster.complete else []
    gone_emails = {active[i] for i in absent if active[i]}
    moved = [p.external_id for p in roster.people if p.external_id not in active and (p.email or "").lower() in gone_emails]
    n = len(active)
    problems = []
    if len(absent) >= config.guard_min_people and len(absent) > config.max_deactivate_share * n:
        problems.append(
            f"it would deactivate {len(absent)} of {n} active people ({len(absent) / n:.0%}; at most "
            f"{config.max_deactivate_share:.0%} may go in one sync): only {len(roster.people)} were listed"
        )
    if len(moved) >= config.guard_min_people and len(moved) > config.max_id_change_share * n:
        problems.append(f"{len(moved)} of {n} active people are listed under a new id ({len(moved) / n:.0%}; at most {config.max_id_change_share:.0%})")
    return "; ".join(problems) or None


async def _tell_admins(core: PulseBridge, report: SyncReport) -> None:
    text = f"The {report.platform} directory sync was refused and changed nothing: {report.refused}."
    hint = "Check the bot's token and scopes (a listing that shows only some people looks like this). If the listing is right, run `pulsebridge directory sync --force`."
    message = Message(summary=text, blocks=(Paragraph(("⚠️ " + text,)), Context((hint,))))
    try:
        await notify_admins(core, f"directory_sync_refused:{report.platform}:{core.clock().date().isoformat()}", message)
    except Exception:  # noqa: BLE001 - the refusal stands and is logged even when nobody can be told
        log.exception("could not tell the admins that the %s directory sync was refused", report.platform)


async def sync_platform(core: PulseBridge, platform: str, *, force: bool = False) -> SyncReport:
    adapter = core.adapters[platform]
    wanted = core.org.directory.slack_user_groups if platform == "slack" else []
    try:
        roster = await adapter.roster(groups=bool(wanted))
    except Exception as exc:  # noqa: BLE001 - a failed listing changes nothing and is reported
        log.warning("directory sync for %s failed: %s", platform, type(exc).__name__)
        return SyncReport(platform, error=f"{type(exc).__name__}: {exc}")

    report = SyncReport(platform, listed=len(roster.people), complete=roster.complete)
    with session(core.engine) as s:
        report.refused = None if force else _guard(core, s, platform, roster)
    if report.refused:
        log.error("directory sync: %s", report.line())
        await _tell_admins(core, report)
        return report
    with write_unit(core.engine) as s:
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


async def sync_all(core: PulseBridge, *, force: bool = False) -> list[SyncReport]:
    """Every platform; `force` applies listings the guard would refuse (`pulsebridge directory sync --force`)."""
    return [await sync_platform(core, platform, force=force) for platform in sorted(core.adapters)]


async def scheduled_sync(core: PulseBridge) -> None:
    await sync_all(core)


def sync_org_teams(core: PulseBridge) -> None:
    """Mirror PULSEBRIDGE_CONFIG's teams into the database so queries can join on membership."""
    with write_unit(core.engine) as s:
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
    core.admin_notifier = lambda key, message: notify_admins(core, key, message)
    core.job(JOB, scheduled_sync)
    core.on_startup(_schedule)
