"""The Adaptive Card schema Teams renders: Adaptive Card 1.5 plus the two Teams host extensions we use.

The shared 1.5 schema (../shared/schemas) forbids unknown properties, but Teams adds some on top:
- `msteams` on the card: `entities` (mentions inside the card, so a message with a mention stays one
  message) and `width`;
- `choices.data` on Input.ChoiceSet: a `Data.Query` for dynamic typeahead search (the invoke
  `application/search`), so pickers need not list every person in the card.
Both are documented on learn.microsoft.com (cards-format "Mention support within Adaptive Cards",
dynamic-search "Data.Query"). Everything else stays as strict as the 1.5 schema.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "schemas" / "adaptive-card-1.5.schema.json"

_MENTION = {
    "type": "object",
    "properties": {
        "type": {"enum": ["mention"]},
        "text": {"type": "string", "pattern": "^<at>.*</at>$"},
        "mentioned": {
            "type": "object",
            "properties": {"id": {"type": "string", "minLength": 1}, "name": {"type": "string"}},
            "required": ["id", "name"],
            "additionalProperties": False,
        },
    },
    "required": ["type", "text", "mentioned"],
    "additionalProperties": False,
}
_MSTEAMS = {
    "type": "object",
    "properties": {"entities": {"type": "array", "items": _MENTION}, "width": {"enum": ["Full"]}},
    "additionalProperties": False,
}
_DATA_QUERY = {
    "type": "object",
    "properties": {
        "type": {"enum": ["Data.Query"]},
        "dataset": {"type": "string", "minLength": 1},
        "count": {"type": "integer", "minimum": 1},
        "skip": {"type": "integer", "minimum": 0},
        "associatedInputs": {"enum": ["auto", "none"]},
    },
    "required": ["type", "dataset"],
    "additionalProperties": False,
}


@functools.cache
def teams_card_schema() -> dict[str, Any] | None:
    """The 1.5 schema with the Teams extensions, or None when ../shared/schemas is not there."""
    if not SCHEMA_PATH.is_file():
        return None
    schema = copy.deepcopy(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    definitions = schema["definitions"]
    definitions["AdaptiveCard"]["properties"]["msteams"] = _MSTEAMS
    choice_set = definitions["Input.ChoiceSet"]
    choice_set["properties"]["choices.data"] = _DATA_QUERY
    # Teams' typeahead style; the 1.5 enum only knows compact and expanded.
    choice_set["properties"]["style"] = {"enum": ["compact", "expanded", "filtered"]}
    return schema


def card_problems(card: Any) -> list[str]:
    """Why a card would not render as intended in Teams: schema errors, and mentions that notify nobody."""
    schema = teams_card_schema()
    if schema is None:
        return []
    import jsonschema

    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(card)'}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(card)]
    if not problems and isinstance(card, dict):
        text = json.dumps(card.get("body", []))
        for entity in (card.get("msteams") or {}).get("entities", []):
            if json.dumps(entity["text"])[1:-1] not in text:
                problems.append(f"mention {entity['text']} is not in the card's text: nobody sees it")
    return problems


# Every distinct card any fake connector received in this test session, for one batch check with
# Microsoft's `adaptivecards` library at the end (tests/conftest.py pytest_sessionfinish).
SEEN: dict[str, Any] = {}
VALIDATOR = Path(__file__).resolve().parents[1] / "agents_playground" / "validate_cards.js"
LIBRARY = Path(__file__).resolve().parents[1] / "agents_playground" / "node_modules" / "adaptivecards"


def remember(card: Any) -> None:
    SEEN.setdefault(json.dumps(card, sort_keys=True), card)


def library_problems(cards: list[Any]) -> list[list[str]] | None:
    """Problems Microsoft's adaptivecards library reports per card; None when Node or the library is missing."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if not node or not LIBRARY.is_dir() or not cards:
        return None
    done = subprocess.run([node, str(VALIDATOR)], input=json.dumps(cards), capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout)
