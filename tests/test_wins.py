"""/win on both platforms, end to end: form, storage as W-<n>, channel posts with a "Give kudos" button."""

from __future__ import annotations

import asyncio

import jsonschema
import pytest
from sqlalchemy import select

from storage.kernel.db import session
from storage.recognition.tables import KudosContext, Win, WinContributor
from storage.directory.tables import User
from storage.kernel.tables import InboundDelivery
from storage.recognition.tables import Kudos
from tests.conftest import teams_card_schema
from tests.recognition_support import NOW, card_text, count, settle, slack_texts, static, text_input, users, win_state


@pytest.fixture
async def srv(server):
    server.core.clock = lambda: NOW
    return server


async def test_slack_win_form_is_stored_posted_once_per_team_channel_and_dms_contributors(srv):
    await srv.slack_command("/win", "")
    opened = (await srv.slack.wait_for("views.open"))[0].params["view"]
    assert opened["callback_id"] == "win.record"
    assert [b["block_id"] for b in opened["blocks"] if b["type"] == "input"] == ["customer", "summary", "value", "won_on", "contributors"]
    assert opened["blocks"][-1]["element"]["type"] == "multi_users_select"

    payload = srv.view_submission("win.record", win_state())
    status, body = await srv.slack_interaction(payload)
    assert status == 200 and "errors" not in body
    posts = await srv.slack.wait_for("chat.postMessage", 5)
    # A platform retry of the same submission must not create a second win or post again.
    status, _ = await srv.slack_interaction(payload)
    assert status == 200
    await settle(srv)
    posts = srv.slack.calls_to("chat.postMessage")
    by_channel = {p.params["channel"]: p for p in posts}
    assert sorted(by_channel) == ["C0PLATFORM", "C0SUPPORT", "U0ANA", "U0BOB", "U0DAN"]
    assert len([p for p in posts if p.params["channel"] == "C0SUPPORT"]) == 1

    with session(srv.engine) as s:
        win = s.execute(select(Win)).scalar_one()
        contributors = s.execute(select(User.external_id).join(WinContributor, WinContributor.user_id == User.id)).scalars().all()
    assert (win.customer, win.value, win.won_on.isoformat(), win.platform) == ("Acme Corp", "$120k ARR", "2026-11-19", "slack")
    assert sorted(contributors) == ["U0BOB", "U0DAN"]

    post = by_channel["C0SUPPORT"]
    text = slack_texts(post)
    assert f"W-{win.id}" in text and "Acme Corp" in text and "Saved the renewal" in text and "<@U0BOB> and <@U0DAN>" in text
    button = next(b for b in post.params["blocks"] if b["type"] == "actions")["elements"][0]
    assert (button["action_id"], button["value"], button["text"]["text"]) == ("kudos.win", str(win.id), "Give kudos")
    assert "named you as part of it" in slack_texts(by_channel["U0BOB"])
    assert f"Win W-{win.id} recorded" in slack_texts(by_channel["U0ANA"])


async def test_give_kudos_button_opens_prefilled_form_and_kudos_names_the_customer_outcome(srv):
    await srv.slack_interaction(srv.view_submission("win.record", win_state(contributors=("U0BOB",))))
    await srv.slack.wait_for("chat.postMessage", 3)
    with session(srv.engine) as s:
        win = s.execute(select(Win)).scalar_one()

    await srv.slack_interaction(srv.block_actions("kudos.win", str(win.id), user_id="U0CARLA", channel="C0SUPPORT"))
    view = (await srv.slack.wait_for("views.open"))[0].params["view"]
    assert view["callback_id"] == "kudos.give" and view["private_metadata"] == f"W-{win.id}"
    win_select = next(b for b in view["blocks"] if b.get("block_id") == "win")["element"]
    assert win_select["initial_option"]["value"] == f"W-{win.id}"
    intro = " ".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert "Acme Corp" in intro and f"W-{win.id}" in intro

    before = len(srv.slack.calls_to("chat.postMessage"))
    status, body = await srv.slack_interaction(
        srv.view_submission(
            "kudos.give",
            {
                "recipients": users("U0BOB"),
                "reason": text_input("stayed on the bridge call until Acme signed"),
                "value": static("customer-first"),
                "win": static(f"W-{win.id}"),
                "visibility": static("public"),
            },
            user_id="U0CARLA",
            private_metadata=f"W-{win.id}",
        )
    )
    assert status == 200 and "errors" not in body
    posts = (await srv.slack.wait_for("chat.postMessage", before + 3))[before:]
    by_channel = {p.params["channel"]: slack_texts(p) for p in posts}
    assert set(by_channel) == {"U0BOB", "C0SUPPORT", "U0CARLA"}
    for where in ("U0BOB", "C0SUPPORT"):
        assert "Customer outcome: *Acme Corp*" in by_channel[where]
        assert f"Part of win W-{win.id}" in by_channel[where]
    assert "for the Acme Corp win" in by_channel["U0BOB"]  # the notification text names the outcome too

    with session(srv.engine) as s:
        kudos = s.execute(select(Kudos)).scalar_one()
        context = s.get(KudosContext, kudos.id)
    assert kudos.reason == "stayed on the bridge call until Acme signed"
    assert (context.win_id, context.private) == (win.id, False)


