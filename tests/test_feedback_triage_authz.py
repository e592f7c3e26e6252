"""Forged triage picks: from another conversation, for another feedback id, by a non-triager, naming a stranger.

Each is refused with a reply to the asker only, and changes nothing: the feedback stays in triage,
no customer kudos is stored, nobody is DM'd the customer's quote, no post is rewritten.
"""

from __future__ import annotations


import pytest

from tests.conftest import FakeBotConnector, handled
from tests.feedback_support import (
    FEEDBACK_ORG_YAML,
    customer_kudos,
    fb,  # noqa: F401 - fixture
    feedback_rows,
    generic,
    post_feedback,
    seed_directory,
    start_feedback_server,
    triage_post,
)
from tests.test_feedback_triage import TRIAGE_TEAMS, UNATTRIBUTED, users_select

QUOTE = UNATTRIBUTED["text"]


async def _triaged(srv, payload=UNATTRIBUTED) -> int:
    before = len(srv.slack.calls_to("chat.postMessage"))
    status, body = await post_feedback(srv, payload)
    assert status == 201 and body["relay"] == "triage"
    await srv.slack.wait_for("chat.postMessage", before + 1)  # the triage post, so its ref is stored
    return body["id"]


def slack_pick(srv, feedback_id: int, picked: str, *, user_id: str, channel: str, ts: str) -> dict:
    payload = users_select(srv, feedback_id, picked, user_id=user_id, ts=ts)
    payload["container"]["channel_id"] = channel
    payload["channel"] = {"id": channel, "name": "somewhere"}
    return payload


def assert_nothing_changed(srv, posts_before: int):
    assert [r.status for r in feedback_rows(srv.engine)] == ["triage"] * len(feedback_rows(srv.engine))
    assert customer_kudos(srv.engine) == []
    assert srv.slack.calls_to("chat.update") == []
    assert len(srv.slack.calls_to("chat.postMessage")) == posts_before  # no DM with the quote, no team post
    assert not any(QUOTE in str(c.params) for c in srv.slack.calls_to("chat.postMessage")[1:])


async def refusal(srv, count: int) -> str:
    answers = await srv.slack.wait_for("response_url", count)
    return str(answers[-1].params)


@pytest.mark.parametrize(
    "where",
    ["dm", "other-channel", "triage-channel-other-message", "no-message"],
)
async def test_a_slack_pick_not_made_on_the_triage_post_is_refused(fb, where):
    feedback_id = await _triaged(fb)
    channel, ts = triage_post(fb.engine, feedback_id, "slack")
    posts = len(fb.slack.calls_to("chat.postMessage"))
    forged = {
        "dm": ("D0ANA", ts),
        "other-channel": ("C0SUPPORT", ts),
        "triage-channel-other-message": (channel, "1700000999.000001"),
        "no-message": (channel, ts),
    }[where]
    payload = slack_pick(fb, feedback_id, "U0BOB", user_id="U0ANA", channel=forged[0], ts=forged[1])
    if where == "no-message":
        payload.pop("container")
        payload.pop("message")
        payload.pop("channel")
    status, _ = await fb.slack_interaction(payload)
    assert status == 200
    assert "no longer active" in await refusal(fb, 1)
    assert_nothing_changed(fb, posts)


async def test_a_pick_on_one_triage_post_cannot_route_another_feedback_by_its_sequential_id(fb):
    first = await _triaged(fb)
    second = await _triaged(fb, generic("Whoever helped me was lovely!", id="tri-2", customer={"name": "Omar", "account": "Umbrella"}))
    channel, ts = triage_post(fb.engine, first, "slack")
    posts = len(fb.slack.calls_to("chat.postMessage"))
    status, _ = await fb.slack_interaction(slack_pick(fb, second, "U0BOB", user_id="U0ANA", channel=channel, ts=ts))
    assert status == 200 and "no longer active" in await refusal(fb, 1)
    assert_nothing_changed(fb, posts)


async def test_a_slack_user_outside_the_triage_channel_cannot_pick(fb):
    feedback_id = await _triaged(fb)
    channel, ts = triage_post(fb.engine, feedback_id, "slack")
    posts = len(fb.slack.calls_to("chat.postMessage"))
    # Bob clicks the real post (a public channel anyone can open) and credits himself.
    status, _ = await fb.slack_interaction(slack_pick(fb, feedback_id, "U0BOB", user_id="U0BOB", channel=channel, ts=ts))
    assert status == 200
    text = await refusal(fb, 1)
    assert "Only the people who triage" in text and "U0ANA" not in text and "ana@" not in text
    assert_nothing_changed(fb, posts)
    # A member of the channel can, on the same post.
    await fb.slack_interaction(slack_pick(fb, feedback_id, "U0BOB", user_id="U0DAN", channel=channel, ts=ts))
    await fb.slack.wait_for("chat.update")
    assert feedback_rows(fb.engine)[0].status == "relayed" and len(customer_kudos(fb.engine)) == 1


async def test_when_slack_cannot_list_the_channel_nobody_may_pick(fb):
    feedback_id = await _triaged(fb)
    channel, ts = triage_post(fb.engine, feedback_id, "slack")
    posts = len(fb.slack.calls_to("chat.postMessage"))
    fb.slack.fail_next("conversations.members", status=200, body={"ok": False, "error": "missing_scope"})
    await fb.slack_interaction(slack_pick(fb, feedback_id, "U0BOB", user_id="U0ANA", channel=channel, ts=ts))
    assert "Only the people who triage" in await refusal(fb, 1)
    assert_nothing_changed(fb, posts)


