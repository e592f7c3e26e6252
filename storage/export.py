"""Counts for `pulsebridge export`: one team, one period at a time, numbers only (never rows or names)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import distinct, func, or_, select
from sqlmodel import Session

from storage.feedback_tables import CustomerKudos, Feedback
from storage.recognition import _public
from storage.tables import Kudos, KudosRecipient


def kudos_counts(session: Session, user_ids: Sequence[int], start: datetime, end: datetime) -> tuple[int, int]:
    """(public kudos received by the team, public kudos given by the team) created in [start, end)."""
    if not user_ids:
        return 0, 0
    received = session.execute(
        select(func.count(distinct(Kudos.id)))
        .join(KudosRecipient, KudosRecipient.kudos_id == Kudos.id)
        .where(KudosRecipient.user_id.in_(user_ids), Kudos.created_at >= start, Kudos.created_at < end, _public())
    ).scalar_one()
    given = session.execute(
        select(func.count()).select_from(Kudos).where(Kudos.giver_id.in_(user_ids), Kudos.created_at >= start, Kudos.created_at < end, _public())
    ).scalar_one()
    return received, given


def customer_kudos_count(session: Session, user_ids: Sequence[int], start: datetime, end: datetime) -> int:
    if not user_ids:
        return 0
    return session.execute(
        select(func.count())
        .select_from(CustomerKudos)
        .where(CustomerKudos.user_id.in_(user_ids), CustomerKudos.created_at >= start, CustomerKudos.created_at < end)
    ).scalar_one()


def feedback_scores(
    session: Session, user_ids: Sequence[int], emails: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, str | None, float | None]]:
    """(sentiment, scale, score) of customer feedback in [start, end) credited to the team or naming one of its agents.

    Only praise is routed to a person; criticism is matched by the agent email the source sent, so
    the team's CSAT is not praise-only.
    """
    if not user_ids and not emails:
        return []
    return [
        tuple(row)
        for row in session.execute(
            select(Feedback.sentiment, Feedback.scale, Feedback.score).where(
                or_(Feedback.routed_user_id.in_(user_ids), func.lower(Feedback.agent_email).in_(emails)),
                Feedback.created_at >= start,
                Feedback.created_at < end,
            )
        ).all()
    ]
