"""The pulse steps (close, open, send, remind) as separate, resumable pieces of scheduled work.

A team's pulse is planned in chunks (bot/pulses/schedule.py PLAN_CHUNK) so that SQLite's one
write lock is never held for long; a planner stopped half-way is finished by the next tick and
nobody is asked twice. The steps run on the scheduled jobs' worker side by side: a fan-out
waiting on the platform does not hold up closing and opening.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.pulses import schedule
from storage.directory.tables import User
from storage.pulses.tables import Pulse, PulseDelivery
from tests.pulse_helpers import PULSE_YAML, TUESDAY, count, deliveries, only_pulse, pulse_server, pulse_server_for, tick  # noqa: F401

H = timedelta(hours=1)
MEMBERS = [f"U0P{i}" for i in range(7)]
PLATFORM_ID_YAML = PULSE_YAML.replace(
    "members: [ana@example.com, bob@example.com, carla@example.com, dan@example.com, erin@example.com, fay@example.com]",
    "members: [" + ", ".join(f"slack:{m}" for m in MEMBERS) + "]",
)


def dms(fake) -> list[str]:
    return [c.params["channel"] for c in fake.calls_to("chat.postMessage")]


async def test_a_planner_stopped_half_way_is_finished_by_the_next_tick_and_nobody_is_asked_twice(database_url, fake_slack, fake_connector, monkeypatch):
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, PLATFORM_ID_YAML)
    try:
        monkeypatch.setattr(schedule, "PLAN_CHUNK", 3)
        real, calls = schedule.add_deliveries, []

        def crash_on_the_second_chunk(s, pulse_id, rows):
            calls.append(len(rows))
            if len(calls) == 2:
                raise RuntimeError("killed while planning")
            return real(s, pulse_id, rows)

        monkeypatch.setattr(schedule, "add_deliveries", crash_on_the_second_chunk)
        srv.clock.now = TUESDAY + 9 * H  # 10:00 Berlin: everyone is due
        with pytest.raises(RuntimeError, match="killed while planning"):
            await schedule.open_step(srv.core)
        # Members known only by platform id got directory rows, in chunks, before the pulse.
        assert count(srv.engine, User, User.external_id.in_(MEMBERS)) == 7
        pulse = only_pulse(srv.engine)
        assert pulse.status == "opening" and count(srv.engine, PulseDelivery) == 3
        # A pulse still being planned is invisible to the fan-out (no one is asked from half a plan).
        await schedule.send_step(srv.core)
        assert dms(srv.slack) == []

        monkeypatch.setattr(schedule, "add_deliveries", real)
        await tick(srv, TUESDAY + 9 * H + timedelta(minutes=1))
        pulse = only_pulse(srv.engine)
        rows = deliveries(srv.engine)
        assert pulse.status == "open" and len(rows) == 7
        assert sorted(dms(srv.slack)) == sorted(MEMBERS)  # each once
        # Resumed rows are picked as the first ones were: same history, same questions.
        assert len({tuple(d.question_keys) for d in rows.values()}) == 1
        await tick(srv, TUESDAY + 9 * H + timedelta(minutes=2))
        assert len(dms(srv.slack)) == 7 and count(srv.engine, Pulse) == 1
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_a_planner_resumed_after_the_window_closed_asks_nobody(database_url, fake_slack, fake_connector, monkeypatch):
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, PLATFORM_ID_YAML)
    try:
        monkeypatch.setattr(schedule, "PLAN_CHUNK", 3)
        monkeypatch.setattr(schedule, "add_deliveries", lambda *a: (_ for _ in ()).throw(RuntimeError("killed while planning")))
        srv.clock.now = TUESDAY + 9 * H
        with pytest.raises(RuntimeError):
            await schedule.open_step(srv.core)
        monkeypatch.undo()
        await tick(srv, TUESDAY + 9 * H + timedelta(hours=49))  # down past the close (48 h after the last 10:00)
        assert only_pulse(srv.engine).status == "closed" and dms(srv.slack) == [] and count(srv.engine, PulseDelivery) == 0
    finally:
        await runner.cleanup()
        srv.engine.dispose()


async def test_a_fan_out_waiting_on_the_platform_does_not_hold_up_closing_or_opening(pulse_server):
    srv = pulse_server
    core = srv.core
    await tick(srv, TUESDAY + 9 * H)  # Tokyo and Berlin have theirs; Carla (Los Angeles) is due at 18:00 UTC
    assert len(dms(srv.slack)) == 5
    gate = srv.slack.gates["chat.postMessage"] = asyncio.Event()
    srv.clock.now = TUESDAY + 18 * H
    sending = core.pool.submit(lambda: schedule.send_step(core), lane=0)  # where scheduled jobs run
    try:
        await srv.slack.wait_for("chat.postMessage", 6)  # Carla's DM is at the platform, unanswered
        # Meanwhile the week goes by: the first pulse closes and next week's opens, on the same worker.
        srv.clock.now = TUESDAY + timedelta(days=7) + 1 * H
        await asyncio.wait_for(core.pool.run(lambda: schedule.close_step(core), lane=0), 20)
        await asyncio.wait_for(core.pool.run(lambda: schedule.open_step(core), lane=0), 20)
        assert not sending.done()
        pulses = {p.cycle_date.isoformat(): p.status for p in srv_pulses(srv.engine)}
        assert pulses == {TUESDAY.date().isoformat(): "closed", (TUESDAY + timedelta(days=7)).date().isoformat(): "open"}
    finally:
        gate.set()
        await asyncio.wait_for(asyncio.wrap_future(sending), 20)


async def test_deliveries_that_come_due_during_a_fan_out_go_out_in_the_same_run(pulse_server):
    srv = pulse_server
    await tick(srv, TUESDAY + 1 * H)  # the pulse opens at Tokyo's 10:00: Ana
    gate = srv.slack.gates["chat.postMessage"] = asyncio.Event()
    srv.clock.now = TUESDAY + 9 * H  # Berlin's 10:00: four more
    run = asyncio.create_task(schedule.send_step(srv.core))
    await srv.slack.wait_for("chat.postMessage", 5)
    srv.clock.now = TUESDAY + 18 * H  # while those are in flight, Los Angeles' 10:00 arrives
    gate.set()
    await asyncio.wait_for(run, 20)
    assert "U0CARLA" in dms(srv.slack) and len(dms(srv.slack)) == 6


def srv_pulses(engine) -> list[Pulse]:
    from sqlalchemy import select

    from storage.kernel.db import session

    with session(engine) as s:
        return list(s.execute(select(Pulse).order_by(Pulse.id)).scalars())


async def test_a_pulse_that_opens_is_sent_at_once_not_at_the_next_minute(database_url, fake_slack, fake_connector):
    """The send job of the opening minute has usually run already (the pulse was still being
    planned): the open step brings it forward, so 10:00 local does not become 10:01."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from apscheduler.events import EVENT_JOB_SUBMITTED

    from tests.conftest import wait_for_scheduler
    from tests.pulse_helpers import seed_people

    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, PULSEBRIDGE_SCHEDULER=True)
    try:
        seed_people(srv.engine)
        scheduler = await wait_for_scheduler(srv.core)
        loop, sent = asyncio.get_running_loop(), asyncio.Queue()

        def submitted(ev) -> None:
            if ev.job_id == "pulses:send":
                loop.call_soon_threadsafe(sent.put_nowait, ev.scheduled_run_times[0])

        scheduler.apscheduler.add_listener(submitted, EVENT_JOB_SUBMITTED)
        srv.clock.now = TUESDAY + 9 * H
        next_minute = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        await schedule.open_step(srv.core)
        assert only_pulse(srv.engine).status == "open"
        # The scheduler's thread runs the send job at once; without the open step's nudge its
        # first run would be the next minute boundary.
        assert await asyncio.wait_for(sent.get(), 10) < next_minute
    finally:
        await runner.cleanup()
        srv.engine.dispose()
