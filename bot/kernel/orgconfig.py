"""The organisation file (PULSEBRIDGE_CONFIG): teams, channels, leads, members, company values.

The kernel knows only the parts every feature shares (values, admins, teams with their channels,
timezone, leads and members). Each feature declares its own top-level section and any per-team keys
(bot/kernel/feature.py); `compose` builds the file's model from those declarations, so this module
imports no feature and a new feature's settings arrive with the feature. The composed model is in
bot/app.py.

Errors name the file, the line and the problem, because admins edit this file by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from bot.kernel.errors import ConfigError

if TYPE_CHECKING:
    from bot.kernel.feature import Feature

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


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
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


def compose(features: tuple[Feature, ...]) -> type[OrgConfig]:
    """The org file's model: the shared keys plus every feature's declared section and per-team keys.

    A section or team key declared twice is a programming error (two features would read each
    other's settings), so it stops the import instead of letting the last one win.
    """
    sections: dict[str, Any] = {}
    team_keys: dict[str, Any] = {}
    for feature in features:
        for key, model in feature.sections.items():
            if key in sections or key in OrgConfig.model_fields:
                raise ValueError(f"config section {key!r} of feature {feature.name!r} is declared twice")
            sections[key] = (model, Field(default_factory=model))
        for key, (annotation, default) in feature.team_keys.items():
            if key in team_keys or key in TeamConfig.model_fields:
                raise ValueError(f"team key {key!r} of feature {feature.name!r} is declared twice")
            team_keys[key] = (annotation, default)
    team_model = create_model("TeamConfig", __base__=TeamConfig, **team_keys)
    return create_model("OrgConfig", __base__=OrgConfig, teams=(dict[str, team_model], Field(default_factory=dict)), **sections)


def parse_org_config(text: str, source: str, model: type[OrgConfig]) -> OrgConfig:
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
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = line_of(node, loc)
        where = ".".join(str(p) for p in loc)
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}:{line}: {where}: {message}") from None


def load_org_config(path: Path | None, model: type[OrgConfig]) -> OrgConfig:
    if path is None:
        return model()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    return parse_org_config(text, str(path), model)
