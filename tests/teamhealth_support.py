"""Seeding for the team-health tests: pulses (rows as the micro-pulses feature stores them), feedback, kudos."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from storage.kernel.db import session, write_unit
from storage.directory.queries import upsert_user
from storage.feedback.tables import CustomerKudos, Feedback
from storage.pulses.tables import Pulse, PulseAnswer, PulseDelivery, PulseQuestion
from storage.directory.tables import Team
from storage.recognition.tables import Kudos, KudosRecipient, KudosValue

PULSES = Pulse.__table__
QUESTIONS = PulseQuestion.__table__
DELIVERIES = PulseDelivery.__table__
ANSWERS = PulseAnswer.__table__


def team_id(engine, slug: str) -> int:
    with session(engine) as s:
        return s.execute(sa.select(Team.id).where(Team.slug == slug)).scalar_one()


def seed_pulse(
    engine,
    team: str,
    cycle: date,
    questions: dict[tuple[str, str], list[int]],
    *,
    comments: dict[tuple[str, str], list[tuple[str, float]]] | None = None,
    asked: int = 0,
    answered: int = 0,
    status: str = "closed",
    kind: str = "scheduled",
    min_group_size: int = 5,
) -> int:
    """One pulse; `questions` maps (driver, scale) to the answer values, one per respondent."""
    tid = team_id(engine, team)
    # Deliveries point at real, distinct users (the pulses tables have that foreign key and a unique (pulse, user)).
    askees = [user(engine, "slack", f"U0ASKED{i}", f"Asked {i}", None) for i in range(asked)]
    at = datetime(cycle.year, cycle.month, cycle.day, 9, tzinfo=UTC)
    with engine.begin() as conn:
        pulse_id = conn.execute(
            PULSES.insert().values(
                source_key=f"team:{team}:{cycle}:{uuid.uuid4().hex[:6]}", kind=kind, team_id=tid, cycle_date=cycle, opens_at=at,
                closes_at=at + timedelta(hours=72), reminded=False, status=status, min_group_size=min_group_size, created_at=at,
            )
        ).inserted_primary_key[0]
        for (driver, scale), values in questions.items():
            qid = conn.execute(
                QUESTIONS.insert().values(pulse_id=pulse_id, question_key=f"{driver}-{scale}", driver=driver, text="?", scale=scale, choices=[], allow_comment=True)
            ).inserted_primary_key[0]
            notes = list((comments or {}).get((driver, scale), []))
            for i, value in enumerate(values):
                comment, polarity = notes[i] if i < len(notes) else (None, None)
                conn.execute(
                    ANSWERS.insert().values(
                        id=uuid.uuid4().hex, pulse_id=pulse_id, question_id=qid, respondent=f"r{i}", value=value, comment=comment,
                        polarity=polarity, answered_on=cycle,
                    )
                )
        for i in range(asked):
            conn.execute(
                DELIVERIES.insert().values(
                    pulse_id=pulse_id, user_id=askees[i], platform="slack", question_keys=[], due_at=at, status="sent", attempts=1,
                    answered=i < answered, created_at=at,
                )
            )
    return pulse_id


def user(engine, platform: str, external_id: str, name: str, email: str | None) -> int:
    with write_unit(engine) as s:
        return upsert_user(s, platform=platform, external_id=external_id, display_name=name, email=email).id


def seed_feedback(
    engine, user_id: int | None, when: datetime, score: float, scale: str, sentiment: str, *, praise: bool = False,
    agent_email: str | None = None, agent_id: str | None = None,
) -> None:
    """`user_id=None` stores feedback as routing stores criticism: nobody routed, only the agent the source named."""
    with write_unit(engine) as s:
        row = Feedback(
            source="test", external_id=uuid.uuid4().hex, score=score, scale=scale, text="", sentiment=sentiment,
            status="credited" if praise else "not_kudos", routed_user_id=user_id, agent_email=agent_email, agent_id=agent_id,
            created_at=when, received_at=when,
        )
        s.add(row)
        s.flush()
        if praise:
            s.add(CustomerKudos(feedback_id=row.id, user_id=user_id, giver_label="a customer", route_method="test", created_at=when))


def seed_kudos(engine, giver: int, recipient: int, when: datetime, value: str | None = None) -> None:
    with write_unit(engine) as s:
        k = Kudos(giver_id=giver, reason="thanks", platform="slack", source_key=uuid.uuid4().hex, created_at=when)
        s.add(k)
        s.flush()
        s.add(KudosRecipient(kudos_id=k.id, user_id=recipient))
        if value:
            s.add(KudosValue(kudos_id=k.id, value=value))
