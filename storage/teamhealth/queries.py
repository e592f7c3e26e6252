"""Team-health figures, aggregated in SQL per team and time range.

Every function returns sums and counts (a few rows per call), never raw rows, except `comments`,
which is capped. Pulse figures come back per *atom* (one question of one closed, scheduled pulse),
because suppression (bot/teamhealth/suppression.py) decides per atom before anything is combined.

The pulse tables belong to the micro-pulses feature (storage/pulses/tables.py); only their Core
tables are used here, so answers are never loaded as objects. Customer feedback figures live in
storage/teamhealth/team_feedback.py, the one definition shared with the export and the weekly post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, exists, func, not_, or_, select
from sqlmodel import Session

from storage.feedback.tables import CustomerKudos
from storage.pulses.tables import Pulse, PulseAnswer, PulseQuestion
from storage.recognition.tables import KudosContext, Win, WinContributor
from storage.directory.tables import Team, TeamMember, User
from storage.recognition.tables import Kudos, KudosRecipient, KudosValue
from storage.teamhealth.tables import Goal, GoalTeam

pulses = Pulse.__table__
pulse_questions = PulseQuestion.__table__
pulse_answers = PulseAnswer.__table__

SCORED_SCALES = ("likert", "mood", "enps")


def _public():
    return not_(exists().where(KudosContext.kudos_id == Kudos.id, KudosContext.private.is_(True)))


# -- people ---------------------------------------------------------------------------------------


def team_member_ids(session: Session, team_id: int) -> list[int]:
    """Ids of the team's human users (both platforms), resolved from the membership identifiers."""
    idents = list(session.execute(select(TeamMember.identifier).where(TeamMember.team_id == team_id)).scalars())
    emails = [i for i in idents if not i.startswith(("slack:", "teams:"))]
    by_platform: dict[str, list[str]] = {}
    for ident in idents:
        platform, sep, external = ident.partition(":")
        if sep and platform in ("slack", "teams"):
            by_platform.setdefault(platform, []).append(external)
    clauses = [User.email.in_(emails)] if emails else []
    clauses += [and_(User.platform == p, User.external_id.in_(ids)) for p, ids in by_platform.items()]
    if not clauses:
        return []
    return list(session.execute(select(User.id).where(or_(*clauses), User.is_bot.is_(False)).order_by(User.id)).scalars())


def people_count(session: Session, team_id: int) -> int:
    """Distinct people (a Slack and a Teams account with one email count once)."""
    return len(set(session.execute(select(TeamMember.identifier).where(TeamMember.team_id == team_id)).scalars()))


def lead_identifiers(session: Session, team_id: int) -> list[str]:
    return list(
        session.execute(
            select(TeamMember.identifier).where(TeamMember.team_id == team_id, TeamMember.is_lead.is_(True)).order_by(TeamMember.identifier)
        ).scalars()
    )


def names_for(session: Session, identifiers: Sequence[str]) -> dict[str, str]:
    """Display names for membership identifiers the directory knows; others are left out."""
    out: dict[str, str] = {}
    emails = [i for i in identifiers if not i.startswith(("slack:", "teams:"))]
    if emails:
        for email, name in session.execute(select(User.email, User.display_name).where(User.email.in_(emails))).all():
            if name:
                out.setdefault(email, name)
    for ident in identifiers:
        platform, sep, external = ident.partition(":")
        if sep and platform in ("slack", "teams"):
            name = session.execute(select(User.display_name).where(User.platform == platform, User.external_id == external)).scalar()
            if name:
                out[ident] = name
    return out


def team_by_slug(session: Session, slug: str) -> Team | None:
    return session.execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()


# -- recognition ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recognition:
    given: int
    received: int
    wins: int
    recognised_people: int  # distinct members with public kudos, a win or customer praise in the range


def recognition(session: Session, member_ids: list[int], start: datetime, end: datetime) -> Recognition:
    if not member_ids:
        return Recognition(0, 0, 0, 0)
    given = session.execute(
        select(func.count()).select_from(Kudos).where(Kudos.giver_id.in_(member_ids), Kudos.created_at >= start, Kudos.created_at < end, _public())
    ).scalar_one()
    received_q = (
        select(KudosRecipient.user_id)
        .join(Kudos, Kudos.id == KudosRecipient.kudos_id)
        .where(KudosRecipient.user_id.in_(member_ids), Kudos.created_at >= start, Kudos.created_at < end, _public())
    )
    received = session.execute(select(func.count()).select_from(received_q.subquery())).scalar_one()
    wins_q = select(Win.id).where(
        Win.created_at >= start, Win.created_at < end, exists().where(WinContributor.win_id == Win.id, WinContributor.user_id.in_(member_ids))
    )
    wins = session.execute(select(func.count()).select_from(wins_q.subquery())).scalar_one()
    return Recognition(given, received, wins, recognised_people(session, member_ids, start, end))


