"""Neutral messages → Block Kit.

Every string is escaped (`& < >`) and every text object is `verbatim`, so Slack neither parses
markup nor auto-links names, channels or URLs that came from a user.
"""

from __future__ import annotations

from typing import Any

from bot.kernel.messages import (
    Actions,
    Context,
    DateInput,
    Fields,
    Form,
    Heading,
    Inline,
    Mention,
    Message,
    Paragraph,
    Quote,
    Select,
    Strong,
    TextInput,
    UserPicker,
    UserSelect,
)

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
    return _blocks(message.blocks)


def _blocks(items) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in items:
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
                if isinstance(button, UserPicker):
                    # A users_select in an actions block fires block_actions with `selected_user` at once.
                    elements.append({"type": "users_select", "action_id": button.action_id, "placeholder": _plain(button.placeholder, 150)})
                    continue
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


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _element(field) -> dict[str, Any]:
    if isinstance(field, TextInput):
        element: dict[str, Any] = {"type": "plain_text_input", "multiline": field.multiline}
        if field.max_length:
            element["max_length"] = field.max_length
        if field.placeholder:
            element["placeholder"] = _plain(field.placeholder, 150)
        if field.initial:
            element["initial_value"] = field.initial
    elif isinstance(field, Select):
        options = [{"text": _plain(label, 75), "value": value[:150]} for value, label in field.options[:100]]
        element = {"type": "static_select", "options": options}
        initial = next((o for o in options if o["value"] == field.initial), None)
        if initial:
            element["initial_option"] = initial
    elif isinstance(field, UserSelect):
        element = {"type": "multi_users_select" if field.multiple else "users_select"}
    elif isinstance(field, DateInput):
        element = {"type": "datepicker"}
        if field.initial:
            element["initial_date"] = field.initial
    else:  # pragma: no cover - FormField is a closed union
        raise TypeError(field)
    element["action_id"] = field.id
    return element


def modal(form: Form) -> dict[str, Any]:
    inputs = [
        {"type": "input", "block_id": f.id, "optional": f.optional, "label": _plain(f.label, 2000), "element": _element(f)}
        for f in form.fields
    ]
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "title": _plain(form.title, 24),
        "submit": _plain(form.submit_label, 24),
        "close": _plain("Cancel", 24),
        "private_metadata": form.metadata[:3000],
        "blocks": _blocks(form.intro) + inputs,
    }
