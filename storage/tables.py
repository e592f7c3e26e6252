"""SQLModel tables.

Times are timezone-aware UTC in Python; SQLModel's UTCDateTime gives SQLite and PostgreSQL the same values.
Every table that records an inbound delivery or an outbound message carries a unique key:
platforms retry, and a retry must land on the existing row instead of creating a new one.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def import_all_tables() -> None:
    """Import every `storage/*_tables.py` so SQLModel.metadata (and Alembic) sees each feature's tables."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.endswith("_tables"):
            importlib.import_module(f"storage.{module.name}")


class User(SQLModel, table=True):
    """A person as one chat platform knows them; upserted on first contact."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_users_platform_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=256)
    email: str | None = Field(default=None, max_length=320, index=True)
    timezone: str | None = Field(default=None, max_length=64)
    is_bot: bool = False
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Team(SQLModel, table=True):
    """A team from PULSEBRIDGE_CONFIG or a mapped platform group, mirrored so queries can join on it."""

    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=128)
    slack_channel: str | None = Field(default=None, max_length=64)
    teams_channel: str | None = Field(default=None, max_length=256)
    timezone: str = Field(default="UTC", max_length=64)
    # "config" (PULSEBRIDGE_CONFIG, wins on a name clash) or the platform it was mapped from ("slack").
    source: str = Field(default="config", max_length=16)


class TeamMember(SQLModel, table=True):
    """Membership by identifier (an email, or `slack:U…` / `teams:29:…`), resolved against users at query time."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "identifier", name="uq_team_members_team_identifier"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True)
    identifier: str = Field(max_length=320, index=True)
    is_lead: bool = False


class ConversationRef(SQLModel, table=True):
    """Where the bot can write to later: a platform conversation and, for Teams, its serialized reference."""

    __tablename__ = "conversation_refs"
    __table_args__ = (
        UniqueConstraint("platform", "conversation_id", name="uq_conversation_refs_platform_conversation"),
        Index("ix_conversation_refs_user_kind", "user_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    conversation_id: str = Field(max_length=256)
    kind: str = Field(max_length=16)  # personal | channel | group
    user_id: int | None = Field(default=None, foreign_key="users.id")
    reference: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class InboundDelivery(SQLModel, table=True):
    """Keys of platform deliveries already acted on (Slack trigger/event ids, Teams activity ids)."""

    __tablename__ = "inbound_deliveries"

    key: str = Field(primary_key=True, max_length=256)
    received_at: datetime = Field(default_factory=utcnow)


class InboundJob(SQLModel, table=True):
    """A request acknowledged to the platform and not yet (or no longer being) processed.

    Written before the ack (many per transaction, see bot/core.py `Intake`), so a crash between
    the ack and the work loses nothing: at start-up `accepted` rows are processed again. The key
    is the delivery key, so a redelivered copy is recorded once.
    """

    __tablename__ = "inbound_jobs"
    __table_args__ = (Index("ix_inbound_jobs_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=256, unique=True)
    kind: str = Field(max_length=16)  # command | action
    platform: str = Field(max_length=16)
    status: str = Field(default="accepted", max_length=16)  # accepted | done | failed
    attempts: int = 1
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Kudos(SQLModel, table=True):
    __tablename__ = "kudos"
    __table_args__ = (Index("ix_kudos_giver_created", "giver_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    giver_id: int = Field(foreign_key="users.id")
    reason: str
    platform: str = Field(max_length=16)
    source_key: str = Field(max_length=256, unique=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class KudosRecipient(SQLModel, table=True):
    __tablename__ = "kudos_recipients"
    __table_args__ = (Index("ix_kudos_recipients_user", "user_id"),)

    kudos_id: int = Field(foreign_key="kudos.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True)


class KudosValue(SQLModel, table=True):
    __tablename__ = "kudos_values"
    __table_args__ = (Index("ix_kudos_values_value", "value"),)

    kudos_id: int = Field(foreign_key="kudos.id", primary_key=True)
    value: str = Field(max_length=64, primary_key=True)


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
