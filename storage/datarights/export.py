"""Counts for `pulsebridge export`: one team, one period at a time, numbers only (never rows or names).

Customer feedback figures come from storage/teamhealth/team_feedback.py, the definition /teamhealth uses too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import distinct, func, or_, select
from sqlmodel import Session

from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery, PulseQuestion
from storage.recognition.queries import _public
from storage.recognition.tables import Kudos, KudosRecipient


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


@dataclass
class QuestionFigures:
    scale: str
    driver: str
    answers: int  # rows, numeric or not: what the minimum group size is checked against
    values: list[int]


@dataclass
class PulseFigures:
    """One closed scheduled pulse of a team as numbers: who was asked, how many answered, answers per question."""

    min_group_size: int
    invited: int
    responded: int
    questions: list[QuestionFigures]


def closed_team_pulses(session: Session, team_id: int, start: date, end: date) -> list[PulseFigures]:
    """Closed scheduled pulses whose cycle falls in [start, end). Ad-hoc pulses are for their owner's eyes only."""
    pulses = session.execute(
        select(Pulse)
        .where(Pulse.team_id == team_id, Pulse.kind == "scheduled", Pulse.status == "closed", Pulse.cycle_date >= start, Pulse.cycle_date < end)
        .order_by(Pulse.id)
    ).scalars()
    out = []
    for pulse in pulses:
        invited, responded = session.execute(
            select(
                func.count().filter(or_(PulseDelivery.status == "sent", PulseDelivery.answered.is_(True))),
                func.count().filter(PulseDelivery.answered.is_(True)),
            ).where(PulseDelivery.pulse_id == pulse.id)
        ).one()
        answers: dict[int, list[int | None]] = {}
        for question_id, value in session.execute(select(PulseAnswer.question_id, PulseAnswer.value).where(PulseAnswer.pulse_id == pulse.id)):
            answers.setdefault(question_id, []).append(value)
        questions = [
            QuestionFigures(q.scale, q.driver, len(answers.get(q.id, [])), [v for v in answers.get(q.id, []) if v is not None])
            for q in session.execute(select(PulseQuestion).where(PulseQuestion.pulse_id == pulse.id).order_by(PulseQuestion.id)).scalars()
        ]
        out.append(PulseFigures(pulse.min_group_size, invited, responded, questions))
    return out
