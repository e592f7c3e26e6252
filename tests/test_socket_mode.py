"""With SLACK_APP_TOKEN set, Slack talks to the bot over a Socket Mode WebSocket instead of /slack/events."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from storage.kernel.db import session
from storage.recognition.tables import Kudos
from tests.conftest import make_settings, start_server


async def test_slash_command_over_socket_mode_is_acked_and_processed(database_url, fake_slack, fake_connector):
    settings = make_settings(database_url, fake_slack.url, SLACK_APP_TOKEN="xapp-1-A0PULSE-test", SLACK_SIGNING_SECRET=None)
    runner, srv = await start_server(settings, fake_slack, fake_connector)
    try:
        for _ in range(100):
            if fake_slack.sockets:
                break
            await asyncio.sleep(0.05)
        assert fake_slack.sockets, "the bot never opened a Socket Mode connection"
        assert fake_slack.calls_to("apps.connections.open")[0].params["_auth"] == "Bearer xapp-1-A0PULSE-test"

        await fake_slack.push_envelope("slash_commands", srv.slash_body("/kudos", "<@U0BOB|bob> for going async"), "env-1")
        await fake_slack.wait_for("chat.postMessage", 2)
        assert any(ack.get("envelope_id") == "env-1" for ack in fake_slack.socket_acks)
        with session(srv.engine) as s:
            assert s.execute(select(Kudos.reason)).scalar_one() == "going async"

        # The HTTP endpoint is not mounted in Socket Mode, so nothing can be injected there.
        status, _ = await srv.slack_command("/kudos", "<@U0BOB|bob> for an HTTP sneak")
        assert status == 404
    finally:
        await runner.cleanup()
        srv.engine.dispose()
