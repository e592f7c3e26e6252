"""The one message model the core speaks; each adapter renders it for its platform.

There is deliberately no "raw markup" element: every `str` in a message is treated as
untrusted and escaped by the renderer, so user text can never turn into a ping or a link.
Structure (mentions, emphasis, buttons) is expressed with the types below instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class UserRef:
    """A person on one platform, as the renderer needs them to mention or DM them."""

    platform: str
    external_id: str
    display_name: str = ""


@dataclass(frozen=True)
class Mention:
    user: UserRef


@dataclass(frozen=True)
class Strong:
    text: str


Inline = Union[str, Mention, Strong]


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Quote:
    """Words somebody else wrote (a kudos reason, a customer's comment), shown as a quotation."""

    text: str


@dataclass(frozen=True)
class Fields:
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Context:
    """Small print under a message: values, ids, hints."""

    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    style: str | None = None  # primary | danger | None


# The people a searching picker offers: everyone active in the directory; everyone but the person
# searching (no self-kudos); only members of the org's teams (a triage pick, shown to a channel).
PEOPLE_SETS = ("directory", "others", "team_members")


@dataclass(frozen=True)
class UserPicker:
    """Pick one person, acted on at once (no form). The picked user's id arrives as ActionInvoked.value.

    Slack shows its own user list; Teams shows `choices` (the directory's people there). Context
    the handler needs travels in `action_id` after the first ':', as with buttons.
    """

    action_id: str
    placeholder: str
    choices: tuple[UserRef, ...] = ()
    submit_label: str = "Send"
    # Which people a platform that searches as you type (Teams) offers: see PEOPLE_SETS.
    people: str = "directory"


@dataclass(frozen=True)
class Actions:
    buttons: tuple[Union[Button, UserPicker], ...]


Block = Union[Heading, Paragraph, Quote, Fields, Context, Actions]


@dataclass(frozen=True)
class Message:
    """`summary` is the plain-text fallback used for notifications and screen readers."""

    summary: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


def paragraph(*parts: Inline) -> Paragraph:
    return Paragraph(tuple(parts))


def join_mentions(users: list[UserRef]) -> tuple[Inline, ...]:
    """`@a`, `@a and @b`, `@a, @b and @c` as inline parts."""
    parts: list[Inline] = []
    for i, user in enumerate(users):
        if i:
            parts.append(" and " if i == len(users) - 1 else ", ")
        parts.append(Mention(user))
    return tuple(parts)


def plain_text(message_parts: tuple[Inline, ...]) -> str:
    out = []
    for part in message_parts:
        if isinstance(part, Mention):
            out.append("@" + (part.user.display_name or part.user.external_id))
        elif isinstance(part, Strong):
            out.append(part.text)
        else:
            out.append(part)
    return "".join(out)


# -- forms: a modal on Slack, a card with inputs on Teams -----------------------------------------


@dataclass(frozen=True)
class TextInput:
    id: str
    label: str
    multiline: bool = False
    optional: bool = False
    max_length: int | None = None
    placeholder: str | None = None
    initial: str | None = None


@dataclass(frozen=True)
class Select:
    """A choice among `options`; with `multiple`, any number of them (`initial_values` preselected),
    and the submitted value is a list."""

    id: str
    label: str
    options: tuple[tuple[str, str], ...]  # (value, label)
    optional: bool = False
    initial: str | None = None
    multiple: bool = False
    initial_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserSelect:
    """People picker. Slack uses its own user list; Teams searches the directory as you type
    (`people` names which set, see PEOPLE_SETS) and shows `choices` only as pre-selected people."""

    id: str
    label: str
    multiple: bool = True
    optional: bool = False
    choices: tuple[UserRef, ...] = ()
    people: str = "directory"


@dataclass(frozen=True)
class DateInput:
    id: str
    label: str
    optional: bool = False
    initial: str | None = None  # YYYY-MM-DD


FormField = Union[TextInput, Select, UserSelect, DateInput]


@dataclass(frozen=True)
class Form:
    """Input the core asks for. `metadata` comes back untouched with the submission."""

    form_id: str
    title: str
    submit_label: str
    fields: tuple[FormField, ...]
    metadata: str = ""
    intro: tuple[Block, ...] = ()
