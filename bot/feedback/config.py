"""The `feedback:` section of the org file: who owns which agent id and account, where triage goes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.kernel.orgconfig import member_identifier


def _employee(raw: str) -> str:
    ident = member_identifier(raw)
    if not (ident.startswith(("slack:", "teams:")) or "@" in ident):
        raise ValueError(f"{raw!r} is neither an email nor a slack:/teams: user id")
    return ident


class FeedbackThresholds(BaseModel):
    """When feedback counts as praise. Scores decide when present; text polarity only without one."""

    model_config = ConfigDict(extra="forbid")

    csat_positive: float = Field(default=4, ge=1, le=5)
    nps_positive: float = Field(default=9, ge=0, le=10)
    polarity_positive: float = Field(default=0.3, ge=-1, le=1)
    polarity_negative: float = Field(default=-0.05, ge=-1, le=1)
    # rapidfuzz ratio (0-100) a name in the text must reach; names under 5 letters must match exactly.
    name_match: float = Field(default=85, ge=50, le=100)


class FeedbackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # external agent key → employee. Keys: "zendesk:12345", "intercom:814860", a plain id, or an agent email.
    agents: dict[str, str] = Field(default_factory=dict)
    # customer account (case-insensitive) → employee who owns it.
    account_owners: dict[str, str] = Field(default_factory=dict)
    # platform → channel for praise nobody could be matched to.
    triage_channels: dict[str, str] = Field(default_factory=dict)
    # Who may pick the person in a triage post (emails or slack:/teams: ids). Empty: the members
    # of the triage channel. A pick names someone who then gets a customer's quote by DM, so
    # nobody outside this list (or channel) may make one.
    triagers: list[str] = Field(default_factory=list)
    anonymise_customers: bool = False
    # employee → extra names customers use for them ("Bobby", "Mags").
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    thresholds: FeedbackThresholds = Field(default_factory=FeedbackThresholds)

    @field_validator("agents")
    @classmethod
    def _agents(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower() if "@" in k else k.strip(): _employee(v) for k, v in value.items()}

    @field_validator("account_owners")
    @classmethod
    def _owners(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower(): _employee(v) for k, v in value.items()}

    @field_validator("triagers")
    @classmethod
    def _triagers(cls, value: list[str]) -> list[str]:
        return [_employee(v) for v in value]

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {_employee(k): [a.strip() for a in v if a.strip()] for k, v in value.items()}

    @field_validator("triage_channels")
    @classmethod
    def _channels(cls, value: dict[str, str]) -> dict[str, str]:
        # "playground" is the demo's browser surface (`pulsebridge demo`); a real deployment names slack or teams.
        unknown = [p for p in value if p not in ("slack", "teams", "playground")]
        if unknown:
            raise ValueError(f"unknown platform {unknown[0]!r} (expected slack or teams)")
        return value