def recognised_people(session: Session, member_ids: list[int], start: datetime, end: datetime) -> int:
    """Distinct members with public kudos, a customer win or praise from a customer in [start, end)."""
    if not member_ids:
        return 0
    by_kudos = (
        select(KudosRecipient.user_id)
        .join(Kudos, Kudos.id == KudosRecipient.kudos_id)
        .where(KudosRecipient.user_id.in_(member_ids), Kudos.created_at >= start, Kudos.created_at < end, _public())
    )
    by_win = (
        select(WinContributor.user_id)
        .join(Win, Win.id == WinContributor.win_id)
        .where(WinContributor.user_id.in_(member_ids), Win.created_at >= start, Win.created_at < end)
    )
    by_customer = select(CustomerKudos.user_id).where(
        CustomerKudos.user_id.in_(member_ids), CustomerKudos.created_at >= start, CustomerKudos.created_at < end
    )
    union = by_kudos.union(by_win, by_customer).subquery()
    return session.execute(select(func.count()).select_from(union)).scalar_one()


def top_values(session: Session, member_ids: list[int], start: datetime, end: datetime, limit: int = 3) -> list[tuple[str, int]]:
    if not member_ids:
        return []
    kudos_ids = (
        select(Kudos.id)
        .join(KudosRecipient, KudosRecipient.kudos_id == Kudos.id)
        .where(KudosRecipient.user_id.in_(member_ids), Kudos.created_at >= start, Kudos.created_at < end, _public())
    )
    rows = session.execute(
        select(KudosValue.value, func.count())
        .where(KudosValue.kudos_id.in_(kudos_ids))
        .group_by(KudosValue.value)
        .order_by(func.count().desc(), KudosValue.value)
        .limit(limit)
    ).all()
    return [(v, n) for v, n in rows]


def latest_wins(session: Session, member_ids: list[int], start: datetime, end: datetime, limit: int = 3) -> list[Win]:
    if not member_ids:
        return []
    return list(
        session.execute(
            select(Win)
            .where(Win.created_at >= start, Win.created_at < end, exists().where(WinContributor.win_id == Win.id, WinContributor.user_id.in_(member_ids)))
            .order_by(Win.created_at.desc(), Win.id.desc())
            .limit(limit)
        ).scalars()
    )


# -- pulses ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    """One question of one closed scheduled pulse: the smallest unit a figure is built from."""

    pulse_id: int
    question_id: int
    cycle_date: date
    min_group_size: int
    driver: str
    scale: str
    n: int
    total: int  # sum of values
    promoters: int
    detractors: int


def pulse_atoms(session: Session, team_id: int, start: date, end: date) -> list[Atom]:
    p, q, a = pulses, pulse_questions, pulse_answers
    rows = session.execute(
        select(
            p.c.id,
            q.c.id,
            p.c.cycle_date,
            p.c.min_group_size,
            q.c.driver,
            q.c.scale,
            func.count(a.c.value),
            func.coalesce(func.sum(a.c.value), 0),
            func.coalesce(func.sum(case((a.c.value >= 9, 1), else_=0)), 0),
            func.coalesce(func.sum(case((a.c.value <= 6, 1), else_=0)), 0),
        )
        .select_from(p.join(q, q.c.pulse_id == p.c.id).join(a, a.c.question_id == q.c.id))
        .where(
            p.c.team_id == team_id,
            p.c.kind == "scheduled",
            p.c.status == "closed",
            p.c.cycle_date >= start,
            p.c.cycle_date < end,
            q.c.scale.in_(SCORED_SCALES),
            a.c.value.is_not(None),
        )
        .group_by(p.c.id, p.c.cycle_date, p.c.min_group_size, q.c.id, q.c.driver, q.c.scale)
    ).all()
    return [
        Atom(r[0], r[1], r[2] if isinstance(r[2], date) else date.fromisoformat(str(r[2])), int(r[3] or 0), r[4], r[5], int(r[6]), int(r[7]), int(r[8]), int(r[9]))
        for r in rows
    ]


def comments(session: Session, question_ids: list[int], limit: int = 1000) -> list[tuple[str, float | None]]:
    """Comments on these pulse questions (only atoms that passed suppression are asked for)."""
    if not question_ids:
        return []
    a = pulse_answers
    rows = session.execute(
        select(a.c.comment, a.c.polarity).where(a.c.question_id.in_(question_ids), a.c.comment.is_not(None)).limit(limit)
    ).all()
    return [(t, pol) for t, pol in rows if t]


# -- goals ----------------------------------------------------------------------------------------


def goals_of_team(session: Session, team_id: int) -> list[Goal]:
    return list(
        session.execute(
            select(Goal).join(GoalTeam, GoalTeam.goal_id == Goal.id).where(GoalTeam.team_id == team_id, Goal.active.is_(True)).order_by(Goal.id)
        ).scalars()
    )


def goal_team_ids(session: Session, goal_id: int) -> list[int]:
    return list(session.execute(select(GoalTeam.team_id).where(GoalTeam.goal_id == goal_id).order_by(GoalTeam.team_id)).scalars())


def set_goal_teams(session: Session, goal_id: int, team_ids: Sequence[int]) -> None:
    from sqlalchemy import delete

    session.execute(delete(GoalTeam).where(GoalTeam.goal_id == goal_id))
    for team_id in dict.fromkeys(team_ids):
        session.add(GoalTeam(goal_id=goal_id, team_id=team_id))
    session.flush()


def goal_by_key(session: Session, key: str) -> Goal | None:
    return session.execute(select(Goal).where(Goal.key == key)).scalar_one_or_none()


def active_goals(session: Session) -> list[Goal]:
    return list(session.execute(select(Goal).where(Goal.active.is_(True)).order_by(Goal.id)).scalars())
