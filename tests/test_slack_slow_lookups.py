"""Slow or rate-limited users.info must not cost the person their form or their ack.

Slack shows an error when a view_submission is not acked within 3 s (the win was stored anyway),
and a trigger_id is good for 3 s: a form opened after a 429 was waited out never appears. The fake
Slack API refuses views.open with an expired trigger_id, as Slack does.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from storage.kernel.db import session
from storage.recognition.tables import Win
from tests.conftest import ORG_YAML, handled
from tests.pulse_helpers import PULSE_YAML, SECRET
from tests.recognition_support import NOW, custom_server, slack_texts, win_state


def _new_people(fake, n: int) -> tuple[str, ...]:
    ids = tuple(f"U0NEW{i:02d}" for i in range(n))
    for i, uid in enumerate(ids):
        fake.add_user(uid, f"New Person {i}", f"new{i}@example.com")
    return ids


async def _timed(coro) -> tuple[float, object]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await coro
    return loop.time() - start, result


async def test_a_win_with_20_new_contributors_looks_them_up_side_by_side(database_url, fake_slack, fake_connector):
    """21 look-ups at 250 ms were 5.25 s one after another; eight at a time they take about 0.75 s."""
    contributors = _new_people(fake_slack, 20)
    fake_slack.delays["users.info"] = 0.25
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        elapsed, (status, body) = await _timed(server.slack_interaction(server.view_submission("win.record", win_state(contributors=contributors))))
        assert status == 200 and "errors" not in body
        assert elapsed < 2.0, f"ack after {elapsed:.2f} s"
        lookups = fake_slack.calls_to("users.info")
        assert len(lookups) == 21
        first = lookups[0].at
        assert sum(1 for c in lookups if c.at - first < 0.2) == 8  # bounded: eight at a time, not 21 at once
        await handled(server)
        with session(server.engine) as s:
            assert len(s.execute(select(Win)).scalars().all()) == 1
        dms = {c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")}
        assert set(contributors) <= dms and "U0ANA" in dms


async def test_a_429_on_users_info_still_acks_the_win_in_time_and_confirms_by_dm(database_url, fake_slack, fake_connector):
    fake_slack.fail_next("users.info", 429, {"Retry-After": "3"})
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        elapsed, (status, body) = await _timed(server.slack_interaction(server.view_submission("win.record", win_state())))
        assert status == 200 and body == "" and elapsed < 2.7, f"ack after {elapsed:.2f} s"
        await handled(server)
        confirmation = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0ANA"]
        assert confirmation and "recorded" in slack_texts(confirmation[0])
        with session(server.engine) as s:
            assert s.execute(select(Win)).scalar_one().customer == "Acme Corp"


async def test_a_form_problem_found_after_the_ack_reaches_the_person_by_dm(database_url, fake_slack, fake_connector):
    fake_slack.fail_next("users.info", 429, {"Retry-After": "3"})
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        status, body = await server.slack_interaction(server.view_submission("win.record", win_state(contributors=("U0BOB", "U0ROBOT"))))
        assert status == 200 and body == ""  # the modal closed at the deadline; the errors cannot go in the ack any more
        await handled(server)
        dm = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U0ANA"]
        assert dm and "Nothing was saved from your form" in slack_texts(dm[0]) and "is a bot" in slack_texts(dm[0])
        with session(server.engine) as s:
            assert s.execute(select(Win)).first() is None


async def test_a_quick_submission_still_shows_field_errors_in_the_modal(database_url, fake_slack, fake_connector):
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        status, body = await server.slack_interaction(server.view_submission("win.record", win_state(customer="   ")))
        assert status == 200 and json.loads(body)["response_action"] == "errors" and "customer" in json.loads(body)["errors"]


async def _pulse_server(database_url, fake_slack, fake_connector):
    return custom_server(database_url, fake_slack, fake_connector, PULSE_YAML, PULSEBRIDGE_SECRET_KEY=SECRET)


async def test_pulse_send_after_a_429_opens_a_loading_modal_in_time_then_the_form(database_url, fake_slack, fake_connector):
    fake_slack.fail_next("users.info", 429, {"Retry-After": "3"})
    async with await _pulse_server(database_url, fake_slack, fake_connector) as server:
        await server.slack_command("/pulse", "send", user_id="U0ANA")
        updated = await fake_slack.wait_for("views.update", timeout=15)
        await handled(server)
        opened = fake_slack.calls_to("views.open")
        assert len(opened) == 1 and "callback_id" not in opened[0].params["view"]  # the loading modal, within 3 s
        assert not any(r[1] == "expired_trigger_id" for r in fake_slack.refusals)
        assert updated[0].params["view_id"] and updated[0].params["view"]["callback_id"] == "pulse.send"


async def test_pulse_send_with_a_quick_look_up_opens_the_form_directly(database_url, fake_slack, fake_connector):
    async with await _pulse_server(database_url, fake_slack, fake_connector) as server:
        await server.slack_command("/pulse", "send", user_id="U0ANA")
        opened = await fake_slack.wait_for("views.open")
        await handled(server)
        assert opened[0].params["view"]["callback_id"] == "pulse.send" and not fake_slack.calls_to("views.update")


async def test_pulse_send_refused_after_a_slow_look_up_is_shown_in_the_loading_modal(database_url, fake_slack, fake_connector):
    fake_slack.delays["users.info"] = 2.5
    async with await _pulse_server(database_url, fake_slack, fake_connector) as server:
        await server.slack_command("/pulse", "send", user_id="U0BOB")  # not a lead
        updated = await fake_slack.wait_for("views.update", timeout=15)
        await handled(server)
        assert "Only team leads" in str(updated[0].params["view"]) and not fake_slack.calls_to("response_url")


async def test_goals_new_after_a_429_still_opens_its_form(database_url, fake_slack, fake_connector):
    fake_slack.fail_next("users.info", 429, {"Retry-After": "3"})
    async with custom_server(database_url, fake_slack, fake_connector, ORG_YAML) as server:
        server.core.clock = lambda: NOW
        await server.slack_command("/goals", "new", user_id="U0ANA")
        updated = await fake_slack.wait_for("views.update", timeout=15)
        assert updated[0].params["view"]["callback_id"] == "goals.edit"
        assert not any(r[1] == "expired_trigger_id" for r in fake_slack.refusals)


async def test_a_handler_that_fails_after_the_loading_modal_opened_does_not_leave_it_spinning(database_url, fake_slack, fake_connector):
    import dataclasses

    async with await _pulse_server(database_url, fake_slack, fake_connector) as server:
        async def slow_then_broken(core, cmd):
            await asyncio.sleep(2.5)
            raise RuntimeError("a bug")

        spec = server.core.commands["pulse"]
        server.core.commands["pulse"] = dataclasses.replace(spec, handler=slow_then_broken)
        await server.slack_command("/pulse", "send", user_id="U0ANA")
        updated = await fake_slack.wait_for("views.update", timeout=15)
        await handled(server)
        assert "Something went wrong on my side" in json.dumps(updated[0].params["view"], ensure_ascii=False)
