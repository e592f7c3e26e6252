"""Customer wins and what recognition adds to a kudos (its win, whether it is private).

A win's human id is `W-<id>`: the primary key comes from the database's own sequence
(PostgreSQL SERIAL / SQLite rowid), which is unique under concurrent inserts without any
read-then-write race. Numbers can skip after a rolled-back insert; they never repeat.

The kudos extras live in their own table (`kudos_context`) rather than as columns on the
foundation's `kudos` table, so a kudos given before this feature simply has no row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from storage.kernel.tables import utcnow

MAX_CUSTOMER = 120
MAX_SUMMARY = 1000
MAX_VALUE = 120


class Win(SQLModel, table=True):
    __tablename__ = "wins"
    __table_args__ = (Index("ix_wins_created_at", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer: str = Field(max_length=MAX_CUSTOMER)
    summary: str = Field(max_length=MAX_SUMMARY)
    value: str | None = Field(default=None, max_length=MAX_VALUE)
    won_on: date
    created_by: int = Field(foreign_key="users.id")
    platform: str = Field(max_length=16)
    source_key: str = Field(max_length=256, unique=True)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def label(self) -> str:
        return f"W-{self.id}"


class WinContributor(SQLModel, table=True):
    __tablename__ = "win_contributors"
    __table_args__ = (Index("ix_win_contributors_user", "user_id"),)

    win_id: int = Field(foreign_key="wins.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True)


class KudosContext(SQLModel, table=True):
    __tablename__ = "kudos_context"
    __table_args__ = (Index("ix_kudos_context_win", "win_id"),)

    kudos_id: int = Field(foreign_key="kudos.id", primary_key=True)
    win_id: int | None = Field(default=None, foreign_key="wins.id")
    private: bool = False


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
