"""Bot Framework activities → core events."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Collection
from typing import Any

from botbuilder.schema import Activity, ConversationAccount
from botbuilder.schema.teams import TeamsChannelAccount

from bot.kernel.events import (
    ActionInvoked,
    CommandInvoked,
    CommandPart,
    Conversation,
    FormSubmitted,
    MentionToken,
    MessageHandle,
    Profile,
    Token,
)
from bot.kernel.messages import UserRef

PLATFORM = "teams"
_AT = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)


def conversation_kind(activity: Activity) -> str:
    return kind_of(activity.conversation)


def kind_of(conversation: ConversationAccount | None) -> str:
    """personal, channel or group, for a conversation as an activity or a stored reference names it."""
    kind = (conversation.conversation_type or "personal") if conversation else "personal"
    return {"personal": "personal", "channel": "channel"}.get(kind, "group")


def is_person(mentioned: dict[str, Any]) -> bool:
    """A mention of a person, not of a channel ("@General": a 19:… conversation id), a team or a
    tag ("@Designers": mentioned.type "tag"). Only people may become directory users."""
    kind = mentioned.get("type")
    return (kind in (None, "", "person", "user")) and not str(mentioned.get("id", "")).startswith("19:")


def mentions(activity: Activity, *, people_only: bool = True) -> list[dict[str, Any]]:
    out = []
    for entity in activity.entities or []:
        # msrest keeps the mention fields (text, mentioned) in additional_properties, not in serialize().
        data = {**(getattr(entity, "additional_properties", None) or {}), "type": entity.type}
        if data.get("type") == "mention" and isinstance(data.get("mentioned"), dict) and data["mentioned"].get("id"):
            if not people_only or is_person(data["mentioned"]):
                out.append(data)
    return out


def parse_text(activity: Activity) -> tuple[CommandPart, ...]:
    """Text with `<at>` tags → typed text and mentions, the bot's own mention removed."""
    text = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    entities = mentions(activity)
    parts: list[CommandPart] = []
    pos = 0
    for match in _AT.finditer(text):
        parts.append(Token(html.unescape(text[pos : match.start()])))
        pos = match.end()
        entity = next((e for e in entities if e.get("text") == match.group(0)), None)
        if entity is None:
            parts.append(Token(html.unescape(match.group(1))))
            continue
        entities.remove(entity)
        mentioned = entity["mentioned"]
        if mentioned["id"] == bot_id:
            continue
        parts.append(MentionToken(UserRef(PLATFORM, mentioned["id"], html.unescape(mentioned.get("name") or ""))))
    parts.append(Token(html.unescape(text[pos:])))
    merged: list[CommandPart] = []
    for part in parts:
        if isinstance(part, Token) and merged and isinstance(merged[-1], Token):
            merged[-1] = Token(merged[-1].text + part.text)
        elif not (isinstance(part, Token) and not part.text):
            merged.append(part)
    return tuple(merged)


def split_command(parts: tuple[CommandPart, ...], names: Collection[str]) -> tuple[str, tuple[CommandPart, ...]] | None:
    """`kudos …` or `/kudos …` → ("kudos", rest) when "kudos" is in `names` (the core's commands and
    "help"); None for chatter that is not a command."""
    if not parts or not isinstance(parts[0], Token):
        return None
    first = parts[0].text.lstrip()
    word, _, rest = first.partition(" ")
    name = word.lstrip("/").lower()
    if name not in names:
        return None
    remainder = ((Token(" " + rest),) if rest else ()) + parts[1:]
    return name, remainder


def profile(account: TeamsChannelAccount | None, fallback_id: str, fallback_name: str) -> Profile:
    if account is None:
        return Profile(PLATFORM, fallback_id, fallback_name)
    return Profile(
        platform=PLATFORM,
        external_id=account.id or fallback_id,
        display_name=account.name or fallback_name,
        email=account.email or account.user_principal_name,
    )


def command(activity: Activity, actor: Profile, mentioned: tuple[Profile, ...], names: Collection[str]) -> CommandInvoked | None:
    split = split_command(parse_text(activity), names)
    if split is None:
        return None
    name, rest = split
    return _command(activity, name, rest, actor, mentioned)


