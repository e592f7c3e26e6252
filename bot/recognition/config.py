"""Recognition rules from PULSEBRIDGE_CONFIG (`recognition:` and each team's `recognition_posts`).

Defaults follow the issue: 5 recipients per giver per day, one kudos per giver→recipient pair per
day (stops ping-pong gaming), private kudos allowed, no leaderboard, and a weekly digest instead of
one post per kudos for teams above 15 people, because channel noise is the top complaint about
recognition tools.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.kernel.templates import templates_dir
from bot.kernel.when import weekday, zone

if TYPE_CHECKING:
    from bot.kernel.orgconfig import OrgConfig, TeamConfig

PostMode = Literal["auto", "each", "digest"]


class RecognitionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values_required: bool = False
    allowance: int = Field(default=5, ge=1, le=1000)
    allowance_period: Literal["day", "week"] = "day"
    pair_limit_per_day: int = Field(default=1, ge=1, le=100)
    private_kudos: bool = True
    leaderboard: bool = False
    digest_above: int = Field(default=15, ge=0)
    digest_day: str = "fri"
    digest_hour: int = Field(default=16, ge=0, le=23)
    templates_dir: Path | None = None

    @field_validator("digest_day")
    @classmethod
    def _day(cls, value: str) -> str:
        return weekday(value, "digest_day", "fri")

    @field_validator("templates_dir")
    @classmethod
    def _templates_dir(cls, value: Path | None) -> Path | None:
        return templates_dir(value)


def recognition(org: OrgConfig) -> RecognitionConfig:
    return org.recognition


def posts_per_kudos(team: TeamConfig, rules: RecognitionConfig) -> bool:
    """True when the team's channel gets one post per kudos, False when it gets the weekly digest."""
    mode = team.recognition_posts
    if mode == "auto":
        return len(set(team.members) | set(team.leads)) <= rules.digest_above
    return mode == "each"


def day_start(now: datetime, tz: str | None) -> datetime:
    """Midnight of `now`'s day in the person's timezone, so "per day" means their day."""
    local = now.astimezone(zone(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def period_start(now: datetime, tz: str | None, period: str) -> datetime:
    start = day_start(now, tz)
    return start - timedelta(days=start.weekday()) if period == "week" else start
