"""Neutral messages → Block Kit.

Every string is escaped (`& < >`) and every text object is `verbatim`, so Slack neither parses
markup nor auto-links names, channels or URLs that came from a user.
"""

from __future__ import annotations

from typing import Any

from bot.messages import Actions, Context, Fields, Heading, Inline, Mention, Message, Paragraph, Quote, Strong

SECTION_LIMIT = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inline(parts: tuple[Inline, ...]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Mention):
            out.append(f"<@{part.user.external_id}>" if part.user.platform == "slack" else escape("@" + part.user.display_name))
        elif isinstance(part, Strong):
            out.append(f"*{escape(part.text)}*")
        else:
            out.append(escape(part))
    return "".join(out)


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:SECTION_LIMIT], "verbatim": True}


def blocks(message: Message) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, Heading):
            out.append({"type": "header", "text": {"type": "plain_text", "text": block.text[:150], "emoji": True}})
        elif isinstance(block, Paragraph):
            out.append({"type": "section", "text": _mrkdwn(_inline(block.parts))})
        elif isinstance(block, Quote):
            quoted = "\n".join("&gt; " + escape(line) for line in block.text.splitlines() or [""])
            out.append({"type": "section", "text": _mrkdwn(quoted)})
        elif isinstance(block, Fields):
            out.append(
                {"type": "section", "fields": [_mrkdwn(f"*{escape(k)}*\n{escape(v)}") for k, v in block.pairs[:10]]}
            )
        elif isinstance(block, Context):
            out.append({"type": "context", "elements": [_mrkdwn(_inline(block.parts))]})
        elif isinstance(block, Actions):
            elements = []
            for button in block.buttons[:25]:
                element = {
                    "type": "button",
                    "text": {"type": "plain_text", "text": button.label[:75], "emoji": True},
                    "action_id": button.action_id,
                    "value": button.value,
                }
                if button.style:
                    element["style"] = button.style
                elements.append(element)
            out.append({"type": "actions", "elements": elements})
    return out


def message_kwargs(message: Message) -> dict[str, Any]:
    """Arguments for chat.postMessage / response_url: escaped fallback text plus blocks."""
    return {"text": escape(message.summary), "blocks": blocks(message)}
