"""The `directory:` section of PULSEBRIDGE_CONFIG: which platform groups become teams, and how much
one sync may change before it is refused (a listing that succeeds with the wrong answer, from a
mis-scoped token or a guest-only view, would otherwise deactivate nearly everyone)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HANDLE = re.compile(r"^@?[a-z0-9][a-z0-9._-]{0,63}$")


class DirectoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Handles of Slack user groups (e.g. "support-tier2") that the daily sync mirrors as teams.
    # Only the groups named here are used: workspaces have many groups that are not teams (@oncall).
    slack_user_groups: list[str] = Field(default_factory=list)
    # A sync that would deactivate more than this share of a platform's active people for being
    # absent from the listing is refused (nothing changes; admins are told; `--force` overrides).
    max_deactivate_share: float = Field(default=0.2, gt=0, le=1)
    # … or that lists more than this share of them under a new id (same email, old id gone).
    max_id_change_share: float = Field(default=0.05, gt=0, le=1)
    # Changes of fewer people than this are never refused: in a team of four, one leaver is 25 %.
    guard_min_people: int = Field(default=3, ge=1)

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
