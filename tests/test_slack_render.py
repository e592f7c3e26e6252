"""Slack rendering escapes user text everywhere it lands, bold text and field labels included.

Slack's mrkdwn turns `<!channel>`, `<@U…>`, `<#C…>` and `<https://…|label>` into pings and links,
and `&` starts an entity; the only escapes are `&amp; &lt; &gt;` (Slack's "Formatting text"
reference). Bold (`*…*`) is ours, the text inside it is the user's: it is escaped like any other.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from adapters.slack.render import blocks, message_kwargs, modal
from bot.kernel.messages import Context, Fields, Form, Heading, Mention, Message, Paragraph, Quote, Strong, TextInput, UserRef
from storage.kernel.db import session
from storage.recognition.tables import Win
from tests.recognition_support import NOW, slack_texts, win_state

HOSTILE = "<!channel> Evil & Co <@U0DAN> <#C0SECRET|general> <https://evil.example|your bank>"
ESCAPED = "&lt;!channel&gt; Evil &amp; Co &lt;@U0DAN&gt; &lt;#C0SECRET|general&gt; &lt;https://evil.example|your bank&gt;"
FORBIDDEN = ("<!channel>", "<@U0DAN>", "<#C0SECRET", "<https://", " & ")


def _mrkdwn_texts(rendered) -> list[str]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(rendered)
    return out


def test_bold_text_is_escaped_inside_the_asterisks():
    rendered = blocks(Message("x", (Paragraph(("Win ", Strong(HOSTILE), " for ", Strong("A&B"))),)))
    assert rendered[0]["text"]["text"] == f"Win *{ESCAPED}* for *A&amp;B*"
    assert rendered[0]["text"]["verbatim"] is True


def test_field_labels_and_values_are_escaped():
    rendered = blocks(Message("x", (Fields(((HOSTILE, HOSTILE), ("Answers", "5"))),)))
    assert rendered[0]["fields"][0]["text"] == f"*{ESCAPED}*\n{ESCAPED}"
    assert rendered[0]["fields"][1]["text"] == "*Answers*\n5"


@pytest.mark.parametrize(
    "block",
    [
        Paragraph((HOSTILE,)),
        Paragraph((Strong(HOSTILE),)),
        Context((Strong(HOSTILE), HOSTILE)),
        Quote(HOSTILE + "\nsecond line " + HOSTILE),
        Fields(((HOSTILE, HOSTILE),)),
    ],
    ids=["paragraph", "bold", "context", "quote", "fields"],
)
def test_no_block_lets_markup_through(block):
    rendered = blocks(Message(HOSTILE, (block,)))
    for text in _mrkdwn_texts(rendered):
        for forbidden in FORBIDDEN:
            assert forbidden not in text, (forbidden, text)
        assert ESCAPED in text
    assert message_kwargs(Message(HOSTILE, (block,)))["text"] == ESCAPED


def test_a_slack_mention_is_the_only_markup_we_emit_and_other_platforms_names_are_escaped():
    slack_user = UserRef("slack", "U0BOB", "Bob")
    teams_user = UserRef("teams", "29:x", "<!here> & Eve")
    rendered = blocks(Message("x", (Paragraph((Mention(slack_user), " and ", Mention(teams_user))),)))
    assert rendered[0]["text"]["text"] == "<@U0BOB> and @&lt;!here&gt; &amp; Eve"


def test_modal_intro_and_plain_text_stay_as_typed():
    """plain_text objects are never parsed by Slack, so they carry the text unescaped (escaping them would show `&amp;`)."""
    view = modal(Form("f", "A&B", "Save", (TextInput("t", "Label <x>"),), metadata="m", intro=(Paragraph((Strong(HOSTILE),)),)))
    assert view["title"]["text"] == "A&B" and view["blocks"][-1]["label"]["text"] == "Label <x>"
    assert view["blocks"][0]["text"]["text"] == f"*{ESCAPED}*"
    heading = blocks(Message("x", (Heading("Q&A <3"),)))
    assert heading[0]["text"] == {"type": "plain_text", "text": "Q&A <3", "emoji": True}


async def test_a_customer_name_shown_in_bold_on_the_win_post_cannot_ping_or_link(server):
    """Through the public surface: a /win whose customer is markup, posted in bold to the team channel."""
    customer = "<!channel> Evil & Co <@U0ERIN>"
    server.core.clock = lambda: NOW
    status, body = await server.slack_interaction(server.view_submission("win.record", win_state(customer=customer)))
    assert status == 200 and "errors" not in body, body
    posts = await server.slack.wait_for("chat.postMessage", 5)
    with session(server.engine) as s:
        assert s.execute(select(Win.customer)).scalar_one() == customer  # stored as typed
    channel = next(p for p in posts if p.params["channel"] == "C0SUPPORT")
    assert "*&lt;!channel&gt; Evil &amp; Co &lt;@U0ERIN&gt;*" in slack_texts(channel)  # bold, escaped
    for post in posts:
        text = json.dumps(post.params["blocks"]) + post.params.get("text", "")
        for forbidden in ("<!channel>", "<@U0ERIN>", "Evil & Co"):
            assert forbidden not in text, (forbidden, post.params["channel"])
