"""The `retention:` section of PULSEBRIDGE_CONFIG: how long raw text is kept before it is blanked."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Below a month, feedback could vanish before anyone had a chance to act on it.
MIN_DAYS = 30


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=365, ge=MIN_DAYS, le=3650)
