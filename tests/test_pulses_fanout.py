"""Fan-out exactly once per (pulse, person): crash between send and mark, 429s, retries."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import update

from bot.directory.lookup import user_ref
from bot.kernel.ports import DirectMessage
from bot.pulses.fanout import fan_out, marker_of
from storage.kernel.db import session, write_unit
from storage.pulses.tables import PulseDelivery
from tests.pulse_helpers import TUESDAY, deliveries, pulse_server, tick  # noqa: F401


def per_channel(fake) -> Counter:
    return Counter(c.params["channel"] for c in fake.calls_to("chat.postMessage"))


async def test_crash_between_send_and_mark_resumes_without_resending(pulse_server):
    srv = pulse_server
    core = srv.core
    srv.clock.now = TUESDAY + timedelta(hours=18)
    # Create the pulse and its delivery rows, but simulate a process that died mid fan-out:
    from bot.pulses.schedule import open_due_cycles

    open_due_cycles(core, srv.clock.now)
    rows = deliveries(srv.engine)
    assert {d.status for d in rows.values()} == {"pending"}
    # Bob's DM reached Slack but the process died before marking it; Carla's was claimed and never sent.
    from storage.directory.tables import User

    with session(srv.engine) as s:
        bob = s.get(User, rows["U0BOB"].user_id)
    await core.adapters["slack"].send_marked(DirectMessage(user_ref(bob)), srv.core.help_message(), marker_of(rows["U0BOB"].id))
    with write_unit(srv.engine) as s:
        s.execute(
            update(PulseDelivery)
            .where(PulseDelivery.id.in_([rows["U0BOB"].id, rows["U0CARLA"].id]))
            .values(status="sending", claim_token="crashed-process", attempts=1)
        )

    report = await fan_out(core)
    assert (report.reconciled, report.resent_after_crash, report.sent) == (1, 1, 5)
    assert per_channel(srv.slack) == Counter({"U0ANA": 1, "U0BOB": 1, "U0CARLA": 1, "U0DAN": 1, "U0ERIN": 1, "U0FAY": 1})
    after = deliveries(srv.engine)
    assert {d.status for d in after.values()} == {"sent"}
    assert after["U0BOB"].platform_ref.startswith("D0BOB|")
    await tick(srv, srv.clock.now + timedelta(minutes=1))
    assert sum(per_channel(srv.slack).values()) == 6


async def test_rate_limited_fanout_loses_and_duplicates_nobody(pulse_server):
    srv = pulse_server
    srv.slack.limit_rate("chat.postMessage", 2)  # 2/s with 429 + Retry-After beyond, against our 200/s pacing
    await tick(srv, TUESDAY + timedelta(hours=18))
    assert per_channel(srv.slack) == Counter({"U0ANA": 1, "U0BOB": 1, "U0CARLA": 1, "U0DAN": 1, "U0ERIN": 1, "U0FAY": 1})
    assert srv.slack.calls_to("chat.postMessage:rejected")  # the limit was really hit and waited out
    assert {d.status for d in deliveries(srv.engine).values()} == {"sent"}


async def test_failed_send_is_retried_not_dropped(pulse_server):
    srv = pulse_server
    for _ in range(4):  # more 5xx than one send's retries; the row goes back in the queue
        srv.slack.fail_next("chat.postMessage", 500, body={"ok": False, "error": "internal_error"})
    await tick(srv, TUESDAY + timedelta(hours=18))
    await tick(srv, TUESDAY + timedelta(hours=18, minutes=1))
    assert set(per_channel(srv.slack).values()) == {1} and len(per_channel(srv.slack)) == 6
    assert {d.status for d in deliveries(srv.engine).values()} == {"sent"}


async def test_people_deactivated_after_planning_get_no_pulse(pulse_server):
    from bot.pulses.schedule import open_due_cycles
    from storage.directory.tables import User

    srv = pulse_server
    srv.clock.now = TUESDAY + timedelta(hours=18)
    open_due_cycles(srv.core, srv.clock.now)
    rows = deliveries(srv.engine)
    with write_unit(srv.engine) as s:
        s.execute(update(User).where(User.id == rows["U0BOB"].user_id).values(active=False))
    await fan_out(srv.core)
    assert "U0BOB" not in per_channel(srv.slack) and "D0BOB" not in per_channel(srv.slack)
    assert per_channel(srv.slack)["U0ANA"] == 1
    assert deliveries(srv.engine)["U0BOB"].status == "expired"
