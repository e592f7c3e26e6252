"""Scheduled pulses: local delivery time in three timezones, catch-up after downtime, reminders, closing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.kernel.db import session
from storage.pulses.tables import Pulse, PulseDelivery
from tests.pulse_helpers import TUESDAY, count, deliveries, dm_buttons, only_pulse, pulse_server, tick  # noqa: F401

H = timedelta(hours=1)


def dm_channels(fake) -> list[str]:
    return [c.params["channel"] for c in fake.calls_to("chat.postMessage")]


async def test_pulse_arrives_at_ten_local_time_in_each_recipients_timezone(pulse_server):
    srv = pulse_server
    await tick(srv, TUESDAY + timedelta(minutes=59))  # 00:59 UTC = 09:59 in Tokyo
    assert dm_channels(srv.slack) == [] and count(srv.engine, Pulse) == 0

    await tick(srv, TUESDAY + 1 * H)  # 10:00 Tokyo
    assert dm_channels(srv.slack) == ["U0ANA"]
    first = srv.slack.calls_to("chat.postMessage")[0]
    assert "Quick pulse · Customer Support" in first.params["text"] or "Customer Support" in str(first.params["blocks"])
    assert first.params["metadata"]["event_payload"]["marker"].startswith("pulse-delivery:")
    assert len([b for b in dm_buttons(first) if b["action_id"].startswith("pulse.answer:")]) >= 5

    await tick(srv, TUESDAY + 8 * H + timedelta(minutes=59))  # 09:59 Berlin
    assert dm_channels(srv.slack) == ["U0ANA"]
    await tick(srv, TUESDAY + 9 * H)  # 10:00 Berlin: Bob, Erin, Fay, and Dan (no timezone → team's Berlin)
    assert sorted(dm_channels(srv.slack)) == sorted(["U0ANA", "U0BOB", "U0DAN", "U0ERIN", "U0FAY"])
    await tick(srv, TUESDAY + 17 * H + timedelta(minutes=59))
    assert "U0CARLA" not in dm_channels(srv.slack)
    await tick(srv, TUESDAY + 18 * H)  # 10:00 Los Angeles
    await tick(srv, TUESDAY + 18 * H + timedelta(minutes=1))
    assert sorted(dm_channels(srv.slack)) == sorted(["U0ANA", "U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY"])

    pulse = only_pulse(srv.engine)
    assert pulse.opens_at == TUESDAY + 1 * H
    assert pulse.closes_at == TUESDAY + 18 * H + timedelta(hours=48)  # open_hours after the last local 10:00
    rows = deliveries(srv.engine)
    assert {k: d.status for k, d in rows.items()} == dict.fromkeys(rows, "sent")
    assert all(len(d.question_keys) == 2 for d in rows.values())
    # First pulse for everyone: eNPS is due, plus one rotating question.
    assert all("enps" in d.question_keys for d in rows.values())
    # Same history, same questions: every question can reach the minimum group size.
    assert len({tuple(d.question_keys) for d in rows.values()}) == 1


async def test_downtime_is_caught_up_once_and_missed_cycles_are_not_replayed(pulse_server):
    srv = pulse_server
    # Down from Monday until Wednesday 12:00 UTC: one coalesced tick sends every overdue DM once.
    await tick(srv, TUESDAY + timedelta(days=1, hours=12))
    assert sorted(dm_channels(srv.slack)) == sorted(["U0ANA", "U0BOB", "U0CARLA", "U0DAN", "U0ERIN", "U0FAY"])
    await tick(srv, TUESDAY + timedelta(days=1, hours=12, minutes=1))
    assert len(dm_channels(srv.slack)) == 6

    # Down for the whole window of the next cycle (next Tuesday until the Friday after): skipped, not sent late.
    await tick(srv, TUESDAY + timedelta(days=10))
    assert count(srv.engine, Pulse) == 1 and len(dm_channels(srv.slack)) == 6
    assert only_pulse(srv.engine).status == "closed"


async def test_next_cycle_rotates_questions_per_person(pulse_server):
    srv = pulse_server
    await tick(srv, TUESDAY + timedelta(days=1))
    first = {k: set(d.question_keys) for k, d in deliveries(srv.engine).items()}
    await tick(srv, TUESDAY + timedelta(days=8))
    with session(srv.engine) as s:
        second_pulse = s.execute(select(Pulse).order_by(Pulse.id.desc())).scalars().first()
        rows = s.execute(select(PulseDelivery).where(PulseDelivery.pulse_id == second_pulse.id)).scalars().all()
    assert len(rows) == 6
    for row in rows:
        assert "enps" not in row.question_keys  # eNPS every 12 weeks by default
    seconds = {r.user_id: set(r.question_keys) for r in rows}
    assert all(len(keys) == 2 for keys in seconds.values())
    # No question repeats for the same person within 8 weeks.
    with session(srv.engine) as s:
        from storage.directory.tables import User

        ids = {u.external_id: u.id for u in s.execute(select(User)).scalars()}
    for ext, keys in first.items():
        assert not (keys & seconds[ids[ext]])


async def test_reminder_goes_once_to_everyone_who_has_not_answered(pulse_server):
    srv = pulse_server
    await tick(srv, TUESDAY + 18 * H)
    rows = deliveries(srv.engine)
    for ext in ("U0ANA", "U0BOB"):
        d = rows[ext]
        pulse_id = d.pulse_id
        with session(srv.engine) as s:
            from storage.pulses.queries import questions_of

            q = questions_of(s, pulse_id)[d.question_keys[0]]
        await srv.slack_interaction(srv.block_actions(f"pulse.answer:{q.id}:7", f"{pulse_id}:{q.id}:7", user_id=ext, channel="D" + ext[1:]))
    assert not any(d.answered for d in deliveries(srv.engine).values())  # flags are released in batches, not with the answer
    before = len(srv.slack.calls_to("chat.postMessage"))

    await tick(srv, TUESDAY + 18 * H + timedelta(hours=23, minutes=59))  # not yet: closes at +48h, remind 24h before
    assert len(srv.slack.calls_to("chat.postMessage")) == before
    await tick(srv, TUESDAY + 18 * H + timedelta(hours=24))
    await tick(srv, TUESDAY + 18 * H + timedelta(hours=25))
    reminders = srv.slack.calls_to("chat.postMessage")[before:]
    assert sorted(c.params["channel"] for c in reminders) == ["U0CARLA", "U0DAN", "U0ERIN", "U0FAY"]
    assert all("Reminder" in c.params["text"] for c in reminders)


async def test_a_reminder_that_meets_a_429_queues_for_its_pacer_again(server):
    """Reminders are paced sends through the outbox. A 429 must come back to the pacer: slack_sdk's
    own handler would sleep out Retry-After and retry at once, unpaced, into the window the other
    reminders are filling (one 429 near the end of a run cost a whole second, and drew more)."""
    from bot.kernel.messages import Message, Paragraph, UserRef
    from bot.kernel.ports import DirectMessage, Outbound
    from storage.kernel.tables import OutboxMessage

    tokens = []

    async def pace() -> None:
        tokens.append(len([c for c in server.slack.calls if c.method.startswith("chat.postMessage")]))

    server.slack.fail_next("chat.postMessage", headers={"Retry-After": "0"})
    item = Outbound("test:reminder:1", DirectMessage(UserRef("slack", "U0ANA", "Ana")), Message(summary="Reminder", blocks=(Paragraph(("Reminder",)),)))
    handle = await server.core.outbox.deliver_one(item, pace=pace)
    assert handle is not None
    assert tokens == [0, 1]  # a token before the refused request, and another before its retry
    assert len(server.slack.calls_to("chat.postMessage:rejected")) == 1
    assert len(server.slack.calls_to("chat.postMessage")) == 1
    with session(server.engine) as s:
        assert s.execute(select(OutboxMessage.status).where(OutboxMessage.key == "test:reminder:1")).scalar_one() == "sent"


async def test_reminders_start_going_out_before_all_of_them_are_rendered(database_url, fake_slack, fake_connector, monkeypatch):
    """Rendered a chunk at a time while the earlier ones are sent: the renders of the second chunk
    wait here until a first reminder has reached Slack, which never happens if every reminder is
    rendered before the first is sent (1,000 renders held the first one back about a second)."""
    import asyncio
    import threading

    from bot.directory.sync import sync_org_teams
    from bot.pulses import schedule
    from tests.pulse_helpers import pulse_server_for
    from tests.test_write_retries import stress_yaml

    people = 2 * schedule.REMIND_CHUNK + 10
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, org_yaml=stress_yaml(people), PULSEBRIDGE_SEND_RATE=1000.0)
    try:
        sync_org_teams(srv.core)
        await tick(srv, TUESDAY + 18 * H)
        sent = len(await fake_slack.wait_for("chat.postMessage", people))
        first_out = threading.Event()
        rendered = 0
        render = schedule.delivery_message

        def held_after_the_first_chunk(*args, **kwargs):
            nonlocal rendered
            rendered += 1
            if rendered > schedule.REMIND_CHUNK and not first_out.wait(10):
                raise AssertionError("the second chunk was rendered before any reminder was sent")
            return render(*args, **kwargs)

        monkeypatch.setattr(schedule, "delivery_message", held_after_the_first_chunk)
        reminding = asyncio.create_task(tick(srv, TUESDAY + 18 * H + timedelta(hours=24)))
        await fake_slack.wait_for("chat.postMessage", sent + 1)
        first_out.set()
        await asyncio.wait_for(reminding, 60)
        reminders = fake_slack.calls_to("chat.postMessage")[sent:]
        assert rendered == people and len({c.params["channel"] for c in reminders}) == people
        assert all("Reminder" in c.params["text"] for c in reminders)
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_the_steps_are_jobs_of_their_own_persisted_in_the_database_and_coalescing_misfires(database_url, fake_slack, fake_connector):
    """Close, open, send and remind are four jobs, each at most one instance at a time: a fan-out
    that takes minutes does not make the next minutes' closing, opening and reminders skip. The
    single job of earlier versions is removed from the job store."""
    from tests.pulse_helpers import pulse_server_for

    from tests.conftest import wait_for_scheduler

    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, PULSEBRIDGE_SCHEDULER=True)
    try:
        scheduler = await wait_for_scheduler(srv.core)
        for name in ("pulses.close", "pulses.open", "pulses.send", "pulses.remind"):
            job = scheduler.apscheduler.get_job(name.replace(".", ":"))
            assert job is not None and job.kwargs == {"name": name}
            assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 3600
            assert "minute='*'" in str(job.trigger)
        with srv.engine.connect() as conn:
            from sqlalchemy import text

            stored = set(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all())
        assert {"pulses:close", "pulses:open", "pulses:send", "pulses:remind"} <= stored and "pulses:tick" not in stored
    finally:
        await runner.cleanup()
        srv.engine.dispose()
