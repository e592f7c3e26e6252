"""Who may see a team's health and manage its goals: that team's leads and the config's admins."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.directory.lookup import PROFILE_TTL, resolve_profiles, store_profile
from bot.kernel.errors import UserFacingError
from bot.kernel.text import excerpt
from storage.teamhealth import queries as q
from storage.kernel.db import session, write_unit
from storage.directory.queries import find_user, identifiers_of
from storage.directory.tables import Team, TeamMember, User
from storage.kernel.tables import utcnow


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def caller(core, event) -> User:
    """The actor's stored user row, with their email: leads and admins are often configured by email,
    and Teams activities carry none, so a row without one is completed from the platform."""
    with session(core.engine) as s:
        known = find_user(s, event.actor.platform, event.actor.external_id)
        if known is not None:
            s.expunge(known)
    fresh = known is not None and known.display_name and known.updated_at and utcnow() - _aware(known.updated_at) < PROFILE_TTL
    given = event.actor_profile  # Teams looks the member up on every activity, email included
    if known is not None and known.email and fresh and (given is None or not given.email or given.email.lower() == known.email):
        return known  # read-only commands should not write a row on every call
    profile = given if given is not None and given.email else await core.adapters[event.platform].fetch_profile(event.actor.external_id)
    if profile is None:
        if known is not None:
            return known
        given = {event.actor_profile.external_id: event.actor_profile} if event.actor_profile else {}
        profile = (await resolve_profiles(core.engine, core.adapters[event.platform], [event.actor], given)).get(event.actor.external_id)
    if profile is None:
        raise UserFacingError("I couldn't look up your profile on this workspace; please try again in a minute.")
    with write_unit(core.engine) as s:
        user = store_profile(s, profile)
        s.flush()
        s.expunge(user)
    return user


def is_admin(core, user: User) -> bool:
    return bool(set(identifiers_of(user)) & set(core.org.admins))


def is_lead(s, user: User, team: Team) -> bool:
    from sqlalchemy import select

    return (
        s.execute(
            select(TeamMember.id).where(TeamMember.team_id == team.id, TeamMember.is_lead.is_(True), TeamMember.identifier.in_(identifiers_of(user)))
        ).first()
        is not None
    )


def may_manage(core, s, user: User, team: Team) -> bool:
    return is_admin(core, user) or is_lead(s, user, team)


def who_can(core, s, team: Team) -> str:
    """Whom to ask, in a refusal anyone may trigger: lead names the directory already shows
    everyone, never a configured address, and admins by role only (their emails stay in the config)."""
    names = sorted(set(q.names_for(s, q.lead_identifiers(s, team.id)).values()))
    leads = f" ({', '.join(names)})" if names else ""
    return f"the leads of {team.name or team.slug}{leads} and pulsebridge admins"


def find_team(core, s, slug: str) -> Team:
    team = q.team_by_slug(s, slug.strip().lower())
    if team is None or team.slug not in core.org.teams and team.source == "config":
        known = ", ".join(sorted(core.org.teams)) or "none configured"
        # Quote a little of what was typed, not all of it: a 5,000-character "team" is not worth repeating.
        raise UserFacingError(f"I don't know a team called “{excerpt(slug)}”. Teams: {known}.")
    return team
