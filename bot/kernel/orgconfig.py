"""The organisation file (PULSEBRIDGE_CONFIG): teams, channels, leads, members, company values.

Errors name the file, the line and the problem, because admins edit this file by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.directory.config import DirectoryConfig
from bot.kernel.errors import ConfigError
from bot.pulses.config import PulseConfig, TeamPulseSchedule
from bot.feedback.config import FeedbackConfig
from bot.recognition.config import PostMode, RecognitionConfig
from bot.teamhealth.config import TeamHealthConfig
from bot.datarights.retention import RetentionConfig

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VALUE_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def member_identifier(raw: str) -> str:
    """Emails compare case-insensitively; platform ids (`slack:U…`, `teams:29:…`) keep their case."""
    raw = raw.strip()
    if raw.startswith(("slack:", "teams:")):
        return raw
    return raw.lower()


class TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    slack_channel: str | None = None
    teams_channel: str | None = None
    timezone: str = "UTC"
    leads: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    pulse: TeamPulseSchedule | None = None
    recognition_posts: PostMode = "auto"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (expected an IANA name such as Europe/Berlin)") from None
        return value

    @field_validator("leads", "members")
    @classmethod
    def _identifiers(cls, values: list[str]) -> list[str]:
        out = []
        for raw in values:
            ident = member_identifier(raw)
            if not (ident.startswith(("slack:", "teams:")) or "@" in ident):
                raise ValueError(f"{raw!r} is neither an email nor a slack:/teams: user id")
            out.append(ident)
        return out


class OrgConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[str] = Field(default_factory=list)
    admins: list[str] = Field(default_factory=list)
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    directory: DirectoryConfig = Field(default_factory=DirectoryConfig)
    pulses: PulseConfig = Field(default_factory=PulseConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    recognition: RecognitionConfig = Field(default_factory=RecognitionConfig)
    teamhealth: TeamHealthConfig = Field(default_factory=TeamHealthConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    @field_validator("values")
    @classmethod
    def _values(cls, values: list[str]) -> list[str]:
        out = []
        for raw in values:
            tag = raw.strip().lstrip("#").lower()
            if not VALUE_TAG.match(tag):
                raise ValueError(f"value {raw!r} must be a hashtag word (letters, digits, - or _)")
            out.append(tag)
        return out

    @field_validator("admins")
    @classmethod
    def _admins(cls, values: list[str]) -> list[str]:
        return [member_identifier(v) for v in values]

    @field_validator("teams")
    @classmethod
    def _team_slugs(cls, teams: dict[str, TeamConfig]) -> dict[str, TeamConfig]:
        for slug in teams:
            if not SLUG.match(slug):
                raise ValueError(f"team key {slug!r} must be lowercase letters, digits, - or _")
        return teams


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk the composed YAML tree along a pydantic error location to the offending line."""
    best = node
    for part in loc:
        if isinstance(best, yaml.MappingNode):
            nxt = next((v for k, v in best.value if k.value == str(part)), None)
        elif isinstance(best, yaml.SequenceNode) and isinstance(part, int) and part < len(best.value):
            nxt = best.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        best = nxt
    return best.start_mark.line + 1 if best is not None else None


class _Loader(yaml.SafeLoader):
    """safe_load, except that a scalar YAML cannot build (`2026-13-01`, a 5,000-digit number)
    is a YAML error at that scalar's line instead of a bare ValueError without one."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            raise yaml.constructor.ConstructorError(None, None, f"{shown!r} cannot be read ({exc})", node.start_mark) from None


def parse_org_config(text: str, source: str = "<config>") -> OrgConfig:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: expected a mapping with keys values, admins, teams")
    try:
        return OrgConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = _line_of(node, loc)
        where = ".".join(str(p) for p in loc)
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}:{line}: {where}: {message}") from None


def load_org_config(path: Path | None) -> OrgConfig:
    if path is None:
        return OrgConfig()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    return parse_org_config(text, str(path))
