"""Who people are: users are upserted on first contact, enriched by the platform's profile."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.kernel.events import Profile
from bot.kernel.messages import UserRef
from bot.kernel.ports import ChatAdapter
from storage.kernel.db import session
from storage.directory.queries import find_user, upsert_user
from storage.directory.tables import User
from storage.kernel.tables import utcnow

# Profiles change rarely; refreshing once a day keeps names and timezones right without
# a users.info call on every command.
PROFILE_TTL = timedelta(hours=24)


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
    for ref in refs:
        if ref.external_id in out:
            continue
        if ref.external_id in given:
            out[ref.external_id] = given[ref.external_id]
            continue
        user = stored[ref.external_id]
        if _fresh(user):
            out[ref.external_id] = profile_of(user)
            continue
        fetched = await adapter.fetch_profile(ref.external_id)
        if fetched is None and user is not None:
            # The platform is unreachable or silent; the stored row is better than refusing.
            fetched = profile_of(user)
        out[ref.external_id] = fetched
    return out


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
