"""The relay on a Teams-only install: DM and team-channel card, customer words inert, cards valid."""

from __future__ import annotations

import jsonschema

from tests.conftest import teams_card_schema
from tests.feedback_support import customer_kudos, generic, post_feedback, seed_directory, start_feedback_server

NASTY_NAME = "<at>Dan Wu</at> [win](https://evil.example)"
NASTY_TEXT = "Bob was great <at>Dan Wu</at> **bold** [click](https://evil.example) <!channel>"


async def test_teams_relay_keeps_customer_words_inert(database_url, fake_slack, fake_connector):
    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector, SLACK_BOT_TOKEN=None, SLACK_SIGNING_SECRET=None)
    try:
        seed_directory(srv.engine, [("29:bob", "Bob Stone", "bob@example.com"), ("29:dan", "Dan Wu", "dan@example.com")], platform="teams")
        await srv.teams_send(srv.teams_activity("<at>pulsebridge</at> help"))
        await srv.connector.wait_for(1)

        status, body = await post_feedback(srv, generic(NASTY_TEXT, id="tm-1", customer={"name": NASTY_NAME}, agent={"email": "bob@example.com"}))
        assert status == 201 and body["relay"] == "relayed"
        assert srv.connector.created[-1]["members"][0]["id"] == "29:bob"  # Bob's DM, on Teams: Slack is off
        [post] = await srv.connector.wait_for(1, conversation_id="19:support@thread.tacv2")
        assert "text" not in post.activity  # text + card would become two posts in Teams
        assert [e["mentioned"]["id"] for e in post.card["msteams"]["entities"]] == ["29:bob"]  # only the real mention notifies
        mention_text = next(b["text"] for b in post.card["body"] if b["type"] == "TextBlock" and "<at>" in b["text"])
        assert "<at>Dan" not in mention_text and "](https" not in mention_text
        jsonschema.validate(post.card, teams_card_schema())
        runs = [run["text"] for block in post.card["body"] if block["type"] == "Container" for item in block["items"] for run in item["inlines"]]
        assert runs == [NASTY_TEXT]  # a TextRun shows it literally
        assert customer_kudos(srv.engine)[0].user_id is not None
    finally:
        await runner.cleanup()
        srv.engine.dispose()
