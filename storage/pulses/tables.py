"""Micro-pulse tables.

Anonymity is structural: `pulse_answers` has no user column, a random primary key that is
renewed whenever the answers are re-shuffled, no rowid on SQLite (so row order and ids say
nothing about who answered when) and the pulse's cycle date instead of a timestamp. The only link
to a person is the keyed HMAC in `respondent`, which cannot be recomputed without
PULSEBRIDGE_SECRET_KEY and differs per pulse. `pulse_deliveries` knows who was asked, and only
*whether* they answered — flipped in shuffled batches, never in the answer's transaction
(bot/pulses/flags.py).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.kernel.tables import utcnow


class Pulse(SQLModel, table=True):
    """One round of questions for one team: a scheduled cycle or a lead's ad-hoc check-in."""

    __tablename__ = "pulses"
    __table_args__ = (Index("ix_pulses_status_closes", "status", "closes_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(max_length=256, unique=True)  # team:<slug>:<date> or the ad-hoc form delivery
    kind: str = Field(max_length=16)  # scheduled | adhoc
    team_id: int = Field(foreign_key="teams.id", index=True)
    owner_user_id: int | None = Field(default=None, foreign_key="users.id")  # ad-hoc: the only viewer of results
    cycle_date: date
    opens_at: datetime
    closes_at: datetime
    remind_at: datetime | None = None
    reminded: bool = False
    status: str = Field(default="open", max_length=16)  # opening (scheduled, being planned) | open | closed
    min_group_size: int = 5
    created_at: datetime = Field(default_factory=utcnow)


class PulseQuestion(SQLModel, table=True):
    """A question as it was asked in one pulse (a copy, so editing the bank never rewrites history)."""

    __tablename__ = "pulse_questions"
    __table_args__ = (UniqueConstraint("pulse_id", "question_key", name="uq_pulse_questions_pulse_key"),)

    id: int | None = Field(default=None, primary_key=True)
    pulse_id: int = Field(foreign_key="pulses.id", index=True)
    question_key: str = Field(max_length=64)
    driver: str = Field(max_length=32)
    text: str = Field(max_length=300)
    scale: str = Field(max_length=16)
    choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    allow_comment: bool = True


class PulseDelivery(SQLModel, table=True):
    """Who is asked what in a pulse, and whether the DM went out. Written before sending."""

    __tablename__ = "pulse_deliveries"
    __table_args__ = (
        UniqueConstraint("pulse_id", "user_id", name="uq_pulse_deliveries_pulse_user"),
        Index("ix_pulse_deliveries_status_due", "status", "due_at"),
        Index("ix_pulse_deliveries_user", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pulse_id: int = Field(foreign_key="pulses.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    platform: str = Field(max_length=16)
    question_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    due_at: datetime
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed | expired
    claim_token: str | None = Field(default=None, max_length=64)  # which process is sending it
    attempts: int = 0
    platform_ref: str | None = Field(default=None, max_length=256)
    last_error: str | None = None
    sent_at: datetime | None = None
    answered: bool = False  # that they answered, never what or when
    created_at: datetime = Field(default_factory=utcnow)


def _random_id() -> str:
    return uuid.uuid4().hex


class PulseAnswer(SQLModel, table=True):
    """One respondent's answer to one question; `respondent` is HMAC(secret, user|pulse)."""

    __tablename__ = "pulse_answers"
    # WITHOUT ROWID: on SQLite rows are stored in primary-key (random) order, not insertion order.
    __table_args__ = (UniqueConstraint("question_id", "respondent", name="uq_pulse_answers_question_respondent"), {"sqlite_with_rowid": False})

    id: str = Field(default_factory=_random_id, primary_key=True, max_length=32)
    pulse_id: int = Field(foreign_key="pulses.id", index=True)
    question_id: int = Field(foreign_key="pulse_questions.id", index=True)
    respondent: str = Field(max_length=64)
    value: int | None = None  # likert 1-5, enps 0-10, mood 1-5, choice index
    text: str | None = None  # free-text answer
    comment: str | None = None
    polarity: float | None = None  # TextBlob polarity of text/comment, -1..1
    answered_on: date
