"""Neutral messages → Block Kit.

Every string is escaped (`& < >`) and every text object is `verbatim`, so Slack neither parses
markup nor auto-links names, channels or URLs that came from a user.

Slack drops a payload that breaks one of its limits (HTTP 200, `invalid_blocks`), so every limit
below is enforced here, never left to Slack: text is clipped with a visible "…", lists are split
over several blocks, and a message of more than 50 blocks is sent as several messages
(`pages`). The numbers are Slack's Block Kit reference (docs.slack.dev/reference/block-kit):
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

MESSAGE_BLOCKS = 50  # blocks in one message
SURFACE_BLOCKS = 100  # blocks in a modal or a Home tab
SECTION_LIMIT = 3000  # a section's text (and any text object)
FIELD_TEXT = 2000  # each of a section's fields …
SECTION_FIELDS = 10  # … of which there are at most ten
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTION_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
PLACEHOLDER = 150
OPTIONS = 100  # options in a static select
OPTION_TEXT = 75
OPTION_VALUE = 150
INPUT_LABEL = 2000
INPUT_MAX_LENGTH = 3000  # plain_text_input max_length / initial_value
VIEW_TITLE = 24  # modal title, submit and close
PRIVATE_METADATA = 3000
# Slack truncates `text` past 40,000 characters; as a notification fallback beside blocks it
# only needs to say what the message is.
FALLBACK_TEXT = 3000
# A long list becomes at most this many messages; the last says how much was left out.
MAX_PAGES = 10
ELLIPSIS = "…"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with a visible "…", never inside `&amp;` or `<@U…>`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi and len(cut) - amp <= len("&amp;"):
        cut = cut[:amp]  # half an entity would show as "&am"
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]  # half a mention would show as raw markup
    return cut + ELLIPSIS


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


def _mrkdwn(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit), "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def blocks(message: Message) -> list[dict[str, Any]]:
    """All of a message's blocks, each within Slack's limits (may be more than one message holds: see `pages`)."""
    return _blocks(message.blocks)


def _chunks(items: tuple, size: int) -> list[tuple]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [()]


def _blocks(items) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in items:
        if isinstance(block, Heading):
            out.append({"type": "header", "text": _plain(block.text, HEADER_TEXT)})
        elif isinstance(block, Paragraph):
            out.append({"type": "section", "text": _mrkdwn(_inline(block.parts))})
        elif isinstance(block, Quote):
            quoted = "\n".join("&gt; " + escape(line) for line in block.text.splitlines() or [""])
            out.append({"type": "section", "text": _mrkdwn(quoted)})
        elif isinstance(block, Fields):
            # More than ten pairs: more sections, never pairs dropped.
            for pairs in _chunks(block.pairs, SECTION_FIELDS):
                if pairs:
                    out.append({"type": "section", "fields": [_mrkdwn(f"*{escape(k)}*\n{escape(v)}", FIELD_TEXT) for k, v in pairs]})
        elif isinstance(block, Context):
            out.append({"type": "context", "elements": [_mrkdwn(_inline(block.parts))]})
        elif isinstance(block, Actions):
            for buttons in _chunks(block.buttons, ACTION_ELEMENTS):
                if buttons:
                    out.append({"type": "actions", "elements": [_action_element(b) for b in buttons]})
    return out


def _action_element(button) -> dict[str, Any]:
    if isinstance(button, UserPicker):
        # A users_select in an actions block fires block_actions with `selected_user` at once.
        return {"type": "users_select", "action_id": button.action_id[:ACTION_ID], "placeholder": _plain(button.placeholder, PLACEHOLDER)}
    element = {
        "type": "button",
        "text": _plain(button.label, BUTTON_TEXT),
        "action_id": button.action_id[:ACTION_ID],
        "value": button.value[:BUTTON_VALUE],
    }
    if button.style:
        element["style"] = button.style
    return element


def _more(count: int) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(f"{ELLIPSIS} and {count} more line{'s' if count != 1 else ''} not shown here.")]}


def capped(rendered: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most `limit` blocks; when some are left out, the last block says how many."""
    if len(rendered) <= limit:
        return rendered
    return rendered[: limit - 1] + [_more(len(rendered) - limit + 1)]


