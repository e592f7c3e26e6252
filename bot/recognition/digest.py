"""The weekly recognition digest: wins of the week, kudos by value, who was recognised.

Teams in digest mode get it in their channel(s); every team's leads get it privately with the
team's "quiet contributors" (no public kudos and no customer win in the last 30 days) added.
Private kudos are never counted here (storage.recognition only reads public ones).

The digest's templates are bot/recognition/templates/*.txt.j2; operators may override them with files of
the same name in `recognition.templates_dir` (bot/kernel/templates.py says how templates become blocks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any


from bot.directory.lookup import user_ref
from bot.kernel.messages import Message
from bot.kernel.templates import TemplateFailed, render_blocks
from bot.kernel.ports import ChannelPost, DirectMessage, Outbound
from bot.kernel.when import zone
from bot.recognition.config import posts_per_kudos
from bot.recognition.wins import outcome_text
from storage.kernel.db import session
from storage.directory.queries import team_channel
from storage.recognition.queries import (
    contributors_of,
    customer_kudos_received,
    public_kudos_received,
    recognised_since,
    team_by_slug,
    team_lead_identifiers,
    team_users,
    value_counts,
    wins_with_contributors,
)
from storage.directory.tables import Team, User

log = logging.getLogger(__name__)

JOB = "recognition.digest"
TEMPLATES = Path(__file__).parent / "templates"
QUIET_DAYS = 30
MAX_WINS = 15  # Slack takes at most 50 blocks per message; two blocks per win in the stock template
MAX_QUIET_NAMES = 60

# -- content --------------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    user_ids: list[int]
    is_lead: bool = False


def _people(users: list[User], unresolved: list[str], lead_idents: set[str]) -> list[Person]:
    """One entry per person: a Slack and a Teams account with the same email are the same person."""
    by_key: dict[str, Person] = {}
    for user in users:
        key = user.email or f"{user.platform}:{user.external_id}"
        idents = {user.email, f"{user.platform}:{user.external_id}"}
        person = by_key.setdefault(key, Person(user.display_name or user.external_id, []))
        person.user_ids.append(user.id)
        person.is_lead = person.is_lead or bool(idents & lead_idents)
    for ident in unresolved:
        by_key.setdefault(ident, Person(ident, [], ident in lead_idents))
    return sorted(by_key.values(), key=lambda p: p.name.lower())


def digest_context(s, team: Team, now) -> dict[str, Any]:
    tz = zone(team.timezone)
    start = now - timedelta(days=7)
    users, unresolved = team_users(s, team.id)
    lead_idents = team_lead_identifiers(s, team.id)
    people = _people(users, unresolved, lead_idents)
    ids = [u.id for u in users]
    names = {user_id: p.name for p in people for user_id in p.user_ids}

    kudos = public_kudos_received(s, ids, start, now)
    wins = []
    recognised: dict[str, None] = {}
    for win in wins_with_contributors(s, ids, start, now):
        contributors = contributors_of(s, win.id)
        wins.append(
            {
                "label": win.label,
                "customer": win.customer,
                "summary": win.summary,
                "value": win.value or "",
                "outcome": outcome_text(win),
                "date": win.won_on.isoformat(),
                "contributors": sorted((c.display_name or c.external_id for c in contributors), key=str.lower),
            }
        )
        recognised.update(dict.fromkeys(names[c.id] for c in contributors if c.id in names))
    for _, recipient_ids, _ in kudos:
        recognised.update(dict.fromkeys(names[i] for i in recipient_ids))
    customer_kudos = customer_kudos_received(s, ids, start, now)
    recognised.update(dict.fromkeys(names[i] for i in customer_kudos))

    active = recognised_since(s, ids, now - timedelta(days=QUIET_DAYS))
    quiet = [p for p in people if not any(i in active for i in p.user_ids)]
    return {
        "team": team.name or team.slug,
        "wins_total": len(wins),
        "wins_more": max(len(wins) - MAX_WINS, 0),
        "start": start.astimezone(tz).date().isoformat(),
        "end": now.astimezone(tz).date().isoformat(),
        "wins": wins[:MAX_WINS],
        "kudos_total": len(kudos),
        "customer_kudos_total": len(customer_kudos),
        "values": [{"value": v, "count": n} for v, n in value_counts(kudos)],
        "recognised": sorted(recognised, key=str.lower),
        "quiet": quiet,
        "quiet_days": QUIET_DAYS,
    }


def _channel_destinations(team: Team, platforms) -> list[ChannelPost]:
    """The team's channel on every platform the bot runs on: the digest covers kudos from all of them."""
    return [ChannelPost(p, channel) for p in platforms if (channel := team_channel(team, p))]


