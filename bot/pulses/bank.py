"""The question bank: the shipped bot/pulses/questions.yaml, plus and minus the admin's changes."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.kernel.errors import ConfigError
from bot.pulses.config import PulseConfig, QuestionSpec

BANK_FILE = "questions.yaml"
ENPS_SCALE = "enps"


class _BankFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    questions: list[QuestionSpec]


def parse_bank(text: str, source: str) -> dict[str, QuestionSpec]:
    """Validate a bank file; errors name the file, line and problem like the org config does."""
    from bot.kernel.orgconfig import _line_of

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
        raise ConfigError(f"{source}:{_line_of(node, loc)}: {where}: {err['msg'].removeprefix('Value error, ')}") from None
    out: dict[str, QuestionSpec] = {}
    for i, q in enumerate(bank.questions):
        if q.id in out:
            raise ConfigError(f"{source}:{_line_of(node, ('questions', i, 'id'))}: questions.{i}.id: duplicate id {q.id!r}")
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
