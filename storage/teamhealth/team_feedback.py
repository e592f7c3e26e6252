"""The one definition of "this team's customer feedback", used by /teamhealth, goals, the weekly post,
the EX↔CX series and `pulsebridge export`.

Only praise is routed to a person (`routed_user_id`); criticism and neutral feedback are stored
with the agent the source named and nobody routed. Counting routed feedback alone made CSAT
praise-only (5.00/5 while the same month's export said 3.00). A team's feedback is therefore every
row that is routed to a member, or whose agent email / agent id is a member's:

- agent email: case-insensitive, against members' directory emails and the configured member
  addresses of people the bot has not met yet;
- agent id: `slack:U…` / `teams:29:…` exactly, or a bare platform id that only one person in the
  directory has (the same rule routing uses, bot/feedback/routing.py `Directory.find`).

Each row is counted once however many of these match. Sums and counts only, never rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, false, func, or_, select
from sqlmodel import Session

from storage.feedback.tables import CustomerKudos, Feedback
from storage.recognition.queries import team_users
from storage.directory.tables import User

PLATFORMS = ("slack:", "teams:")
CSAT_GOOD = 4  # "satisfied" share of CSAT: 4 or 5 of 5


@dataclass(frozen=True)
class FeedbackOwners:
    """Who a team's feedback may name: member user ids, emails (lower case) and agent ids."""

    user_ids: tuple[int, ...] = ()
    emails: tuple[str, ...] = ()
    agent_ids: tuple[str, ...] = ()


def owners(session: Session, team_id: int) -> FeedbackOwners:
    users, unseen = team_users(session, team_id)
    user_ids = tuple(sorted(u.id for u in users))
    emails = {u.email.lower() for u in users if u.email}
    emails |= {i.lower() for i in unseen if "@" in i and not i.startswith(PLATFORMS)}
    agent_ids = {f"{u.platform}:{u.external_id}" for u in users} | {i for i in unseen if i.startswith(PLATFORMS)}
    bare = {a.partition(":")[2] for a in agent_ids}
    if bare:
        # A bare id is only the member's when nobody else in the directory has it (on another platform).
        taken = select(User.external_id).where(User.external_id.in_(bare))
        if user_ids:
            taken = taken.where(User.id.not_in(user_ids))
        bare -= set(session.execute(taken).scalars())
    return FeedbackOwners(user_ids, tuple(sorted(emails)), tuple(sorted(agent_ids | bare)))


def belongs(who: FeedbackOwners):
    """SQL condition: this feedback row is the team's."""
    clauses = []
    if who.user_ids:
        clauses.append(Feedback.routed_user_id.in_(who.user_ids))
    if who.emails:
        clauses += [func.lower(Feedback.agent_email).in_(who.emails), func.lower(Feedback.agent_id).in_(who.emails)]
    if who.agent_ids:
        clauses.append(Feedback.agent_id.in_(who.agent_ids))
    return or_(*clauses) if clauses else false()


@dataclass(frozen=True)
class CustomerFigures:
    feedback: int = 0
    positive: int = 0
    negative: int = 0
    csat_n: int = 0
    csat_sum: float = 0.0
    csat_good: int = 0  # CSAT answers of 4 or 5
    nps_n: int = 0
    promoters: int = 0
    detractors: int = 0
    customer_kudos: int = 0  # praise relayed to a member (peer-kudos style recognition)

    @property
    def csat(self) -> float | None:
        return self.csat_sum / self.csat_n if self.csat_n else None

    @property
    def nps(self) -> float | None:
        return 100 * (self.promoters - self.detractors) / self.nps_n if self.nps_n else None

    @property
    def positive_share(self) -> float | None:
        return 100 * self.positive / self.feedback if self.feedback else None


def _sum(condition, value=1):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def customer(session: Session, who: FeedbackOwners, start: datetime, end: datetime) -> CustomerFigures:
    """The team's customer figures for feedback given in [start, end)."""
    csat = and_(Feedback.scale == "csat5", Feedback.score.is_not(None))
    nps = and_(Feedback.scale == "nps10", Feedback.score.is_not(None))
    row = session.execute(
        select(
            func.count(),
            _sum(Feedback.sentiment == "positive"),
            _sum(Feedback.sentiment == "negative"),
            _sum(csat),
            _sum(csat, Feedback.score),
            _sum(and_(csat, Feedback.score >= CSAT_GOOD)),
            _sum(nps),
            _sum(and_(nps, Feedback.score >= 9)),
            _sum(and_(nps, Feedback.score <= 6)),
        ).where(belongs(who), Feedback.created_at >= start, Feedback.created_at < end)
    ).one()
    praise = 0
    if who.user_ids:
        praise = session.execute(
            select(func.count())
            .select_from(CustomerKudos)
            .where(CustomerKudos.user_id.in_(who.user_ids), CustomerKudos.created_at >= start, CustomerKudos.created_at < end)
        ).scalar_one()
    n, pos, neg, csat_n, csat_sum, good, nps_n, prom, det = row
    return CustomerFigures(int(n), int(pos), int(neg), int(csat_n), float(csat_sum), int(good), int(nps_n), int(prom), int(det), int(praise))


def _bucket(col, bounds: Sequence[datetime]):
    """Index of the [bounds[i], bounds[i+1]) range a timestamp falls in: portable SQL, no date functions."""
    return case(*[(col < bounds[i + 1], i) for i in range(len(bounds) - 1)], else_=len(bounds) - 1)


def weekly(session: Session, who: FeedbackOwners, bounds: Sequence[datetime]) -> dict[int, tuple[int, int]]:
    """{week index: (feedback count, positive count)} for consecutive week boundaries."""
    bucket = _bucket(Feedback.created_at, bounds).label("bucket")
    rows = session.execute(
        select(bucket, func.count(), _sum(Feedback.sentiment == "positive"))
        .where(belongs(who), Feedback.created_at >= bounds[0], Feedback.created_at < bounds[-1])
        .group_by(bucket)
    ).all()
    return {int(b): (int(n), int(p or 0)) for b, n, p in rows}
