"""The contract every chat adapter fulfils for the core (Slack, Teams, the local playground)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

from bot.kernel.events import MessageHandle, Profile
from bot.kernel.messages import Form, Message, UserRef


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


@dataclass(frozen=True)
class PlatformGroup:
    """A group the platform manages (a Slack user group) that an admin may map to a team."""

    handle: str
    name: str
    member_ids: tuple[str, ...]
    channel_id: str | None = None


@dataclass(frozen=True)
class Roster:
    """Everyone the platform lists for the bot's workspace or installed teams.

    `complete` is False when part of the listing could not be read: then a person's absence
    proves nothing and nobody may be deactivated for it.
    """

    people: tuple[Profile, ...]
    groups: tuple[PlatformGroup, ...] = ()
    complete: bool = True


class SendFailed(Exception):
    """The platform refused the message for good (not a transient error the client already retried)."""


class NotInChannel(SendFailed):
    """A channel post the platform refused because the bot is not a member of that channel.

    Retrying cannot help until someone invites the bot; the sender tells people what to do.
    """

    def __init__(self, message: str, channel_id: str):
        super().__init__(message)
        self.channel_id = channel_id


class RateLimited(SendFailed):
    """The platform said "too many requests; retry after N seconds" and the adapter did not wait itself.

    Bulk senders (pulse fan-out) get this instead of a silent in-client wait, so the retry goes
    through their own pacer and cannot push the next window over the limit.
    """

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class ChatAdapter(Protocol):
    """What the core calls on a platform. An adapter whose accepted events still need the platform
    after their ack may also define `async complete(event, state) -> event`: the core awaits it on
    the worker before the handler runs (Teams looks members up there, inside their conversation).
    """

    platform: str

    async def send(self, destination: Destination, message: Message) -> MessageHandle:
        """Deliver a message and say where it landed, so it can be updated later."""
        ...

    async def update(self, handle: MessageHandle, message: Message) -> None:
        """Replace a message the bot sent earlier."""
        ...

    async def fetch_profile(self, external_id: str) -> Profile | None:
        """Look a person up on the platform; None when the platform does not know them."""
        ...

    async def roster(self, *, groups: bool = False) -> Roster:
        """List the people (and, when asked, the user groups) the bot can see, following every page."""
        ...

    def responder(self, state: dict, event: object) -> Responder:
        """The responder for an accepted event from what the adapter stored with it (JSON), so a
        request recorded before its ack can still be answered after a restart (PulseBridge.accept)."""
        ...


class Responder(Protocol):
    """How the core answers the person behind one inbound event, privately and right away.

    Slack answers ephemerally (response_url / modal ack), Teams in the conversation the event came from.
    """

    async def reply(self, message: Message) -> None: ...

    async def open_form(self, form: Form) -> None: ...

    async def update(self, message: Message) -> None:
        """Replace the message whose button was clicked (actions only)."""
        ...

    async def form_errors(self, errors: dict[str, str]) -> None:
        """Reject a form submission, keeping the form open where the platform allows it."""
        ...


def handle_to_ref(handle: MessageHandle) -> str:
    return f"{handle.conversation_id}|{handle.message_id}"


def ref_to_handle(platform: str, ref: str) -> MessageHandle:
    conversation_id, _, message_id = ref.rpartition("|")
    return MessageHandle(platform, conversation_id, message_id)
