"""Pulse settings admins write under `pulses:` (organisation) and `pulse:` (per team) in PULSEBRIDGE_CONFIG.

Kept apart from bot/kernel/orgconfig.py so the organisation model only gains one field per level. Errors
surface through orgconfig's YAML line mapping, so admins see `file:line: pulses.…: problem`.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.pulses.bank import QuestionSpec, builtin_bank

SCALES = ("likert", "enps", "mood", "choice", "text")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Never show aggregates for fewer people than this, whatever an admin configures.
MIN_GROUP_FLOOR = 3
# Default week to count `every_weeks` from: Monday of ISO week 2025-W52. Until the end of ISO year
# 2026 the cycles are exactly the ones of the earlier rule (ISO week number divisible by
# `every_weeks`), so schedules running before `anchor` existed keep their weeks.
DEFAULT_ANCHOR = date(2025, 12, 22)


class PulseConfig(BaseModel):
    """Organisation-wide pulse rules; every key is optional."""

    model_config = ConfigDict(extra="forbid")

    questions_per_pulse: int = Field(default=2, ge=1, le=3)
    recur_after_weeks: int = Field(default=8, ge=1, le=104)
    enps_every_weeks: int = Field(default=12, ge=1, le=104)
    min_group_size: int = Field(default=5, ge=MIN_GROUP_FLOOR, le=1000)
    open_hours: int = Field(default=72, ge=1, le=24 * 14)
    remind_before_hours: int = Field(default=24, ge=0, le=24 * 14)
    questions: list[QuestionSpec] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)

    @field_validator("min_group_size", mode="before")
    @classmethod
    def _floor(cls, value):
        if isinstance(value, int) and value < MIN_GROUP_FLOOR:
            raise ValueError(f"min_group_size must be at least {MIN_GROUP_FLOOR}: smaller groups make answers guessable")
        return value

    @field_validator("questions")
    @classmethod
    def _new_ids(cls, questions: list[QuestionSpec]) -> list[QuestionSpec]:
        builtin = builtin_bank()
        seen: set[str] = set()
        for q in questions:
            if q.id in builtin:
                raise ValueError(f"question id {q.id!r} is already in the built-in bank; pick another id (use `disable` to turn the built-in one off)")
            if q.id in seen:
                raise ValueError(f"question id {q.id!r} appears twice")
            seen.add(q.id)
        return questions

    @field_validator("disable")
    @classmethod
    def _known(cls, ids: list[str], info) -> list[str]:
        known = set(builtin_bank()) | {q.id for q in info.data.get("questions") or []}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValueError(f"unknown question id(s) {', '.join(map(repr, unknown))}; see bot/pulses/questions.yaml for the built-in ids")
        return ids


class TeamPulseSchedule(BaseModel):
    """`pulse: {day: tue, time: "10:00"}`: delivered at that local time in each recipient's timezone.

    With `every_weeks` above 1, weeks are counted from the week of `anchor` (a pulse falls in that
    week and every `every_weeks` weeks before and after it), never from the ISO week number, which
    restarts each year and so stretched the gap at New Year.
    """

    model_config = ConfigDict(extra="forbid")

    day: str = "tue"
    time: str = "10:00"
    every_weeks: int = Field(default=1, ge=1, le=12)
    anchor: date = DEFAULT_ANCHOR
    enabled: bool = True

    @field_validator("day")
    @classmethod
    def _day(cls, value: str) -> str:
        day = value.strip().lower()[:3]
        if day not in DAYS:
            raise ValueError(f"unknown day {value!r} (expected one of {', '.join(DAYS)})")
        return day

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value) -> str:
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 10:00 as the sexagesimal number 600
            value = f"{value // 60:02d}:{value % 60:02d}"
        if not isinstance(value, str) or not TIME.match(value.strip()):
            raise ValueError(f"time {value!r} must be HH:MM in 24-hour form, e.g. \"10:00\"")
        return value.strip()

    @property
    def hour_minute(self) -> tuple[int, int]:
        h, m = self.time.split(":")
        return int(h), int(m)
