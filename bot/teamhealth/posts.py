"""The weekly team post: goal progress, the week's wins and kudos, and the EX↔CX line.

Cron per team in the team's timezone (`teamhealth.post_day` / `post_hour`), defined in an
on_startup hook that may run again on every replica hand-over: `Scheduler.cron` keeps an identical
job as it is, and the outbox key carries the ISO week, so a re-run sends nothing new.
Rendered with the recognition digest's safe line templates (bot/recognition/digest.py), overridable from
`teamhealth.templates_dir`.
"""

from __future__ import annotations

import logging
from typing import Any


from bot.kernel.messages import Message
from bot.kernel.ports import ChannelPost, Outbound
from bot.kernel.templates import TemplateFailed
from bot.teamhealth.rendering import render
from bot.teamhealth import goals as goals_mod
from bot.teamhealth.catalogue import fmt
from bot.teamhealth.correlation import describe, lagged
from bot.teamhealth.metrics import weekly
from bot.teamhealth.periods import containing, today_in
from bot.recognition.wins import outcome_text
from bot.teamhealth.suppression import minimum
from storage.teamhealth import team_feedback
from storage.teamhealth import queries as q
from storage.kernel.db import session
from storage.directory.queries import team_channel

log = logging.getLogger(__name__)


JOB = "teamhealth.weekly"
CORRELATION_WEEKS = 16  # 12 weeks shown + up to 4 weeks of lag



def link_line(core, s, team, now) -> str:
    cfg = core.org.teamhealth
    series = weekly(s, team, today_in(now, team.timezone), CORRELATION_WEEKS, minimum(core))
    return describe(lagged(series.engagement, series.cx, min_points=cfg.correlation_min_weeks), CORRELATION_WEEKS, cfg.correlation_min_weeks)


def weekly_context(core, s, team, now) -> tuple[dict[str, Any], str]:
    member_ids = q.team_member_ids(s, team.id)
    # The week that just ended (the post goes out at the start of the next one) in the team's zone.
    week = containing("week", today_in(now, team.timezone)).previous()
    start, end = week.bounds(team.timezone)
    rec = q.recognition(s, member_ids, start, end)
    cx = team_feedback.customer(s, team_feedback.owners(s, team.id), start, end)
    wins = q.latest_wins(s, member_ids, start, end, limit=5)
    values = q.top_values(s, member_ids, start, end)
    lines = [goals_mod.describe(goals_mod.progress(core, s, g, team, now)) for g in q.goals_of_team(s, team.id)]
    return (
        {
            "team": team.name or team.slug,
            "week": week.label,
            "week_title": week.title,
            "goals": lines,
            "wins_total": rec.wins,
            "wins": [f"{w.customer}: {outcome_text(w, 120)}" for w in wins],
            "kudos_total": rec.received,
            "recognised": rec.recognised_people,
            "top_values": ", ".join(f"#{v}" for v, _ in values),
            "customer_kudos": cx.customer_kudos,
            "csat": fmt("csat", cx.csat) if cx.csat is not None else "",
            "link": link_line(core, s, team, now),
        },
        week.label,
    )


def build(core, slug: str) -> list[Outbound]:
    if slug not in core.org.teams:
        log.info("teamhealth post for %s skipped: no longer in the config", slug)
        return []
    now = core.clock()
    with session(core.engine) as s:
        team = q.team_by_slug(s, slug)
        if team is None:
            return []
        context, label = weekly_context(core, s, team, now)
    message = Message(summary=f"{context['team']}: {context['week_title']} — goals, wins and kudos", blocks=render(core, "teamhealth_weekly.txt.j2", context))
    out = []
    for platform in sorted(core.adapters):
        channel = team_channel(team, platform)
        if channel:
            out.append(Outbound(key=f"teamhealth:weekly:{slug}:{label}:{platform}:{channel}", destination=ChannelPost(platform, channel), message=message))
    return out


async def run(core, team: str) -> None:
    try:
        items = build(core, team)
    except TemplateFailed as exc:
        log.error("teamhealth post for %s not sent: template error: %s", team, exc)
        return
    await core.outbox.deliver(items)
    # A goal reached during the week is celebrated no later than its weekly post.
    await core.outbox.deliver(goals_mod.celebrations(core, core.clock()))


def schedule(core) -> None:
    if core.scheduler is None:
        return
    cfg = core.org.teamhealth
    for slug, team in core.org.teams.items():
        core.scheduler.cron(
            f"teamhealth-weekly:{slug}", JOB, timezone=team.timezone, kwargs={"team": slug}, day_of_week=cfg.post_day, hour=cfg.post_hour, minute=0
        )


def register(core) -> None:
    core.job(JOB, run)
    core.on_startup(schedule)
