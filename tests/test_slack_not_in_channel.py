"""A channel post Slack refuses with not_in_channel: the giver is told what to do, and the admins once.

Before, the giver read "Kudos sent" and only a WARNING line said the celebration never appeared.
"""

from __future__ import annotations

from storage.kernel.db import write_unit
from storage.directory.queries import upsert_user
from tests.conftest import ORG_YAML, handled
from tests.recognition_support import custom_server, slack_texts


def _admin(server):
    server.slack.add_user("U0OLGA", "Olga Admin", "olga@example.com")
    with write_unit(server.engine) as s:
        upsert_user(s, platform="slack", external_id="U0OLGA", display_name="Olga Admin", email="olga@example.com")


async def test_the_giver_and_the_admins_hear_that_the_bot_is_not_in_the_channel(database_url, fake_slack, fake_connector):
    fake_slack.not_in_channels = {"C0SUPPORT"}
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        _admin(server)
        await server.slack_command("/kudos", "<@U0BOB|bob> for the migration", user_id="U0ANA")
        await handled(server)
        replies = [slack_texts(c) for c in fake_slack.calls_to("response_url")]
        assert any("Saved, but I couldn't post in the Customer Support channel (C0SUPPORT)" in r and "/invite @pulsebridge" in r for r in replies), replies
        to_admin = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0OLGA"]
        assert len(to_admin) == 1 and "I can't post in the Customer Support channel (C0SUPPORT)" in slack_texts(to_admin[0])

        # A second refused post: the giver is told again, the admins are not (their notice is keyed per channel).
        await server.slack_command("/kudos", "<@U0CARLA|carla> for the docs", user_id="U0ANA")
        await handled(server)
        assert sum("couldn't post" in slack_texts(c) for c in fake_slack.calls_to("response_url")) == 2
        assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0OLGA"]) == 1


async def test_a_channel_the_bot_is_in_gets_no_notice(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        _admin(server)
        await server.slack_command("/kudos", "<@U0BOB|bob> for the migration", user_id="U0ANA")
        await handled(server)
        assert not any("couldn't post" in slack_texts(c) for c in fake_slack.calls_to("response_url"))
        assert not [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0OLGA"]
        assert any(c.params["channel"] == "C0SUPPORT" for c in fake_slack.calls_to("chat.postMessage"))
