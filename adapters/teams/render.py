"""Neutral messages → Adaptive Cards 1.5 (the newest version Teams renders).

Words people wrote go into RichTextBlock TextRuns, which Teams shows without Markdown, so a
reason can never become a link; the few texts that need mentions are Markdown-escaped.
"""

from __future__ import annotations

import re
from typing import Any

from bot.messages import Actions, Context, Fields, Heading, Inline, Mention, Message, Paragraph, Quote, Strong

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


def escape_markdown(text: str) -> str:
    return _MD.sub(r"\\\1", text).replace("<", "&lt;")


def _runs(parts: tuple[Inline, ...]) -> list[dict[str, Any]]:
    runs = []
    for part in parts:
        if isinstance(part, Mention):
            runs.append({"type": "TextRun", "text": "@" + (part.user.display_name or part.user.external_id), "weight": "Bolder"})
        elif isinstance(part, Strong):
            runs.append({"type": "TextRun", "text": part.text, "weight": "Bolder"})
        elif part:
            runs.append({"type": "TextRun", "text": part})
    return runs


def _mention_block(parts: tuple[Inline, ...], entities: list[dict[str, Any]]) -> dict[str, Any]:
    text = []
    for part in parts:
        if isinstance(part, Mention) and part.user.platform == "teams":
            name = part.user.display_name or "someone"
            tag = f"<at>{escape_markdown(name)}</at>"
            entities.append({"type": "mention", "text": tag, "mentioned": {"id": part.user.external_id, "name": name}})
            text.append(tag)
        elif isinstance(part, Mention):
            text.append(escape_markdown("@" + part.user.display_name))
        elif isinstance(part, Strong):
            text.append(f"**{escape_markdown(part.text)}**")
        else:
            text.append(escape_markdown(part))
    return {"type": "TextBlock", "text": "".join(text), "wrap": True}


def card(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, Heading):
            body.append({"type": "TextBlock", "text": escape_markdown(block.text), "size": "Large", "weight": "Bolder", "wrap": True})
        elif isinstance(block, Paragraph):
            if any(isinstance(p, Mention) for p in block.parts):
                body.append(_mention_block(block.parts, entities))
            else:
                body.append({"type": "RichTextBlock", "inlines": _runs(block.parts) or [{"type": "TextRun", "text": " "}]})
        elif isinstance(block, Quote):
            body.append(
                {
                    "type": "Container",
                    "style": "emphasis",
                    "items": [{"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": block.text or " ", "italic": True}]}],
                }
            )
        elif isinstance(block, Fields):
            body.append({"type": "FactSet", "facts": [{"title": escape_markdown(k), "value": escape_markdown(v)} for k, v in block.pairs]})
        elif isinstance(block, Context):
            inlines = [dict(run, isSubtle=True, size="Small") for run in _runs(block.parts)]
            body.append({"type": "RichTextBlock", "inlines": inlines or [{"type": "TextRun", "text": " "}]})
        elif isinstance(block, Actions):
            for button in block.buttons:
                action = {"type": "Action.Submit", "title": button.label, "data": {"action_id": button.action_id, "value": button.value}}
                if button.style == "primary":
                    action["style"] = "positive"
                elif button.style == "danger":
                    action["style"] = "destructive"
                actions.append(action)
    out: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
    if actions:
        out["actions"] = actions
    if entities:
        out["msteams"] = {"entities": entities}
    return out


def activity_payload(message: Message) -> dict[str, Any]:
    """A message activity carrying the card; `summary` is what Teams shows in notifications."""
    return {
        "type": "message",
        "summary": message.summary[:200],
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card(message)}],
    }
