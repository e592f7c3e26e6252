"""Queries behind the directory sync: deactivating people who left, teams mapped from platform groups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, or_, select
from sqlmodel import Session

from storage.directory.queries import apply_profile
from storage.directory.tables import ConversationRef, Team, TeamMember, User
from storage.kernel.tables import utcnow



class ProfileLike(Protocol):
    """What a listing gives per person (bot.kernel.events.Profile); storage names the shape, not the class, so it imports nothing of bot/."""

    external_id: str
    display_name: str
    email: str | None
    timezone: str | None
    is_bot: bool
    deleted: bool

@dataclass(frozen=True)
class GroupTeam:
    slug: str
    name: str
    member_identifiers: tuple[str, ...]
    slack_channel: str | None = None


def upsert_profiles(session: Session, platform: str, profiles: Iterable[ProfileLike]) -> dict[str, User]:
    """Upsert a whole listing with one read of the platform's users (a per-person look-up takes 10× longer)."""
    users = {u.external_id: u for u in session.execute(select(User).where(User.platform == platform)).scalars()}
    for profile in profiles:
        user = users.get(profile.external_id)
        if user is None:
            user = users[profile.external_id] = User(platform=platform, external_id=profile.external_id, display_name=profile.display_name)
            session.add(user)
        apply_profile(
            user,
            display_name=profile.display_name,
            email=profile.email,
            timezone=profile.timezone,
            is_bot=profile.is_bot,
            active=not profile.deleted,
        )
    session.flush()
    return users


def deactivate_missing(session: Session, platform: str, present: set[str]) -> list[User]:
    """Mark active users of `platform` that the platform no longer lists as inactive (rows are kept)."""
    gone = [
        user
        for user in session.execute(select(User).where(User.platform == platform, User.active.is_(True))).scalars()
        if user.external_id not in present
    ]
    for user in gone:
        user.active = False
        user.updated_at = utcnow()
    session.flush()
    return gone


def sync_group_teams(session: Session, source: str, teams: Iterable[GroupTeam], reserved: set[str]) -> list[str]:
    """Mirror platform groups as teams; slugs in `reserved` (named in the YAML) are left to the YAML.

    Returns the slugs written. Teams this source created earlier whose group is gone lose their members.
    """
    written: list[str] = []
    for group in teams:
        if group.slug in reserved:
            continue
        team = session.execute(select(Team).where(Team.slug == group.slug)).scalar_one_or_none()
        if team is None:
            team = Team(slug=group.slug, name=group.name, source=source)
            session.add(team)
        team.name, team.source = group.name, source
        if group.slack_channel:
            team.slack_channel = group.slack_channel
        session.flush()
        session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
        for ident in dict.fromkeys(group.member_identifiers):
            session.add(TeamMember(team_id=team.id, identifier=ident, is_lead=False))
        written.append(group.slug)
    stale = select(Team).where(Team.source == source)
    if written:
        stale = stale.where(Team.slug.not_in(written))
    for team in session.execute(stale).scalars().all():
        session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    session.flush()
    return written


def shared_conversations(session: Session, platform: str) -> list[ConversationRef]:
    """Team channels and group chats the bot was installed in (not 1:1 chats), newest first."""
    return list(
        session.execute(
            select(ConversationRef)
            .where(ConversationRef.platform == platform, ConversationRef.kind != "personal")
            .order_by(ConversationRef.updated_at.desc())
        ).scalars()
    )


def personal_conversations(session: Session, platform: str) -> list[tuple[str, dict]]:
    """(user's platform id, serialized reference) of every 1:1 chat the bot has with a person."""
    return [
        (external_id, reference)
        for external_id, reference in session.execute(
            select(User.external_id, ConversationRef.reference)
            .join(User, User.id == ConversationRef.user_id)
            .where(ConversationRef.platform == platform, ConversationRef.kind == "personal")
            .order_by(ConversationRef.updated_at.desc())
        )
    ]


def active_team_users(session: Session, team_id: int) -> list[User]:
    """The team's members who are still active, for features that message a whole team."""
    idents = list(session.execute(select(TeamMember.identifier).where(TeamMember.team_id == team_id)).scalars())
    emails: list[str] = []
    by_platform: dict[str, list[str]] = {}
    for ident in idents:
        platform, sep, external_id = ident.partition(":")
        if sep and platform in ("slack", "teams"):
            by_platform.setdefault(platform, []).append(external_id)
        else:
            emails.append(ident)
    clauses = [User.email.in_(emails)] if emails else []
    clauses += [(User.platform == p) & User.external_id.in_(ids) for p, ids in by_platform.items()]
    if not clauses:
        return []
    return list(
        session.execute(select(User).where(User.active.is_(True), User.is_bot.is_(False), or_(*clauses)).order_by(User.id)).scalars()
    )
