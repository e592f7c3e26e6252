"""Inbound events: what adapters hand to the core after translating a platform payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from bot.kernel.messages import UserRef


@dataclass(frozen=True)
class Token:
    """A run of text the user typed."""

    text: str


@dataclass(frozen=True)
class MentionToken:
    """A platform mention the user inserted (`<@U…>` on Slack, an `<at>` entity on Teams)."""

    user: UserRef


CommandPart = Union[Token, MentionToken]


@dataclass(frozen=True)
class Profile:
    """What a platform tells us about a person; anything it does not give stays None."""

    platform: str
    external_id: str
    display_name: str
    email: str | None = None
    timezone: str | None = None
    is_bot: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class Conversation:
    """Where a command was typed; `kind` is personal, channel or group."""

    platform: str
    conversation_id: str
    kind: str


@dataclass(frozen=True)
class CommandInvoked:
    """`/kudos …` on Slack or `kudos …` to the bot on Teams.

    `delivery_key` is unique per user action on the platform and identical on redelivery,
    so the core can refuse to act twice.
    """

    platform: str
    command: str
    parts: tuple[CommandPart, ...]
    actor: UserRef
    conversation: Conversation
    delivery_key: str
    actor_profile: Profile | None = None
    mentioned_profiles: tuple[Profile, ...] = field(default_factory=tuple)

    @property
    def raw_text(self) -> str:
        return "".join(p.text if isinstance(p, Token) else "@" + p.user.display_name for p in self.parts).strip()


@dataclass(frozen=True)
class MessageHandle:
    """Where a message the bot sent lives, so it can be updated in place."""

    platform: str
    conversation_id: str
    message_id: str  # Slack ts, Teams activity id


@dataclass(frozen=True)
class ActionInvoked:
    """A button click. `value` is what the core put on the button; treat it as untrusted input."""

    platform: str
    action_id: str
    value: str
    actor: UserRef
    delivery_key: str
    message: MessageHandle | None = None
    conversation: Conversation | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    actor_profile: Profile | None = None


@dataclass(frozen=True)
class FormSubmitted:
    """A submitted Form: values by field id (str, list of str for multi-selects, or None)."""

    platform: str
    form_id: str
    values: dict[str, Any]
    metadata: str
    actor: UserRef
    delivery_key: str
    conversation: Conversation | None = None
    actor_profile: Profile | None = None


@dataclass(frozen=True)
class DirectMessageReceived:
    """A person wrote to the bot in their 1:1 chat (Slack's Messages tab). Not a command: the bot answers with help.

    Adapters hand over only people's own new messages: never bots', never edits, never the bot's own.
    """

    platform: str
    actor: UserRef
    text: str
    delivery_key: str


@dataclass(frozen=True)
class HomeOpened:
    """A person opened the bot's Home tab (or its Messages tab: `tab` is "home" or "messages")."""

    platform: str
    actor: UserRef
    tab: str
    delivery_key: str
    actor_profile: Profile | None = None
