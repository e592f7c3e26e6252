"""Tables for running several replicas: who currently runs the scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.tables import utcnow


class SchedulerLease(SQLModel, table=True):
    """One row per lease name; the holder must renew before `expires_at` (database time) or lose it."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    acquired_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(default_factory=utcnow)