async def test_kudos_command_links_a_win_and_rejects_unknown_wins_storing_nothing(srv):
    await srv.slack_interaction(srv.view_submission("win.record", win_state(contributors=("U0BOB",))))
    await srv.slack.wait_for("chat.postMessage", 3)
    with session(srv.engine) as s:
        win = s.execute(select(Win)).scalar_one()

    deliveries = count(srv.engine, InboundDelivery)
    await srv.slack_command("/kudos", "<@U0BOB|bob> for the migration win:W-99999")
    error = (await srv.slack.wait_for("response_url"))[0]
    assert "There is no customer win W-99999" in slack_texts(error)
    assert count(srv.engine, Kudos) == 0 and count(srv.engine, InboundDelivery) == deliveries

    await srv.slack_command("/kudos", f"<@U0BOB|bob> for the migration win:W-{win.id}. #ownership")
    await srv.slack.wait_for("response_url", 2)
    with session(srv.engine) as s:
        kudos = s.execute(select(Kudos)).scalar_one()
        assert kudos.reason == "the migration."
        assert s.get(KudosContext, kudos.id).win_id == win.id
    dm = next(c for c in await srv.slack.wait_for("chat.postMessage", 5) if c.params["channel"] == "U0BOB" and "kudos" in c.params["text"])
    assert "Acme Corp" in slack_texts(dm)

    await srv.slack_interaction(srv.block_actions("kudos.win", "424242", user_id="U0CARLA", channel="C0SUPPORT"))
    error = (await srv.slack.wait_for("response_url", 3))[-1]
    assert "There is no customer win 424242" in slack_texts(error)


@pytest.mark.parametrize(
    "state, field, message",
    [
        (win_state(customer="   "), "customer", "Please name the customer"),
        (win_state(customer="A" * 121), "customer", "keep it under 120"),
        (win_state(summary="x" * 1001), "summary", "keep it under 1,000"),
        (win_state(value="v" * 121), "value", "keep it under 120"),
        (win_state(contributors=()), "contributors", "Pick at least one person"),
        (win_state(date="2027-01-01"), "won_on", "cannot be in the future"),
    ],
)
async def test_bad_win_input_is_shown_next_to_the_field_and_nothing_is_stored(srv, state, field, message):
    status, body = await srv.slack_interaction(srv.view_submission("win.record", state))
    assert status == 200
    assert '"response_action":"errors"' in body.replace(" ", "")
    assert f'"{field}":' in body.replace(" ", "") and message in body
    await settle(srv)
    assert count(srv.engine, Win) == 0 and count(srv.engine, WinContributor) == 0 and count(srv.engine, InboundDelivery) == 0
    assert srv.slack.calls_to("chat.postMessage") == []


async def test_concurrent_wins_get_distinct_ids(srv):
    payloads = [srv.view_submission("win.record", win_state(customer=f"Customer {i}", contributors=("U0ERIN",))) for i in range(6)]
    results = await asyncio.gather(*(srv.slack_interaction(p) for p in payloads))
    assert all(status == 200 and "errors" not in body for status, body in results)
    with session(srv.engine) as s:
        wins = s.execute(select(Win)).scalars().all()
    assert len(wins) == 6 and len({w.label for w in wins}) == 6
    assert sorted(w.customer for w in wins) == [f"Customer {i}" for i in range(6)]


