"""Neutral messages → Adaptive Cards 1.5 (the newest version Teams renders).

Words people wrote go into RichTextBlock TextRuns, which Teams shows without Markdown, so a
reason can never become a link. A paragraph that mentions Teams users becomes a TextBlock with
`<at>` tags (Markdown-escaped), and the card's `msteams.entities` carry the mentions: Teams then
notifies those people and the message stays ONE message. Text next to a card in the same activity
is split by Teams into two posts (202, no id, never updatable; an update with both gets 400
"Activity resulted into multiple skype activities"), so activities carry only the card.
"""

from __future__ import annotations

import re
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

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Buttons Teams shows in one row (its host config's actions.maxActions); more go to a "…" menu.
MAX_ACTIONS = 6
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


def _mention_text(parts: tuple[Inline, ...], entities: list[dict[str, Any]]) -> str:
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
    return "".join(text)


def _has_teams_mention(block) -> bool:
    return isinstance(block, Paragraph) and any(isinstance(p, Mention) and p.user.platform == "teams" for p in block.parts)


def _add_entities(entities: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    for entity in new:
        if entity not in entities:
            entities.append(entity)


def card(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    # One row of buttons goes in the card's footer; several rows stay next to their content.
    single_row = sum(isinstance(b, Actions) for b in message.blocks) == 1
    for block in message.blocks:
        if _has_teams_mention(block):
            found: list[dict[str, Any]] = []
            body.append({"type": "TextBlock", "text": _mention_text(block.parts, found), "wrap": True})
            _add_entities(entities, found)
        elif isinstance(block, Heading):
            body.append({"type": "TextBlock", "text": escape_markdown(block.text), "size": "Large", "weight": "Bolder", "wrap": True})
        elif isinstance(block, Paragraph):
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
            row = []
            for button in block.buttons:
                if isinstance(button, UserPicker):
                    body.append(_picker(button))
                    # `user_picker` names the input whose value the translator hands over as the action's value.
                    data = {"action_id": button.action_id, "value": "", "user_picker": _picker_id(button)}
                    row.append({"type": "Action.Submit", "title": button.submit_label, "style": "positive", "data": data})
                    continue
                action = {"type": "Action.Submit", "title": button.label, "data": {"action_id": button.action_id, "value": button.value}}
                if button.style == "primary":
                    action["style"] = "positive"
                elif button.style == "danger":
                    action["style"] = "destructive"
                row.append(action)
            if single_row and len(row) <= MAX_ACTIONS:
                actions.extend(row)
            else:
                # Several rows (e.g. one per pulse question) stay in place as ActionSets; a row longer
                # than Teams shows (an eNPS 0-10 scale) wraps onto several, none in an overflow menu.
                for start in range(0, len(row), MAX_ACTIONS):
                    body.append({"type": "ActionSet", "actions": row[start : start + MAX_ACTIONS]})
    out: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
    if actions:
        out["actions"] = actions
    if entities:
        out["msteams"] = {"entities": entities}
    return out


def _picker_id(picker: UserPicker) -> str:
    return "pick." + picker.action_id


# Teams shows at most 15 results of a typeahead search; asking for more gains nothing.
SEARCH_RESULTS = 15


def people_search(people: str, multiple: bool, preselected) -> dict[str, Any]:
    """An Input.ChoiceSet that searches people as you type (Teams' dynamic typeahead).

    Teams sends an `application/search` invoke with the typed text and `dataset`; TeamsBot answers
    it from the directory (adapters/teams/search.py). The card holds no list of people, so its size
    does not grow with the company (a static list passed Teams' 100 KB limit at ~330 people).
    """
    choices = [{"title": u.display_name or u.external_id, "value": u.external_id} for u in preselected]
    out: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "style": "filtered",
        "isMultiSelect": multiple,
        "choices": choices,
        "choices.data": {"type": "Data.Query", "dataset": "people." + people, "count": SEARCH_RESULTS},
    }
    if choices:
        out["value"] = ",".join(c["value"] for c in choices)
    return out


def _picker(picker: UserPicker) -> dict[str, Any]:
    out = people_search(picker.people, False, picker.choices)
    return {**out, "id": _picker_id(picker), "placeholder": picker.placeholder}


def activity_payload(message: Message) -> dict[str, Any]:
    """A message activity carrying only the card (mentions inside it); `summary` is what Teams
    shows in notifications and the chat list."""
    body = card(message)
    if not body["body"] and not body.get("actions"):
        body["body"] = [{"type": "TextBlock", "text": escape_markdown(message.summary) or " ", "wrap": True}]
    return {
        "type": "message",
        "summary": message.summary[:200],
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": body}],
    }


def _input(field) -> dict[str, Any]:
    base: dict[str, Any] = {"id": field.id, "label": field.label, "isRequired": not field.optional}
    if not field.optional:
        base["errorMessage"] = f"{field.label} is required"
    if isinstance(field, TextInput):
        base.update(type="Input.Text", isMultiline=field.multiline)
        if field.max_length:
            base["maxLength"] = field.max_length
        if field.placeholder:
            base["placeholder"] = field.placeholder
        if field.initial:
            base["value"] = field.initial
    elif isinstance(field, Select):
        base.update(type="Input.ChoiceSet", style="compact", choices=[{"title": label, "value": value} for value, label in field.options])
        if field.multiple:
            base["isMultiSelect"] = True
            if field.initial_values:
                base["value"] = ",".join(field.initial_values)
        elif field.initial:
            base["value"] = field.initial
    elif isinstance(field, UserSelect):
        base.update(people_search(field.people, field.multiple, field.choices))
        base["placeholder"] = "Type a name"
    elif isinstance(field, DateInput):
        base["type"] = "Input.Date"
        if field.initial:
            base["value"] = field.initial
    else:  # pragma: no cover - FormField is a closed union
        raise TypeError(field)
    return base


def form_card(form: Form) -> dict[str, Any]:
    """A Form as a card: inputs plus one submit action carrying the form id and metadata back."""
    body = card(Message(summary=form.title, blocks=form.intro))["body"]
    heading = {"type": "TextBlock", "text": escape_markdown(form.title), "size": "Medium", "weight": "Bolder", "wrap": True}
    multi = [f.id for f in form.fields if isinstance(f, UserSelect | Select) and f.multiple]
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": [heading, *body, *(_input(f) for f in form.fields)],
        "actions": [
            {
                "type": "Action.Submit",
                "title": form.submit_label,
                "style": "positive",
                # Teams returns a multi-select as "a,b"; `multi` tells the translator which to split.
                # Left out when empty: the Agents Playground silently drops a submit whose data holds [].
                "data": {"form_id": form.form_id, "metadata": form.metadata, **({"multi": multi} if multi else {})},
            }
        ],
    }


def form_payload(form: Form) -> dict[str, Any]:
    return {
        "type": "message",
        "summary": form.title[:200],
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": form_card(form)}],
    }
