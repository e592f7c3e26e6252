"""Counts for `pulsebridge export`: one team, one period at a time, numbers only (never rows or names)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import distinct, func, select
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


def feedback_scores(session: Session, user_ids: Sequence[int], start: datetime, end: datetime) -> list[tuple[str, str | None, float | None]]:
    """(sentiment, scale, score) of each piece of customer feedback credited to the team in [start, end)."""
    if not user_ids:
        return []
    return [
        tuple(row)
        for row in session.execute(
            select(Feedback.sentiment, Feedback.scale, Feedback.score).where(
                Feedback.routed_user_id.in_(user_ids), Feedback.created_at >= start, Feedback.created_at < end
            )
        ).all()
    ]
