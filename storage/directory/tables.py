"""The directory's tables: people as each platform knows them, teams, memberships, and where to reach them.

Times are timezone-aware UTC in Python; SQLModel's UTCDateTime gives SQLite and PostgreSQL the same values.
Every table that records an inbound delivery or an outbound message carries a unique key:
platforms retry, and a retry must land on the existing row instead of creating a new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.kernel.tables import utcnow


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