def _split(rendered: list[dict[str, Any]], room: int) -> list[list[dict[str, Any]]]:
    """Runs of at most `room` blocks; a run ends before a header when one is near, so a heading starts its part."""
    out: list[list[dict[str, Any]]] = []
    rest = rendered
    while len(rest) > room:
        cut = room
        for i in range(room, max(room // 2, 1), -1):
            if rest[i]["type"] == "header":
                cut = i
                break
        out.append(rest[:cut])
        rest = rest[cut:]
    out.append(rest)
    return out


def pages(message: Message, limit: int = MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """The message as one or more chat messages (`text` + `blocks`), each within Slack's limits.

    A message of up to `limit` blocks is one page. A longer one is split, each part ending with a
    "Part i of n" line; past MAX_PAGES parts the last one says how many lines were left out.
    """
    rendered = _blocks(message.blocks)
    summary = clip(escape(message.summary), FALLBACK_TEXT)
    if len(rendered) <= limit:
        return [{"text": summary, "blocks": rendered}]
    parts = _split(rendered, limit - 1)
    if len(parts) > MAX_PAGES:
        kept = parts[:MAX_PAGES]
        dropped = sum(len(p) for p in parts[MAX_PAGES:])
        kept[-1] = kept[-1][: limit - 2] + [_more(dropped + len(kept[-1]) - (limit - 2))]
        parts = kept
    n = len(parts)
    out = []
    for i, part in enumerate(parts, start=1):
        marker = {"type": "context", "elements": [_mrkdwn(f"Part {i} of {n}")]}
        text = summary if i == 1 else clip(f"{summary} (part {i} of {n})", FALLBACK_TEXT)
        out.append({"text": text, "blocks": [*part, marker]})
    return out


def message_kwargs(message: Message) -> dict[str, Any]:
    """Arguments for one chat.update / response_url replacement: escaped fallback text plus at most 50 blocks.

    Where a message can be several messages (a new post, an ephemeral reply) use `pages` instead.
    """
    return {"text": clip(escape(message.summary), FALLBACK_TEXT), "blocks": capped(_blocks(message.blocks), MESSAGE_BLOCKS)}


def _element(field) -> dict[str, Any]:
    if isinstance(field, TextInput):
        element: dict[str, Any] = {"type": "plain_text_input", "multiline": field.multiline}
        if field.max_length:
            element["max_length"] = min(field.max_length, INPUT_MAX_LENGTH)
        if field.placeholder:
            element["placeholder"] = _plain(field.placeholder, PLACEHOLDER)
        if field.initial:
            element["initial_value"] = field.initial[: element.get("max_length", INPUT_MAX_LENGTH)]
    elif isinstance(field, Select):
        options = [{"text": _plain(label, OPTION_TEXT), "value": value[:OPTION_VALUE]} for value, label in field.options[:OPTIONS]]
        if field.multiple:
            element = {"type": "multi_static_select", "options": options}
            chosen = [o for o in options if o["value"] in field.initial_values]
            if chosen:
                element["initial_options"] = chosen
        else:
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
    element["action_id"] = field.id[:ACTION_ID]
    return element


def modal(form: Form) -> dict[str, Any]:
    if len(form.metadata) > PRIVATE_METADATA:
        # Cut metadata would come back as garbage with the submission: refuse to build the form.
        raise ValueError(f"form {form.form_id}: private_metadata is {len(form.metadata)} characters (Slack allows {PRIVATE_METADATA})")
    inputs = [
        {"type": "input", "block_id": f.id[:255], "optional": f.optional, "label": _plain(f.label, INPUT_LABEL), "element": _element(f)}
        for f in form.fields
    ]
    # The inputs are the form: the intro gives way when both do not fit.
    intro = capped(_blocks(form.intro), max(SURFACE_BLOCKS - len(inputs), 0)) if form.intro else []
    return {
        "type": "modal",
        "callback_id": form.form_id[:255],
        "title": _plain(form.title, VIEW_TITLE),
        "submit": _plain(form.submit_label, VIEW_TITLE),
        "close": _plain("Cancel", VIEW_TITLE),
        "private_metadata": form.metadata,
        "blocks": (intro + inputs)[:SURFACE_BLOCKS],
    }


def message_modal(title: str, message: Message) -> dict[str, Any]:
    """A modal that only shows a message (a refusal, or a form that could not be built), with a Close button."""
    return {
        "type": "modal",
        "title": _plain(title, VIEW_TITLE),
        "close": _plain("Close", VIEW_TITLE),
        "blocks": capped(_blocks(message.blocks) or [{"type": "section", "text": _mrkdwn(escape(message.summary))}], SURFACE_BLOCKS),
    }


def home(message: Message) -> dict[str, Any]:
    """The App Home tab (views.publish): the message's blocks, at most 100."""
    return {"type": "home", "blocks": capped(_blocks(message.blocks), SURFACE_BLOCKS)}
