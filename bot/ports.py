"""The contract every chat adapter fulfils for the core (Slack, Teams, the local playground)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from bot.events import Profile
from bot.messages import Message, UserRef


@dataclass(frozen=True)
class DirectMessage:
    user: UserRef


@dataclass(frozen=True)
class ChannelPost:
    platform: str
    channel_id: str


Destination = Union[DirectMessage, ChannelPost]


def destination_platform(dest: Destination) -> str:
    return dest.user.platform if isinstance(dest, DirectMessage) else dest.platform


def describe(dest: Destination) -> str:
    if isinstance(dest, DirectMessage):
        return f"dm:{dest.user.external_id}"
    return f"channel:{dest.channel_id}"


@dataclass(frozen=True)
class Outbound:
    """A message the core wants delivered; `key` is stable so a second attempt is recognised."""

    key: str
    destination: Destination
    message: Message


class SendFailed(Exception):
    """The platform refused the message for good (not a transient error the client already retried)."""


class ChatAdapter(Protocol):
    platform: str

    async def send(self, destination: Destination, message: Message) -> str:
        """Deliver a message and return the platform's id for it (Slack ts, Teams activity id)."""
        ...

    async def fetch_profile(self, external_id: str) -> Profile | None:
        """Look a person up on the platform; None when the platform does not know them."""
        ...
