"""kudos on Teams, end to end: activities posted to /api/messages, replies recorded by the fake connector."""

from __future__ import annotations

from sqlalchemy import select

from storage.kernel.db import session
from storage.directory.tables import ConversationRef, User
from storage.recognition.tables import Kudos
from tests.conftest import handled, teams_card_schema


def card_text(sent) -> str:
    """What a person sees: the activity text (mentions) plus every text in the card."""
    out = [sent.activity.get("text") or ""]
    card = sent.card or {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun"):
                out.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card.get("body", []))
    return "\n".join(out)


async def test_kudos_from_teams_replies_with_card_dms_recipient_and_posts_to_channel(server):
    activity = server.teams_activity(
        "<at>pulsebridge</at> kudos <at>Bob Stone</at> for fixing the SSO outage in minutes #craft",
        mentions=[("29:bob", "Bob Stone")],
    )
    status, _ = await server.teams_send(activity)
    assert status in (200, 201)

    sent = await server.connector.wait_for(3)
    reply = [s for s in sent if s.conversation_id == activity["conversation"]["id"]]
    assert len(reply) == 1 and reply[0].reply_to == activity["id"]
    assert "Kudos sent to" in card_text(reply[0])
    assert reply[0].card["version"] == "1.5"

    dm = [s for s in sent if s.conversation_id == "a:personal-29:bob"]
    assert len(dm) == 1
    assert "gave you kudos" in card_text(dm[0])
    assert server.connector.created[0]["members"] == [{"id": "29:bob"}]
    # The mention lives inside the card, so Teams keeps it one message (text + card would be two posts).
    assert "text" not in dm[0].activity and "entities" not in dm[0].activity
    entity = dm[0].card["msteams"]["entities"][0]
    assert entity == {"type": "mention", "text": "<at>Ana Lima</at>", "mentioned": {"id": "29:ana", "name": "Ana Lima"}}
    assert "<at>Ana Lima</at> gave you kudos" in card_text(dm[0])

    channel = [s for s in sent if s.conversation_id == "19:support@thread.tacv2"]
    assert len(channel) == 1
    assert "fixing the SSO outage in minutes" in card_text(channel[0])

    with session(server.engine) as s:
        kudos = s.execute(select(Kudos)).scalar_one()
        assert (kudos.platform, kudos.reason) == ("teams", "fixing the SSO outage in minutes")
        ana = s.execute(select(User).where(User.external_id == "29:ana")).scalar_one()
        assert ana.email == "ana@example.com"
        refs = {r.conversation_id: r for r in s.execute(select(ConversationRef)).scalars()}
        assert refs["a:personal-29:ana"].user_id == ana.id
        assert refs["a:personal-29:ana"].reference["serviceUrl"] == server.connector.url
        assert "a:personal-29:bob" in refs


async def test_cards_validate_against_adaptive_card_schema(server):
    import jsonschema

    schema = teams_card_schema()
    activity = server.teams_activity(
        "<at>pulsebridge</at> kudos <at>Bob Stone</at> for [clicking](https://evil.example) **here** <at>Everyone</at>",
        mentions=[("29:bob", "Bob Stone")],
    )
    await server.teams_send(activity)
    sent = await server.connector.wait_for(3)
    for item in sent:
        jsonschema.validate(item.card, schema)
    quote = card_text(sent[0])
    assert "[clicking](https://evil.example) **here**" in quote  # a TextRun: shown literally, no Markdown


async def test_a_redelivered_activity_creates_one_kudos(server):
    activity = server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for the demo", mentions=[("29:bob", "Bob Stone")])
    for _ in range(3):
        status, _ = await server.teams_send(activity)
        assert status in (200, 201)
    await handled(server)
    with session(server.engine) as s:
        assert len(s.execute(select(Kudos)).scalars().all()) == 1
    dms = [x for x in server.connector.sent if x.conversation_id == "a:personal-29:bob"]
    channel = [x for x in server.connector.sent if x.conversation_id == "19:support@thread.tacv2"]
    replies = server.connector.sent_to(activity["conversation"]["id"])
    assert len(dms) == 1 and len(channel) == 1 and len(replies) == 1  # recorded once, answered once


async def test_bad_teams_input_gets_a_clear_reply_and_stores_nothing(server):
    cases = [
        ("<at>pulsebridge</at> kudos <at>Bob Stone</at>", [("29:bob", "Bob Stone")], "Please say what the kudos is for"),
        ("<at>pulsebridge</at> kudos for everything", [], "Who should get the kudos?"),
        ("<at>pulsebridge</at> kudos <at>Ana Lima</at> for me", [("29:ana", "Ana Lima")], "yourself"),
        ("<at>pulsebridge</at> kudos <at>Bob Stone</at> for " + "y" * 10_000, [("29:bob", "Bob Stone")], "10,000 characters"),
    ]
    for text, mentions, expected in cases:
        before = len(server.connector.sent)
        await server.teams_send(server.teams_activity(text, mentions=mentions))
        await handled(server)
        replies = server.connector.sent[before:]
        assert len(replies) == 1, text
        assert expected in card_text(replies[0])
    with session(server.engine) as s:
        assert s.execute(select(Kudos)).scalars().all() == []


async def test_chatter_gets_the_command_list(server):
    await server.teams_send(server.teams_activity("<at>pulsebridge</at> hello there"))
    reply = (await server.connector.wait_for(1))[0]
    assert "Here is what I can do" in card_text(reply) and "kudos" in card_text(reply)


async def test_malformed_activities_are_rejected_without_crashing(server):
    assert (await server.post("/api/messages", b"{not json", {"Content-Type": "application/json"}))[0] == 400
    assert (await server.post("/api/messages", b"[]", {"Content-Type": "application/json"}))[0] == 400
    assert (await server.post("/api/messages", b"{}", {"Content-Type": "application/json"}))[0] == 400
    assert (await server.post("/api/messages", b"\xff\xfe", {"Content-Type": "application/json"}))[0] == 400
    assert (await server.post("/api/messages", b"{}", {"Content-Type": "text/plain"}))[0] == 415
    status, _ = await server.teams_send(server.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for uptime", mentions=[("29:bob", "Bob Stone")]))
    assert status in (200, 201)


async def test_with_an_app_id_unauthenticated_activities_get_401_and_store_nothing(database_url, fake_slack, fake_connector):
    from tests.conftest import make_settings, start_server

    settings = make_settings(database_url, fake_slack.url, MICROSOFT_APP_ID="00000000-0000-0000-0000-000000000001", MICROSOFT_APP_PASSWORD="secret", PULSEBRIDGE_TEAMS_TENANTS="tenant-1")
    runner, srv = await start_server(settings, fake_slack, fake_connector)
    try:
        activity = srv.teams_activity("<at>pulsebridge</at> kudos <at>Bob Stone</at> for sneaking in", mentions=[("29:bob", "Bob Stone")])
        for headers in ({}, {"Authorization": "Bearer not-a-jwt"}):
            status, _ = await srv.teams_send(activity, headers)
            assert status == 401
        assert fake_connector.sent == []
        with session(srv.engine) as s:
            assert s.execute(select(Kudos)).scalars().all() == []
            assert s.execute(select(ConversationRef)).scalars().all() == []
    finally:
        await runner.cleanup()
        srv.engine.dispose()
