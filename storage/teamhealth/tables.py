"""Shared EX/CX goals, and the extra indexes team-health queries need on other features' tables.

A goal belongs to one or more teams (`goal_teams`). Goals from the YAML config are mirrored
with key `config:<key>` so a restart updates them in place; goals made in chat get `chat:<n>`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from storage.feedback.tables import Feedback
from storage.kernel.tables import utcnow


class Goal(SQLModel, table=True):
    __tablename__ = "goals"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=128, unique=True)
    title: str = Field(max_length=120)
    metric: str = Field(max_length=32)
    target: float
    period: str | None = Field(default=None, max_length=16)  # week | month | quarter; None with due_on
    starts_on: date
    due_on: date | None = None
    source: str = Field(max_length=16)  # config | chat
    created_by: int | None = Field(default=None, foreign_key="users.id")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class GoalTeam(SQLModel, table=True):
    __tablename__ = "goal_teams"
    __table_args__ = (Index("ix_goal_teams_team", "team_id"),)

    goal_id: int = Field(foreign_key="goals.id", primary_key=True)
    team_id: int = Field(foreign_key="teams.id", primary_key=True)


# CX figures filter feedback by the employee it was routed to and by time.
Index("ix_feedback_routed_user_created", Feedback.routed_user_id, Feedback.created_at)