async def test_configured_triagers_decide_instead_of_channel_membership(database_url, fake_slack, fake_connector):
    org = FEEDBACK_ORG_YAML.replace("  aliases:", "  triagers: [erin@example.com, slack:U0CARLA]\n  aliases:")
    runner, srv = await start_feedback_server(database_url, fake_slack, fake_connector, org)
    try:
        feedback_id = await _triaged(srv)
        channel, ts = triage_post(srv.engine, feedback_id, "slack")
        posts = len(srv.slack.calls_to("chat.postMessage"))
        # Ana is in the channel but not a configured triager.
        await srv.slack_interaction(slack_pick(srv, feedback_id, "U0BOB", user_id="U0ANA", channel=channel, ts=ts))
        assert "Only the people who triage" in await refusal(srv, 1)
        assert_nothing_changed(srv, posts)
        # Erin (by email, looked up on Slack) is, though not in the channel.
        await srv.slack_interaction(slack_pick(srv, feedback_id, "U0BOB", user_id="U0ERIN", channel=channel, ts=ts))
        await srv.slack.wait_for("chat.update")
        [row] = feedback_rows(srv.engine)
        assert row.status == "relayed" and len(customer_kudos(srv.engine)) == 1
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def _teams_triaged(fb) -> tuple[int, str]:
    seed_directory(fb.engine, [("29:ana", "Ana Lima", "ana@example.com"), ("29:bob", "Bob Stone", "bob@example.com"), ("29:mallory", "Mallory", "mallory@evil.example")], platform="teams")
    fb.connector.add_member("29:mallory", "Mallory", "mallory@evil.example")
    await fb.teams_send(fb.teams_activity("<at>pulsebridge</at> help"))
    await fb.connector.wait_for(1)
    status, body = await post_feedback(fb, UNATTRIBUTED)
    assert status == 201 and body["relay"] == "triage"
    [card_post] = await fb.connector.wait_for(1, conversation_id=TRIAGE_TEAMS)
    picker = next(b for b in card_post.card["body"] if b["type"] == "Input.ChoiceSet")
    # Only people on the org's teams are offered, not everyone the bot has met on Teams.
    assert set(await fb.teams_search("", picker)) == {"29:ana", "29:bob"}
    _, card_id = triage_post(fb.engine, body["id"], "teams")
    return body["id"], card_id


def teams_value(feedback_id: int, picked: str) -> dict:
    return {"action_id": f"feedback.route:{feedback_id}", "value": "", "user_picker": f"pick.feedback.route:{feedback_id}", f"pick.feedback.route:{feedback_id}": picked}


async def test_a_teams_submission_from_another_conversation_is_refused_and_the_attackers_endpoint_gets_no_quote(fb):
    feedback_id, card_id = await _teams_triaged(fb)
    attacker = FakeBotConnector()
    await attacker.start()
    try:
        before = len(fb.connector.sent)
        # Mallory's personal chat with the bot, replying "to" the real card id, through her own endpoint.
        activity = fb.teams_submit(teams_value(feedback_id, "29:mallory"), sender=("29:mallory", "Mallory"), reply_to_id=card_id)
        activity["serviceUrl"] = attacker.url
        status, _ = await fb.teams_send(activity)
        assert status in (200, 201, 401, 403)
        activity = fb.teams_submit(teams_value(feedback_id, "29:bob"), sender=("29:ana", "Ana Lima"), reply_to_id=card_id)
        status, _ = await fb.teams_send(activity)  # a real member, but from her personal chat
        reply = (await fb.connector.wait_for(before + 1))[-1]
        assert "no longer active" in str(reply.activity)
        assert feedback_rows(fb.engine)[0].status == "triage" and customer_kudos(fb.engine) == []
        assert not any(QUOTE in str(s.activity) for s in attacker.sent) and attacker.created == []
        assert fb.connector.created == [] and fb.connector.updated == []
        assert not any(QUOTE in str(s.activity) for s in fb.connector.sent[1:] if s.conversation_id != TRIAGE_TEAMS)
    finally:
        await attacker.stop()


async def test_a_teams_pick_of_someone_the_card_did_not_offer_is_refused(fb):
    feedback_id, card_id = await _teams_triaged(fb)
    channel = {"id": TRIAGE_TEAMS + ";messageid=" + card_id, "conversationType": "channel", "tenantId": "tenant-1"}
    before = len(fb.connector.sent)
    await fb.teams_send(fb.teams_submit(teams_value(feedback_id, "29:mallory"), sender=("29:ana", "Ana Lima"), reply_to_id=card_id, conversation=channel))
    reply = (await fb.connector.wait_for(before + 1))[-1]
    assert "couldn't find that person" in str(reply.activity)
    assert feedback_rows(fb.engine)[0].status == "triage" and customer_kudos(fb.engine) == [] and fb.connector.created == []
    # The same card, a person it offered, from the channel thread Teams names `…;messageid=…`: routed.
    await fb.teams_send(fb.teams_submit(teams_value(feedback_id, "29:bob"), sender=("29:ana", "Ana Lima"), reply_to_id=card_id, conversation=channel))
    await handled(fb)
    assert feedback_rows(fb.engine)[0].status == "relayed"
    assert fb.connector.created and fb.connector.created[-1]["members"][0]["id"] == "29:bob"
