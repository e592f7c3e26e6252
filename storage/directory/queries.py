"""Users, teams and conversation references."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

from sqlalchemy import delete, func, insert, literal, or_, select, text, update
from sqlmodel import Session

from storage.directory.tables import ConversationRef, Team, TeamMember, User
from storage.kernel.db import added_unless_taken
from storage.kernel.tables import utcnow


def find_user(session: Session, platform: str, external_id: str) -> User | None:
    return session.execute(
        select(User).where(User.platform == platform, User.external_id == external_id)
    ).scalar_one_or_none()


def upsert_user(
    session: Session,
    *,
    platform: str,
    external_id: str,
    display_name: str,
    email: str | None = None,
    timezone: str | None = None,
    is_bot: bool = False,
    active: bool = True,
) -> User:
    """Insert or refresh a user; fields the platform did not give (None) keep their stored value.

    Race-safe on PostgreSQL: two transactions storing the same new person at once (a Teams turn
    remembering its sender while another request stores them as a kudos recipient) both find
    nobody; the second insert then waits for the first, fails on the unique key inside its
    savepoint, and refreshes the row the first stored instead of failing the whole request.
    """
    user = find_user(session, platform, external_id)
    if user is None:
        user = User(platform=platform, external_id=external_id, display_name=display_name)
        apply_profile(user, display_name=display_name, email=email, timezone=timezone, is_bot=is_bot, active=active)
        if added_unless_taken(session, user):
            return user
        user = find_user(session, platform, external_id)
        if user is None:  # pragma: no cover - the unique key failed, so a row exists
            raise RuntimeError(f"user {platform}:{external_id} neither inserted nor found")
    apply_profile(user, display_name=display_name, email=email, timezone=timezone, is_bot=is_bot, active=active)
    session.flush()
    return user


def apply_profile(user: User, *, display_name: str, email: str | None, timezone: str | None, is_bot: bool, active: bool) -> None:
    if display_name:
        user.display_name = display_name
    if email:
        user.email = email.lower()
    if timezone:
        user.timezone = timezone
    user.is_bot = is_bot
    user.active = active
    user.updated_at = utcnow()


def identifiers_of(user: User) -> list[str]:
    idents = [f"{user.platform}:{user.external_id}"]
    if user.email:
        idents.append(user.email.lower())
    return idents


def teams_of(session: Session, user: User) -> list[Team]:
    return list(
        session.execute(
            select(Team)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.identifier.in_(identifiers_of(user)))
            .order_by(Team.slug)
            .distinct()
        ).scalars()
    )


def team_channel(team: Team, platform: str) -> str | None:
    """The channel a team celebrates in on one platform (the playground gives every team one)."""
    if platform == "slack":
        return team.slack_channel
    if platform == "teams":
        return team.teams_channel
    if platform == "playground":
        return f"team:{team.slug}"
    return None


def sync_teams(session: Session, teams: Iterable[tuple[str, dict[str, Any], list[str], list[str]]]) -> None:
    """Mirror the configured teams into the database: (slug, attributes, members, leads) per team.

    Runs at every start: it reads every team and membership once and writes only the differences
    (rows added, removed or switching lead/member), so an unchanged 10,000-person org file costs two
    selects instead of deleting and re-inserting every membership.
    """
    teams = list(teams)
    if session.get_bind().dialect.name == "postgresql":
        # Replicas that start together each mirror the file. Without a turn each, both see a new team
        # missing, both insert it, and the second dies at start-up on teams_slug_key. (On SQLite the
        # write unit's BEGIN IMMEDIATE already serialises them.) Released when the unit commits.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('pulsebridge.sync_teams'))"))
    by_slug = {team.slug: team for team in session.execute(select(Team)).scalars()}
    for slug, attrs, _members, _leads in teams:
        team = by_slug.get(slug)
        if team is None:
            team = by_slug[slug] = Team(slug=slug, **attrs)
            session.add(team)
        else:
            for key, value in attrs.items():
                if getattr(team, key) != value:
                    setattr(team, key, value)
        if team.source != "config":
            team.source = "config"  # the YAML wins over a platform group of the same name
    session.flush()
    wanted: dict[int, dict[str, bool]] = {}
    for slug, _attrs, members, leads in teams:
        rows = dict.fromkeys(members, False)
        rows.update(dict.fromkeys(leads, True))
        wanted[by_slug[slug].id] = rows
    # Teams mapped from platform groups are kept in step by the directory sync, not by the YAML;
    # a config team that left the file keeps its row (history joins on it) but loses its members.
    for team in by_slug.values():
        if team.source == "config" and team.id not in wanted:
            wanted[team.id] = {}
    existing = session.execute(
        select(TeamMember.id, TeamMember.team_id, TeamMember.identifier, TeamMember.is_lead).where(TeamMember.team_id.in_(list(wanted)))
    ).all() if wanted else []
    gone: list[int] = []
    flips: dict[bool, list[int]] = {True: [], False: []}
    for row_id, team_id, ident, is_lead in existing:
        target = wanted[team_id].pop(ident, None)
        if target is None:
            gone.append(row_id)
        elif target != is_lead:
            flips[target].append(row_id)
    for chunk in _chunks(gone):
        session.execute(delete(TeamMember).where(TeamMember.id.in_(chunk)))
    for is_lead, ids in flips.items():
        for chunk in _chunks(ids):
            session.execute(update(TeamMember).where(TeamMember.id.in_(chunk)).values(is_lead=is_lead))
    # A chunk at a time: a first start with a 10,000-person file built all 10,000 parameter dicts
    # (and SQLAlchemy's copies of them) at once, 4 MB of peak that the process kept as idle RSS.
    new_rows = ({"team_id": team_id, "identifier": ident, "is_lead": is_lead} for team_id, rows in wanted.items() for ident, is_lead in rows.items())
    while chunk := list(islice(new_rows, 500)):
        session.execute(insert(TeamMember), chunk)
    session.flush()


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    """Bound IN lists (SQLite caps bound parameters per statement)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def save_conversation_ref(
    session: Session,
    *,
    platform: str,
    conversation_id: str,
    kind: str,
    reference: dict[str, Any],
    user_id: int | None = None,
) -> None:
    def stored() -> ConversationRef | None:
        return session.execute(
            select(ConversationRef).where(ConversationRef.platform == platform, ConversationRef.conversation_id == conversation_id)
        ).scalar_one_or_none()

    row = stored()
    if row is None:
        # Two turns of one new conversation at once: the second insert fails in its savepoint and
        # updates the first's row (as upsert_user does).
        added_unless_taken(session, ConversationRef(platform=platform, conversation_id=conversation_id, kind=kind, user_id=user_id, reference=reference))
        row = stored()
        if row is None:  # pragma: no cover - the unique key failed, so a row exists
            raise RuntimeError(f"conversation {conversation_id} neither inserted nor found")
    row.reference = reference
    row.kind = kind
    if user_id is not None:
        row.user_id = user_id
    row.updated_at = utcnow()
    session.flush()


