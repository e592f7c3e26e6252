"""The question bank: what a question is, the shipped bot/pulses/questions.yaml, plus and minus the admin's changes."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.kernel.errors import ConfigError
from bot.kernel.orgconfig import line_of

if TYPE_CHECKING:
    from bot.pulses.config import PulseConfig

BANK_FILE = "questions.yaml"
QUESTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENPS_SCALE = "enps"


class QuestionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    driver: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=3, max_length=300)
    scale: Literal["likert", "enps", "mood", "choice", "text"] = "likert"
    choices: list[str] = Field(default_factory=list)
    comment: bool = True
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not QUESTION_ID.match(value):
            raise ValueError(f"question id {value!r} must be lowercase letters, digits, - or _")
        return value

    @field_validator("choices")
    @classmethod
    def _choices(cls, values: list[str]) -> list[str]:
        for choice in values:
            if not choice.strip() or len(choice) > 60:
                raise ValueError(f"choice {choice!r} must be 1-60 characters")
        if len(set(values)) != len(values):
            raise ValueError("choices must be distinct")
        return values

    @model_validator(mode="after")
    def _choices_match_scale(self) -> QuestionSpec:
        if self.scale == "choice" and not 2 <= len(self.choices) <= 6:
            raise ValueError("a choice question needs 2 to 6 choices")
        if self.scale != "choice" and self.choices:
            raise ValueError(f"choices are only allowed with scale: choice (this question is {self.scale})")
        return self


class _BankFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    questions: list[QuestionSpec]


def parse_bank(text: str, source: str) -> dict[str, QuestionSpec]:
    """Validate a bank file; errors name the file, line and problem like the org config does."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{source}:{mark.line + 1 if mark else 1}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        bank = _BankFile.model_validate(data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc)
        raise ConfigError(f"{source}:{line_of(node, loc)}: {where}: {err['msg'].removeprefix('Value error, ')}") from None
    out: dict[str, QuestionSpec] = {}
    for i, q in enumerate(bank.questions):
        if q.id in out:
            raise ConfigError(f"{source}:{line_of(node, ('questions', i, 'id'))}: questions.{i}.id: duplicate id {q.id!r}")
        out[q.id] = q
    return out


@lru_cache(maxsize=1)
def builtin_bank() -> dict[str, QuestionSpec]:
    path = resources.files("bot.pulses") / BANK_FILE
    return parse_bank(path.read_text(encoding="utf-8"), f"bot/pulses/{BANK_FILE}")


def active_questions(config: PulseConfig) -> dict[str, QuestionSpec]:
    """Built-in and admin questions that are switched on, by id (bank order, then admin order)."""
    merged = {**builtin_bank(), **{q.id: q for q in config.questions}}
    disabled = set(config.disable)
    return {qid: q for qid, q in merged.items() if q.enabled and qid not in disabled}
