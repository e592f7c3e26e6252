"""Answering pulses on Slack: one tap, change, double click, retries, comments, bad payloads, anonymity."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import inspect

from storage.kernel.db import session, write_unit
from storage.pulses.tables import PulseDelivery
from storage.pulses.queries import questions_of
from tests.conftest import handled
from tests.pulse_helpers import TUESDAY, answers, deliveries, dm_buttons, pulse_server, texts, tick  # noqa: F401
from bot.directory.sync import sync_org_teams


async def opened(srv):
    await tick(srv, TUESDAY + timedelta(hours=18))
    rows = deliveries(srv.engine)
    with session(srv.engine) as s:
        questions = questions_of(s, rows["U0BOB"].pulse_id)
    return rows, questions


def click(srv, user, question, value, pulse_id, **kw):
    return srv.block_actions(f"pulse.answer:{question.id}:{value}", f"{pulse_id}:{question.id}:{value}", user_id=user, channel="D" + user[1:], **kw)


async def last_reply(srv, n):
    calls = await srv.slack.wait_for("response_url", n)
    return calls[n - 1].params.get("text", "")


async def test_one_tap_answer_updates_dm_in_place_and_stores_no_user(pulse_server):
    srv = pulse_server
    rows, questions = await opened(srv)
    bob = rows["U0BOB"]
    enps = questions["enps"]
    status, _ = await srv.slack_interaction(click(srv, "U0BOB", enps, 9, bob.pulse_id, message_ts="1700000000.000099"))
    assert status == 200
    update = (await srv.slack.wait_for("chat.update"))[0]
    assert (update.params["channel"], update.params["ts"]) == ("D0BOB", "1700000000.000099")
    assert "Your answer: 9" in texts(update)
    chosen = [b for b in dm_buttons(update) if b.get("style") == "primary"]
    assert [b["value"] for b in chosen] == [f"{bob.pulse_id}:{enps.id}:9"]
    assert any(b["action_id"] == f"pulse.comment:{enps.id}" for b in dm_buttons(update))

    (answer,) = answers(srv.engine)
    assert answer.value == 9 and answer.answered_on == (TUESDAY + timedelta(hours=18)).date()
    assert len(answer.respondent) == 64 and "U0BOB" not in json.dumps(answer.model_dump(mode="json"))
    columns = {c["name"] for c in inspect(srv.engine).get_columns("pulse_answers")}
    assert not columns & {"user_id", "user", "external_id", "created_at", "updated_at"}
    # The `answered` flag is not touched by the answer: it is released later, in a batch (bot/pulses/flags.py).
    assert deliveries(srv.engine)["U0BOB"].answered is False


async def test_change_double_click_and_redelivery_keep_one_answer(pulse_server):
    srv = pulse_server
    rows, questions = await opened(srv)
    bob = rows["U0BOB"]
    enps = questions["enps"]
    payload = click(srv, "U0BOB", enps, 3, bob.pulse_id)
    await srv.slack_interaction(payload)
    await srv.slack_interaction(payload)  # the platform redelivers the same click
    await srv.slack_interaction(click(srv, "U0BOB", enps, 3, bob.pulse_id))  # a double click: new trigger id
    await srv.slack_interaction(click(srv, "U0BOB", enps, 10, bob.pulse_id))  # changed their mind
    await handled(srv)
    # The redelivered copy was recorded once and processed once (bot/kernel/core.py accept): 3 updates.
    assert len(srv.slack.calls_to("chat.update")) == 3
    (answer,) = answers(srv.engine)
    assert answer.value == 10
    assert "Your answer: 10" in texts(srv.slack.calls_to("chat.update")[-1])


async def test_comment_opens_modal_and_is_stored_with_sentiment(pulse_server):
    srv = pulse_server
    rows, questions = await opened(srv)
    bob = rows["U0BOB"]
    enps = questions["enps"]
    await srv.slack_interaction(srv.block_actions(f"pulse.comment:{enps.id}", f"{bob.pulse_id}:{enps.id}", user_id="U0BOB", channel="D0BOB"))
    assert "Please pick an answer first" in await last_reply(srv, 1)
    assert srv.slack.calls_to("views.open") == []

    await srv.slack_interaction(click(srv, "U0BOB", enps, 8, bob.pulse_id))
    await srv.slack_interaction(srv.block_actions(f"pulse.comment:{enps.id}", f"{bob.pulse_id}:{enps.id}", user_id="U0BOB", channel="D0BOB"))
    view = (await srv.slack.wait_for("views.open"))[0].params["view"]
    assert view["callback_id"] == "pulse.comment" and view["private_metadata"] == f"{bob.pulse_id}:{enps.id}"

    updates_before = len(srv.slack.calls_to("chat.update"))
    status, body = await srv.slack_interaction(
        srv.view_submission("pulse.comment", {"comment": {"type": "plain_text_input", "value": "I love the people, great team!"}}, user_id="U0BOB", private_metadata=view["private_metadata"])
    )
    assert status == 200 and "errors" not in body
    (answer,) = answers(srv.engine)
    assert answer.comment == "I love the people, great team!" and answer.polarity > 0
    # The DM itself (by its stored handle) now says a comment was saved.
    update = (await srv.slack.wait_for("chat.update", updates_before + 1))[-1]
    assert update.params["channel"] == "D0BOB" and "comment saved" in texts(update)

    status, body = await srv.slack_interaction(
        srv.view_submission("pulse.comment", {"comment": {"type": "plain_text_input", "value": "   "}}, user_id="U0BOB", private_metadata=view["private_metadata"])
    )
    assert "errors" in body and answers(srv.engine)[0].comment == "I love the people, great team!"


async def test_bad_payloads_get_a_clear_message_and_store_nothing(pulse_server):
    srv = pulse_server
    rows, questions = await opened(srv)
    bob, ana = rows["U0BOB"], rows["U0ANA"]
    enps = questions["enps"]
    # Teammates with the same history get the same questions; make Bob's set differ from Ana's.
    not_bobs = next(q for k, q in questions.items() if k != "enps")
    with write_unit(srv.engine) as s:
        s.get(PulseDelivery, bob.id).question_keys = ["enps"]
    cases = [
        (srv.block_actions(f"pulse.answer:{enps.id}:5", f"999999:{enps.id}:5", user_id="U0BOB"), "can't find that pulse"),
        (click(srv, "U0BOB", enps, 11, bob.pulse_id), "not one of the answers"),
        (click(srv, "U0BOB", enps, -1, bob.pulse_id), "not one of the answers"),
        (srv.block_actions(f"pulse.answer:{enps.id}:5", f"{bob.pulse_id}:{enps.id}:9", user_id="U0BOB"), "doesn't match"),
        (srv.block_actions(f"pulse.answer:{enps.id}:5", "drop table", user_id="U0BOB"), "doesn't match"),
        (srv.block_actions(f"pulse.answer:{enps.id}:5", f"{bob.pulse_id}:99999:5", user_id="U0BOB"), "doesn't match"),
        (click(srv, "U0BOB", not_bobs, 1, bob.pulse_id), "wasn't sent to you"),
        (click(srv, "U0ROBOT", enps, 5, ana.pulse_id), "wasn't sent to you"),
    ]
    for n, (payload, expected) in enumerate(cases, 1):
        status, _ = await srv.slack_interaction(payload)
        assert status == 200
        assert expected in await last_reply(srv, n), expected
    forged_comment = srv.view_submission("pulse.comment", {"comment": {"type": "plain_text_input", "value": "hi"}}, user_id="U0BOB", private_metadata="1:2:3")
    status, _ = await srv.slack_interaction(forged_comment)
    assert status == 200
    notice = (await srv.slack.wait_for("chat.postMessage", len(rows) + 1))[-1]  # a modal's answer arrives as a DM
    assert notice.params["channel"] == "U0BOB" and "doesn't match" in notice.params["text"]
    assert answers(srv.engine) == [] and srv.slack.calls_to("chat.update") == []
    assert not any(d.answered for d in deliveries(srv.engine).values())

    # After closing time, the same valid click is refused and nothing is stored.
    srv.clock.now = TUESDAY + timedelta(days=5)
    await srv.slack_interaction(click(srv, "U0BOB", enps, 5, bob.pulse_id))
    assert "closed" in await last_reply(srv, len(cases) + 1)
    assert answers(srv.engine) == []


async def test_slash_pulse_reshows_open_questions_and_late_joiners_get_theirs(pulse_server):
    srv = pulse_server
    rows, _ = await opened(srv)
    before = len(srv.slack.calls_to("chat.postMessage"))
    await srv.slack_command("/pulse", "", user_id="U0BOB")
    assert "sent you 1 open pulse" in await last_reply(srv, 1)
    dm = srv.slack.calls_to("chat.postMessage")[before]
    assert dm.params["channel"] == "U0BOB" and any(b["action_id"].startswith("pulse.answer:") for b in dm_buttons(dm))

    # Gina joins the team after the pulse opened; /pulse creates and sends her delivery.
    srv.slack.add_user("U0GINA", "Gina Ode", "gina@example.com")
    from tests.pulse_helpers import seed_people

    seed_people(srv.engine, [("U0GINA", "Gina Ode", "gina@example.com", "Europe/Paris")])
    srv.core.org.teams["support"].members.append("gina@example.com")
    sync_org_teams(srv.core)
    await srv.slack_command("/pulse", "", user_id="U0GINA")
    assert "sent you 1 open pulse" in await last_reply(srv, 2)
    assert deliveries(srv.engine)["U0GINA"].status == "sent"
    await tick(srv, srv.clock.now + timedelta(minutes=1))
    assert [c.params["channel"] for c in srv.slack.calls_to("chat.postMessage")].count("U0GINA") == 1

    await srv.slack_command("/pulse", "", user_id="U0ROBOT")
    assert "no open pulse" in await last_reply(srv, 3)
    await srv.slack_command("/pulse", "bogus", user_id="U0BOB")
    assert "/pulse send" in await last_reply(srv, 4)
