"""The `directory:` section of PULSEBRIDGE_CONFIG: which platform groups become teams."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HANDLE = re.compile(r"^@?[a-z0-9][a-z0-9._-]{0,63}$")


class DirectoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Handles of Slack user groups (e.g. "support-tier2") that the daily sync mirrors as teams.
    # Only the groups named here are used: workspaces have many groups that are not teams (@oncall).
    slack_user_groups: list[str] = Field(default_factory=list)

    @field_validator("slack_user_groups")
    @classmethod
    def _handles(cls, values: list[str]) -> list[str]:
        out = []
        for raw in values:
            handle = raw.strip().lower()
            if not _HANDLE.match(handle):
                raise ValueError(f"{raw!r} is not a Slack user group handle (letters, digits, . _ -)")
            out.append(handle.lstrip("@"))
        return out
