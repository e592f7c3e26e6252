"""Slack's documented Block Kit limits, as the fake Slack Web API enforces them.

Slack answers a payload that breaks one with `invalid_blocks` (messages) or `invalid_arguments`
(views) and shows nothing, so the fake does the same: a test can never pass with a payload real
Slack would drop. Numbers from Slack's Block Kit reference (docs.slack.dev/reference/block-kit):
50 blocks per message, 100 per modal or Home tab; section text 3,000, fields 10 × 2,000; header
150; context 10 elements; actions 25 elements; button text 75, value 2,000; action_id and block_id
255; options 100 × (text 75, value 150); placeholders 150; input labels 2,000; view title, submit
and close 24; private_metadata 3,000; callback_id 255.

The shapes themselves (a field of the wrong type, a block type that does not exist) are left to
the type check against @slack/types (tests/test_slack_blockkit_contract.py).
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
SURFACE_BLOCKS = 100
TEXT_TYPES = ("plain_text", "mrkdwn")


def _text(obj: Any, limit: int, where: str, out: list[str], *, plain: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in (("plain_text",) if plain else TEXT_TYPES):
        out.append(f"{where}: not a {'plain_text' if plain else 'text'} object")
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        out.append(f"{where}: empty text")
    elif len(text) > limit:
        out.append(f"{where}: text is {len(text)} characters (max {limit})")


def _id(value: Any, where: str, out: list[str]) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > 255):
        out.append(f"{where}: over 255 characters")


def _element(el: dict[str, Any], where: str, out: list[str]) -> None:
    kind = el.get("type")
    _id(el.get("action_id"), f"{where}.action_id", out)
    if "placeholder" in el:
        _text(el["placeholder"], 150, f"{where}.placeholder", out, plain=True)
    if kind == "button":
        _text(el.get("text"), 75, f"{where}.text", out, plain=True)
        if len(str(el.get("value", ""))) > 2000:
            out.append(f"{where}.value: over 2000 characters")
    elif kind in ("static_select", "multi_static_select"):
        options = el.get("options") or []
        if not options or len(options) > 100:
            out.append(f"{where}.options: {len(options)} options (1 to 100)")
        for j, option in enumerate(options):
            _text(option.get("text"), 75, f"{where}.options[{j}].text", out, plain=True)
            if len(str(option.get("value", ""))) > 150:
                out.append(f"{where}.options[{j}].value: over 150 characters")
    elif kind == "plain_text_input":
        if int(el.get("max_length") or 0) > 3000:
            out.append(f"{where}.max_length: over 3000")
        if len(el.get("initial_value") or "") > int(el.get("max_length") or 3000):
            out.append(f"{where}.initial_value: longer than max_length")


def block_problems(blocks: Any, limit: int) -> list[str]:
    """Why Slack would refuse these blocks (empty when it would not)."""
    if not isinstance(blocks, list):
        return ["blocks: not a list"]
    out: list[str] = []
    if len(blocks) > limit:
        out.append(f"blocks: {len(blocks)} blocks (max {limit})")
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(block, dict):
            out.append(f"{where}: not an object")
            continue
        kind = block.get("type")
        _id(block.get("block_id"), f"{where}.block_id", out)
        if kind == "section":
            if "text" not in block and "fields" not in block:
                out.append(f"{where}: a section needs text or fields")
            if "text" in block:
                _text(block["text"], 3000, f"{where}.text", out)
            fields = block.get("fields")
            if fields is not None:
                if not fields or len(fields) > 10:
                    out.append(f"{where}.fields: {len(fields)} fields (1 to 10)")
                for j, field in enumerate(fields):
                    _text(field, 2000, f"{where}.fields[{j}]", out)
            if "accessory" in block:
                _element(block["accessory"], f"{where}.accessory", out)
        elif kind == "header":
            _text(block.get("text"), 150, f"{where}.text", out, plain=True)
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > 10:
                out.append(f"{where}.elements: {len(elements)} elements (1 to 10)")
            for j, el in enumerate(elements):
                if el.get("type") in TEXT_TYPES:
                    _text(el, 3000, f"{where}.elements[{j}]", out)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > 25:
                out.append(f"{where}.elements: {len(elements)} elements (1 to 25)")
            for j, el in enumerate(elements):
                _element(el, f"{where}.elements[{j}]", out)
        elif kind == "input":
            _text(block.get("label"), 2000, f"{where}.label", out, plain=True)
            _element(block.get("element") or {}, f"{where}.element", out)
    return out


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view (views.open/update/push/publish, or a response_action)."""
    if not isinstance(view, dict):
        return ["view: not an object"]
    out: list[str] = []
    if view.get("type") == "modal":
        _text(view.get("title"), 24, "view.title", out, plain=True)
        for key in ("submit", "close"):
            if key in view:
                _text(view[key], 24, f"view.{key}", out, plain=True)
        if any(b.get("type") == "input" for b in view.get("blocks") or [] if isinstance(b, dict)) and "submit" not in view:
            out.append("view.submit: a modal with inputs needs a submit button")
    elif view.get("type") != "home":
        out.append(f"view.type: {view.get('type')!r}")
    if len(view.get("private_metadata") or "") > 3000:
        out.append("view.private_metadata: over 3000 characters")
    _id(view.get("callback_id"), "view.callback_id", out)
    out.extend("view." + p for p in block_problems(view.get("blocks") or [], SURFACE_BLOCKS))
    return out
