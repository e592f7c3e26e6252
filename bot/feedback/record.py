"""The one shape every feedback source is translated into before anything decides about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SCALES = ("csat5", "nps10", "thumbs")


class MalformedFeedback(ValueError):
    """A payload we cannot read; `field` names the offending field (dotted path) for the sender."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Agent:
    """Who handled the conversation, as the source system knows them."""

    email: str | None = None
    name: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class FeedbackRecord:
    source: str  # generic sender name, or zendesk / intercom / delighted
    external_id: str  # unique within source: the idempotency key
    customer_name: str | None
    customer_account: str | None
    score: float | None
    scale: str | None  # one of SCALES, None when there is no score
    text: str
    agent: Agent
    created_at: datetime | None
