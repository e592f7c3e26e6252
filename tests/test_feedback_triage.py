"""Praise nobody could attribute: a triage post with a people picker on Slack and Teams; the first pick wins."""

from __future__ import annotations

import uuid

import jsonschema

from storage.kernel.db import session
from storage.directory.tables import User
from tests.conftest import handled, teams_card_schema
from tests.feedback_support import (
    customer_kudos,
    fb,  # noqa: F401 - fixture
    feedback_rows,
    generic,
    post_feedback,
    seed_directory,
    triage_post,
)

TRIAGE_TEAMS = "19:triage@thread.tacv2"
UNATTRIBUTED = generic("Whoever answered my chat yesterday <@U0BOB> was brilliant!", id="tri-1", customer={"name": "Helena", "account": "Hooli"})


def users_select(srv, feedback_id: int, picked: str, *, user_id: str, ts: str) -> dict:
    payload = srv.block_actions(f"feedback.route:{feedback_id}", "", user_id=user_id, channel="C0TRIAGE", message_ts=ts)
    action = payload["actions"][0]
    action.pop("value")
    action.pop("text")
    action.update(type="users_select", selected_user=picked, initial_user=None)
    payload["channel"] = {"id": "C0TRIAGE", "name": "cx-triage"}
    return payload


def user_email(srv, user_id: int | None) -> str | None:
    with session(srv.engine) as s:
        return s.get(User, user_id).email if user_id else None


async def test_slack_triage_pick_relays_to_the_picked_person_and_records_who_routed_it(fb):
    status, body = await post_feedback(fb, UNATTRIBUTED)
    assert status == 201 and body["relay"] == "triage"
    [post] = await fb.slack.wait_for("chat.postMessage")
    assert post.params["channel"] == "C0TRIAGE"
    assert "&lt;@U0BOB&gt;" in post.params["blocks"][1]["text"]["text"]  # the quote stays inert
    ts = "1700000000.000001"  # the fake answers its first post with this ts
    feedback_id = feedback_rows(fb.engine)[0].id

    # A bot is not a valid pick: refused, nothing stored.
    await fb.slack_interaction(users_select(fb, feedback_id, "U0ROBOT", user_id="U0ANA", ts=ts))
    refusal = await fb.slack.wait_for("response_url")
    assert "bot" in str(refusal[-1].params) and customer_kudos(fb.engine) == []

    status, _ = await fb.slack_interaction(users_select(fb, feedback_id, "U0BOB", user_id="U0ANA", ts=ts))
    assert status == 200
    calls = await fb.slack.wait_for("chat.postMessage", 3)
    by_channel = {c.params["channel"]: c for c in calls}
    assert "U0BOB" in by_channel and "C0SUPPORT" in by_channel
    [update] = await fb.slack.wait_for("chat.update")
    assert (update.params["channel"], update.params["ts"]) == ("C0TRIAGE", ts)
    assert "<@U0BOB>" in update.params["blocks"][0]["text"]["text"] and "<@U0ANA>" in update.params["blocks"][0]["text"]["text"]

    [row] = feedback_rows(fb.engine)
    assert (row.status, row.route_method) == ("relayed", "triage")
    assert user_email(fb, row.routed_user_id) == "bob@example.com" and user_email(fb, row.routed_by_user_id) == "ana@example.com"
    [kudos] = customer_kudos(fb.engine)
    assert kudos.route_method == "triage" and kudos.giver_label == "Helena (Hooli)"

    # A second pick (someone else, later) changes nothing.
    await fb.slack_interaction(users_select(fb, feedback_id, "U0ERIN", user_id="U0DAN", ts=ts))
    answers = await fb.slack.wait_for("response_url", 3)
    assert "already routed" in str(answers[-1].params)
    assert len(customer_kudos(fb.engine)) == 1 and len(fb.slack.calls_to("chat.postMessage")) == 3


async def test_teams_triage_card_picker_relays_and_updates_both_triage_posts(fb):
    seed_directory(fb.engine, [("29:ana", "Ana Lima", "ana@example.com"), ("29:bob", "Bob Stone", "bob@example.com")], platform="teams")
    await fb.teams_send(fb.teams_activity("<at>pulsebridge</at> help"))  # the bot has been installed in Teams
    await fb.connector.wait_for(1)

    status, body = await post_feedback(fb, UNATTRIBUTED)
    assert status == 201 and body["relay"] == "triage"
    [card_post] = await fb.connector.wait_for(1, conversation_id=TRIAGE_TEAMS)
    card = card_post.card
    jsonschema.validate(card, teams_card_schema())
    picker = next(b for b in card["body"] if b["type"] == "Input.ChoiceSet")
    assert set(await fb.teams_search("", picker)) == {"29:ana", "29:bob"}  # searched as you type, members only
    submit = card["actions"][0]
    assert submit["type"] == "Action.Submit" and submit["data"]["user_picker"] == picker["id"]
    quote = [run["text"] for b in card["body"] if b["type"] == "Container" for i in b["items"] for run in i["inlines"]]
    assert quote == [UNATTRIBUTED["text"]]  # a TextRun: shown literally, no Markdown, no mention

    channel = {"id": TRIAGE_TEAMS, "conversationType": "channel", "tenantId": "tenant-1"}
    value = dict(submit["data"], **{picker["id"]: "29:bob"})
    _, activity_id = triage_post(fb.engine, feedback_rows(fb.engine)[0].id, "teams")  # the card's id, as Teams returned it
    await fb.teams_send(fb.teams_submit(value, sender=("29:ana", "Ana Lima"), reply_to_id=activity_id, conversation=channel))
    await handled(fb)

    [row] = feedback_rows(fb.engine)
    assert (row.status, row.route_method) == ("relayed", "triage")
    with session(fb.engine) as s:
        routed, router = s.get(User, row.routed_user_id), s.get(User, row.routed_by_user_id)
    assert (routed.platform, routed.external_id, router.external_id) == ("teams", "29:bob", "29:ana")
    assert fb.connector.created and fb.connector.created[-1]["members"][0]["id"] == "29:bob"  # DM opened to Bob
    await fb.connector.wait_for(1, conversation_id="19:support@thread.tacv2")
    assert any(u.reply_to == activity_id for u in fb.connector.updated)  # the clicked card now says who got it
    [slack_update] = await fb.slack.wait_for("chat.update")  # and so does the Slack triage post
    assert slack_update.params["channel"] == "C0TRIAGE" and "Bob Stone" in slack_update.params["blocks"][0]["text"]["text"]


async def test_teams_submit_without_a_pick_is_refused(fb):
    seed_directory(fb.engine, [("29:ana", "Ana Lima", "ana@example.com")], platform="teams")
    await fb.teams_send(fb.teams_activity("<at>pulsebridge</at> help"))
    await post_feedback(fb, UNATTRIBUTED)
    feedback_id = feedback_rows(fb.engine)[0].id
    before = len(fb.connector.sent)
    value = {"action_id": f"feedback.route:{feedback_id}", "value": "", "user_picker": f"pick.feedback.route:{feedback_id}"}
    await fb.teams_send(fb.teams_submit(value, reply_to_id=f"act-{uuid.uuid4().hex[:6]}"))
    reply = (await fb.connector.wait_for(before + 1))[-1]
    assert "Pick the person" in str(reply.activity)
    assert feedback_rows(fb.engine)[0].status == "triage" and customer_kudos(fb.engine) == []
