"""Who people are: users are upserted on first contact, enriched by the platform's profile."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.kernel.events import Profile
from bot.kernel.messages import UserRef
from bot.kernel.ports import ChatAdapter, DirectMessage, Outbound
from storage.kernel.db import session
from storage.directory.queries import find_user, identifiers_of, upsert_user
from storage.directory.tables import User
from storage.kernel.tables import utcnow

# Profiles change rarely; refreshing once a day keeps names and timezones right without
# a users.info call on every command.
PROFILE_TTL = timedelta(hours=24)
# Look-ups of one request run side by side, this many at a time: 20 contributors at 150 ms each
# took 3 s one after another (past Slack's ack window), and an unbounded burst earns a 429.
LOOKUP_CONCURRENCY = 8


def _fresh(user: User | None) -> bool:
    if user is None:
        return False
    updated = user.updated_at
    return updated is not None and utcnow() - updated < PROFILE_TTL and bool(user.display_name)


async def resolve_profiles(
    engine: Engine, adapter: ChatAdapter, refs: list[UserRef], given: dict[str, Profile]
) -> dict[str, Profile | None]:
    """Profiles for people we must store: given by the adapter, else fetched when ours are stale.

    Returned None means the platform does not know that id. Users already fresh in the directory
    map to a profile built from the stored row, so no platform call is made for them.
    """
    out: dict[str, Profile | None] = {}
    with session(engine) as s:
        stored = {ref.external_id: find_user(s, ref.platform, ref.external_id) for ref in refs}
    wanted: list[str] = []
    for ref in refs:
        if ref.external_id in out or ref.external_id in wanted:
            continue
        if ref.external_id in given:
            out[ref.external_id] = given[ref.external_id]
            continue
        user = stored[ref.external_id]
        if _fresh(user):
            out[ref.external_id] = profile_of(user)
            continue
        wanted.append(ref.external_id)
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def fetch(external_id: str) -> Profile | None:
        async with gate:
            fetched = await adapter.fetch_profile(external_id)
        user = stored[external_id]
        if fetched is None and user is not None:
            # The platform is unreachable or silent; the stored row is better than refusing.
            fetched = profile_of(user)
        return fetched

    for external_id, fetched in zip(wanted, await asyncio.gather(*(fetch(i) for i in wanted))):
        out[external_id] = fetched
    return {ref.external_id: out[ref.external_id] for ref in refs if ref.external_id in out}


def profile_of(user: User) -> Profile:
    """A stored directory row, as the profile a platform would have given."""
    return Profile(
        platform=user.platform,
        external_id=user.external_id,
        display_name=user.display_name,
        email=user.email,
        timezone=user.timezone,
        is_bot=user.is_bot,
        deleted=not user.active,
    )


def store_profile(s, profile: Profile) -> User:
    return upsert_user(
        s,
        platform=profile.platform,
        external_id=profile.external_id,
        display_name=profile.display_name,
        email=profile.email,
        timezone=profile.timezone,
        is_bot=profile.is_bot,
        active=not profile.deleted,
    )


def user_ref(user: User) -> UserRef:
    return UserRef(platform=user.platform, external_id=user.external_id, display_name=user.display_name)


def admin_users(s, admins: list[str]) -> list[User]:
    """The directory's active people the organisation file names as admins (by email or `platform:id`)."""
    wanted = {a.lower() for a in admins if a}
    if not wanted:
        return []
    rows = s.execute(select(User).where(User.active.is_(True), User.is_bot.is_(False))).scalars()
    return [u for u in rows if wanted & {i.lower() for i in identifiers_of(u)}]


async def notify_admins(core, key: str, message) -> int:
    """DM every admin the directory knows, once per `key` ever (outbox keys are stored): returns how many were new."""
    with session(core.engine) as s:
        admins = [(u.id, user_ref(u)) for u in admin_users(s, list(core.org.admins)) if u.platform in core.adapters]
    sent = await core.outbox.deliver(Outbound(f"admin:{key}:{uid}", DirectMessage(ref), message) for uid, ref in admins)
    return len(sent)