async def _teams_directory(srv):
    """Bob and Dan become known on Teams (with their emails) the way people usually do: through a kudos."""
    activity = srv.teams_activity(
        "<at>pulsebridge</at> kudos <at>Bob Stone</at> <at>Dan Wu</at> for the onboarding docs",
        mentions=[("29:bob", "Bob Stone"), ("29:dan", "Dan Wu")],
    )
    await srv.teams_send(activity)
    await srv.connector.wait_for(5)
    srv.connector.sent.clear()


async def test_teams_win_card_lists_directory_people_and_posts_to_team_channels(srv):
    await _teams_directory(srv)
    activity = srv.teams_activity("<at>pulsebridge</at> win")
    await srv.teams_send(activity)
    form = (await srv.connector.wait_for(1))[0].card
    jsonschema.validate(form, teams_card_schema())
    picker = next(i for i in form["body"] if i.get("id") == "contributors")
    assert set(await srv.teams_search("", picker)) >= {"29:bob", "29:dan"} and picker["isMultiSelect"] is True
    assert form["actions"][0]["data"]["multi"] == ["contributors"]
    srv.connector.sent.clear()

    submit = srv.teams_submit(
        {
            "form_id": "win.record",
            "metadata": "",
            "multi": ["contributors"],
            "customer": "Globex",
            "summary": "CSAT rescue: from 2 to 9 in one week",
            "value": "CSAT rescue",
            "won_on": "2026-11-18",
            "contributors": "29:bob,29:dan",
        }
    )
    await srv.teams_send(submit)
    await srv.teams_send(submit)  # redelivered: still one win, no second post
    sent = await srv.connector.wait_for(4)  # two channel posts, two DMs; the confirmation replaces the form
    await settle(srv)
    [confirmation] = srv.connector.updated
    assert confirmation.reply_to == submit["replyToId"] and "Globex" in card_text(confirmation)
    channels = {s.conversation_id: s for s in srv.connector.sent if s.conversation_id.startswith("19:")}
    assert set(channels) == {"19:support@thread.tacv2", "19:platform@thread.tacv2"}
    assert len(srv.connector.sent_to("19:support@thread.tacv2")) == 1
    post = channels["19:support@thread.tacv2"]
    jsonschema.validate(post.card, teams_card_schema())
    with session(srv.engine) as s:
        win = s.execute(select(Win)).scalar_one()
    assert f"W-{win.id}" in card_text(post) and "Globex" in card_text(post)
    assert post.card["actions"][0]["data"] == {"action_id": "kudos.win", "value": str(win.id)}
    assert any("named you as part of it" in card_text(x) for x in sent if x.conversation_id == "a:personal-29:bob")

    # The button opens the kudos card with the win picked.
    srv.connector.sent.clear()
    await srv.teams_send(srv.teams_submit({"action_id": "kudos.win", "value": str(win.id)}, sender=("29:dan", "Dan Wu")))
    form = (await srv.connector.wait_for(1))[0].card
    jsonschema.validate(form, teams_card_schema())
    assert next(i for i in form["body"] if i.get("id") == "win")["value"] == f"W-{win.id}"
    recipients = next(i for i in form["body"] if i.get("id") == "recipients")
    assert "29:dan" not in await srv.teams_search("", recipients, sender=("29:dan", "Dan Wu"))  # no self-kudos offered


async def test_teams_win_with_empty_customer_is_rejected_and_nothing_stored(srv):
    await _teams_directory(srv)
    await srv.teams_send(
        srv.teams_submit(
            {"form_id": "win.record", "multi": ["contributors"], "customer": " ", "summary": "x", "won_on": "2026-11-18", "contributors": "29:bob"}
        )
    )
    reply = (await srv.connector.wait_for(1))[0]
    assert "Please name the customer or account" in card_text(reply)
    assert count(srv.engine, Win) == 0
