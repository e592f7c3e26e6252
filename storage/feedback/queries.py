"""Reads and writes for customer feedback and the customer kudos relayed from it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlmodel import Session

from storage.feedback.tables import CustomerKudos, Feedback
from storage.directory.tables import TeamMember, User
from storage.kernel.db import added_unless_taken
from storage.kernel.tables import OutboxMessage


def feedback_by_key(session: Session, source: str, external_id: str) -> Feedback | None:
    return session.execute(
        select(Feedback).where(Feedback.source == source, Feedback.external_id == external_id)
    ).scalar_one_or_none()


def insert_feedback(session: Session, feedback: Feedback) -> tuple[Feedback, bool]:
    """Insert unless (source, external_id) exists; (row, created). Safe against a concurrent redelivery."""
    existing = feedback_by_key(session, feedback.source, feedback.external_id)
    if existing is not None:
        return existing, False
    if not added_unless_taken(session, feedback):
        return feedback_by_key(session, feedback.source, feedback.external_id), False
    return feedback, True


def directory_users(session: Session) -> list[User]:
    """People praise can be relayed to: active humans the bot has met."""
    return list(
        session.execute(select(User).where(User.active.is_(True), User.is_bot.is_(False)).order_by(User.id)).scalars()
    )


def users_on(session: Session, platform: str) -> list[User]:
    return [u for u in directory_users(session) if u.platform == platform]


def team_people_on(session: Session, platform: str) -> list[User]:
    """People on a platform who belong to one of the org's teams: who a triage pick may name there.

    Not everyone the bot has met (guests, people from another tenant who messaged it once): the
    triage post shows these names to the whole triage channel.
    """
    members = set(session.execute(select(TeamMember.identifier).distinct()).scalars())
    return [
        u for u in users_on(session, platform)
        if f"{u.platform}:{u.external_id}" in members or (u.email and u.email.lower() in members)
    ]


def add_customer_kudos(session: Session, kudos: CustomerKudos) -> CustomerKudos:
    session.add(kudos)
    session.flush()
    return kudos


def customer_kudos_of(session: Session, feedback_id: int) -> CustomerKudos | None:
    return session.execute(select(CustomerKudos).where(CustomerKudos.feedback_id == feedback_id)).scalar_one_or_none()


def claim_triage(session: Session, feedback_id: int, *, user_id: int, routed_by: int, detail: str) -> bool:
    """Route triaged feedback to a person unless somebody else already did (first pick wins)."""
    result = session.execute(
        update(Feedback)
        .where(Feedback.id == feedback_id, Feedback.status == "triage")
        .values(status="relayed", routed_user_id=user_id, routed_by_user_id=routed_by, route_method="triage", route_confidence=1.0, route_detail=detail)
    )
    return result.rowcount == 1


def sent_refs(session: Session, keys: list[str]) -> dict[str, tuple[str, str]]:
    """Where outbox messages landed, by key: (platform, platform_ref) for those already sent."""
    rows = session.execute(
        select(OutboxMessage.key, OutboxMessage.platform, OutboxMessage.platform_ref).where(
            OutboxMessage.key.in_(keys), OutboxMessage.status == "sent"
        )
    ).all()
    return {key: (platform, ref) for key, platform, ref in rows if ref}
