"""Results for leads only above the minimum group size; ad-hoc pulses from /pulse send."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.kernel.db import session
from storage.pulses.tables import Pulse, PulseDelivery
from storage.pulses.queries import questions_of
from tests.pulse_helpers import TUESDAY, adhoc_form, answers, count, deliveries, pulse_server, tick  # noqa: F401
from tests.conftest import handled


async def answer(srv, user, question, value, pulse_id):
    """A click, processed (clicks are processed after their ack): the person saw their DM update before the clock moves on."""
    await srv.slack_interaction(srv.block_actions(f"pulse.answer:{question.id}:{value}", f"{pulse_id}:{question.id}:{value}", user_id=user, channel="D" + user[1:]))
    await handled(srv)


async def reply_text(srv, n) -> str:
    call = (await srv.slack.wait_for("response_url", n))[n - 1]
    return str(call.params.get("blocks")) + call.params.get("text", "")


async def test_results_hidden_below_min_group_size_comments_included(pulse_server):
    srv = pulse_server
    await tick(srv, TUESDAY + timedelta(hours=18))
    rows = deliveries(srv.engine)
    pulse_id = rows["U0BOB"].pulse_id
    with session(srv.engine) as s:
        enps = questions_of(s, pulse_id)["enps"]
    for user, value in [("U0ANA", 10), ("U0BOB", 9), ("U0CARLA", 3), ("U0DAN", 7)]:
        await answer(srv, user, enps, value, pulse_id)
    await srv.slack_interaction(srv.view_submission("pulse.comment", {"comment": {"type": "plain_text_input", "value": "Secret worry about my manager"}}, user_id="U0CARLA", private_metadata=f"{pulse_id}:{enps.id}"))
    assert len(answers(srv.engine)) == 4

    await srv.slack_command("/pulse", "results", user_id="U0ANA")  # Ana leads support
    text = await reply_text(srv, 1)
    assert "fewer than 5 people have answered so far" in text and "Results are shown once the pulse closes" in text
    assert "Secret worry" not in text and "eNPS" not in text

    await answer(srv, "U0ERIN", enps, 10, pulse_id)
    await srv.slack_command("/pulse", "results", user_id="U0ANA")
    text = await reply_text(srv, 2)
    # Five answers, but the pulse is open: participation only, coarsely (5 of 6 reached: at least 75%).
    assert "5 or more people have answered — at least 75% of those reached so far" in text
    assert "+40" not in text and "Secret worry" not in text

    srv.clock.now = TUESDAY + timedelta(hours=18 + 48)  # Los Angeles' 10:00 + 48 h: closed
    await srv.slack_command("/pulse", "results", user_id="U0ANA")
    text = await reply_text(srv, 3)
    # 3 promoters, 1 passive, 1 detractor of 5: eNPS +40
    assert "+40" in text and "3 / 1 / 1" in text and "Secret worry about my manager" in text and "sentiment" in text

    await srv.slack_command("/pulse", "results", user_id="U0BOB")  # not a lead
    assert "for team leads" in await reply_text(srv, 4)


async def test_lead_sends_adhoc_pulse_and_only_they_see_results(pulse_server):
    srv = pulse_server
    srv.clock.now = TUESDAY + timedelta(days=2)
    await srv.slack_command("/pulse", "send", user_id="U0BOB")
    assert "Only team leads" in await reply_text(srv, 1)

    await srv.slack_command("/pulse", "send", user_id="U0ANA")
    view = (await srv.slack.wait_for_form("pulse.send"))[0]
    assert view["callback_id"] == "pulse.send"
    blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert {"team", "question", "custom", "scale", "close"} <= set(blocks)

    def submission(**values):
        state = {
            "team": {"type": "static_select", "selected_option": {"value": values.get("team", "support")}},
            "question": {"type": "static_select", "selected_option": {"value": values["question"]} if values.get("question") else None},
            "custom": {"type": "plain_text_input", "value": values.get("custom")},
            "scale": {"type": "static_select", "selected_option": {"value": values.get("scale", "mood")}},
            "close": {"type": "static_select", "selected_option": {"value": "24"}},
        }
        return srv.view_submission("pulse.send", state, user_id="U0ANA")

    status, body = await srv.slack_interaction(submission())
    assert "errors" in body and "Pick a bank question or write your own" in body
    status, body = await srv.slack_interaction(submission(team="platform", custom="How are you holding up?"))
    assert "errors" in body and count(srv.engine, Pulse) == 0

    status, body = await srv.slack_interaction(submission(question="workload-1", custom="How are you holding up during the incident?"))
    assert status == 200 and "errors" not in body
    dms = await srv.slack.wait_for("chat.postMessage", 6)  # 5 members besides Ana + her confirmation
    channels = sorted(c.params["channel"] for c in dms)
    assert "Sending your pulse to 5 people" in str([c.params["text"] for c in dms])
    assert channels.count("U0ANA") == 1 and {"U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY"} <= set(channels)
    with session(srv.engine) as s:
        pulse = s.execute(select(Pulse)).scalar_one()
        assert pulse.kind == "adhoc" and count(srv.engine, PulseDelivery) == 5
        custom = questions_of(s, pulse.id)["adhoc-2"]
    assert custom.scale == "mood"

    for user in ("U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY"):
        await answer(srv, user, custom, 2, pulse.id)
    srv.clock.now += timedelta(hours=24)  # ad-hoc pulses too: results once closed
    await srv.slack_command("/pulse", "results", user_id="U0ANA")
    assert "How are you holding up during the incident?" in (text := await reply_text(srv, 2)) and "2.0 / 5" in text
    # Dan leads another team: someone else's ad-hoc pulse is not his to read.
    await srv.slack_command("/pulse", "results", user_id="U0DAN")
    assert "holding up" not in await reply_text(srv, 3)


async def test_adhoc_pulse_needs_enough_people(database_url, fake_slack, fake_connector):
    from tests.pulse_helpers import PULSE_YAML, pulse_server_for, seed_people

    small = PULSE_YAML.replace(", dan@example.com, erin@example.com, fay@example.com", "")
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, small)
    try:
        seed_people(srv.engine)
        state = adhoc_form()
        await srv.slack_interaction(srv.view_submission("pulse.send", state, user_id="U0ANA"))
        notice = (await srv.slack.wait_for("chat.postMessage"))[0]
        assert "needs at least 5" in notice.params["text"]
        assert count(srv.engine, Pulse) == 0
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_without_secret_key_pulses_refuse_clearly(database_url, fake_slack, fake_connector):
    from tests.pulse_helpers import pulse_server_for, seed_people

    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, PULSEBRIDGE_SECRET_KEY=None)
    try:
        seed_people(srv.engine)
        await tick(srv, TUESDAY + timedelta(days=1))
        assert count(srv.engine, Pulse) == 0 and srv.slack.calls_to("chat.postMessage") == []
        await srv.slack_command("/pulse", "", user_id="U0BOB")
        assert "PULSEBRIDGE_SECRET_KEY" in await reply_text(srv, 1)
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_adhoc_pulse_goes_out_through_the_scheduler_when_one_runs(database_url, fake_slack, fake_connector):
    from tests.pulse_helpers import pulse_server_for, seed_people

    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, PULSEBRIDGE_SCHEDULER=True)
    try:
        seed_people(srv.engine)
        srv.clock.now = TUESDAY + timedelta(days=2)
        state = adhoc_form()
        await srv.slack_interaction(srv.view_submission("pulse.send", state, user_id="U0ANA"))
        dms = await srv.slack.wait_for("chat.postMessage", 6)
        assert sorted(c.params["channel"] for c in dms if c.params.get("metadata")) == ["U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY"]
        # The fake records a DM before the bot has marked its delivery row; give the mark a moment.
        for _ in range(100):
            if {d.status for d in deliveries(srv.engine).values()} == {"sent"}:
                break
            await asyncio.sleep(0.05)
        assert {d.status for d in deliveries(srv.engine).values()} == {"sent"}
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_adhoc_pulse_on_a_web_replica_is_sent_by_the_replica_running_the_scheduler(database_url, fake_slack, fake_connector):
    """A web replica (PULSEBRIDGE_SCHEDULER=false) beside `pulsebridge worker` plans the pulse and
    leaves the sending to the scheduler's send step, instead of fanning out 5,000 DMs itself."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is one process: it always runs the scheduler itself")
    from bot.pulses import commands
    from bot.pulses.schedule import send_step
    from storage.kernel.leases import try_acquire
    from tests.pulse_helpers import pulse_server_for, seed_people

    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, PULSEBRIDGE_SCHEDULER=False)
    try:
        seed_people(srv.engine)
        srv.clock.now = TUESDAY + timedelta(days=2)
        assert srv.core.scheduler is None and try_acquire(srv.engine, "scheduler", "the-worker", 30)
        earlier = set(commands._background)  # the module's set: an earlier test's fan-out may still be winding down
        await srv.slack_interaction(srv.view_submission("pulse.send", adhoc_form(), user_id="U0ANA"))
        confirmation = (await srv.slack.wait_for("chat.postMessage"))[0]
        assert "Sending your pulse to 5 people" in str(confirmation.params)
        await handled(srv)
        assert commands._background <= earlier  # no fan-out started here
        assert [c for c in srv.slack.calls_to("chat.postMessage") if c.params.get("metadata")] == []
        assert {d.status for d in deliveries(srv.engine).values()} == {"pending"}

        await send_step(srv.core)  # what the worker's next send step does
        dms = [c.params["channel"] for c in srv.slack.calls_to("chat.postMessage") if c.params.get("metadata")]
        assert sorted(dms) == ["U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY"]
    finally:
        await runner.cleanup()
        srv.engine.dispose()
