"""The kernel's tables: deliveries already acted on, the outbox, and the scheduler lease.

Times are timezone-aware UTC in Python; SQLModel's UTCDateTime gives SQLite and PostgreSQL the same values.
Every table that records an inbound delivery or an outbound message carries a unique key:
platforms retry, and a retry must land on the existing row instead of creating a new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)



class SchedulerLease(SQLModel, table=True):
    """One row per lease name; the holder must renew before `expires_at` (database time) or lose it."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    acquired_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(default_factory=utcnow)


class InboundDelivery(SQLModel, table=True):
    """Keys of platform deliveries already acted on (Slack trigger/event ids, Teams activity ids)."""

    __tablename__ = "inbound_deliveries"

    key: str = Field(primary_key=True, max_length=256)
    received_at: datetime = Field(default_factory=utcnow)


class InboundJob(SQLModel, table=True):
    """A request acknowledged to the platform and not yet (or no longer being) processed.

    Written before the ack (many per transaction, see bot/kernel/core.py `Intake`), so a crash
    between the ack and the work loses nothing: at start-up `accepted` rows are processed again.
    The key is a keyed digest of the delivery key (bot/kernel/core.py `intake_key`), so a redelivered
    copy is recorded once and the key names nobody. The payload is sealed with
    a key derived from PULSEBRIDGE_SECRET_KEY when one is set (bot/kernel/sealed.py).
    """

    __tablename__ = "inbound_jobs"
    __table_args__ = (Index("ix_inbound_jobs_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=256, unique=True)
    kind: str = Field(max_length=16)  # command | action | form
    platform: str = Field(max_length=16)
    status: str = Field(default="accepted", max_length=16)  # accepted | done | failed
    attempts: int = 1
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class OutboxMessage(SQLModel, table=True):
    """One row per message the bot means to send; the unique key makes sends at-most-once per key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=256, unique=True)
    platform: str = Field(max_length=16)
    destination: str = Field(max_length=256)
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed
    attempts: int = 0
    platform_ref: str | None = Field(default=None, max_length=256)
    last_error: str | None = None
    # What to send, so a failed or interrupted delivery can be retried after a restart.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
