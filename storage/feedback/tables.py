"""Customer feedback as received, and the praise relayed from it to an employee."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.kernel.tables import utcnow


class Feedback(SQLModel, table=True):
    """Every piece of feedback, praise or not (CX metrics count all of it); `raw` is kept for audit."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_feedback_source_external_id"),
        Index("ix_feedback_sentiment_created", "sentiment", "created_at"),
        Index("ix_feedback_status", "status"),
        Index("ix_feedback_routed_user", "routed_user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    customer_name: str | None = Field(default=None, max_length=256)
    customer_account: str | None = Field(default=None, max_length=256)
    score: float | None = None
    scale: str | None = Field(default=None, max_length=16)
    text: str = ""
    sentiment: str = Field(max_length=16)  # positive | neutral | negative
    polarity: float | None = None
    agent_email: str | None = Field(default=None, max_length=320)
    agent_name: str | None = Field(default=None, max_length=256)
    agent_id: str | None = Field(default=None, max_length=128)
    # relayed (messages sent) | credited (imported: counted, not messaged) | triage (waiting for a human)
    # | unrouted (nobody matched and no triage channel, or imported) | not_kudos
    status: str = Field(max_length=16)
    route_method: str | None = Field(default=None, max_length=32)
    route_confidence: float | None = None
    route_detail: str | None = Field(default=None, max_length=1000)
    routed_user_id: int | None = Field(default=None, foreign_key="users.id")
    routed_by_user_id: int | None = Field(default=None, foreign_key="users.id")
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)  # when the customer gave it
    received_at: datetime = Field(default_factory=utcnow)


class CustomerKudos(SQLModel, table=True):
    """A recognition from a customer: counted with peer kudos for the employee it was relayed to."""

    __tablename__ = "customer_kudos"
    __table_args__ = (Index("ix_customer_kudos_user_created", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    feedback_id: int = Field(foreign_key="feedback.id", unique=True)
    user_id: int = Field(foreign_key="users.id")
    # What the employee was shown as the giver: the customer's name, or "a customer" when anonymised.
    giver_label: str = Field(max_length=256)
    quote: str = ""
    score: float | None = None
    scale: str | None = Field(default=None, max_length=16)
    route_method: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