def build(core, slug: str) -> list[Outbound]:
    """The digest messages for one team at `core.clock()`; keys carry the ISO week so a re-run sends nothing new."""
    config = core.org.teams.get(slug)
    if config is None:
        log.info("digest for team %s skipped: no longer in the config", slug)
        return []
    rules = core.org.recognition
    now = core.clock()
    with session(core.engine) as s:
        team = team_by_slug(s, slug)
        if team is None:
            return []
        context = digest_context(s, team, now)
        users, _ = team_users(s, team.id)
        lead_idents = team_lead_identifiers(s, team.id)
    year, week, _ = now.astimezone(zone(team.timezone)).isocalendar()
    period = f"{year}-W{week:02d}"
    summary = f"Recognition digest for {context['team']}: {context['wins_total']} win(s), {context['kudos_total']} kudos"
    out: list[Outbound] = []
    has_news = bool(context["wins_total"] or context["kudos_total"] or context["customer_kudos_total"])
    if has_news and not posts_per_kudos(config, rules):
        message = Message(summary=summary, blocks=render_blocks("digest.txt.j2", context, TEMPLATES, rules.templates_dir))
        for channel in _channel_destinations(team, sorted(core.adapters)):
            out.append(Outbound(key=f"digest:{slug}:{period}:channel:{channel.channel_id}", destination=channel, message=message))

    leads_done: set[str] = set()
    for user in users:
        person_key = user.email or f"{user.platform}:{user.external_id}"
        if person_key in leads_done or user.platform not in core.adapters:
            continue
        if not ({user.email, f"{user.platform}:{user.external_id}"} & lead_idents):
            continue
        leads_done.add(person_key)
        quiet = [p.name for p in context["quiet"] if user.id not in p.user_ids]
        if not (has_news or quiet):
            continue
        lead_context = dict(context, quiet=quiet[:MAX_QUIET_NAMES], quiet_more=max(len(quiet) - MAX_QUIET_NAMES, 0))
        message = Message(summary=summary, blocks=render_blocks("lead_digest.txt.j2", lead_context, TEMPLATES, rules.templates_dir))
        out.append(Outbound(key=f"digest:{slug}:{period}:lead:{user.id}", destination=DirectMessage(user_ref(user)), message=message))
    return out


async def run(core, team: str) -> None:
    try:
        items = build(core, team)
    except TemplateFailed as exc:
        log.error("recognition digest for %s not sent: template error: %s", team, exc)
        return
    await core.outbox.deliver(items)


def check_templates(core) -> None:
    """Render both templates once with sample data at start-up, so a broken override shows in the log now.

    Only an operator's override can be broken: the built-in templates are rendered by the tests."""
    if core.org.recognition.templates_dir is None:
        return
    sample = {
        "team": "Sample",
        "start": "2026-01-01",
        "end": "2026-01-08",
        "wins": [{"label": "W-1", "customer": "Acme", "summary": "s", "value": "", "outcome": "s", "date": "2026-01-02", "contributors": ["Ana"]}],
        "wins_total": 1,
        "wins_more": 0,
        "kudos_total": 1,
        "customer_kudos_total": 1,
        "values": [{"value": "craft", "count": 1}],
        "recognised": ["Ana"],
        "quiet": ["Bob"],
        "quiet_more": 0,
        "quiet_days": QUIET_DAYS,
    }
    for name in ("digest.txt.j2", "lead_digest.txt.j2"):
        try:
            render_blocks(name, sample, TEMPLATES, core.org.recognition.templates_dir)
        except TemplateFailed as exc:
            log.error("recognition template %s cannot render: %s", name, exc)


def schedule(core) -> None:
    check_templates(core)
    if core.scheduler is None:
        return
    rules = core.org.recognition
    for slug, team in core.org.teams.items():
        core.scheduler.cron(
            f"recognition-digest:{slug}",
            JOB,
            timezone=team.timezone,
            kwargs={"team": slug},
            day_of_week=rules.digest_day,
            hour=rules.digest_hour,
            minute=0,
        )


def register(core) -> None:
    core.job(JOB, run)
    core.on_startup(schedule)
