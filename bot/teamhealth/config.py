"""`teamhealth:` in PULSEBRIDGE_CONFIG: goals, the weekly team post, anonymity threshold.

    teamhealth:
      min_respondents: 5          # never below 3
      post_day: mon               # weekly team post, in each team's timezone
      post_hour: 9
      correlation_min_weeks: 10
      templates_dir: /etc/pulsebridge/templates   # overrides teamhealth_weekly.txt.j2 / goal_reached.txt.j2
      goals:
        - key: csat-q1
          title: Happier customers
          metric: csat
          target: 4.5
          period: quarter         # or due: 2027-03-31
          teams: [support]
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.kernel.templates import templates_dir
from bot.kernel.when import weekday
from bot.teamhealth.catalogue import METRICS, check_target

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class GoalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    title: str = Field(min_length=1, max_length=120)
    metric: str
    target: float
    period: Literal["week", "month", "quarter"] | None = None
    due: date | None = None
    teams: list[str] = Field(min_length=1)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError(f"goal key {value!r} must be lowercase letters, digits, - or _")
        return value

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; one of: {', '.join(METRICS)}")
        return value

    @model_validator(mode="after")
    def _target_and_time(self) -> GoalConfig:
        problem = check_target(self.metric, self.target)
        if problem:
            raise ValueError(problem)
        if (self.period is None) == (self.due is None):
            raise ValueError("a goal needs either a period (week, month, quarter) or a due date, not both")
        return self


class TeamHealthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_respondents: int = Field(default=5, ge=3, le=1000)
    post_day: str = "mon"
    post_hour: int = Field(default=9, ge=0, le=23)
    correlation_min_weeks: int = Field(default=10, ge=6, le=52)
    templates_dir: Path | None = None
    goals: list[GoalConfig] = Field(default_factory=list)

    @field_validator("post_day")
    @classmethod
    def _day(cls, value: str) -> str:
        return weekday(value, "post_day", "mon")

    @field_validator("templates_dir")
    @classmethod
    def _templates(cls, value: Path | None) -> Path | None:
        return templates_dir(value)

    @field_validator("goals")
    @classmethod
    def _unique(cls, goals: list[GoalConfig]) -> list[GoalConfig]:
        keys = [g.key for g in goals]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"goal key {dupes[0]!r} is used twice")
        return goals
