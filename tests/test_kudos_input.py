"""/kudos input rules: every rejection is a clear private message and stores nothing."""

from __future__ import annotations


import pytest
from sqlalchemy import select

from storage.kernel.db import session
from storage.recognition.tables import Kudos
from tests.conftest import handled
from tests.test_kudos_slack import count, texts


async def reject(server, text: str, user_id: str = "U0ANA") -> str:
    await server.slack_command("/kudos", text, user_id=user_id)
    answer = (await server.slack.wait_for("response_url"))[-1]
    await handled(server)
    assert count(server.engine, Kudos) == 0
    assert server.slack.calls_to("chat.postMessage") == []
    assert answer.params["response_type"] == "ephemeral"
    return texts(answer)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<@U0BOB|bob>", "Please say what the kudos is for"),
        ("<@U0BOB|bob> for   ", "Please say what the kudos is for"),
        ("<@U0BOB|bob> for #craft", "Please say what the kudos is for"),
        ("for helping everyone", "Who should get the kudos?"),
        ("<@U0GHOST|ghost> for haunting", "couldn't find @ghost"),
        ("<@U0ROBOT|deploybot> for deploying", "is a bot"),
        ("<@U0ANA|ana> for being me", "yourself"),
        ("<@U0BOB|bob> for teamwork #synergy", "Unknown value #synergy. Valid values: #customer-first, #ownership, #craft"),
        ("<@U0BOB|bob> for " + "x" * 10_000, "That reason is 10,000 characters; please keep it under 1,500"),
    ],
    ids=["no-reason", "blank-reason", "only-tags", "no-recipient", "unknown-user", "bot", "self", "unknown-value", "10k-reason"],
)
async def test_rejections(server, text, expected):
    answer = await reject(server, text)
    assert expected in answer


async def test_usage_is_shown_for_an_empty_command(server):
    await server.slack_command("/kudos", "")
    answer = (await server.slack.wait_for("response_url"))[-1]
    assert "Usage: /kudos @name" in texts(answer)


@pytest.mark.parametrize(
    "typed",
    [
        "&lt;!channel&gt; &lt;!here&gt; &lt;@U0DAN&gt; &lt;https://evil.example|your bank&gt;",  # typed literally
        "<!channel> <!here|here> <!subteam^S123|@oncall> <#C0SECRET|craft> <https://evil.example|your bank>",  # Slack markup
    ],
    ids=["typed-as-text", "slack-markup"],
)
async def test_reason_markup_never_becomes_pings_or_links(server, typed):
    await server.slack_command("/kudos", f"<@U0BOB|bob> for {typed} & more")
    await server.slack.wait_for("chat.postMessage", 2)
    await handled(server)
    for post in server.slack.calls_to("chat.postMessage") + server.slack.calls_to("response_url"):
        shown = texts(post)
        for forbidden in ("<!channel>", "<!here", "<@U0DAN>", "<https://", "<#C0SECRET", "<!subteam"):
            assert forbidden not in shown, (forbidden, shown)
        assert "&amp; more" in shown
        for block in post.params["blocks"]:
            if block.get("type") == "section":
                assert block["text"]["verbatim"] is True
    with session(server.engine) as s:
        reason = s.execute(select(Kudos.reason)).scalar_one()
    assert "& more" in reason and "evil.example" in reason


async def test_reason_is_stored_without_control_characters(server):
    await server.slack_command("/kudos", "<@U0BOB|bob> for null\x00 bytes and\x07 bells")
    await server.slack.wait_for("chat.postMessage", 2)
    with session(server.engine) as s:
        assert s.execute(select(Kudos.reason)).scalar_one() == "null bytes and bells"


async def test_values_are_stripped_from_the_reason_and_mentions_in_the_reason_do_not_ping(server):
    await server.slack_command("/kudos", "<@U0BOB|bob>, <@U0CARLA|carla> and for pairing with <@U0DAN|dan> #Craft #ownership")
    await server.slack.wait_for("chat.postMessage", 3)
    await handled(server)
    with session(server.engine) as s:
        kudos = s.execute(select(Kudos)).scalar_one()
    assert kudos.reason == "pairing with @dan"
    channel = [p for p in server.slack.calls_to("chat.postMessage") if p.params["channel"] == "C0SUPPORT"][0]
    assert "<@U0DAN>" not in texts(channel) and "@dan" in texts(channel)
    assert "#craft #ownership" in texts(channel)
