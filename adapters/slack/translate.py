"""Slack payloads → core events. Kept apart from the wiring so fixtures can exercise it directly."""

from __future__ import annotations

import re
from typing import Any

from bot.kernel.events import (
    ActionInvoked,
    CommandInvoked,
    CommandPart,
    Conversation,
    DirectMessageReceived,
    HomeOpened,
    FormSubmitted,
    MentionToken,
    MessageHandle,
    Profile,
    Token,
)
from bot.kernel.messages import UserRef
from bot.kernel.ports import PlatformGroup

PLATFORM = "slack"
_SEGMENT = re.compile(r"<([^<>]*)>")


def _unescape(text: str) -> str:
    # Slack escapes exactly these three in user text; &amp; last so "&amp;lt;" stays "&lt;".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_text(text: str) -> tuple[CommandPart, ...]:
    """Split slash-command text into typed text and real mentions.

    Special markup Slack produced (`<!here>`, `<#C…|name>`, `<https://x|y>`) is flattened to
    plain text here, so it is stored as words and can never be replayed as a ping or a link.
    """
    parts: list[CommandPart] = []
    pos = 0
    for match in _SEGMENT.finditer(text):
        parts.append(Token(_unescape(text[pos : match.start()])))
        inner = match.group(1)
        head, _, label = inner.partition("|")
        if head[:2] in ("@U", "@W"):
            parts.append(MentionToken(UserRef(PLATFORM, head[1:], _unescape(label))))
        elif head.startswith("!"):
            parts.append(Token(_unescape(label) if label else "@" + head[1:].split("^")[0]))
        elif head.startswith("#C"):
            parts.append(Token("#" + _unescape(label or head[1:])))
        else:
            url, label = _unescape(head), _unescape(label)
            parts.append(Token(f"{label} ({url})" if label and label != url else url))
        pos = match.end()
    parts.append(Token(_unescape(text[pos:])))

    merged: list[CommandPart] = []
    for part in parts:
        if isinstance(part, Token) and merged and isinstance(merged[-1], Token):
            merged[-1] = Token(merged[-1].text + part.text)
        elif not (isinstance(part, Token) and part.text == ""):
            merged.append(part)
    return tuple(merged)


def slash_command(body: dict[str, Any]) -> CommandInvoked:
    team = body.get("team_id") or body.get("enterprise_id") or "-"
    channel_id = body.get("channel_id") or ""
    kind = "personal" if channel_id.startswith("D") else "channel"
    return CommandInvoked(
        platform=PLATFORM,
        command=body["command"],
        parts=parse_text(body.get("text") or ""),
        actor=UserRef(PLATFORM, body["user_id"], body.get("user_name") or ""),
        conversation=Conversation(PLATFORM, channel_id, kind),
        # trigger_id is unique per invocation and repeated verbatim on a duplicated delivery.
        delivery_key=f"slack:{team}:command:{body.get('trigger_id') or body.get('command') + ':' + body['user_id']}",
    )


def profile(user: dict[str, Any]) -> Profile:
    prof = user.get("profile") or {}
    name = prof.get("display_name") or prof.get("real_name") or user.get("real_name") or user.get("name") or user["id"]
    return Profile(
        platform=PLATFORM,
        external_id=user["id"],
        display_name=name,
        email=prof.get("email"),
        timezone=user.get("tz"),
        is_bot=bool(user.get("is_bot")) or user.get("id") == "USLACKBOT",
        deleted=bool(user.get("deleted")),
    )


def user_group(group: dict[str, Any]) -> PlatformGroup:
    channels = (group.get("prefs") or {}).get("channels") or []
    return PlatformGroup(
        handle=group.get("handle") or group["id"],
        name=group.get("name") or group.get("handle") or group["id"],
        member_ids=tuple(group.get("users") or ()),
        channel_id=channels[0] if channels else None,
    )


def _team(body: dict[str, Any]) -> str:
    team = body.get("team") or {}
    return body.get("team_id") or (team.get("id") if isinstance(team, dict) else None) or "-"


def block_action(body: dict[str, Any]) -> ActionInvoked:
    action = body["actions"][0]
    value = action.get("value")
    if value is None:
        value = action.get("selected_user") or (action.get("selected_option") or {}).get("value", "")
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    user = body["user"]
    return ActionInvoked(
        platform=PLATFORM,
        action_id=action["action_id"],
        value=value,
        actor=UserRef(PLATFORM, user["id"], user.get("name") or user.get("username") or ""),
        delivery_key=f"slack:{_team(body)}:action:{body.get('trigger_id') or action.get('action_ts')}",
        # Ephemeral messages cannot be chat.update'd; they are replaced through response_url instead.
        message=MessageHandle(PLATFORM, channel, ts) if channel and ts and not container.get("is_ephemeral") else None,
        conversation=Conversation(PLATFORM, channel, "personal" if channel.startswith("D") else "channel") if channel else None,
    )


def _state_value(state: dict[str, Any]) -> Any:
    kind = state.get("type")
    if kind in ("static_select", "external_select", "radio_buttons"):
        return (state.get("selected_option") or {}).get("value")
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return [o["value"] for o in state.get("selected_options") or []]
    if kind == "users_select":
        return state.get("selected_user")
    if kind == "multi_users_select":
        return list(state.get("selected_users") or [])
    if kind == "datepicker":
        return state.get("selected_date")
    return state.get("value")


def view_submission(body: dict[str, Any]) -> FormSubmitted:
    view = body["view"]
    values: dict[str, Any] = {}
    for actions in ((view.get("state") or {}).get("values") or {}).values():
        for action_id, state in actions.items():
            values[action_id] = _state_value(state)
    user = body["user"]
    return FormSubmitted(
        platform=PLATFORM,
        form_id=view.get("callback_id") or "",
        values=values,
        metadata=view.get("private_metadata") or "",
        actor=UserRef(PLATFORM, user["id"], user.get("name") or user.get("username") or ""),
        # A view's hash changes with every update, so id+hash names one submission of one state.
        delivery_key=f"slack:{_team(body)}:view:{view.get('id')}:{view.get('hash', '')}",
    )


# Message subtypes that are not a person writing something new: edits, deletions, bot posts, joins…
# (a person's own new message has no subtype; file shares and thread broadcasts are still theirs).
_PERSON_SUBTYPES = {None, "file_share", "thread_broadcast"}


def direct_message(body: dict[str, Any], bot_user_id: str | None) -> DirectMessageReceived | None:
    """A person's new message in their DM with the bot, or None for anything to ignore."""
    event = body.get("event") or {}
    user = event.get("user")
    if event.get("channel_type") != "im" or event.get("subtype") not in _PERSON_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
        return None
    if not user or user == bot_user_id or user == "USLACKBOT":
        return None
    # event_id is the same on every retry of one delivery; the message ts is the fallback.
    key = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
    return DirectMessageReceived(PLATFORM, UserRef(PLATFORM, user), event.get("text") or "", f"slack:{_team(body)}:event:{key}")


def home_opened(body: dict[str, Any]) -> HomeOpened | None:
    event = body.get("event") or {}
    if not event.get("user"):
        return None
    key = body.get("event_id") or f"{event.get('user')}:{event.get('event_ts')}"
    return HomeOpened(PLATFORM, UserRef(PLATFORM, event["user"]), event.get("tab") or "home", f"slack:{_team(body)}:event:{key}")
