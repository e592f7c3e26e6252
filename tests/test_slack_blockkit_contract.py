"""The @slack/types contract check itself: it must catch a payload Slack's SDK types reject, and name its test.

The suite-wide check runs at the end of every session (tests/blockkit_contract.py) over every
payload the fake Slack API received. These tests prove that it can fail, and type-check one of
every block, element and view the renderer can produce.
"""

from __future__ import annotations

import os

import pytest

from adapters.slack.render import blocks, home, message_modal, modal
from bot.kernel.messages import (
    Actions,
    Button,
    Context,
    DateInput,
    Fields,
    Form,
    Heading,
    Mention,
    Message,
    Paragraph,
    Quote,
    Select,
    Strong,
    TextInput,
    UserPicker,
    UserRef,
    UserSelect,
)
from tests import blockkit_contract

needs_tsc = pytest.mark.skipif(
    not blockkit_contract.available() and os.environ.get("CI") != "true",
    reason="run `npm ci` in tests/blockkit to type-check against @slack/types (CI always does)",
)

EVERYTHING = Message(
    "all kinds",
    (
        Heading("A heading"),
        Paragraph(("Hi ", Mention(UserRef("slack", "U0ANA", "Ana")), ", ", Strong("bold"))),
        Quote("a quote\nover two lines"),
        Fields((("Answers", "5"), ("Score", "4.2"))),
        Context(("small print",)),
        Actions((Button("Yes", "a:yes", "1", style="primary"), Button("No", "a:no", "0", style="danger"), UserPicker("pick:1", "Pick someone"))),
    ),
)
FORM = Form(
    "f.id",
    "A form",
    "Send",
    (
        TextInput("t", "Text", multiline=True, max_length=300, placeholder="…", initial="x"),
        Select("s", "Select", (("a", "A"), ("b", "B")), initial="b"),
        UserSelect("u", "People"),
        UserSelect("u1", "One person", multiple=False, optional=True),
        DateInput("d", "Date", initial="2026-11-20"),
    ),
    metadata="meta",
    intro=(Paragraph(("intro",)),),
)


@needs_tsc
def test_every_kind_of_block_element_and_view_type_checks(tmp_path):
    items = [
        ("test_every_kind", "chat.postMessage", "blocks", blocks(EVERYTHING)),
        ("test_every_kind", "views.open", "modal", modal(FORM)),
        ("test_every_kind", "views.update", "modal", message_modal("Done", EVERYTHING)),
        ("test_every_kind", "views.publish", "home", home(EVERYTHING)),
    ]
    assert blockkit_contract.check(items, tmp_path) == []


@needs_tsc
def test_a_payload_slack_types_reject_fails_and_names_the_test_that_sent_it(tmp_path):
    good = blocks(EVERYTHING)
    wrong_text_type = [{"type": "section", "text": {"type": "markdown", "text": "x"}}]
    unknown_style = [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x"}, "style": "blue"}]}]
    header_in_mrkdwn = [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]
    modal_without_title = {"type": "modal", "blocks": []}
    items = [
        ("tests/test_a.py::test_good", "chat.postMessage", "blocks", good),
        ("tests/test_b.py::test_markdown", "response_url", "blocks", wrong_text_type),
        ("tests/test_c.py::test_style", "chat.update", "blocks", unknown_style),
        ("tests/test_d.py::test_header", "chat.postMessage", "blocks", header_in_mrkdwn),
        ("tests/test_e.py::test_modal", "views.open", "modal", modal_without_title),
    ]
    errors = blockkit_contract.check(items, tmp_path)
    named = {e.split(" [")[0] for e in errors}
    assert named == {"tests/test_b.py::test_markdown", "tests/test_c.py::test_style", "tests/test_d.py::test_header", "tests/test_e.py::test_modal"}, errors
    assert any("[views.open]" in e for e in errors)


def test_payloads_are_recorded_once_per_distinct_content():
    before = len(blockkit_contract.recorded())
    payload = [{"type": "section", "text": {"type": "mrkdwn", "text": "dedupe-me-" + __name__}}]
    blockkit_contract.record("t1", "chat.postMessage", "blocks", payload)
    blockkit_contract.record("t2", "response_url", "blocks", payload)
    assert len(blockkit_contract.recorded()) == before + 1
