"""Pulse cadence counted from a fixed anchor week (no New Year drift) and rotation by cycle date
(no eNPS skipped across DST or for members west of the first one)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.kernel.errors import ConfigError
from bot.app import parse_org_config
from bot.pulses import rotation
from bot.pulses.config import PulseConfig, TeamPulseSchedule
from bot.pulses.bank import active_questions
from bot.pulses.schedule import is_cycle_day
from storage.kernel.db import session
from storage.pulses.tables import Pulse, PulseDelivery
from tests.pulse_helpers import PULSE_YAML, pulse_server_for, seed_people, tick


def cycles(schedule: TeamPulseSchedule, start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days) if is_cycle_day(schedule, start + timedelta(days=i))]


@pytest.mark.parametrize("every", [1, 2, 3, 4, 5, 12])
def test_cycles_are_evenly_spaced_across_new_year_and_a_53_week_iso_year(every):
    # ISO 2026 has 53 weeks (1 Jan 2026 is a Thursday): week-number modulo gave 3- and 5-week gaps here.
    days = cycles(TeamPulseSchedule(day="tue", every_weeks=every), date(2025, 6, 1), date(2028, 6, 1))
    assert {b - a for a, b in zip(days, days[1:])} == {timedelta(weeks=every)}
    assert all(d.weekday() == 1 for d in days)


def test_year_end_cycles_for_every_2_3_and_4_weeks():
    # Week-number modulo gave 22 Dec → 12 Jan (3 weeks), 15 Dec → 19 Jan and 22 Dec → 26 Jan (5 weeks).
    assert cycles(TeamPulseSchedule(day="tue", every_weeks=2), date(2026, 12, 15), date(2027, 1, 20)) == [
        date(2026, 12, 22), date(2027, 1, 5), date(2027, 1, 19)
    ]
    assert cycles(TeamPulseSchedule(day="tue", every_weeks=3), date(2026, 12, 1), date(2027, 2, 1)) == [
        date(2026, 12, 15), date(2027, 1, 5), date(2027, 1, 26)
    ]
    assert cycles(TeamPulseSchedule(day="tue", every_weeks=4), date(2026, 11, 1), date(2027, 2, 1)) == [
        date(2026, 11, 24), date(2026, 12, 22), date(2027, 1, 19)
    ]


@pytest.mark.parametrize("every", range(1, 13))
def test_default_anchor_keeps_the_weeks_schedules_had_during_2026(every):
    schedule = TeamPulseSchedule(day="wed", every_weeks=every)
    day = date(2025, 12, 29)  # ISO 2026-W01 to W53
    while day.isocalendar().year == 2026:
        assert is_cycle_day(schedule, day) == (day.weekday() == 2 and day.isocalendar().week % every == 0), day
        day += timedelta(days=1)


def test_anchor_is_a_team_setting_checked_with_file_and_line():
    org = parse_org_config(PULSE_YAML.replace('pulse: {day: tue, time: "10:00"}', 'pulse: {day: tue, time: "10:00", every_weeks: 2, anchor: 2027-01-12}'))
    schedule = org.teams["support"].pulse
    assert schedule.anchor == date(2027, 1, 12)
    assert is_cycle_day(schedule, date(2027, 1, 12)) and is_cycle_day(schedule, date(2026, 12, 29)) and not is_cycle_day(schedule, date(2027, 1, 5))
    with pytest.raises(ConfigError, match=r"<config>:\d+: .*anchor"):
        parse_org_config(PULSE_YAML.replace('pulse: {day: tue, time: "10:00"}', 'pulse: {day: tue, anchor: "next tuesday"}'))


async def test_a_bi_weekly_team_pulse_runs_every_other_tuesday_through_new_year(database_url, fake_slack, fake_connector):
    yaml = PULSE_YAML.replace('pulse: {day: tue, time: "10:00"}', 'pulse: {day: tue, time: "10:00", every_weeks: 2}')
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector, yaml)
    try:
        seed_people(srv.engine)
        for week in range(6):  # Thursdays 17 Dec 2026 … 21 Jan 2027, 12:00 UTC: every member's Tuesday 10:00 has passed, the pulse is open
            await tick(srv, datetime(2026, 12, 17, 12, tzinfo=UTC) + timedelta(weeks=week))
        with session(srv.engine) as s:
            opened = list(s.execute(select(Pulse.cycle_date).order_by(Pulse.cycle_date)).scalars())
        assert opened == [date(2026, 12, 22), date(2027, 1, 5), date(2027, 1, 19)]
    finally:
        await runner.cleanup()
        srv.engine.dispose()


# -- rotation -------------------------------------------------------------------------------------

BERLIN, TOKYO, LA = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles")


def picked(history_at: datetime, day: date, tz: ZoneInfo) -> list[str]:
    config = PulseConfig()
    return rotation.pick(1, active_questions(config), {"enps": history_at}, config, day, "team:support:x", tz)


def test_enps_comes_back_after_12_weeks_by_cycle_date_across_dst():
    # Berlin, 10:00 on Tue 5 Jan 2027 (09:00 UTC) and Tue 30 Mar 2027 (08:00 UTC, summer time): 84 days, 83d23h apart.
    assert "enps" in picked(datetime(2027, 1, 5, 9, tzinfo=UTC), date(2027, 3, 30), BERLIN)
    # Autumn: 10:00 on 24 Aug 2027 (08:00 UTC) to 16 Nov 2027 (09:00 UTC).
    assert "enps" in picked(datetime(2027, 8, 24, 8, tzinfo=UTC), date(2027, 11, 16), BERLIN)
    # Los Angeles, stored naive (SQLite): 10:00 PST is 18:00 UTC; 10:00 PDT on 30 Mar is 17:00 UTC.
    assert "enps" in picked(datetime(2027, 1, 5, 18), date(2027, 3, 30), LA)
    # A late schedule time: 20:00 in Los Angeles is already the next day in UTC (04:00 UTC on 6 Jan).
    assert "enps" in picked(datetime(2027, 1, 6, 4, tzinfo=UTC), date(2027, 3, 30), LA)
    # One cycle short of 12 weeks is not due, whatever the hour.
    assert "enps" not in picked(datetime(2027, 1, 12, 9, tzinfo=UTC), date(2027, 3, 30), BERLIN)


async def test_teammates_in_three_timezones_get_the_same_questions_12_weeks_later(database_url, fake_slack, fake_connector):
    """Tokyo, Berlin and Los Angeles; the second cycle is after both US and EU clocks changed."""
    runner, srv = await pulse_server_for(database_url, fake_slack, fake_connector)
    try:
        seed_people(srv.engine)
        first, second = datetime(2027, 1, 5, tzinfo=UTC), datetime(2027, 3, 30, tzinfo=UTC)
        for at in (first + timedelta(hours=1), first + timedelta(hours=9), first + timedelta(hours=18), first + timedelta(days=3)):
            await tick(srv, at)
        await tick(srv, second + timedelta(hours=1))  # 10:00 in Tokyo: the pulse opens and every member's questions are picked
        with session(srv.engine) as s:
            pulse = s.execute(select(Pulse).where(Pulse.cycle_date == second.date())).scalar_one()
            picks = list(s.execute(select(PulseDelivery.question_keys).where(PulseDelivery.pulse_id == pulse.id)).scalars())
        assert len(picks) == 6
        assert all("enps" in keys for keys in picks), picks
        assert len({tuple(keys) for keys in picks}) == 1, picks
    finally:
        await runner.cleanup()
        srv.engine.dispose()
