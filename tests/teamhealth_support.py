"""Seeding for the team-health tests: pulses (as the micro-pulses feature stores them), feedback, kudos.

The pulse tables belong to issue 3. Until its migration is on this branch they are created here
with the same names, columns and NOT NULL rules, so the inserts below also fit the real tables.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from storage.db import session
from storage.directory import upsert_user
from storage.feedback_tables import CustomerKudos, Feedback
from storage.tables import Kudos, KudosRecipient, KudosValue, Team

meta = sa.MetaData()
PULSES = sa.Table(
    "pulses", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_key", sa.String(256), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("team_id", sa.Integer, nullable=False, index=True),
    sa.Column("owner_user_id", sa.Integer),
    sa.Column("cycle_date", sa.Date, nullable=False),
    sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("remind_at", sa.DateTime(timezone=True)),
    sa.Column("reminded", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("min_group_size", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
QUESTIONS = sa.Table(
    "pulse_questions", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("pulse_id", sa.Integer, nullable=False, index=True),
    sa.Column("question_key", sa.String(64), nullable=False),
    sa.Column("driver", sa.String(32), nullable=False),
    sa.Column("text", sa.String(300), nullable=False),
    sa.Column("scale", sa.String(16), nullable=False),
    sa.Column("choices", sa.JSON, nullable=False),
    sa.Column("allow_comment", sa.Boolean, nullable=False),
)
DELIVERIES = sa.Table(
    "pulse_deliveries", meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("pulse_id", sa.Integer, nullable=False, index=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("question_keys", sa.JSON, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claim_token", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("platform_ref", sa.String(256)),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("answered", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
ANSWERS = sa.Table(
    "pulse_answers", meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pulse_id", sa.Integer, nullable=False, index=True),
    sa.Column("question_id", sa.Integer, nullable=False, index=True),
    sa.Column("respondent", sa.String(64), nullable=False),
    sa.Column("value", sa.Integer),
    sa.Column("text", sa.Text),
    sa.Column("comment", sa.Text),
    sa.Column("polarity", sa.Float),
    sa.Column("answered_on", sa.Date, nullable=False),
)


def ensure_pulse_tables(engine) -> None:
    meta.create_all(engine, checkfirst=True)


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
    ensure_pulse_tables(engine)
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
    with session(engine) as s, s.begin():
        return upsert_user(s, platform=platform, external_id=external_id, display_name=name, email=email).id


def seed_feedback(engine, user_id: int, when: datetime, score: float, scale: str, sentiment: str, *, praise: bool = False) -> None:
    with session(engine) as s, s.begin():
        row = Feedback(
            source="test", external_id=uuid.uuid4().hex, score=score, scale=scale, text="", sentiment=sentiment,
            status="credited" if praise else "not_kudos", routed_user_id=user_id, created_at=when, received_at=when,
        )
        s.add(row)
        s.flush()
        if praise:
            s.add(CustomerKudos(feedback_id=row.id, user_id=user_id, giver_label="a customer", route_method="test", created_at=when))


def seed_kudos(engine, giver: int, recipient: int, when: datetime, value: str | None = None) -> None:
    with session(engine) as s, s.begin():
        k = Kudos(giver_id=giver, reason="thanks", platform="slack", source_key=uuid.uuid4().hex, created_at=when)
        s.add(k)
        s.flush()
        s.add(KudosRecipient(kudos_id=k.id, user_id=recipient))
        if value:
            s.add(KudosValue(kudos_id=k.id, value=value))
