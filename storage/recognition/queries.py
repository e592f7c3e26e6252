"""Reads and writes for wins, kudos context, recognition limits, stats and digests.

"Public" kudos are those without a private `kudos_context` row: every query that feeds a channel
post, a digest or a leaderboard goes through `_public`, so private kudos cannot leak there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlmodel import Session

from storage.feedback.tables import CustomerKudos
from storage.recognition.tables import KudosContext, Win, WinContributor
from storage.directory.tables import Team, TeamMember, User
from storage.recognition.tables import Kudos, KudosRecipient, KudosValue


def _public():
    return not_(exists().where(KudosContext.kudos_id == Kudos.id, KudosContext.private.is_(True)))


# -- wins -----------------------------------------------------------------------------------------


def insert_win(
    session: Session,
    *,
    customer: str,
    summary: str,
    value: str | None,
    won_on: date,
    created_by: int,
    platform: str,
    source_key: str,
    contributor_ids: Iterable[int],
    created_at: datetime,
) -> Win:
    win = Win(
        customer=customer,
        summary=summary,
        value=value,
        won_on=won_on,
        created_by=created_by,
        platform=platform,
        source_key=source_key,
        created_at=created_at,
    )
    session.add(win)
    session.flush()
    for user_id in dict.fromkeys(contributor_ids):
        session.add(WinContributor(win_id=win.id, user_id=user_id))
    session.flush()
    return win


def win_by_source(session: Session, source_key: str) -> Win | None:
    return session.execute(select(Win).where(Win.source_key == source_key)).scalar_one_or_none()


def win_by_id(session: Session, win_id: int) -> Win | None:
    return session.get(Win, win_id)


def contributors_of(session: Session, win_id: int) -> list[User]:
    return list(
        session.execute(
            select(User).join(WinContributor, WinContributor.user_id == User.id).where(WinContributor.win_id == win_id).order_by(User.id)
        ).scalars()
    )


def visible_wins(session: Session, viewer: Iterable[str], wins: list[Win]) -> list[Win]:
    """Those of `wins` a person may see, given their identifiers (`slack:U…`, their email): wins they
    recorded or share, and wins posted to a channel of a team they are on (a win goes to each
    contributor's team channel)."""
    idents = set(viewer)
    if not idents or not wins:
        return []
    team_idents = set(
        session.execute(
            select(TeamMember.identifier).where(TeamMember.team_id.in_(select(TeamMember.team_id).where(TeamMember.identifier.in_(idents))))
        ).scalars()
    ) | idents

    def identifiers(user: User) -> set[str]:
        return {f"{user.platform}:{user.external_id}", *([user.email.lower()] if user.email else [])}

    ids = [w.id for w in wins]
    seen = {
        win_id
        for win_id, creator in session.execute(select(Win.id, User).join(User, User.id == Win.created_by).where(Win.id.in_(ids))).all()
        if identifiers(creator) & idents
    }
    rows = session.execute(
        select(WinContributor.win_id, User).join(User, User.id == WinContributor.user_id).where(WinContributor.win_id.in_(ids))
    ).all()
    seen |= {win_id for win_id, contributor in rows if identifiers(contributor) & team_idents}
    return [w for w in wins if w.id in seen]


def recent_wins(session: Session, since: datetime, limit: int = 100) -> list[Win]:
    return list(session.execute(select(Win).where(Win.created_at >= since).order_by(Win.id.desc()).limit(limit)).scalars())


def wins_with_contributors(session: Session, user_ids: Iterable[int], start: datetime, end: datetime) -> list[Win]:
    ids = list(user_ids)
    if not ids:
        return []
    return list(
        session.execute(
            select(Win)
            .where(
                Win.created_at >= start,
                Win.created_at < end,
                exists().where(WinContributor.win_id == Win.id, WinContributor.user_id.in_(ids)),
            )
            .order_by(Win.id)
        ).scalars()
    )


# -- kudos context --------------------------------------------------------------------------------


def set_kudos_context(session: Session, kudos_id: int, *, win_id: int | None, private: bool) -> None:
    session.add(KudosContext(kudos_id=kudos_id, win_id=win_id, private=private))
    session.flush()


def kudos_context(session: Session, kudos_id: int) -> KudosContext | None:
    return session.get(KudosContext, kudos_id)


# -- limits ---------------------------------------------------------------------------------------


def recipients_given_since(session: Session, giver_id: int, since: datetime) -> int:
    """How many people (counted per kudos) this giver recognised since `since`, private ones included."""
    return session.execute(
        select(func.count())
        .select_from(KudosRecipient)
        .join(Kudos, Kudos.id == KudosRecipient.kudos_id)
        .where(Kudos.giver_id == giver_id, Kudos.created_at >= since)
    ).scalar_one()


def pair_counts_since(session: Session, giver_id: int, recipient_ids: list[int], since: datetime) -> dict[int, int]:
    rows = session.execute(
        select(KudosRecipient.user_id, func.count())
        .join(Kudos, Kudos.id == KudosRecipient.kudos_id)
        .where(Kudos.giver_id == giver_id, Kudos.created_at >= since, KudosRecipient.user_id.in_(recipient_ids))
        .group_by(KudosRecipient.user_id)
    ).all()
    return {user_id: n for user_id, n in rows}


# -- stats ----------------------------------------------------------------------------------------


def personal_stats(session: Session, user_id: int) -> dict:
    """The caller's own numbers, private kudos included: they gave or received them."""
    given = session.execute(select(func.count()).select_from(Kudos).where(Kudos.giver_id == user_id)).scalar_one()
    received = session.execute(select(func.count()).select_from(KudosRecipient).where(KudosRecipient.user_id == user_id)).scalar_one()
    received_values = session.execute(
        select(KudosValue.value, func.count())
        .join(KudosRecipient, KudosRecipient.kudos_id == KudosValue.kudos_id)
        .where(KudosRecipient.user_id == user_id)
        .group_by(KudosValue.value)
        .order_by(func.count().desc(), KudosValue.value)
    ).all()
    given_values = session.execute(
        select(KudosValue.value, func.count())
        .join(Kudos, Kudos.id == KudosValue.kudos_id)
        .where(Kudos.giver_id == user_id)
        .group_by(KudosValue.value)
        .order_by(func.count().desc(), KudosValue.value)
    ).all()
    wins = session.execute(select(func.count()).select_from(WinContributor).where(WinContributor.user_id == user_id)).scalar_one()
    customer = session.execute(select(func.count()).select_from(CustomerKudos).where(CustomerKudos.user_id == user_id)).scalar_one()
    return {
        "customer": customer,
        "given": given,
        "received": received,
        "received_values": [(v, n) for v, n in received_values],
        "given_values": [(v, n) for v, n in given_values],
        "wins": wins,
    }


def leaderboard(session: Session, since: datetime, limit: int = 10) -> list[tuple[User, int]]:
    rows = session.execute(
        select(User, func.count(KudosRecipient.kudos_id))
        .join(KudosRecipient, KudosRecipient.user_id == User.id)
        .join(Kudos, Kudos.id == KudosRecipient.kudos_id)
        .where(Kudos.created_at >= since, _public())
        .group_by(User.id)
        .order_by(func.count(KudosRecipient.kudos_id).desc(), User.display_name)
        .limit(limit)
    ).all()
    return [(user, n) for user, n in rows]


# -- digests --------------------------------------------------------------------------------------


def team_users(session: Session, team_id: int) -> tuple[list[User], list[str]]:
    """Users of a configured team, and the member identifiers no user has been seen for yet."""
    idents = list(session.execute(select(TeamMember.identifier).where(TeamMember.team_id == team_id)).scalars())
    emails = [i for i in idents if "@" in i and not i.startswith(("slack:", "teams:"))]
    platform_ids = [tuple(i.split(":", 1)) for i in idents if i.startswith(("slack:", "teams:"))]
    conditions = []
    if emails:
        conditions.append(User.email.in_(emails))
    conditions.extend(and_(User.platform == p, User.external_id == x) for p, x in platform_ids)
    if not conditions:
        return [], []
    users = list(session.execute(select(User).where(or_(*conditions), User.is_bot.is_(False)).order_by(User.display_name, User.id)).scalars())
    seen = {u.email for u in users if u.email} | {f"{u.platform}:{u.external_id}" for u in users}
    return users, [i for i in idents if i not in seen]


def public_kudos_received(session: Session, user_ids: Iterable[int], start: datetime, end: datetime) -> list[tuple[Kudos, list[int], list[str]]]:
    """Public kudos in [start, end) with at least one of these recipients: (kudos, those recipients, values)."""
    ids = list(user_ids)
    if not ids:
        return []
    rows = session.execute(
        select(Kudos, KudosRecipient.user_id)
        .join(KudosRecipient, KudosRecipient.kudos_id == Kudos.id)
        .where(Kudos.created_at >= start, Kudos.created_at < end, KudosRecipient.user_id.in_(ids), _public())
        .order_by(Kudos.id)
    ).all()
    by_kudos: dict[int, tuple[Kudos, list[int]]] = {}
    for kudos, user_id in rows:
        by_kudos.setdefault(kudos.id, (kudos, []))[1].append(user_id)
    values: dict[int, list[str]] = {}
    if by_kudos:
        for kudos_id, value in session.execute(
            select(KudosValue.kudos_id, KudosValue.value).where(KudosValue.kudos_id.in_(list(by_kudos))).order_by(KudosValue.value)
        ).all():
            values.setdefault(kudos_id, []).append(value)
    return [(k, users, values.get(k.id, [])) for k, users in by_kudos.values()]


def value_counts(kudos: list[tuple[Kudos, list[int], list[str]]]) -> list[tuple[str, int]]:
    counter = Counter(v for _, _, values in kudos for v in values)
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def customer_kudos_received(session: Session, user_ids: Iterable[int], start: datetime, end: datetime) -> list[int]:
    """Recipients (one entry per customer kudos) of praise from customers relayed in [start, end)."""
    ids = list(user_ids)
    if not ids:
        return []
    return list(
        session.execute(
            select(CustomerKudos.user_id).where(CustomerKudos.user_id.in_(ids), CustomerKudos.created_at >= start, CustomerKudos.created_at < end)
        ).scalars()
    )


def recognised_since(session: Session, user_ids: Iterable[int], since: datetime) -> set[int]:
    """Who got public kudos, praise from a customer, or was a win contributor since `since`."""
    ids = list(user_ids)
    if not ids:
        return set()
    by_kudos = session.execute(
        select(KudosRecipient.user_id)
        .join(Kudos, Kudos.id == KudosRecipient.kudos_id)
        .where(KudosRecipient.user_id.in_(ids), Kudos.created_at >= since, _public())
    ).scalars()
    by_win = session.execute(
        select(WinContributor.user_id).join(Win, Win.id == WinContributor.win_id).where(WinContributor.user_id.in_(ids), Win.created_at >= since)
    ).scalars()
    by_customer = session.execute(select(CustomerKudos.user_id).where(CustomerKudos.user_id.in_(ids), CustomerKudos.created_at >= since)).scalars()
    return set(by_kudos) | set(by_win) | set(by_customer)


def directory_people(session: Session, platform: str, limit: int = 100) -> list[User]:
    """People the bot has met on a platform, for pickers that cannot search the platform (Teams cards)."""
    return list(
        session.execute(
            select(User)
            .where(User.platform == platform, User.active.is_(True), User.is_bot.is_(False))
            .order_by(User.display_name, User.id)
            .limit(limit)
        ).scalars()
    )


def team_by_slug(session: Session, slug: str) -> Team | None:
    return session.execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()


def team_lead_identifiers(session: Session, team_id: int) -> set[str]:
    return set(session.execute(select(TeamMember.identifier).where(TeamMember.team_id == team_id, TeamMember.is_lead.is_(True))).scalars())