def chatter(activity: Activity, actor: Profile) -> CommandInvoked:
    """Text that names no command, as a request for the command list: answered like any command."""
    return _command(activity, "help", parse_text(activity), actor, ())


def _command(activity: Activity, name: str, parts: tuple[CommandPart, ...], actor: Profile, mentioned: tuple[Profile, ...]) -> CommandInvoked:
    return CommandInvoked(
        platform=PLATFORM,
        command=name,
        parts=parts,
        actor=UserRef(PLATFORM, actor.external_id, actor.display_name),
        conversation=Conversation(PLATFORM, activity.conversation.id, conversation_kind(activity)),
        delivery_key=delivery_key(activity),
        actor_profile=actor,
        mentioned_profiles=mentioned,
    )


def delivery_key(activity: Activity) -> str:
    """Activity ids are unique within a conversation and kept on redelivery."""
    return f"teams:{activity.conversation.id}:{activity.id}"


def members(event: CommandInvoked | ActionInvoked | FormSubmitted) -> list[tuple[str, str]]:
    """(id, name) of the people an event names whose profiles the connector should complete: the actor, then a command's mentions."""
    mentioned = event.mentioned_profiles if isinstance(event, CommandInvoked) else ()
    return [(event.actor.external_id, event.actor.display_name), *((p.external_id, p.display_name) for p in mentioned)]


def with_profiles(event, profiles: dict[str, Profile]):
    """`event` with the profiles the connector returned (emails included) instead of the names the activity carried."""
    actor = profiles.get(event.actor.external_id, event.actor_profile)
    changes: dict[str, Any] = {"actor_profile": actor}
    if actor is not None:
        changes["actor"] = UserRef(PLATFORM, actor.external_id, actor.display_name)
    if isinstance(event, CommandInvoked):
        changes["mentioned_profiles"] = tuple(profiles.get(p.external_id, p) for p in event.mentioned_profiles)
    return dataclasses.replace(event, **changes)


def submission(activity: Activity, actor: Profile) -> ActionInvoked | FormSubmitted | None:
    """An Action.Submit from one of our cards: its data merged with the card's input values."""
    value = activity.value if isinstance(activity.value, dict) else None
    if not value:
        return None
    conversation = Conversation(PLATFORM, activity.conversation.id, conversation_kind(activity))
    actor_ref = UserRef(PLATFORM, actor.external_id, actor.display_name)
    key = delivery_key(activity)
    handle = MessageHandle(PLATFORM, activity.conversation.id, activity.reply_to_id) if activity.reply_to_id else None
    if isinstance(value.get("form_id"), str):
        multi = value.get("multi") if isinstance(value.get("multi"), list) else []
        inputs = {k: v for k, v in value.items() if k not in ("form_id", "metadata", "multi")}
        # `name`, not `key`: the delivery key above must survive this loop (a reused name once made
        # every form deduplicated under "recipients", so only the first person's kudos counted).
        for name in multi:
            if not isinstance(name, str):
                continue
            raw = inputs.get(name)
            inputs[name] = [p for p in raw.split(",") if p] if isinstance(raw, str) else []
        return FormSubmitted(
            platform=PLATFORM,
            form_id=value["form_id"],
            values=inputs,
            metadata=str(value.get("metadata") or ""),
            actor=actor_ref,
            delivery_key=key,
            conversation=conversation,
            actor_profile=actor,
        )
    if isinstance(value.get("action_id"), str):
        inputs = {k: v for k, v in value.items() if k not in ("action_id", "value", "user_picker")}
        picked = inputs.pop(value["user_picker"], "") if isinstance(value.get("user_picker"), str) else None
        return ActionInvoked(
            platform=PLATFORM,
            action_id=value["action_id"],
            value=str(picked if picked is not None else value.get("value") or ""),
            actor=actor_ref,
            delivery_key=key,
            message=handle,
            conversation=conversation,
            inputs=inputs,
            actor_profile=actor,
        )
    return None