def personal_conversation(session: Session, user_id: int) -> ConversationRef | None:
    return session.execute(
        select(ConversationRef)
        .where(ConversationRef.user_id == user_id, ConversationRef.kind == "personal")
        .order_by(ConversationRef.updated_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def conversation(session: Session, platform: str, conversation_id: str) -> ConversationRef | None:
    return session.execute(
        select(ConversationRef).where(
            ConversationRef.platform == platform, ConversationRef.conversation_id == conversation_id
        )
    ).scalar_one_or_none()


def latest_conversation(session: Session, platform: str, user_id: int | None = None) -> ConversationRef | None:
    """The most recently seen conversation, preferring the user's own; carries service URL and tenant."""
    query = select(ConversationRef).where(ConversationRef.platform == platform)
    if user_id is not None:
        query = query.order_by((ConversationRef.user_id == user_id).desc(), ConversationRef.updated_at.desc())
    else:
        query = query.order_by(ConversationRef.updated_at.desc())
    return session.execute(query.limit(1)).scalar_one_or_none()


def search_people(
    session: Session,
    platform: str,
    text: str,
    *,
    skip: int = 0,
    limit: int = 15,
    exclude_external_id: str | None = None,
    members_only: bool = False,
    user_ids: set[int] | None = None,
) -> list[User]:
    """Active people on a platform whose name contains `text` (or whose email starts with it), by name.

    For type-as-you-search pickers: one bounded page, never the whole directory. `members_only`
    keeps people who belong to one of the org's teams; `user_ids` restricts to those ids (a tenant).
    """
    query = select(User).where(User.platform == platform, User.active.is_(True), User.is_bot.is_(False))
    needle = " ".join(text.split()).lower()
    if needle:
        query = query.where(or_(func.lower(User.display_name).contains(needle, autoescape=True), func.lower(User.email).startswith(needle, autoescape=True)))
    if exclude_external_id:
        query = query.where(User.external_id != exclude_external_id)
    if members_only:
        identifiers = select(TeamMember.identifier)
        query = query.where(or_(literal(f"{platform}:").concat(User.external_id).in_(identifiers), func.lower(User.email).in_(identifiers)))
    if user_ids is not None:
        query = query.where(User.id.in_(user_ids or {-1}))
    return list(session.execute(query.order_by(User.display_name, User.id).offset(max(skip, 0)).limit(limit)).scalars())


def users_seen_in_tenant(session: Session, platform: str, tenant_id: str) -> set[int]:
    """Users whose own chat with the bot lives in a tenant (conversation references carry the tenant)."""
    rows = session.execute(
        select(ConversationRef.user_id, ConversationRef.reference).where(ConversationRef.platform == platform, ConversationRef.user_id.is_not(None))
    ).all()
    def tenant(reference) -> str | None:
        conversation = (reference or {}).get("conversation") or {}
        return conversation.get("tenantID") or conversation.get("tenantId")

    return {user_id for user_id, reference in rows if tenant(reference) == tenant_id}
