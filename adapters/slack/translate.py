"""Slack payloads → core events. Kept apart from the wiring so fixtures can exercise it directly."""

from __future__ import annotations

import re
from typing import Any

from bot.events import CommandInvoked, CommandPart, Conversation, MentionToken, Profile, Token
from bot.messages import UserRef

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
